"""The conventions users bring from other tools, run as a user would: which data is in use
(workspaces, kg init, kg info), formats from suffixes, options after the command, stdin and
stdout, no silent empty answers, and the smaller courtesies (--version, help, completion)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from conftest import ARTICLES, DATA
from kg.engine import available_engines, get_engine
from kg.namespaces import KGD
from kg.paths import WORKSPACE_MARKER, bundled_root
from kg.queries import list_queries

ROOT = Path(__file__).resolve().parent.parent
NEW_SOURCE = DATA / "new-source"
SPARQL_RESULTS = "{http://www.w3.org/2005/sparql-results#}"
PLANS = "SELECT ?plan WHERE { ?plan a kg:Plan }"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# -- which data: workspaces ------------------------------------------------------------------


@pytest.fixture
def workspace(kg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace made by kg init --no-data, its data/ holding the two-article fixture; the
    working directory inside it."""
    folder = tmp_path / "ws"
    result = kg("init", str(folder), "--no-data")
    assert result.exit_code == 0, result.output
    shutil.copytree(ARTICLES, folder / "data", dirs_exist_ok=True)
    monkeypatch.chdir(folder)
    return folder


def test_init_copies_the_bundled_folders(kg, tmp_path: Path):
    folder = tmp_path / "mine"
    result = kg("init", str(folder))
    assert result.exit_code == 0, result.output
    counts = {}
    for name in ("ontology", "data", "queries"):
        mine = sorted(p.relative_to(folder / name) for p in (folder / name).rglob("*") if p.is_file())
        ours = sorted(
            p.relative_to(bundled_root() / name)
            for p in (bundled_root() / name).rglob("*")
            if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in p.parts)
        )
        assert mine == ours, name
        counts[name] = len(mine)
    assert (folder / WORKSPACE_MARKER).is_file()
    assert result.stderr.splitlines()[0] == (
        f"created the workspace {folder}: ontology/ ({counts['ontology']} files), data/ ({counts['data']} files), "
        f"queries/ ({counts['queries']} files)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing left beside it


def test_init_refuses_a_folder_with_something_in_it(kg, tmp_path: Path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine\n", encoding="utf-8")
    result = kg("init", str(tmp_path / "full"))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {tmp_path / 'full'} already exists and is not an empty folder; give a new folder name\n",
    )
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["notes.txt"]


# A made-up source, as a user adds one to the workspace's data/: a test fixture, never data.
MY_SOURCE = """\
@prefix kg:  <https://w3id.org/battery-kg/ontology#> .
@prefix kgd: <https://w3id.org/battery-kg/id/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

kgd:fixture-my-article a kg:NewsArticle ;
    rdfs:label "Fixture Daily, 2026-01-02: a made-up test page"@en ;
    kg:headline "A made-up test page"@en ;
    kg:publisher kgd:newsstep ;
    kg:datePublished "2026-01-02"^^xsd:date ;
    kg:inLanguage "en" .

kgd:fixture-my-plan a kg:Plan ;
    rdfs:label "Fixture plan of a made-up test page"@en ;
    kg:location kgd:gunsan ;
    kg:source kgd:fixture-my-article .
"""


def test_a_new_file_in_the_workspace_data_is_read(kg, workspace: Path):
    before = kg("validate", "--format", "json")
    assert before.exit_code == 0, before.output
    files = [f for f in json.loads(before.stdout)["files"] if f.startswith("data/")]
    assert files == ["data/daejeon.ttl", "data/gunsan.ttl", "data/korea.ttl", "data/sources.ttl"]
    assert _rows(kg("query", "-e", PLANS, "--format", "csv").stdout) == [["plan"], [str(KGD["daejeon-battery-plan"])]]

    (workspace / "data" / "my-source.ttl").write_text(MY_SOURCE, encoding="utf-8")
    after = kg("validate", "--format", "json")
    assert after.exit_code == 0, after.output
    assert [f for f in json.loads(after.stdout)["files"] if f.startswith("data/")] == sorted(
        [*files, "data/my-source.ttl"]
    )
    assert _rows(kg("query", "-e", PLANS, "--format", "csv").stdout) == [
        ["plan"],
        [str(KGD["daejeon-battery-plan"])],
        [str(KGD["fixture-my-plan"])],
    ]


def test_info_names_the_folders_in_use(kg, workspace: Path):
    result = kg("info", "--format", "json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["workspace"] == str(workspace.resolve())
    assert info["data"] == "data (4 files)"
    assert info["ontology"] == "ontology"
    assert info["queries"] == f"queries ({len(list_queries(workspace / 'queries'))} named)"
    assert info["engine"] == f"fast ({get_engine('fast').version})"
    assert info["store"] == "none"
    # Options given to info change what it reports, as they would for any command.
    other = json.loads(kg("info", "--data", str(NEW_SOURCE), "--engine", "reference", "--format", "json").stdout)
    assert other["data"].endswith(f"{NEW_SOURCE.name} ({len(list(NEW_SOURCE.rglob('*.ttl')))} files)")
    assert other["engine"] == f"reference ({get_engine('reference').version})"


def test_info_outside_a_workspace_names_the_bundled_copy(kg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = kg("info")
    assert result.exit_code == 0
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["workspace"] == f"none: the bundled copy in {bundled_root()}"
    assert lines["data"].startswith(f"{bundled_root() / 'data'} (")


def test_a_fixture_folder_with_an_ontology_is_not_a_workspace(kg, monkeypatch: pytest.MonkeyPatch):
    # tests/data holds ontology/, data/ and queries/ of its own, but no .kg-workspace: the
    # checkout around it is the workspace.
    monkeypatch.chdir(DATA / "ontology")
    info = json.loads(kg("info", "--format", "json").stdout)
    assert info["workspace"] == str(ROOT)


def test_verbose_says_which_folders_each_command_uses(kg, workspace: Path):
    result = kg("query", "timeline", "-v")
    assert result.exit_code == 0
    logged = result.stderr.splitlines()
    assert logged[:4] == [
        f"workspace: {workspace.resolve()}",
        "data: data",
        "ontology: ontology; queries: queries",
        "engine: fast; store: none",
    ]


def test_add_data_reads_files_beside_the_data(kg, articles_cache, tmp_path: Path):
    extra = tmp_path / "mine.ttl"
    extra.write_text(
        "@prefix kg: <https://w3id.org/battery-kg/ontology#> .\n"
        "@prefix kgd: <https://w3id.org/battery-kg/id/> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'kgd:my-plan a kg:Plan ; rdfs:label "My plan"@en .\n',
        encoding="utf-8",
    )
    plain = kg("query", "-e", PLANS, "--format", "csv", "--no-validate")
    added = kg("query", "-e", PLANS, "--format", "csv", "--add-data", str(extra), "--no-validate")
    assert _rows(added.stdout) == sorted(_rows(plain.stdout) + [[str(KGD["my-plan"])]], key=lambda r: r != ["plan"])


# -- formats from suffixes -------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "parse"), [(".csv", "csv"), (".tsv", "tsv"), (".json", "json"), (".srx", "xml")])
def test_query_format_from_the_suffix(kg, articles_cache, tmp_path: Path, suffix: str, parse: str):
    out = tmp_path / f"plans{suffix}"
    assert kg("query", "-e", PLANS, "-o", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    if parse == "json":
        plans = [b["plan"]["value"] for b in json.loads(text)["results"]["bindings"]]
    elif parse == "xml":
        plans = [e.text for e in ET.fromstring(text).iter(f"{SPARQL_RESULTS}uri")]
    else:
        plans = [row[0].strip("<>") for row in csv.reader(io.StringIO(text), delimiter="\t" if parse == "tsv" else ",")]
        plans = plans[1:]
    assert plans == [str(KGD["daejeon-battery-plan"])]
    assert kg("query", "-e", PLANS, "--format", parse).stdout == text


def test_query_refuses_a_suffix_it_cannot_tell(kg, articles_cache, tmp_path: Path):
    out = tmp_path / "plans.xlsx"
    result = kg("query", "-e", PLANS, "-o", str(out))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {out}: cannot tell the format of SELECT results from the suffix '.xlsx'; "
        "use one of .txt .csv .tsv .json .srj .xml .srx or give --format\n",
    )
    assert not out.exists()


@pytest.mark.parametrize(("suffix", "rdflib_format"), [(".nt", "nt"), (".jsonld", "json-ld"), (".rdf", "xml")])
def test_construct_results_in_any_rdf_format(kg, articles_cache, tmp_path: Path, suffix: str, rdflib_format: str):
    construct = "CONSTRUCT { ?s a kg:Facility ; rdfs:label ?l } WHERE { ?s a kg:Facility ; rdfs:label ?l }"
    turtle = Graph().parse(data=kg("query", "-e", construct).stdout, format="turtle")
    assert len(turtle) > 0
    out = tmp_path / f"facilities{suffix}"
    assert kg("query", "-e", construct, "-o", str(out)).exit_code == 0
    assert isomorphic(Graph().parse(out, format=rdflib_format), turtle)


@pytest.mark.parametrize(("suffix", "rdflib_format"), [(".owl", "xml"), (".rdf", "xml"), (".nt", "nt")])
def test_reason_format_from_the_suffix(kg, articles_cache, tmp_path: Path, suffix: str, rdflib_format: str):
    out = tmp_path / f"graph{suffix}"
    assert kg("reason", "-o", str(out)).exit_code == 0
    reference = Graph().parse(data=kg("reason", "-o", "-", "--format", "nt").stdout, format="nt")
    assert isomorphic(Graph().parse(out, format=rdflib_format), reference)


def test_reason_refuses_an_unknown_suffix(kg, articles_cache, tmp_path: Path):
    out = tmp_path / "graph.foo"
    result = kg("reason", "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {out}: cannot tell the RDF format of a file to write from its suffix '.foo'; "
        "use one of .ttl, .nt, .jsonld, .json, .rdf, .owl, .xml, .nq, .trig or give the format\n"
    )
    assert not out.exists()


def test_stats_in_every_format(kg, articles_cache, articles_kg, tmp_path: Path):
    out = tmp_path / "stats.json"
    assert kg("stats", "-o", str(out)).exit_code == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["data_files"] == 4
    assert document["graphs"]["data"] == len(articles_kg.data)
    rows = _rows(kg("stats", "--format", "csv").stdout)
    assert rows[0] == ["what", "name", "count"]
    assert ["graph triples", "data", str(len(articles_kg.data))] in rows
    assert ["data files", "", "4"] in rows
    assert {(name, int(n)) for what, name, n in rows[1:] if what == "class entities"} == set(
        document["classes"].items()
    )


# -- options after the command ---------------------------------------------------------------


def test_global_options_work_after_the_command(kg, tmp_path: Path):
    before = kg("--data", str(ARTICLES), "--engine", "reference", "query", "timeline", "--format", "csv")
    after = kg("query", "timeline", "--format", "csv", "--data", str(ARTICLES), "--engine", "reference")
    assert before.exit_code == after.exit_code == 0
    assert after.stdout == before.stdout
    assert len(_rows(after.stdout)) > 1
    # Given after the command, an option overrides the one given before it.
    both = kg("--data", str(NEW_SOURCE), "query", "timeline", "--format", "csv", "--data", str(ARTICLES))
    assert both.stdout == before.stdout
    refused = kg("query", "timeline", "--engine", "nope")
    assert refused.exit_code == 2
    assert refused.stderr.endswith(
        f"Invalid value for '--engine': 'nope' is not one of {', '.join(available_engines())}\n"
    )


# -- no silent empty answers -----------------------------------------------------------------


def test_a_parameter_naming_no_entity_says_so(kg, articles_cache):
    result = kg("query", "in-place", "-p", "place=kgd:nosuch", "--format", "csv")
    assert result.exit_code == 0
    assert _rows(result.stdout) == [["subject", "type", "location"]]
    assert result.stderr == (
        "warning: -p place=kgd:nosuch: the graph has no such entity, so nothing matches it; "
        "give a CURIE it has or a name (-p place=군산 or Gunsan is looked up)\n"
    )


def test_a_parameter_given_as_a_name_resolves_like_region(kg, articles_cache):
    by_curie = kg("query", "in-place", "-p", "place=kgd:gunsan", "--format", "csv")
    for name in ("군산", "Gunsan"):
        by_name = kg("query", "in-place", "-p", f"place={name}", "--format", "csv")
        assert (by_name.stdout, by_name.stderr) == (by_curie.stdout, "")
    assert len(_rows(by_curie.stdout)) > 1


# -- stdin and stdout ------------------------------------------------------------------------


def test_query_from_stdin(kg, articles_cache):
    from click.testing import CliRunner

    from kg.cli import cli

    piped = CliRunner().invoke(cli, ["query", "-", "--format", "csv"], input=PLANS + "\n")
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == kg("query", "-e", PLANS, "--format", "csv").stdout
    empty = CliRunner().invoke(cli, ["query", "-"], input="")
    assert (empty.exit_code, empty.stderr) == (
        2,
        "Error: no query on stdin: kg query - reads the SPARQL text from stdin\n",
    )


@pytest.mark.parametrize("input_format", ["ttl", "nt"])
def test_data_from_stdin(kg, tmp_path: Path, input_format: str):
    from click.testing import CliRunner

    from kg.cli import cli

    source = Graph().parse(ARTICLES / "daejeon.ttl")
    text = source.serialize(format="turtle" if input_format == "ttl" else "nt")
    others = [str(ARTICLES / name) for name in ("gunsan.ttl", "korea.ttl", "sources.ttl")]
    args = ["query", "-e", PLANS, "--format", "csv", "--input-format", input_format, "--no-validate"]
    args += [option for path in others for option in ("--data", path)] + ["--add-data", "-"]
    piped = CliRunner().invoke(cli, args, input=text)
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == kg("--data", str(ARTICLES), "query", "-e", PLANS, "--format", "csv").stdout


def test_export_and_render_to_stdout(kg, articles_cache, tmp_path: Path):
    exported = kg("export", "--region", "군산", "--format", "graphml", "-o", "-")
    assert exported.exit_code == 0
    graph = nx.read_graphml(io.BytesIO(exported.stdout_bytes))
    to_file = tmp_path / "g.graphml"
    kg("export", "--region", "군산", "-o", str(to_file))
    assert exported.stdout_bytes == to_file.read_bytes()
    assert graph.nodes["kgd:gunsan"]["label"] == "Gunsan"
    assert exported.stderr == f"wrote {graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges to stdout\n"
    refused = kg("export", "-o", "-")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "Error: -o - writes to stdout: give the format with --format (csv there is a zip of both tables)\n",
    )
    assert (
        kg("render", "-o", "-").stderr
        == "Error: -o - writes the picture to stdout: give --format svg or --format png\n"
    )


def test_render_svg_to_stdout(kg, articles_cache):
    from systools import require_tool

    require_tool("dot", "dot")
    drawn = kg("render", "--region", "군산", "--format", "svg", "-o", "-")
    assert drawn.exit_code == 0
    svg = ET.fromstring(drawn.stdout_bytes)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert drawn.stderr.endswith(" to stdout\n")


# -- the smaller courtesies ------------------------------------------------------------------


def test_query_list_shows_parameters_in_any_format(kg):
    rows = _rows(kg("query", "--list", "--format", "csv").stdout)
    assert rows[0] == ["name", "title", "parameters"]
    expected = {
        info.name: " ".join(p.name + ("?" if p.optional else "") for p in info.params or ())
        for info in list_queries(ROOT / "queries")
    }
    assert {name: params for name, _title, params in rows[1:]} == expected
    assert expected["in-place"] == "place"
    listed = json.loads(kg("query", "--list", "--format", "json").stdout)
    assert [b["name"]["value"] for b in listed["results"]["bindings"]] == sorted(expected)


def test_synth_says_what_it_wrote(kg, tmp_path: Path):
    out = tmp_path / "s.ttl"
    result = kg("synth", "-n", "200", "-o", str(out))
    assert result.stderr == f"wrote a synthetic graph of about 200 triples (seed 0) to {out}\n"
    assert len(Graph().parse(out)) >= 200


def test_unknown_config_keys_are_named(kg, articles_cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "config.ini"
    config.write_text("[kg]\nengine = reference\nengnie = fast\n", encoding="utf-8")
    monkeypatch.setenv("KG_CONFIG", str(config))
    result = kg("query", "-e", "ASK { ?s a kg:Plan }")
    assert (result.exit_code, result.stdout) == (0, "true\n")
    assert result.stderr == f"warning: {config}: unknown key 'engnie' ignored (the [kg] section takes: engine)\n"


def test_help_shows_whole_summaries(kg):
    text = kg("--help").stdout
    commands = text.split("Commands:\n", 1)[1]
    assert "..." not in commands and "…" not in commands
    assert "  info      Say which workspace, data, ontology" in commands
    assert "Errors print one line" in text and "validate exit with 1" in text


def test_query_names_complete_in_the_shell():
    env = {**os.environ, "_KG_COMPLETE": "bash_complete", "COMP_WORDS": "kg query fun", "COMP_CWORD": "2"}
    result = subprocess.run([sys.executable, "-m", "kg"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["plain,funding-by-level", "plain,funding-by-project"]


def test_unordered_tables_group_thousands(kg, articles_cache):
    table = kg("query", "funding-by-project", "-p", "project=kgd:gunsan-analysis-centre-project").stdout
    assert "15,000,000,000" in table and "36,900,000,000" in table
    csv_text = kg("query", "funding-by-project", "-p", "project=kgd:gunsan-analysis-centre-project", "--format", "csv")
    assert "15000000000" in csv_text.stdout and "15,000,000,000" not in csv_text.stdout


def test_endpoint_without_union_default_graph_says_what_to_do(kg, articles_cache, articles_kg):
    from test_remote import free_port, stop, wait_for

    from kg.serve import find_oxigraph

    port = free_port()
    process = subprocess.Popen(
        [find_oxigraph(), "serve", "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", process)
        endpoint = f"http://127.0.0.1:{port}/query"
        assert kg("push", "--endpoint", endpoint).exit_code == 0
        result = kg("query", "-e", PLANS, "--endpoint", endpoint, "--format", "csv")
        assert (result.exit_code, _rows(result.stdout)) == (0, [["plan"]]), result.stderr
        assert result.stderr == (
            f"warning: {endpoint}'s default graph is empty but it has named graphs: its default graph is not "
            "their union. Start the server so that it is (oxigraph serve --union-default-graph, Fuseki "
            "tdb:unionDefaultGraph), or query the graphs with GRAPH ?g { ... }\n"
        )
        named = kg("query", "-e", "SELECT ?plan WHERE { GRAPH ?g { ?plan a kg:Plan } }", "--endpoint", endpoint)
        assert "daejeon" in named.stdout.lower() or "Daejeon" in named.stdout
    finally:
        stop(process)


def test_tables_show_a_figure_by_its_value_and_unit(kg, articles_cache):
    rows = kg("query", "entity", "-p", "entity=kgd:gunsan-analysis-centre-project").stdout.splitlines()
    (budget,) = [row for row in rows if "total budget" in row]
    assert "[36,900,000,000 KRW]" in budget and "_:" not in budget
