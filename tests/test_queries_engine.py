"""Named queries: headers, parameters, refusals, and every output format read back by real parsers."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.query import Result

import kg as kg_package
from conftest import KG_DATA, ONTOLOGY, QUERIES, fixture_args
from kg.errors import QueryError
from kg.graph import Inputs, open_graph
from kg.namespaces import DATA_GRAPHS, KG, KGD, RDFS, SCHEMA, XSD
from kg.queries import Param, QueryInfo, list_queries, parse_assignment, parse_term, read_header, run
from kg.results import display_width, ntriples_term

SPARQL_NS = "{http://www.w3.org/2005/sparql-results#}"
STATEMENTS = ["query", "statements-about", "-p", "entity=kgd:acme-cells"]


@pytest.fixture(scope="module")
def dataset():
    return open_graph(Inputs.of(ONTOLOGY, [KG_DATA], "reference")).rdflib


# -- headers and discovery ------------------------------------------------------------


def test_list_queries_reads_headers():
    infos = {info.name: info for info in list_queries(QUERIES)}
    assert sorted(infos) == [
        "companies-in-region",
        "construct-region-tree",
        "has-cell-maker",
        "statements-about",
        "suppliers-of",
    ]
    assert infos["companies-in-region"] == QueryInfo(
        name="companies-in-region",
        title="Companies in a region",
        purpose="Every company located in a region or anywhere inside it, with its head count. "
        "Cell makers are companies only by inference, so --no-reasoning finds fewer.",
        params=(Param("region", "IRI", True, "the region to look in, e.g. kgd:gunsan"),),
        path=QUERIES / "companies-in-region.rq",
    )
    assert infos["suppliers-of"].params == (
        Param("company", "IRI", False, "the buyer"),
        Param("minEmployees", "literal", True, "smallest supplier to list"),
    )
    assert infos["statements-about"].params == (Param("entity", "IRI", False, "the entity, e.g. kgd:acme-cells"),)
    assert infos["construct-region-tree"].params == ()


def test_header_without_params_line_allows_any_query_variable():
    info = read_header("# Title: T\nSELECT * WHERE { ?s ?p ?o }", "inline")
    assert (info.title, info.params) == ("T", None)


def test_list_command_prints_name_and_title(kg):
    result = kg(*fixture_args("query", "--list"))
    assert result.exit_code == 0
    assert result.stdout == (
        "name                   title                               parameters\n"
        "---------------------  ----------------------------------  ---------------------\n"
        "companies-in-region    Companies in a region               region?\n"
        "construct-region-tree  Region tree\n"
        "has-cell-maker         Is there a cell maker in a region?  region\n"
        "statements-about       Statements about an entity          entity\n"
        "suppliers-of           Suppliers of a company              company minEmployees?\n"
    )


# -- running and binding ---------------------------------------------------------------


def test_param_binding_restricts_the_answer(kg):
    # stdout_bytes: click's Result.stdout turns the CSV's CRLF into LF.
    everywhere = kg(*fixture_args("query", "companies-in-region", "--format", "csv")).stdout_bytes.decode()
    in_gunsan = kg(*fixture_args("query", "companies-in-region", "-p", "region=kgd:gunsan", "--format", "csv"))
    assert everywhere == (
        "company,region,employees\r\n"
        "https://w3id.org/battery-kg/id/acme-cells,https://w3id.org/battery-kg/id/gunsan,1200\r\n"
        "https://w3id.org/battery-kg/id/acme-cells,https://w3id.org/battery-kg/id/jeonbuk,1200\r\n"
        "https://w3id.org/battery-kg/id/acme-cells,https://w3id.org/battery-kg/id/saemangeum,1200\r\n"
        "https://w3id.org/battery-kg/id/precursor-co,https://w3id.org/battery-kg/id/gunsan,85\r\n"
        "https://w3id.org/battery-kg/id/precursor-co,https://w3id.org/battery-kg/id/jeonbuk,85\r\n"
    )
    assert in_gunsan.stdout_bytes.decode() == (
        "company,region,employees\r\n"
        "https://w3id.org/battery-kg/id/acme-cells,https://w3id.org/battery-kg/id/gunsan,1200\r\n"
        "https://w3id.org/battery-kg/id/precursor-co,https://w3id.org/battery-kg/id/gunsan,85\r\n"
    )


def test_no_reasoning_queries_asserted_triples_only(kg):
    result = kg(*fixture_args("query", "companies-in-region", "--no-reasoning", "--format", "csv"))
    assert result.stdout_bytes.decode() == (
        "company,region,employees\r\n"
        "https://w3id.org/battery-kg/id/precursor-co,https://w3id.org/battery-kg/id/gunsan,85\r\n"
    )


def test_literal_param_and_python_api(dataset):
    assert [r[0] for r in run("suppliers-of", dataset, queries_dir=QUERIES, company=KGD["acme-cells"]).rows] == [
        KGD["precursor-co"]
    ]
    assert run("suppliers-of", dataset, queries_dir=QUERIES, company=KGD["acme-cells"], minEmployees=100).rows == []
    assert run("has-cell-maker", dataset, queries_dir=QUERIES, region=KGD.jeonbuk).boolean is True
    assert run("has-cell-maker", dataset, queries_dir=QUERIES, region=KGD["precursor-co"]).boolean is False


def test_ask_table_and_json(kg):
    args = fixture_args("query", "has-cell-maker", "-p", "region=kgd:jeonbuk")
    assert kg(*args).stdout == "true\n"
    assert json.loads(kg(*args, "--format", "json").stdout) == {"head": {}, "boolean": True}


def test_construct_is_turtle(kg, dataset):
    result = kg(*fixture_args("query", "construct-region-tree"))
    assert result.exit_code == 0
    graph = Graph().parse(data=result.stdout, format="turtle")
    assert set(graph) == {
        (KGD.gunsan, KG.locatedIn, KGD.jeonbuk),
        (KGD.saemangeum, KG.locatedIn, KGD.gunsan),
    }
    assert result.stdout.startswith("PREFIX kg: <https://w3id.org/battery-kg/ontology#>\n")


def test_query_file_path_and_inline_text(kg, tmp_path):
    by_path = kg(*fixture_args("query", str(QUERIES / "has-cell-maker.rq"), "-p", "region=kgd:gunsan"))
    inline = kg(*fixture_args("query", "-e", "ASK { kgd:acme-cells kg:suppliedBy ?x }", "--no-reasoning"))
    assert (by_path.stdout, inline.stdout) == ("true\n", "false\n")


# -- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["companies-in-regoin"],
            "Error: unknown query 'companies-in-regoin'; did you mean companies-in-region? — see kg query --list\n",
        ),
        (
            ["companies-in-region", "-p", "city=kgd:gunsan"],
            "Error: query companies-in-region has no param ?city; valid params: ?region\n",
        ),
        (
            ["construct-region-tree", "-p", "region=kgd:gunsan"],
            "Error: query construct-region-tree has no param ?region; valid params: none (it takes no params)\n",
        ),
        (
            ["statements-about"],
            "Error: query statements-about needs --param entity=VALUE (the entity, e.g. kgd:acme-cells)\n",
        ),
        (
            ["companies-in-region", "-p", "region=foo:gunsan"],
            "Error: unknown prefix foo: in 'foo:gunsan' (known: kg:, kgd:, kgc:, kgsh:, kgg:, schema:, skos:, "
            "dcterms:, org:, prov:, void:, dcat:, wd:, gn:, geo:, owl:, rdf:, rdfs:, xsd:); "
            "write a full IRI as <...> or a string in double quotes\n",
        ),
        (
            ["companies-in-region", "-p", "region"],
            "Error: --param 'region': expected NAME=VALUE, e.g. region=kgd:gunsan\n",
        ),
        (
            ["../bad-queries/syntax-error.rq"],
            "Error: ../bad-queries/syntax-error.rq: SPARQL syntax error at line 8, column 1 (the end of the query)\n",
        ),
        (
            ["../bad-queries/update.rq"],
            "Error: ../bad-queries/update.rq: update requests are not allowed: kg is read-only\n",
        ),
        (
            ["-e", "INSERT DATA { kgd:a kgd:b kgd:c }"],
            "Error: query text: update requests are not allowed: kg is read-only\n",
        ),
        (
            ["-e", "# SELECT ?x WHERE { ?x ?y ?z }\nCLEAR ALL"],
            "Error: query text: update requests are not allowed: kg is read-only\n",
        ),
        (
            ["-e", "SELECT * WHERE { SERVICE <http://example.invalid/sparql> { ?s ?p ?o } }"],
            "Error: query text: SERVICE is not allowed: kg queries only its own graphs, offline\n",
        ),
        (
            ["-e", "SELECT * FROM <http://example.invalid/g> WHERE { ?s ?p ?o }"],
            "Error: FROM <http://example.invalid/g>: no such graph in kg's dataset (graphs: "
            "<https://w3id.org/battery-kg/graph/data>, <https://w3id.org/battery-kg/graph/inferred>, "
            "<https://w3id.org/battery-kg/graph/ontology>, 2 data file graphs <https://w3id.org/battery-kg/graph/data/...>);"
            " kg never loads graphs from elsewhere\n",
        ),
        (
            ["has-cell-maker", "-p", "region=kgd:gunsan", "--format", "csv"],
            "Error: ASK results have no CSV form; use json, xml or table\n",
        ),
        (
            ["construct-region-tree", "--format", "csv"],
            "Error: CONSTRUCT results are RDF: --format csv is for SELECT and ASK; use one of ttl, nt, jsonld, nq, "
            "trig, json (JSON-LD) or xml (RDF/XML)\n",
        ),
        ([], "Error: give a query NAME or PATH, - for a query on stdin, or -e SPARQL (see kg query --list)\n"),
        (
            ["companies-in-region", "-p", "region=kgd:gunsan", "-p", "region=kgd:jeonbuk"],
            "Error: each --param NAME may be given once\n",
        ),
        (
            ["-e", "# nothing here\n"],
            "Error: query text: empty query: the text holds no SPARQL, only comments or blanks\n",
        ),
    ],
    ids=[
        "unknown-name",
        "unknown-param",
        "no-params",
        "missing-param",
        "unknown-prefix",
        "bad-assignment",
        "syntax-error",
        "update-file",
        "insert",
        "clear-after-comment",
        "service",
        "from",
        "ask-csv",
        "construct-csv",
        "nothing",
        "twice",
        "empty",
    ],
)
def test_bad_queries_are_one_line_errors(kg, monkeypatch, args, message):
    monkeypatch.chdir(QUERIES)
    result = kg(*fixture_args("query", *args))
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_comments_that_look_like_updates_do_not_block_a_query(dataset):
    # statements-about.rq's header mentions INSERT DATA and DELETE WHERE.
    assert run("statements-about", dataset, queries_dir=QUERIES, entity=KGD.gunsan).rows


# -- parameter values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("kgd:gunsan", KGD.gunsan),
        ("<https://example.org/x>", URIRef("https://example.org/x")),
        ('"군산"@ko', Literal("군산", lang="ko")),
        ('"12"^^xsd:integer', Literal("12", datatype=XSD.integer)),
        ('"2024-01-31"^^<http://www.w3.org/2001/XMLSchema#date>', Literal("2024-01-31", datatype=XSD.date)),
        ('"say \\"hi\\"\\n"', Literal('say "hi"\n')),
        ("42", Literal("42", datatype=XSD.integer)),
        ("-3.5", Literal("-3.5", datatype=XSD.decimal)),
        ("1e3", Literal("1e3", datatype=XSD.double)),
        ("Gunsan", Literal("Gunsan")),
        ("군산 시청", Literal("군산 시청")),
        ("10:30", Literal("10:30")),
    ],
)
def test_parse_term(text, term):
    parsed = parse_term(text)
    assert parsed == term and type(parsed) is type(term)


def test_ill_typed_literal_param_is_refused():
    with pytest.raises(QueryError, match=r"'abc' is not a valid xsd:integer"):
        parse_term('"abc"^^xsd:integer')


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from([None, "en", "ko", "en-GB"]),
)
def test_quoted_literals_round_trip(text, language):
    literal = Literal(text, lang=language)
    assert parse_term(ntriples_term(literal)) == literal
    name, term = parse_assignment(f"value={ntriples_term(literal)}")
    assert (name, term) == ("value", literal)


# -- output formats read back by real parsers ----------------------------------------------


def _solutions(fmt: str, text: str) -> list[dict]:
    """Parse with rdflib's result parser, as plain {var: term} dicts with blank nodes blanked."""
    parsed = Result.parse(io.BytesIO(text.encode("utf-8")), format=fmt)
    return [{str(k): ("_:" if isinstance(v, BNode) else v) for k, v in row.asdict().items()} for row in parsed]


def test_json_follows_the_w3c_structure(kg):
    document = json.loads(kg(*fixture_args(*STATEMENTS, "--format", "json")).stdout)
    assert document["head"] == {"vars": ["property", "value"]}
    bindings = document["results"]["bindings"]
    assert len(bindings) == 14
    assert {
        "property": {"type": "uri", "value": str(RDFS.label)},
        "value": {"type": "literal", "value": "에이크미셀", "xml:lang": "ko"},
    } in bindings
    assert {
        "property": {"type": "uri", "value": str(SCHEMA.numberOfEmployees)},
        "value": {"type": "literal", "value": "1200", "datatype": str(XSD.integer)},
    } in bindings
    assert {
        "property": {"type": "uri", "value": str(SCHEMA.address)},
        "value": {"type": "bnode", "value": "b1"},
    } in bindings


def test_xml_follows_the_w3c_structure(kg):
    root = ET.fromstring(kg(*fixture_args(*STATEMENTS, "--format", "xml")).stdout.encode("utf-8"))
    assert root.tag == f"{SPARQL_NS}sparql"
    assert [v.get("name") for v in root.find(f"{SPARQL_NS}head")] == ["property", "value"]
    results = root.find(f"{SPARQL_NS}results").findall(f"{SPARQL_NS}result")
    assert len(results) == 14
    korean = [
        b.find(f"{SPARQL_NS}literal")
        for r in results
        for b in r
        if b.get("name") == "value"
        and b.find(f"{SPARQL_NS}literal") is not None
        and b.find(f"{SPARQL_NS}literal").text == "에이크미셀"
    ]
    assert korean[0].get("{http://www.w3.org/XML/1998/namespace}lang") == "ko"


def test_csv_follows_rfc4180_with_crlf(kg):
    text = kg(*fixture_args(*STATEMENTS, "--format", "csv")).stdout_bytes.decode()
    assert text.endswith("\r\n") and text.count("\r\n") == 15
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["property", "value"]
    assert [str(RDFS.comment), 'Makes "NCM" cells, pouch and prismatic;\nsecond line\tafter a tab'] in rows
    assert [str(SCHEMA.address), "_:b1"] in rows


def test_tsv_keeps_one_line_per_row(kg):
    text = kg(*fixture_args(*STATEMENTS, "--format", "tsv")).stdout
    lines = text.split("\n")
    assert lines[0] == "?property\t?value" and lines[-1] == "" and len(lines) == 16
    assert all(line.count("\t") == 1 for line in lines[:-1])


@pytest.mark.parametrize("fmt", ["json", "xml", "tsv", "csv"])
def test_every_format_parses_back_to_the_same_solutions(kg, fmt):
    json_rows = _solutions("json", kg(*fixture_args(*STATEMENTS, "--format", "json")).stdout)
    rows = _solutions(fmt, kg(*fixture_args(*STATEMENTS, "--format", fmt)).stdout)
    if fmt == "csv":  # CSV is lossy by design: every value comes back as a plain string
        json_rows = [{k: ("_:" if v == "_:" else Literal(str(v))) for k, v in row.items()} for row in json_rows]
        rows = [{k: ("_:" if str(v).startswith("_:") else Literal(str(v))) for k, v in row.items()} for row in rows]
    assert rows == json_rows
    assert len(rows) == 14


@pytest.mark.parametrize(
    ("fmt", "oxformat"),
    [("json", ox.QueryResultsFormat.JSON), ("xml", ox.QueryResultsFormat.XML), ("tsv", ox.QueryResultsFormat.TSV)],
)
def test_pyoxigraph_reads_our_results(kg, fmt, oxformat):
    text = kg(*fixture_args(*STATEMENTS, "--format", fmt)).stdout
    parsed = ox.parse_query_results(text, oxformat)
    assert [str(v) for v in parsed.variables] == ["?property", "?value"]
    solutions = list(parsed)
    values = {(s["property"].value, getattr(s["value"], "value", None)) for s in solutions}
    assert (str(RDFS.comment), 'Makes "NCM" cells, pouch and prismatic;\nsecond line\tafter a tab') in values
    assert len(solutions) == 14


def test_second_opinion_from_pyoxigraph(dataset):
    """Named queries and kg's own stats queries give the same answers in an independent engine.

    pyoxigraph substitutes only projected variables (SEP-0007), so bound cases are limited to those.
    """
    store = ox.Store()
    store.load(dataset.serialize(format="nquads", encoding="utf-8"), ox.RdfFormat.N_QUADS)
    # The merge of the graphs, each triple once: the data files' own graphs are in kgg:data.
    merged = [ox.DefaultGraph()] + [
        g for g in store.named_graphs() if isinstance(g, ox.NamedNode) and not g.value.startswith(DATA_GRAPHS)
    ]
    sparql = Path(kg_package.__file__).parent / "sparql"
    cases = [
        (QUERIES / "companies-in-region.rq", {}),
        (QUERIES / "companies-in-region.rq", {"region": KGD.gunsan}),
        (QUERIES / "construct-region-tree.rq", {}),
        (sparql / "triples-per-graph.rq", {}),
        (sparql / "entities-per-class.rq", {}),
    ]
    for path, bindings in cases:
        ours = run(path, dataset, **bindings)
        theirs = store.query(
            path.read_text(encoding="utf-8"),
            default_graph=merged,
            substitutions={ox.Variable(k): ox.NamedNode(str(v)) for k, v in bindings.items()},
        )
        if ours.kind == "CONSTRUCT":
            expected = Graph().parse(data=ox.serialize(theirs, format=ox.RdfFormat.N_TRIPLES), format="nt")
            assert isomorphic(ours.graph, expected), path.name
            continue
        rows = [tuple(_ox_n3(s[v]) for v in ours.variables) for s in theirs]
        assert [tuple(_rdflib_n3(t) for t in row) for row in ours.rows] == rows, path.name
        assert rows, path.name  # a second opinion on nothing proves nothing


def _ox_n3(term) -> str:
    return "_:" if isinstance(term, ox.BlankNode) else str(term)


def _rdflib_n3(term) -> str:
    return "_:" if isinstance(term, BNode) else ntriples_term(term)


# -- table and determinism -----------------------------------------------------------------


def test_table_shows_labels_and_aligns_wide_characters(kg):
    result = kg(*fixture_args("query", "suppliers-of", "-p", "company=kgd:acme-cells"))
    assert result.stdout == (
        "supplier               employees\n"
        "---------------------  ---------\n"
        "Precursor Co / 전구체         85\n"
        "(1 row)\n"
    )
    curies = kg(*fixture_args("query", "suppliers-of", "-p", "company=kgd:acme-cells", "--no-labels"))
    assert curies.stdout.splitlines()[2] == "kgd:precursor-co         85"


def test_table_columns_line_up_in_display_width(kg):
    lines = kg(*fixture_args(*STATEMENTS)).stdout.splitlines()[:-1]  # drop the "(14 rows)" footer
    column = display_width(lines[0][: lines[0].index("value")])
    assert any(display_width(line) != len(line) for line in lines)  # Korean labels are really there
    for line in lines[2:]:
        # Walk to the terminal column where the second column starts: a space before it, text at it.
        width, index = 0, 0
        while width < column:
            width += display_width(line[index])
            index += 1
        assert width == column and line[index - 1] == " " and line[index] != " ", line


def test_unordered_results_are_deterministic(kg, tmp_path):
    outputs = set()
    for attempt in range(3):
        out = tmp_path / f"out{attempt}.json"
        assert kg(*fixture_args(*STATEMENTS, "--format", "json", "-o", str(out))).exit_code == 0
        outputs.add(out.read_bytes())
    assert len(outputs) == 1


def test_query_problems_are_reported_before_loading_data(kg):
    # --data points nowhere: had kg loaded first, this would be a LoadError.
    result = kg("--ontology", str(ONTOLOGY), "--data", "nowhere", "--queries", str(QUERIES), "query", "nope")
    assert (result.exit_code, result.stderr) == (2, "Error: unknown query 'nope' — see kg query --list\n")


def test_query_output_file(kg, tmp_path):
    out = tmp_path / "answer.json"
    result = kg(*fixture_args(*STATEMENTS, "--format", "json", "-o", str(out)))
    assert (result.exit_code, result.output) == (0, "")
    assert len(json.loads(out.read_text(encoding="utf-8"))["results"]["bindings"]) == 14
