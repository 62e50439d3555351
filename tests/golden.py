"""Golden outputs: what every command writes for the frozen two-article fixture (tests/data/articles/).

Each case is a `kg` command line run in-process from the repository root, on the fixture with the
bundled ontology and named queries; its stdout, or the files it writes, are compared byte for byte
with tests/golden/<case>. The fixture never grows, so these files change only when the output of
the code, the ontology or the queries changes, on purpose.

Regenerate after an intended change, then read the diff:

    python tests/golden.py --write
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = Path("tests/data/articles")
GOLDEN = ROOT / "tests" / "golden"
SEED_ARGS = ("--data", str(SEED))
# Files bigger than this are compared by their SHA-256 (kept in <name>.sha256), not stored whole.
MAX_STORED = 50_000


@dataclass(frozen=True)
class Case:
    """`kg` arguments (after the seed options); `outputs` are file names written with -o into a temporary folder."""

    name: str
    args: tuple[str, ...]
    outputs: tuple[str, ...] = ()
    exit_code: int = 0


def _cases() -> list[Case]:
    cases: list[Case] = []
    named = {
        "coverage-matrix": (),
        "entity": ("-p", "entity=kgd:gunsan-analysis-centre-project"),
        "funding-by-level": (),
        "funding-by-project": (),
        "in-place": ("-p", "place=kgd:jeonbuk-state"),
        "plan-structure": (),
        "plan-targets": (),
        "projects-by-stage": (),
        "timeline": (),
        "value-chain-evidence": (),
        "who-does-what": (),
    }
    for name, params in named.items():
        for fmt in ("table", "csv", "json"):
            cases.append(Case(f"query-{name}.{fmt}", ("query", name, *params, "--format", fmt)))
    cases.append(Case("query-entity-no-labels.table", ("query", "entity", *named["entity"], "--no-labels")))
    # The fixture has no conflict; the two-claim fixture is added to it.
    for fmt in ("table", "csv", "json"):
        cases.append(
            Case(f"query-conflicts.{fmt}", ("--data", "tests/data/conflict", "query", "conflicts", "--format", fmt))
        )
    cases.append(Case("query-list.table", ("query", "--list")))
    cases.append(
        Case("query-construct.ttl", ("query", "-e", "CONSTRUCT { ?s ?p ?o } WHERE { ?s a kg:Facility ; ?p ?o }"))
    )
    cases.append(Case("query-ask.json", ("query", "-e", "ASK { ?s a kg:Plan }", "--format", "json")))
    cases.append(Case("query-timeline.xml", ("query", "timeline", "--format", "xml")))
    cases.append(Case("query-timeline.tsv", ("query", "timeline", "--format", "tsv")))
    cases.append(Case("stats.txt", ("stats",)))
    cases.append(Case("validate.txt", ("validate",)))
    cases.append(Case("validate.json", ("validate", "--format", "json")))
    for fmt in ("ttl", "nt", "jsonld", "nq", "trig"):
        cases.append(Case(f"reason.{fmt}", ("reason", "-o", "out." + fmt), ("out." + fmt,)))
    cases.append(Case("reason-inferred.ttl", ("reason", "--inferred-only", "-o", "out.ttl"), ("out.ttl",)))
    exports = ("graphml", "gexf", "cyjs", "dot", "ttl", "nt", "jsonld", "html")
    for suffix in exports:
        cases.append(Case(f"export.{suffix}", ("export", "-o", "g." + suffix), ("g." + suffix,)))
        cases.append(
            Case(f"export-gunsan.{suffix}", ("export", "--region", "군산", "-o", "g." + suffix), ("g." + suffix,))
        )
    cases.append(Case("export-d3.json", ("export", "--format", "d3", "-o", "g.json"), ("g.json",)))
    cases.append(Case("export.csv", ("export", "-o", "g.csv"), ("g.csv", "g-edges.csv")))
    cases.append(Case("export-layout.gexf", ("export", "--layout", "-o", "g.gexf"), ("g.gexf",)))
    cases.append(Case("export-inferred.graphml", ("export", "--inferred", "-o", "g.graphml"), ("g.graphml",)))
    cases.append(Case("export-ko.graphml", ("export", "--lang", "ko", "-o", "g.graphml"), ("g.graphml",)))
    cases.append(
        Case("export-focus.dot", ("export", "--focus", "kgd:motie", "--depth", "2", "-o", "g.dot"), ("g.dot",))
    )
    cases.append(Case("export-class.dot", ("export", "--class", "kg:Organisation", "-o", "g.dot"), ("g.dot",)))
    cases.append(Case("export-hierarchy.graphml", ("export", "--hierarchy", "-o", "g.graphml"), ("g.graphml",)))
    cases.append(Case("render.gv", ("render", "-o", "p.svg"), ("p.svg",)))
    cases.append(Case("render-gunsan.gv", ("render", "--region", "Gunsan", "-o", "p.svg"), ("p.svg",)))
    cases.append(Case("render-ring.gv", ("render", "--value-chain", "--region", "Gunsan", "-o", "p.svg"), ("p.svg",)))
    cases.append(
        Case("render-ring-ko.gv", ("render", "--value-chain", "--region", "대전", "--lang", "ko", "-o", "p.svg"),
             ("p.svg",))
    )  # fmt: skip
    cases.append(Case("render-matrix.gv", ("render", "--matrix", "-o", "p.svg"), ("p.svg",)))
    for fmt in ("table", "csv", "json"):
        cases.append(Case(f"analyze.{fmt}", ("analyze", "--format", fmt)))
    cases.append(Case("analyze-gunsan.table", ("analyze", "--region", "Gunsan")))
    cases.append(Case("publish.SHA256SUMS", ("publish", "-o", "release"), ("release/SHA256SUMS",)))
    return cases


CASES = _cases()


def run_case(case: Case, workdir: Path, engine: str = "fast") -> dict[str, bytes]:
    """Run one case from the repository root; its outputs by golden file name."""
    import os

    from click.testing import CliRunner

    import kg.render
    from kg.cli import cli

    args = [*SEED_ARGS, "--engine", engine]
    for arg in case.args:
        args.append(str(workdir / arg) if arg in {o.split("/")[0] for o in case.outputs} else arg)
    saved_graphviz = kg.render.run_graphviz
    kg.render.run_graphviz = lambda source, fmt, program="dot": source.encode("utf-8")  # the dot text, not pixels
    saved_cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        os.chdir(saved_cwd)
        kg.render.run_graphviz = saved_graphviz
    if result.exit_code != case.exit_code:
        raise AssertionError(f"{case.name}: exit {result.exit_code}, expected {case.exit_code}: {result.output}")
    if not case.outputs:
        return {case.name: result.stdout_bytes}
    found = {}
    for i, output in enumerate(case.outputs):
        suffix = "" if i == 0 else f".{Path(output).name}"
        found[case.name + suffix] = (workdir / output).read_bytes()
    return found


def stored_name(name: str, data: bytes) -> tuple[str, bytes]:
    """What is kept for an output: itself, or its SHA-256 when it is big."""
    if len(data) > MAX_STORED:
        return name + ".sha256", (hashlib.sha256(data).hexdigest() + "\n").encode()
    return name, data


def main() -> None:
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.iterdir():
        old.unlink()
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in run_case(case, Path(tmp)).items():
                stored, content = stored_name(name, data)
                (GOLDEN / stored).write_bytes(content)
    print(f"wrote {len(list(GOLDEN.iterdir()))} golden files to {GOLDEN.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
