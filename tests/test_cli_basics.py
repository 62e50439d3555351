"""The `kg` command as a user meets it: help, version, outputs, errors, exit codes; plus the module layering."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import click
import pyoxigraph as ox
import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

import kg as kg_package
from conftest import DATA, ONTOLOGY, fixture_args
from kg.cli import cli
from kg.engine import DEFAULT_ENGINE, get_engine
from kg.errors import OutputError
from kg.paths import atomic_write

PACKAGE = Path(kg_package.__file__).parent


def test_version(kg):
    result = kg("--version")
    assert result.exit_code == 0
    first, engines = result.stdout.splitlines()
    assert first == f"kg {version('battery-kg')}"
    assert engines == f"engines: fast ({get_engine('fast').version}), reference ({get_engine('reference').version})"


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "kg", "--version"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout.splitlines()[0], result.stderr) == (0, f"kg {version('battery-kg')}", "")


def test_every_command_and_option_has_help(kg):
    assert kg("-h").stdout == kg("--help").stdout
    for name, command in cli.commands.items():
        assert command.help, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
        assert kg(name, "-h").exit_code == 0
    assert sorted(cli.commands) == [
        "analyze", "export", "info", "init", "link", "load", "publish", "push", "query", "reason", "render", "serve",
        "stats", "synth", "validate",
    ]  # fmt: skip


def test_click_usage_errors_exit_2(kg):
    result = kg("reason")
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: Missing option '-o' / '--output'.\n")
    assert kg("frobnicate").exit_code == 2


def test_stats(kg):
    result = kg(*fixture_args("stats"))
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "graph       triples\n"
        "----------  -------\n"
        "ontology         57\n"
        "data             26\n"
        "provenance        0\n"  # the fixture cites no source
        "inferred         20\n"
        "2 data files, each a named graph of its own (kgg:data/...)\n"
        "\n"
        "class         entities\n"
        "------------  --------\n"
        "kg:Region            3\n"
        "kg:CellMaker         1\n"
        "kg:Company           1\n"
    )


def test_reason_writes_every_format_readable_by_two_parsers(kg, tmp_path: Path):
    graphs = {}
    for fmt, rdflib_format, ox_format in [
        ("ttl", "turtle", ox.RdfFormat.TURTLE),
        ("nt", "nt", ox.RdfFormat.N_TRIPLES),
        ("jsonld", "json-ld", ox.RdfFormat.JSON_LD),
    ]:
        out = tmp_path / f"graph.{fmt}"
        result = kg(*fixture_args("reason", "-o", str(out), "--format", fmt))
        assert (result.exit_code, result.output) == (0, "")
        graphs[fmt] = Graph().parse(out, format=rdflib_format)
        by_oxigraph = ox.serialize(ox.parse(path=out, format=ox_format), format=ox.RdfFormat.N_TRIPLES)
        second = Graph().parse(data=by_oxigraph, format="nt")
        assert isomorphic(graphs[fmt], second), fmt
    assert isomorphic(graphs["ttl"], graphs["nt"]) and isomorphic(graphs["ttl"], graphs["jsonld"])
    assert len(graphs["ttl"]) == 57 + 26 + 20


def test_reason_output_is_byte_stable(kg, tmp_path: Path):
    # Each run reparses the files, so blank nodes get new internal names every time.
    for fmt in ("ttl", "nt", "jsonld"):
        first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        kg(*fixture_args("--no-cache", "reason", "-o", str(first)))
        kg(*fixture_args("--no-cache", "reason", "-o", str(second)))
        assert first.read_bytes() == second.read_bytes(), fmt
    nt_lines = (tmp_path / "a.nt").read_text(encoding="utf-8").splitlines()
    assert nt_lines == sorted(nt_lines)


def test_reason_output_is_stable_across_hash_seeds(tmp_path: Path):
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed{seed}.ttl"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "kg", *fixture_args("--no-cache", "reason", "-o", str(out))], check=True, env=env
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_reason_inferred_only_to_stdout(kg):
    result = kg(*fixture_args("reason", "--inferred-only", "--format", "nt", "-o", "-"))
    assert result.exit_code == 0
    assert isomorphic(
        Graph().parse(data=result.stdout, format="nt"), Graph().parse(DATA / "reason" / "expected-inferred.ttl")
    )


def test_format_follows_the_output_suffix(kg, tmp_path: Path):
    out = tmp_path / "graph.nt"
    kg(*fixture_args("reason", "-o", str(out)))
    assert out.read_text(encoding="utf-8").startswith("<")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing-folder/out.ttl", "Error: cannot write missing-folder/out.ttl: missing-folder does not exist\n"),
        ("a-file.txt/out.ttl", "Error: cannot write a-file.txt/out.ttl: a-file.txt is not a folder\n"),
        (".", "Error: cannot write .: it is a directory\n"),
    ],
)
def test_unwritable_output_is_one_line(kg, tmp_path: Path, monkeypatch, target, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file.txt").write_text("x", encoding="utf-8")
    result = kg(*fixture_args("reason", "-o", target))
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch):
    target = tmp_path / "out.ttl"
    target.write_text("old", encoding="utf-8")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OutputError, match="No space left on device$"):
        atomic_write(target, b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["out.ttl"]
    assert target.read_text(encoding="utf-8") == "old"


def test_written_files_get_normal_permissions(tmp_path: Path):
    target = tmp_path / "out.ttl"
    atomic_write(target, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_keyboard_interrupt_exits_130_quietly(kg, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("kg.cli.open_graph", interrupted)
    result = kg(*fixture_args("stats"))
    assert (result.exit_code, result.output) == (130, "")


def test_ill_typed_literal_is_a_one_line_error(kg, tmp_path: Path):
    data = tmp_path / "odd.ttl"
    data.write_text(
        '<https://w3id.org/battery-kg/id/x> <https://schema.org/numberOfEmployees> "many"^^'
        "<http://www.w3.org/2001/XMLSchema#integer> .\n",
        encoding="utf-8",
    )
    result = kg("--ontology", str(ONTOLOGY), "--data", str(data), "stats")
    assert result.exit_code == 2
    assert result.stderr == (
        f'Error: {data}, line 1: "many" is not a valid xsd:integer value — fix the literal or its datatype\n'
    )


# -- structure -------------------------------------------------------------------------

# Each module may import only from modules listed before it (STYLE.md module map).
LAYERS = [
    "kg",
    "kg.namespaces",
    "kg.errors",
    "kg.names",
    "kg.formats",
    "kg.paths",
    "kg.progress",
    "kg.canonical",
    "kg.engine",
    "kg.engine.rules",
    "kg.engine.terms",
    "kg.engine.sparql_text",
    "kg.engine.services",
    "kg.engine.schema_closure",
    "kg.engine.filler",
    "kg.engine.reference",
    "kg.engine.fast",
    "kg.load",
    "kg.reason",
    "kg.cache",
    "kg.queries",
    "kg.results",
    "kg.graph",
    "kg.workspace",
    "kg.regions",
    "kg.store",
    "kg.synth",
    "kg.stats",
    "kg.validate",
    "kg.project",
    "kg.styles",
    "kg.export",
    "kg.page",
    "kg.analyze",
    "kg.render",
    "kg.link",
    "kg.iso3166",
    "kg.geonames",
    "kg.align",
    "kg.datasets",
    "kg.publish",
    "kg.remote",
    "kg.query_pool",
    "kg.serve",
    "kg.process",
    "kg.cli",
    "kg.__main__",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _sources() -> list[Path]:
    files = sorted(p for p in PACKAGE.rglob("*.py") if "resources" not in p.parts)
    assert len(files) >= len(LAYERS)  # never pass vacuously
    return files


def test_modules_import_only_from_layers_above():
    for path in _sources():
        module = _module_name(path)
        assert module in LAYERS, f"{module} is missing from LAYERS"
        allowed = set(LAYERS[: LAYERS.index(module)])
        for imported in _imports(path):
            if imported == "kg" or imported.startswith("kg."):
                assert imported in allowed, f"{module} imports {imported}, which is not above it"


def test_only_the_engine_imports_owlrl():
    importers = {_module_name(p) for p in _sources() if any(i.split(".")[0] == "owlrl" for i in _imports(p))}
    assert importers == {"kg.engine.reference"}


def test_no_sparql_strings_in_python():
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.upper()
                assert not ("WHERE {" in text or "WHERE{" in text), f"SPARQL text in {path.name}: {node.value[:60]!r}"
    # Every shipped query is used by some module (checks run as a glob of *-violation.rq): no dead SPARQL.
    shipped = sorted(p.stem for p in (PACKAGE / "sparql").glob("*.rq"))
    assert len(shipped) >= 10
    code = "\n".join(path.read_text(encoding="utf-8") for path in _sources())
    assert "-violation.rq" in code
    assert [name for name in shipped if name not in code and not name.endswith("-violation")] == []


# -- the engine default: option > $KG_ENGINE > config file > built-in -----------------


@pytest.mark.parametrize(
    ("config", "env", "option", "expected"),
    [
        (None, None, None, DEFAULT_ENGINE),
        ("[kg]\nengine = reference\n", None, None, "reference"),
        ("[kg]\nengine = reference\n", "fast", None, "fast"),
        ("[kg]\nengine = fast\n", "fast", "reference", "reference"),
    ],
)
def test_engine_precedence(kg, tmp_path, monkeypatch, config, env, option, expected):
    if config is not None:
        path = tmp_path / "config.ini"
        path.write_text(config, encoding="utf-8")
        monkeypatch.setenv("KG_CONFIG", str(path))
    if env is not None:
        monkeypatch.setenv("KG_ENGINE", env)
    seen = {}
    monkeypatch.setattr(
        "kg.cli.list_queries", lambda folder: seen.setdefault("engine", click.get_current_context().obj.engine) and []
    )
    args = (["--engine", option] if option else []) + ["query", "--list"]
    assert kg(*args).exit_code == 0
    assert seen["engine"] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[kg]\nengine = turbo\n", "engine = 'turbo' is not one of fast, reference"),
        (
            "engine = fast\n",
            "line 1: not a valid config file (MissingSectionHeaderError); expected [kg] and key = value lines",
        ),
    ],
)
def test_bad_config_is_a_one_line_error(kg, tmp_path, monkeypatch, text, message):
    path = tmp_path / "config.ini"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("KG_CONFIG", str(path))
    result = kg("query", "--list")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.rstrip("\n").endswith(message)
    assert result.stderr.count("\n") == 1
