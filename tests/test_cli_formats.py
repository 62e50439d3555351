"""`kg` on the bundled ontology and the two-article fixture: every output format parsed back by a real parser, with
exact values; deterministic `kg reason` output; `kg stats`; `kg query --list`; and bad input.

The fixture is reasoned once per session (conftest.articles_kg); `articles_cache`
points kg at that cache, so these tests never wait for owlrl.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from conftest import ARTICLES
from kg.namespaces import KG, KGC, KGD, SCHEMA, XSD, bind
from kg.paths import ontology_dir, queries_dir

SPARQL = "{http://www.w3.org/2005/sparql-results#}"
PROJECT = KGD["gunsan-analysis-centre-project"]
FUNDING = ["query", "funding-by-project", "-p", "project=kgd:gunsan-analysis-centre-project"]
DECIMAL = str(XSD.decimal)

# A5: the analysis-centre project's four contributions (level, funder, won), largest first;
# the tie at 107억 is broken by the level IRI (level-municipal < level-provincial).
CONTRIBUTIONS = [
    (KGC["level-national"], KGD.motie, "15000000000"),
    (KGC["level-municipal"], KGD["gunsan-city-government"], "10700000000"),
    (KGC["level-provincial"], KGD["jeonbuk-state-government"], "10700000000"),
    (KGC["level-private"], None, "500000000"),
]
TOTAL = "36900000000"


@pytest.fixture(autouse=True)
def _use_articles_cache(articles_cache):
    """Every test here runs kg on the two-article fixture with the session's filled reasoning cache."""


# -- SELECT results in every format ---------------------------------------------------------


def test_csv(kg):
    result = kg(*FUNDING, "--format", "csv")
    assert (result.exit_code, result.stderr) == (0, "")
    text = result.stdout_bytes.decode("utf-8")
    assert text.count("\r\n") == 5 and "\n" not in text.replace("\r\n", "")  # CRLF line ends only
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["project", "level", "funder", "won", "totalBudget"]] + [
        [str(PROJECT), str(level), str(funder or ""), won, TOTAL] for level, funder, won in CONTRIBUTIONS
    ]


def test_tsv_read_by_pyoxigraph(kg):
    text = kg(*FUNDING, "--format", "tsv").stdout
    assert text.splitlines()[0] == "?project\t?level\t?funder\t?won\t?totalBudget"
    solutions = list(ox.parse_query_results(text, ox.QueryResultsFormat.TSV))
    decimal = ox.NamedNode(DECIMAL)
    assert [(s["project"], s["level"], s["funder"], s["won"], s["totalBudget"]) for s in solutions] == [
        (
            ox.NamedNode(str(PROJECT)),
            ox.NamedNode(str(level)),
            ox.NamedNode(str(funder)) if funder else None,
            ox.Literal(won, datatype=decimal),
            ox.Literal(TOTAL, datatype=decimal),
        )
        for level, funder, won in CONTRIBUTIONS
    ]


def test_json_is_w3c_sparql_results(kg):
    document = json.loads(kg(*FUNDING, "--format", "json").stdout)
    assert set(document) == {"head", "results"}
    assert document["head"] == {"vars": ["project", "level", "funder", "won", "totalBudget"]}
    assert set(document["results"]) == {"bindings"}
    expected = []
    for level, funder, won in CONTRIBUTIONS:
        binding = {
            "project": {"type": "uri", "value": str(PROJECT)},
            "level": {"type": "uri", "value": str(level)},
            "won": {"type": "literal", "value": won, "datatype": DECIMAL},
            "totalBudget": {"type": "literal", "value": TOTAL, "datatype": DECIMAL},
        }
        if funder:  # an unbound variable is left out of its solution
            binding["funder"] = {"type": "uri", "value": str(funder)}
        expected.append(binding)
    assert document["results"]["bindings"] == expected


def _xml_solutions(text: str) -> tuple[list[str], list[dict]]:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == f"{SPARQL}sparql"
    head, results = root.find(f"{SPARQL}head"), root.find(f"{SPARQL}results")
    variables = [v.get("name") for v in head.findall(f"{SPARQL}variable")]
    solutions = []
    for result in results.findall(f"{SPARQL}result"):
        solution = {}
        for binding in result.findall(f"{SPARQL}binding"):
            (term,) = list(binding)
            kind = term.tag.removeprefix(SPARQL)
            solution[binding.get("name")] = (kind, term.text, term.get("datatype"))
        solutions.append(solution)
    return variables, solutions


def test_xml_is_w3c_sparql_results(kg):
    variables, solutions = _xml_solutions(kg(*FUNDING, "--format", "xml").stdout)
    assert variables == ["project", "level", "funder", "won", "totalBudget"]
    expected = []
    for level, funder, won in CONTRIBUTIONS:
        solution = {
            "project": ("uri", str(PROJECT), None),
            "level": ("uri", str(level), None),
            "won": ("literal", won, DECIMAL),
            "totalBudget": ("literal", TOTAL, DECIMAL),
        }
        if funder:
            solution["funder"] = ("uri", str(funder), None)
        expected.append(solution)
    assert solutions == expected


def test_xml_keeps_language_tags(kg):
    result = kg(
        "query", "-e", "SELECT ?ko WHERE { kgd:gunsan rdfs:label ?ko FILTER(lang(?ko) = 'ko') }", "--format", "xml"
    )
    root = ET.fromstring(result.stdout.encode("utf-8"))
    (literal,) = root.iter(f"{SPARQL}literal")
    assert (literal.text, literal.get("{http://www.w3.org/XML/1998/namespace}lang")) == ("군산시", "ko")


def test_table_shows_bilingual_labels(kg):
    # Labels from data/: "English / 한국어"; the project's long English label is cut at 60 columns;
    # amounts with thousands separators (the csv, tsv, json and xml answers keep the plain value).
    assert kg(*FUNDING).stdout == (
        "project                                                       level              funder"
        "                                                              won     totalBudget\n"
        "------------------------------------------------------------  -----------------  "
        "-------------------------------------------------------  --------------  --------------\n"
        "Secondary Battery Real-time Advanced Analysis Centre infras…  National / 국비    "
        "Ministry of Trade, Industry and Energy / 산업통상자원부  15,000,000,000  36,900,000,000\n"
        "Secondary Battery Real-time Advanced Analysis Centre infras…  Municipal / 시비   "
        "Gunsan City Government / 군산시                          10,700,000,000  36,900,000,000\n"
        "Secondary Battery Real-time Advanced Analysis Centre infras…  Provincial / 도비  "
        "Jeonbuk State Government / 전북특별자치도                10,700,000,000  36,900,000,000\n"
        "Secondary Battery Real-time Advanced Analysis Centre infras…  Private / 민자     "
        "                                                            500,000,000  36,900,000,000\n"
        "(4 rows)\n"
    )


# -- ASK and CONSTRUCT -------------------------------------------------------------------------

# A7: the project is on a site in Gunsan, in Jeonbuk, in Korea: true only after reasoning.
ASK_IN_KOREA = ["query", "-e", "ASK { kgd:gunsan-analysis-centre-project kg:locatedIn kgd:south-korea }"]


def test_ask_in_every_format_that_has_a_boolean(kg):
    assert json.loads(kg(*ASK_IN_KOREA, "--format", "json").stdout) == {"head": {}, "boolean": True}
    root = ET.fromstring(kg(*ASK_IN_KOREA, "--format", "xml").stdout.encode("utf-8"))
    assert root.find(f"{SPARQL}boolean").text == "true" and root.find(f"{SPARQL}results") is None
    assert kg(*ASK_IN_KOREA).stdout == "true\n"
    assert kg(*ASK_IN_KOREA, "--no-reasoning").stdout == "false\n"  # kg:locatedIn is only ever inferred


def test_construct_is_turtle_read_by_two_parsers(kg):
    text = "CONSTRUCT { ?project schema:funder ?funder } WHERE { ?project kg:fundedBy ?funder }"
    result = kg("query", "-e", text, "--format", "ttl")
    assert result.exit_code == 0
    assert kg("query", "-e", text).stdout == result.stdout  # Turtle whatever the --format default
    expected = {
        (PROJECT, SCHEMA.funder, KGD[f]) for f in ("motie", "jeonbuk-state-government", "gunsan-city-government")
    }
    assert set(Graph().parse(data=result.stdout, format="turtle")) == expected
    by_oxigraph = {
        (URIRef(t.subject.value), URIRef(t.predicate.value), URIRef(t.object.value))
        for t in ox.parse(result.stdout.encode("utf-8"), format=ox.RdfFormat.TURTLE)
    }
    assert by_oxigraph == expected


def test_one_line_sparql_without_braces_is_query_text(kg):
    """Regression: `-e "DESCRIBE kgd:motie"` was looked up as a query name, `-e "LOAD <http://...>"` as a file."""
    result = kg("query", "-e", "DESCRIBE kgd:motie")
    assert (result.exit_code, result.stderr) == (0, "")
    described = Graph().parse(data=result.stdout, format="turtle")
    assert (KGD.motie, KG.webDomain, Literal("motie.go.kr")) in described


def test_turtle_keeps_decimal_literals_exact(kg):
    """Regression: longturtle wrote "36900000000"^^xsd:decimal as 36900000000.0, a different literal."""
    text = (
        "CONSTRUCT { ?a kg:value ?v } WHERE { kgd:gunsan-analysis-centre-project kg:totalBudget ?a . ?a kg:value ?v }"
    )
    graph = Graph().parse(data=kg("query", "-e", text).stdout, format="turtle")
    assert list(graph.objects(None, KG.value)) == [Literal("36900000000", datatype=XSD.decimal)]
    assert str(next(graph.objects(None, KG.value))) == "36900000000"


# -- kg reason -----------------------------------------------------------------------------------

FORMATS = [("ttl", "turtle"), ("nt", "nt"), ("jsonld", "json-ld")]


@pytest.fixture(scope="module")
def fresh_closure(articles_kg) -> Graph:
    """The session's own (not cached) reasoning result: asserted + inferred."""
    return bind(articles_kg.inferred + articles_kg.asserted)


@pytest.mark.parametrize(("fmt", "rdflib_format"), FORMATS)
def test_reason_output_parses_back_and_is_deterministic(kg, tmp_path, fmt, rdflib_format, fresh_closure):
    out, fresh = tmp_path / f"graph.{fmt}", tmp_path / f"fresh.{fmt}"
    result = kg("reason", "-o", str(out), "--format", fmt)
    assert (result.exit_code, result.output) == (0, "")
    written = out.read_bytes()
    # From the cache or reasoned afresh, the same bytes: blank-node labels depend only on the inputs.
    assert kg("--no-cache", "reason", "-o", str(fresh), "--format", fmt).exit_code == 0
    assert written == fresh.read_bytes()
    parsed = Graph().parse(data=written.decode("utf-8"), format=rdflib_format)
    assert len(parsed) == len(fresh_closure)
    assert isomorphic(parsed, fresh_closure)


def test_reason_nt_is_sorted_and_read_by_pyoxigraph(kg, tmp_path, fresh_closure):
    out = tmp_path / "graph.nt"
    kg("reason", "-o", str(out))  # format from the suffix
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == sorted(set(lines)) and len(lines) == len(fresh_closure)
    triples = list(ox.parse(path=out, format=ox.RdfFormat.N_TRIPLES))
    assert len(triples) == len(fresh_closure)


def test_reason_inferred_only_holds_no_asserted_triple(kg, tmp_path, articles_kg):
    out = tmp_path / "inferred.nt"
    assert kg("reason", "--inferred-only", "-o", str(out)).exit_code == 0
    inferred = Graph().parse(out, format="nt")
    asserted = articles_kg.asserted
    assert len(inferred) == len(articles_kg.inferred) > 1000
    assert isomorphic(inferred, articles_kg.inferred)
    ground = [t for t in inferred if not any(isinstance(term, BNode) for term in t)]
    assert ground and [t for t in ground if t in asserted] == []
    # Key entailments are there; asserted facts are not.
    assert (PROJECT, KG.locatedIn, KGD["south-korea"]) in inferred
    assert (PROJECT, SCHEMA.endDate, Literal("2028", datatype=XSD.gYear)) in inferred
    assert (PROJECT, KG.endDate, Literal("2028", datatype=XSD.gYear)) not in inferred
    full = tmp_path / "all.nt"
    kg("reason", "-o", str(full))
    assert len(Graph().parse(full, format="nt")) == len(asserted) + len(inferred)  # disjoint parts


# -- kg stats ------------------------------------------------------------------------------------

# Entities per most specific kg: class, counted by hand in data/*.ttl.
CLASSES = {
    "kg:MonetaryAmount": 7,  # A5 total + 4 contributions' amounts, B4 total + the plan budget's amount
    "kg:FundingContribution": 5,  # A5 national, provincial, municipal, private; B4 plan budget
    "kg:Task": 5,  # A11 three tasks; B9 two measures
    "kg:Strategy": 4,  # B5-B8
    "kg:TargetIndicator": 4,  # B13
    "kg:Facility": 3,  # A7 analysis centre; B11 platform and hub centre
    "kg:Programme": 3,  # A13 capability programme; B10 scale-up and conversion support
    "kg:Cluster": 2,  # B12
    "kg:MediaOrganisation": 2,  # Newsstep, Sisacatch
    "kg:NewsArticle": 2,
    "kg:OrganisationGroup": 2,  # A11 participants, A18 partner agencies (both unnamed)
    "kg:Project": 2,  # A3 analysis-centre project; B10 global network
    "kg:ProvincialGovernment": 2,  # Jeonbuk State, Daejeon Metropolitan City governments
    "kg:City": 1,  # Gunsan (Daejeon is a kg:MetropolitanCity)
    "kg:CityGovernment": 1,
    "kg:Conference": 1,  # A18
    "kg:Country": 1,
    "kg:IndustrialComplex": 1,
    "kg:IndustrialComplexZone": 1,
    "kg:InformationSystem": 1,  # A16
    "kg:MetropolitanCity": 1,
    "kg:Ministry": 1,  # A4 MOTIE
    "kg:OrganisationalUnit": 1,  # A15 battery business unit
    "kg:Person": 1,  # the reporter
    "kg:Plan": 1,  # B1
    "kg:Province": 1,
    "kg:QuantityValue": 1,  # A8 floor area
    "kg:Site": 1,  # A7 research-facility land
    "kg:Statement": 1,  # B14
    "kg:Technopark": 1,  # A15
}


def _table(text: str) -> list[list[str]]:
    """Rows of a `kg` table (below its dashed rule), split at runs of two or more spaces."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line and set(line) <= {"-", " "})
    return [re.split(r"\s{2,}", line.strip()) for line in lines[rule + 1 :] if line.strip()]


def test_stats_counts_match_the_graphs(kg, articles_kg):
    result = kg("stats")
    assert (result.exit_code, result.stderr) == (0, "")
    triples_part, classes_part = result.stdout.split("\n\n")
    table, files = triples_part.rsplit("\n", 1)
    triples = {name: int(n) for name, n in _table(table + "\n")}
    assert triples == {
        "ontology": len(articles_kg.ontology),
        "data": len(articles_kg.data),
        "provenance": len(articles_kg.provenance),
        "inferred": len(articles_kg.inferred),
    }
    assert files == "4 data files, each a named graph of its own (kgg:data/...)"
    # Each fixture file's graph is derived from the articles it cites.
    assert {(str(s).rsplit("/", 1)[1], str(o).rsplit("/", 1)[1]) for s, _, o in articles_kg.provenance} == {
        ("daejeon", "article-sisacatch-2025-05-12-daejeon"),
        ("gunsan", "article-newsstep-2025-10-01-gunsan"),
        ("korea", "article-newsstep-2025-10-01-gunsan"),
        ("korea", "article-sisacatch-2025-05-12-daejeon"),
        ("sources", "article-newsstep-2025-10-01-gunsan"),
        ("sources", "article-sisacatch-2025-05-12-daejeon"),
    }
    # Read independently of kg: every data file, and every ontology file the catalog maps.
    data = Graph()
    for path in sorted(ARTICLES.glob("*.ttl")):
        data.parse(path)
    catalog = ET.parse(ontology_dir() / "catalog-v001.xml").getroot()
    ontology = Graph()
    for uri in catalog.iter("{urn:oasis:names:tc:entity:xmlns:xml:catalog}uri"):
        ontology.parse(ontology_dir() / uri.get("uri"))
    assert (triples["data"], triples["ontology"]) == (len(data), len(ontology))

    rows = _table(classes_part)
    assert {name: int(n) for name, n in rows} == CLASSES
    counts = [int(n) for _, n in rows]
    assert counts == sorted(counts, reverse=True)


def test_list_shows_exactly_the_query_files(kg):
    rows = _table(kg("query", "--list").stdout)
    files = sorted(queries_dir().glob("*.rq"))
    assert files
    titles = {}
    for path in files:
        match = re.search(r"^# Title:\s*(.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
        titles[path.stem] = match.group(1).strip()
    assert {row[0]: row[1] for row in rows} == titles
    assert [row[0] for row in rows] == [path.stem for path in files]


# -- bad input -------------------------------------------------------------------------------------

MALFORMED = """@prefix kgd: <https://w3id.org/battery-kg/id/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

kgd:decoy rdfs:label "Decoy"@en
kgd:other rdfs:label "Other"@en .
"""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--data", "bad.ttl", *FUNDING],
            re.escape("Error: bad.ttl, line 5: ") + r".+" + re.escape(" — fix the Turtle syntax there"),
        ),
        (
            ["query", "fundng-by-project"],
            re.escape(
                "Error: unknown query 'fundng-by-project'; did you mean funding-by-project, funding-by-level?"
                " — see kg query --list"
            ),
        ),
        (
            ["query", "-e", "SELECT ?x WHERE { ?x ?y }"],
            re.escape("Error: query text: SPARQL syntax error at line 1, column ") + r"\d+.*",
        ),
        (
            ["query", "-e", "INSERT DATA { kgd:a kgd:b kgd:c }"],
            re.escape("Error: query text: update requests are not allowed: kg is read-only"),
        ),
        (
            ["query", "-e", "DELETE WHERE { ?s ?p ?o }"],
            re.escape("Error: query text: update requests are not allowed: kg is read-only"),
        ),
        (
            ["query", "-e", "LOAD <http://example.invalid/graph.ttl>"],
            re.escape("Error: query text: update requests are not allowed: kg is read-only"),
        ),
        (
            ["query", "funding-by-project", "-p", "city=kgd:gunsan"],
            re.escape("Error: query funding-by-project has no param ?city; valid params: ?project"),
        ),
        (
            ["query", "funding-by-project", "-p", "project"],
            re.escape("Error: --param 'project': expected NAME=VALUE, e.g. region=kgd:gunsan"),
        ),
        (
            ["query", "in-place"],
            re.escape("Error: query in-place needs --param place=VALUE (e.g. kgd:gunsan, kgd:jeonbuk-state, ")
            + r".*\)",
        ),
    ],
    ids=[
        "malformed-turtle",
        "unknown-query",
        "syntax-error",
        "insert-data",
        "delete-where",
        "load",
        "unknown-param",
        "param-without-equals",
        "missing-required-param",
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(kg, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.ttl").write_text(MALFORMED, encoding="utf-8")
    before = sorted(tmp_path.rglob("*"))
    global_options = args[:2] if args[0] == "--data" else []
    command = args[len(global_options) :]
    result = kg(*global_options, *command, "--format", "csv", "-o", "out.csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert re.fullmatch(message + "\n", result.stderr), result.stderr
    assert "Traceback" not in result.output
    assert sorted(tmp_path.rglob("*")) == before  # no output, no temporary file


def test_output_into_a_missing_folder_is_refused(kg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = kg(*FUNDING, "--format", "csv", "-o", "missing/out.csv")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "Error: cannot write missing/out.csv: missing does not exist\n"
    assert list(tmp_path.iterdir()) == []


# -- the real command in a subprocess -----------------------------------------------------------------


def test_python_dash_m_answers_a_named_query(articles_cache):
    env = {**os.environ, "KG_CACHE_DIR": str(articles_cache)}
    result = subprocess.run(
        [sys.executable, "-m", "kg", *FUNDING, "--format", "csv"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert (result.returncode, result.stderr) == (0, "")
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert [(row["funder"], row["won"]) for row in rows] == [(str(f or ""), won) for _, f, won in CONTRIBUTIONS]
    assert {row["totalBudget"] for row in rows} == {TOTAL}


# -- kg reason: the graphs kept apart ----------------------------------------------------------


@pytest.mark.parametrize(("suffix", "ox_format"), [(".nq", ox.RdfFormat.N_QUADS), (".trig", ox.RdfFormat.TRIG)])
def test_reason_keeps_each_source_in_its_graph(kg, tmp_path, articles_kg, suffix, ox_format):
    out, again = tmp_path / f"g{suffix}", tmp_path / f"h{suffix}"
    assert kg("reason", "-o", str(out)).exit_code == 0
    assert kg("reason", "-o", str(again)).exit_code == 0
    assert out.read_bytes() == again.read_bytes()  # deterministic, blank nodes included
    store = ox.Store()
    store.load(path=str(out), format=ox_format)
    data = "https://w3id.org/battery-kg/graph/data/"
    assert sorted(g.value for g in store.named_graphs()) == [
        *(data + name for name in ("daejeon", "gunsan", "korea", "sources")),
        "https://w3id.org/battery-kg/graph/inferred",
        "https://w3id.org/battery-kg/graph/ontology",
    ]
    # Who says what: a statement of gunsan.ttl is in that file's graph, derived from its article.
    project = ox.NamedNode(str(KGD["gunsan-analysis-centre-project"]))
    selected = ox.NamedNode(str(KG.selectedBy))
    assert [q.graph_name.value for q in store.quads_for_pattern(project, selected, None)] == [data + "gunsan"]
    derived = store.quads_for_pattern(
        ox.NamedNode(data + "gunsan"), ox.NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom"), None, ox.DefaultGraph()
    )
    assert [q.object.value for q in derived] == [str(KGD["article-newsstep-2025-10-01-gunsan"])]
    # Every quad there is, and only those: the data files' statements, the ontology, the inferences.
    assert len(store) == len(articles_kg.data) + len(articles_kg.ontology) + len(articles_kg.inferred) + len(
        articles_kg.provenance
    ) + _in_two_files(store, data)
    dataset = rdflib.Dataset()
    dataset.parse(out, format="nquads" if suffix == ".nq" else "trig")
    assert len(list(dataset.quads())) == len(store)


def _in_two_files(store, data: str) -> int:
    """Quads beyond the merge: a statement two data files make is in both files' graphs."""
    seen: dict[tuple, int] = {}
    for quad in store:
        if isinstance(quad.graph_name, ox.NamedNode) and quad.graph_name.value.startswith(data):
            key = (quad.subject, quad.predicate, quad.object)
            seen[key] = seen.get(key, 0) + 1
    return sum(n - 1 for n in seen.values())


def test_reason_inferred_only_as_quads(kg, tmp_path, articles_kg):
    out = tmp_path / "inferred.nq"
    assert kg("reason", "--inferred-only", "-o", str(out)).exit_code == 0
    store = ox.Store()
    store.load(path=str(out), format=ox.RdfFormat.N_QUADS)
    assert [g.value for g in store.named_graphs()] == ["https://w3id.org/battery-kg/graph/inferred"]
    assert len(store) == len(articles_kg.inferred)
