"""Benchmark both engines step by step on synthetic graphs (not a test; prints progress).

    python bench/run.py [--sizes bundled,10000,100000,1000000] [--repeats 3] [--budget 300]

A size is a number of synthetic triples, or `bundled`: the bundled data/ folder as users get it.

Every measurement runs in a fresh subprocess (so peak memory is that process alone): untimed
set-up, then the timed step. Steps: parse (ontology + data into rdflib graphs), reason (OWL 2 RL
closure + noise filter over those graphs), load+reason (files to a reasoned, queryable dataset:
the route `kg load --store` and uncached queries take; for the fast engine no rdflib graph at
all), validate:VALIDATOR (the SHACL half of kg validate by pyshacl and by pyshacl-turbo, over what
was written, from the engine's reasoned graph as kg.validate gives it to each), each named query
over the reasoned graph,
and export:FORMAT (the projection, read from the engine's store through SPARQL, and the format
streamed to a file). The named queries of one repeat share one process, which
loads the closure once (untimed), and so do the exports: at 10^6 loading the closure takes longer
than all the queries. A reference step that does not finish within the budget is recorded as
"> budget", and the speed-up as a lower bound; where the reference reasoner did not finish, its
queries run over the fast engine's closure (the engines' closures are identical: the parity tests).
The reference engine runs at sizes up to --reference-max; rdflib-bound steps (parse, reason) up to
--rdflib-max, pyshacl up to --shacl-max; exports read the closure the reason or
load+reason step wrote.
Writes bench/results/bench.json and bench/results/bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# The parameters of the named queries that need one: on synthetic graphs, and on the bundled data.
PARAMS = {
    "synthetic": {"entity": ("entity", "synth-province-1-city-1-project-1"), "in-place": ("place", "synth-province-1")},
    "bundled": {"entity": ("entity", "gunsan-analysis-centre-project"), "in-place": ("place", "jeonbuk-state")},
}
BUNDLED = "bundled"
STEPS = ("parse", "reason", "load+reason", "validate:pyshacl", "validate:pyshacl-turbo", "queries", "exports", "user")
# What a user waits for, each a `kg` command run as a user runs it (fast engine, the default):
# the first answer (reasoning, validation, the query, from an empty cache), the same answer from
# the cache, validate, reason -o in each RDF format, and export in each format.
USER_REASON_FORMATS = ("nt", "nq", "ttl", "trig", "jsonld", "rdf")


def export_formats() -> list[str]:
    """The export:FORMAT steps: every format `kg export` knows (kg.export's registry), or $BENCH_EXPORTS."""
    import os

    from kg.export import EXPORTS
    from kg.page import write_html  # noqa: F401 - registers the html writer

    chosen = os.environ.get("BENCH_EXPORTS")
    return [name for name in EXPORTS if not chosen or name in chosen.split(",")]


def measure(step: str, engine_name: str, data: Path, closure: Path) -> dict:
    """Run in the child: set up, time `step`, report seconds, peak RSS and triples."""
    from kg.engine import get_engine
    from kg.load import load
    from kg.namespaces import KGD, KGG
    from kg.paths import ontology_dir
    from kg.queries import run
    from kg.reason import reason

    engine = get_engine(engine_name)
    out: dict = {}
    if step == "parse":
        start = time.perf_counter()
        sources = load(ontology_dir(), [data], engine)
        out["seconds"] = time.perf_counter() - start
        out["triples"] = len(sources.ontology.graph) + len(sources.data.graph)
    elif step == "reason":
        sources = load(ontology_dir(), [data], engine)
        start = time.perf_counter()
        inference = reason(sources.ontology.graph, sources.data.graph, engine)
        out["seconds"] = time.perf_counter() - start
        out["triples"] = len(sources.ontology.graph) + len(sources.data.graph)
        out["inferred"] = len(inference.inferred)
        if not closure.exists():
            graphs = {KGG.ontology: inference.ontology, KGG.data: inference.data, KGG.inferred: inference.inferred}
            closure.parent.mkdir(parents=True, exist_ok=True)
            with closure.open("wb") as stream:
                engine.dump_nquads(engine.dataset(graphs), stream)
    elif step == "load+reason":
        # What a user waits for before the first answer: files to a reasoned, queryable dataset
        # (kg.graph's route: the fast engine goes from files to its store with no rdflib graph).
        from kg.graph import Inputs, reason_into

        start = time.perf_counter()
        dataset, record = reason_into(Inputs.of(ontology_dir(), [data], engine))
        out["seconds"] = time.perf_counter() - start
        out["triples"] = record.counts["ontology"] + record.counts["data"]
        out["inferred"] = record.counts["inferred"]
        if not closure.exists():
            closure.parent.mkdir(parents=True, exist_ok=True)
            with closure.open("wb") as stream:
                engine.dump_nquads(dataset, stream)
    elif step.startswith("validate:"):
        # The SHACL half of kg validate on the reasoned graph (read from the closure, untimed): the
        # validator's input made from the engine's graph as kg.validate makes it (pyshacl: rdflib
        # graphs; pyshacl-turbo on the fast engine: a copy of the Oxigraph store), then the run.
        from kg.cache import Record
        from kg.graph import KnowledgeGraph
        from kg.validate import check_shapes, read_shapes, shapes_input

        validator = step.split(":", 1)[1]
        record = Record({"files": [["data", str(data), ""]], "folders": {}}, engine.name)
        graph = KnowledgeGraph(engine, engine.load_nquads(closure), record)
        shapes = read_shapes(ontology_dir() / "shapes.ttl")
        start = time.perf_counter()
        findings = check_shapes(shapes_input(graph, validator), shapes, validator=validator)
        out["seconds"] = time.perf_counter() - start
        out["triples"] = sum(1 for name in (KGG.ontology, KGG.data) for _ in engine.triples(graph.dataset, name))
        out["rows"] = len(findings)
    elif step == "exports":
        # kg export: the projection (read from the engine's store through SPARQL) and each format
        # streamed to a file, as the command does; loading the closure into the engine is set-up.
        import tempfile

        from kg.cache import Record
        from kg.export import EXPORTS, ExportOptions, write_export
        from kg.graph import KnowledgeGraph
        from kg.project import projection

        kg = KnowledgeGraph(engine, engine.load_nquads(closure), Record({"files": []}, engine.name))
        out["triples"] = sum(1 for name in (KGG.ontology, KGG.data) for _ in engine.triples(kg.dataset, name))
        out["items"] = {}
        with tempfile.TemporaryDirectory() as folder:
            for fmt in export_formats():
                start = time.perf_counter()
                graph = projection(kg)
                written = write_export(
                    fmt, graph, ExportOptions(source=kg), Path(folder) / f"graph{EXPORTS[fmt].suffixes[0]}"
                )
                out["items"][f"export:{fmt}"] = {
                    "seconds": time.perf_counter() - start,
                    "rows": graph.number_of_nodes(),
                    "bytes": sum(path.stat().st_size for path in written),
                }
    elif step == "user":
        out["triples"] = int(closure.name) if closure.name.isdigit() else 0
        out["items"] = _user_commands(engine_name, data)
    else:  # queries
        from kg.queries import list_queries

        dataset = engine.load_nquads(closure)
        chosen = PARAMS[BUNDLED if data.is_dir() else "synthetic"]
        params = {query: {name: KGD[slug]} for query, (name, slug) in chosen.items()}
        out["triples"] = sum(1 for _ in engine.triples(dataset, KGG.data)) + sum(
            1 for _ in engine.triples(dataset, KGG.ontology)
        )
        out["items"] = {}
        for query in list_queries():
            start = time.perf_counter()
            answer = run(query.name, dataset, engine=engine, **params.get(query.name, {}))
            out["items"][f"query:{query.name}"] = {"seconds": time.perf_counter() - start, "rows": len(answer.rows)}
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _user_commands(engine: str, data: Path) -> dict:
    """Each `kg` command a user runs, timed as a process of its own (its own peak memory)."""
    import shutil
    import tempfile

    from kg.export import EXPORTS

    items: dict = {}
    folder = Path(tempfile.mkdtemp(prefix="bench-user-"))
    env = {**os.environ, "KG_CACHE_DIR": str(folder / "cache"), "KG_MAX_INPUT_MB": "0", "KG_ENGINE": engine}

    def kg(name: str, *args: str) -> None:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "kg", "--data", str(data), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            print(f"    user:{name} failed (status {status})", file=sys.stderr)
            return
        items[f"user:{name}"] = {"seconds": time.perf_counter() - start, "peak_mb": usage.ru_maxrss / 1024}

    try:
        kg("first-answer", "query", "funding-by-level")
        kg("cached-answer", "query", "funding-by-level")
        shutil.rmtree(folder / "cache")
        kg("validate", "validate")
        for suffix in USER_REASON_FORMATS:
            kg(f"reason -o .{suffix}", "--no-validate", "reason", "-o", str(folder / f"closure.{suffix}"))
        for name in export_formats():
            suffix = EXPORTS[name].suffixes[0]
            kg(f"export -o {suffix}", "--no-validate", "export", "-o", str(folder / f"graph{suffix}"))
        items.update(_serve_load(data, env))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return items


SERVE_REQUESTS, SERVE_CLIENTS = 2000, 8


def _serve_load(data: Path, env: dict) -> dict:
    """`kg serve` answering SERVE_REQUESTS named-query requests from SERVE_CLIENTS clients: the time they
    take, and the server's memory (all its processes) once the load is over; {} if it did not start."""
    import concurrent.futures
    import socket
    import urllib.parse
    import urllib.request

    from kg.paths import queries_dir

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "kg", "--data", str(data), "--no-validate", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = urllib.parse.urlencode({"query": (queries_dir() / "funding-by-level.rq").read_text()}).encode()

    def ask(_index: int) -> bool:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/query", data=body, headers={"Accept": "text/csv"})
        try:
            with opener.open(request, timeout=60) as response:
                return response.status == 200 and bool(response.read())
        except OSError:
            return False

    try:
        for line in server.stdout:
            if "Press Ctrl-C to stop." in line:
                break
        else:
            return {}
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(SERVE_CLIENTS) as clients:
            answered = sum(clients.map(ask, range(SERVE_REQUESTS)))
        seconds = time.perf_counter() - start
        if answered != SERVE_REQUESTS:
            print(f"    user:serve: {SERVE_REQUESTS - answered} of {SERVE_REQUESTS} requests failed", file=sys.stderr)
        resident = sum(_resident_kb(pid) for pid in _process_tree(server.pid)) / 1024
        name = f"serve: {SERVE_REQUESTS:,} queries, {SERVE_CLIENTS} clients"
        return {f"user:{name}": {"seconds": seconds, "peak_mb": resident, "rows": answered}}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()


def _process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [pid]
    for child in children.read_text().split() if children.exists() else []:
        found += _process_tree(int(child))
    return found


def _resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _child(step: str, engine: str, data: Path, closure: Path, timeout: float) -> dict | None:
    """One measurement in a fresh process; None when it failed, {"timeout": s} when it ran out of time."""
    command = [sys.executable, __file__, "--child", step, engine, str(data), str(closure)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    if done.returncode != 0:
        print(f"    {step} ({engine}) failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _order(size) -> int:
    """Sizes in order: the bundled data first (it is small), then the synthetic sizes."""
    return 0 if size == BUNDLED else size


def _label(size) -> str:
    return size if size == BUNDLED else f"{size:,}"


def _group(step: str) -> str:
    """The step a result row came from: query:NAME from queries, export:FORMAT from exports."""
    return {"query": "queries", "export": "exports", "user": "user"}.get(step.split(":")[0], step)


def _row(size: int, engine: str, step: str, runs: list[dict]) -> dict:
    seconds = [r["seconds"] for r in runs]
    median = statistics.median(seconds)
    return {
        "size": size,
        "engine": engine,
        "step": step,
        "median_s": median,
        "spread_s": max(seconds) - min(seconds),
        "runs": len(runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "triples": runs[0]["triples"],
        "triples_per_s": runs[0]["triples"] / median if median else None,
        "extra": {k: v for k, v in runs[0].items() if k in ("rows", "inferred", "bytes")},
    }


def _print(row: dict) -> None:
    if row.get("timeout"):
        label = f"  {_label(row['size']):>9} {row['engine']:9} {row['step']:28}"
        print(f"{label} did not finish in {row['timeout']:.0f} s", flush=True)
        return
    print(
        f"  {_label(row['size']):>9} {row['engine']:9} {row['step']:28} {row['median_s']:8.3f} s "
        f"±{row['spread_s']:.3f} {row['peak_mb']:7.0f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="bundled,10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=300.0, help="Seconds a reference step may take.")
    parser.add_argument("--engines", default="fast,reference")
    parser.add_argument("--reference-max", type=int, default=100_000, help="Largest size for the reference engine.")
    parser.add_argument("--rdflib-max", type=int, default=200_000, help="Largest size for rdflib-bound steps.")
    parser.add_argument("--shacl-max", type=int, default=10_000, help="Largest size for validate:pyshacl.")
    parser.add_argument("--steps", default=",".join(STEPS), help="Steps to run (default: all).")
    parser.add_argument("--merge", action="store_true", help="Keep the last report's results for what is not rerun.")
    parser.add_argument("--exports", help="Export formats to time (default: every registered one).")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.exports:
        os.environ["BENCH_EXPORTS"] = args.exports  # the children read it
    if args.child:
        step, engine, data, closure = args.child
        print(json.dumps(measure(step, engine, Path(data), Path(closure))))
        return

    from kg.paths import data_dir
    from kg.synth import synth

    sizes = [s if s == BUNDLED else int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    steps = [s for s in args.steps.split(",") if s in STEPS]
    print(
        f"bench: sizes {sizes}, engines {engines}, {args.repeats} repeats; "
        f"reference budget {args.budget:.0f} s per step, up to {args.reference_max:,} triples"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"machine": _machine(), "sizes": sizes, "repeats": args.repeats, "budget": args.budget, "results": []}
    if args.merge and (RESULTS / "bench.json").exists():
        last = json.loads((RESULTS / "bench.json").read_text(encoding="utf-8"))
        rerun = {(size, engine, step) for size in sizes for engine in engines for step in steps}
        report["results"] = [r for r in last["results"] if (r["size"], r["engine"], _group(r["step"])) not in rerun]
        report["notes"] = last.get("notes", [])
        report["sizes"] = sorted(set(sizes) | {r["size"] for r in report["results"]}, key=_order)
    for size in sizes:
        data = data_dir() if size == BUNDLED else RESULTS / "data" / f"synth-{size}.ttl"
        if not data.exists():
            data.parent.mkdir(parents=True, exist_ok=True)
            data.write_text(synth(size, seed=1), encoding="utf-8")
        for engine in engines:
            if engine == "reference" and _order(size) > args.reference_max:
                print(f"  {_label(size):>9} reference: skipped (--reference-max {args.reference_max:,})", flush=True)
                continue
            closure = RESULTS / "cache" / f"{engine}-{size}.nq"
            closure.unlink(missing_ok=True)
            for step in steps:
                if (step in ("parse", "reason") and _order(size) > args.rdflib_max) or (
                    step == "validate:pyshacl" and _order(size) > args.shacl_max
                ):
                    print(f"  {_label(size):>9} {engine:9} {step:28} skipped (size limit; see --help)", flush=True)
                    continue
                if step == "user" and engine != "fast":
                    continue  # a user's commands run on the default engine
                source = closure if step != "user" else RESULTS / "cache" / str(_order(size))
                if (step in ("queries", "exports") or step.startswith("validate:")) and not closure.exists():
                    source = RESULTS / "cache" / f"fast-{size}.nq"  # the reference reasoner did not finish
                    if engine != "reference" or not source.exists():
                        continue
                    if step == "exports":
                        continue  # the reference engine's exports over the fast closure would time rdflib's SPARQL
                    report.setdefault("notes", []).append(f"{size}: reference {_group(step)} over the fast closure")
                elif engine == "reference" and step == "load+reason" and not closure.exists():
                    continue  # its reasoning alone did not finish
                runs = []
                for _ in range(args.repeats if engine == "fast" or step == "queries" else 1):
                    budget = args.budget * (len(export_formats()) if step in ("queries", "exports") else 1)  # per item
                    result = _child(step, engine, data, source, budget if engine == "reference" else 3600)
                    if result is None:
                        break
                    if "timeout" in result:
                        row = {"size": size, "engine": engine, "step": step, "timeout": result["timeout"]}
                        report["results"].append(row)
                        _print(row)
                        break
                    runs.append(result)
                if not runs:
                    continue
                if "items" in runs[0]:
                    for item in runs[0]["items"]:
                        parts = [{"triples": r["triples"], "peak_mb": r["peak_mb"], **r["items"][item]} for r in runs]
                        row = _row(size, engine, item, parts)
                        report["results"].append(row)
                        _print(row)
                else:
                    row = _row(size, engine, step, runs)
                    report["results"].append(row)
                    _print(row)
        (RESULTS / "bench.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        (RESULTS / "bench.md").write_text(markdown(report), encoding="utf-8")
    print(f"wrote {RESULTS / 'bench.json'} and {RESULTS / 'bench.md'}")


def markdown(report: dict) -> str:
    """One row per size and step: both engines side by side and the fast/reference speed-up."""
    by = {(r["size"], r["step"], r["engine"]): r for r in report["results"]}
    lines = [
        f"Machine: {report['machine']}; median of {report['repeats']} runs (reference reasoning: 1 run), "
        f"each in a fresh process; reference budget {report['budget']:.0f} s per step.",
        "",
        "| triples | step | fast (s) | ± | fast peak MB | reference (s) | ± | reference peak MB | speed-up |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cells(r):
        if not r:
            return ["–"] * 3
        if r.get("timeout"):
            return [f"> {r['timeout']:.0f}", "", ""]
        return [f"{r['median_s']:.3f}", f"{r['spread_s']:.3f}", f"{r['peak_mb']:.0f}"]

    def ratio(fast, ref):
        if not (fast and ref) or fast.get("timeout") or not fast["median_s"]:
            return "–"
        if ref.get("timeout"):
            return f"> {ref['timeout'] / fast['median_s']:.0f}×"
        return f"{ref['median_s'] / fast['median_s']:.0f}×"

    seen = list(dict.fromkeys(r["step"] for r in report["results"]))
    steps = sorted(seen, key=lambda step: (STEPS.index(_group(step)), seen.index(step)))
    for size in report["sizes"]:
        for step in steps:
            fast, ref = by.get((size, step, "fast")), by.get((size, step, "reference"))
            if fast or ref:
                row = [_label(size), step, *cells(fast), *cells(ref), ratio(fast, ref)]
                lines.append("| " + " | ".join(row) + " |")
        queries = {}
        for engine in ("fast", "reference"):
            rows = [by.get((size, s, engine)) for s in steps if s.startswith("query:")]
            if rows and all(r and not r.get("timeout") for r in rows):
                queries[engine] = {"median_s": sum(r["median_s"] for r in rows), "spread_s": 0.0, "peak_mb": 0}
        if queries:
            summed = [f"{queries[e]['median_s']:.3f}" if e in queries else "–" for e in ("fast", "reference")]
            cells_ = [summed[0], "", "", summed[1], "", "", ratio(queries.get("fast"), queries.get("reference"))]
            lines.append("| " + " | ".join([_label(size), "*every named query, summed*", *cells_]) + " |")
        totals = []
        for engine in ("fast", "reference"):
            rows = [by.get((size, s, engine)) for s in steps if s == "load+reason" or s.startswith("query:")]
            if rows and all(r and not r.get("timeout") for r in rows):
                totals += [f"{sum(r['median_s'] for r in rows):.1f}", "", f"{max(r['peak_mb'] for r in rows):.0f}"]
            else:
                totals += ["–", "", "–"]
        lines.append("| " + " | ".join([_label(size), "**load+reason + every named query**", *totals, ""]) + " |")
    lines.append("")
    for size in report["sizes"]:
        row = by.get((size, "load+reason", "fast"))
        if row and not row.get("timeout"):
            per = row["median_s"] / row["triples"] * 1e6
            lines.append(f"- {_label(size)} triples: fast load+reason {per:.1f} µs per input triple.")
    for note in sorted(set(report.get("notes", []))):
        lines.append(f"- {note} (the engines' closures are identical; the reference reasoner did not finish).")
    return "\n".join(lines) + "\n"


def _machine() -> str:
    import os

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    main()
