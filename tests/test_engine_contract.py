"""The engine contract: what kg asks of an engine (kg.engine.Engine), held by every engine alike.

The two real engines and a test double written against the interface alone (double_engine.py)
pass the same tests; `kg --engine double` then answers as the reference engine does.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from double_engine import DoubleEngine
from rdflib import BNode, Graph, Literal, URIRef

import kg.engine as registry
from conftest import KG_DATA, ONTOLOGY, QUERIES
from kg.engine import Capability, Engine, available_engines, get_engine, register_engine
from kg.errors import LoadError, QueryError
from kg.formats import by_name
from kg.graph import Inputs, open_graph
from kg.namespaces import KG, KGD, KGG, RDF, RDFS
from kg.reason import NOISE

ENGINES = ["reference", "fast", "double"]
KNOWN_CAPABILITIES = {Capability.FILES_TO_STORE, Capability.DISK_STORE, Capability.SERVICE}


@pytest.fixture(autouse=True)
def double(monkeypatch: pytest.MonkeyPatch):
    """The test double, registered only while this module's tests run."""
    monkeypatch.setitem(registry._ENGINES, "double", DoubleEngine)
    get_engine.cache_clear()
    yield
    get_engine.cache_clear()


@pytest.fixture(params=ENGINES)
def engine(request) -> Engine:
    return get_engine(request.param)


def test_engines_are_registered_and_declare_what_they_offer(engine):
    assert set(ENGINES) <= set(available_engines())
    assert isinstance(engine, Engine)
    assert engine.name and engine.version
    assert isinstance(engine.capabilities, frozenset) and engine.capabilities <= KNOWN_CAPABILITIES


def test_an_engine_that_does_not_implement_the_interface_is_refused():
    class Incomplete(Engine):
        name = "incomplete"

    register_engine("incomplete", Incomplete)
    try:
        with pytest.raises(TypeError):  # abstract methods left out: it cannot even be made
            get_engine("incomplete")
    finally:
        registry._ENGINES.pop("incomplete")
        get_engine.cache_clear()


def test_parse_reads_every_triple_and_names_the_file_on_bad_input(engine, tmp_path: Path):
    graph = engine.parse(KG_DATA / "regions.ttl", by_name("ttl"))
    assert (KGD.gunsan, RDF.type, KG.Region) in graph
    assert len(graph) == len(Graph().parse(KG_DATA / "regions.ttl"))
    bad = tmp_path / "bad.ttl"
    bad.write_text("<a> <b> .\n", encoding="utf-8")
    with pytest.raises(LoadError, match="bad.ttl"):
        engine.parse(bad, by_name("ttl"))


def test_entailments_are_the_closure_less_the_input_and_the_noise(engine):
    ex = "https://w3id.org/battery-kg/id/"
    a, b, c = URIRef(ex + "A"), URIRef(ex + "B"), URIRef(ex + "c")
    triples = {(a, RDFS.subClassOf, b), (c, RDF.type, a)}
    inferred = set(engine.entailments(triples, NOISE))
    assert (c, RDF.type, b) in inferred
    assert not inferred & triples
    assert not [t for t in inferred if NOISE.is_noise(*t)]


def _sample() -> dict:
    node = BNode("amount")
    return {
        KGG.data: [(KGD.x, KG.amount, node), (node, KG.value, Literal(5))],
        KGG.inferred: [(node, RDF.type, KG.MonetaryAmount)],
    }


def test_datasets_keep_named_graphs_and_answer_over_their_union(engine):
    dataset = engine.dataset(_sample())
    assert engine.graph_names(dataset) == [KGG.data, KGG.inferred]
    assert len(list(engine.triples(dataset, KGG.data))) == 2
    assert len(list(engine.triples(dataset))) == 3
    union = engine.query(dataset, engine.prepare("SELECT ?v WHERE { ?a a kg:MonetaryAmount ; kg:value ?v }"), {})
    assert union.rows == [(Literal(5),)]  # one blank node across the two graphs
    scoped = engine.prepare("SELECT ?s WHERE { GRAPH kgg:inferred { ?s ?p ?o } }")
    assert len(engine.query(dataset, scoped, {}).rows) == 1


def test_nquads_round_trip_keeps_graphs_and_shared_blank_nodes(engine, tmp_path: Path):
    out = io.BytesIO()
    engine.dump_nquads(engine.dataset(_sample()), out)
    path = tmp_path / "closure.nq"
    path.write_bytes(out.getvalue())
    dataset = engine.load_nquads(path)
    assert engine.graph_names(dataset) == [KGG.data, KGG.inferred]
    union = engine.query(dataset, engine.prepare("SELECT ?v WHERE { ?a a kg:MonetaryAmount ; kg:value ?v }"), {})
    assert union.rows == [(Literal(5),)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SELECT ?s WHERE { ?s ?p ?o }", "SELECT"),
        ("ASK { ?s ?p ?o }", "ASK"),
        ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "CONSTRUCT"),
    ],
)
def test_prepare_tells_the_query_form(engine, text, kind):
    assert engine.prepare(text).kind == kind


@pytest.mark.parametrize("text", ["SELECT ?s WHERE { ?s ?p", "INSERT DATA { <a> <b> <c> }"])
def test_prepare_refuses_broken_queries_and_updates(engine, text):
    with pytest.raises(QueryError):
        engine.prepare(text)


def test_query_binds_parameters_and_streams(engine):
    dataset = engine.dataset(_sample())
    prepared = engine.prepare("SELECT ?s ?v WHERE { ?s kg:amount ?a . ?a kg:value ?v }")
    assert engine.query(dataset, prepared, {"s": KGD.x}).rows == [(KGD.x, Literal(5))]
    assert engine.query(dataset, prepared, {"s": KGD.y}).rows == []
    streamed = engine.query(dataset, prepared, {}, stream=True)
    assert list(streamed.iter_rows()) == [(KGD.x, Literal(5))]


def test_the_handle_opens_a_graph_with_any_engine(engine, tmp_path: Path):
    kg = open_graph(Inputs.of(ONTOLOGY, [KG_DATA], engine, cache=tmp_path / "cache"))
    again = open_graph(Inputs.of(ONTOLOGY, [KG_DATA], engine, cache=tmp_path / "cache"))
    assert again.record.checksum == kg.record.checksum and kg.record.counts["inferred"] > 0
    located = kg.run("SELECT ?r WHERE { kgd:acme-cells kg:locatedIn ?r } ORDER BY ?r")
    assert [row[0] for row in located.rows] == [KGD.gunsan, KGD.jeonbuk, KGD.saemangeum]


def test_kg_uses_a_registered_engine_and_answers_as_the_reference_does(kg):
    args = ["--ontology", str(ONTOLOGY), "--data", str(KG_DATA), "--queries", str(QUERIES)]
    query = ["query", "companies-in-region", "-p", "region=kgd:gunsan", "--format", "csv"]
    double = kg(*args, "--engine", "double", "-v", *query)
    reference = kg(*args, "--engine", "reference", *query)
    assert double.exit_code == reference.exit_code == 0
    assert double.stdout == reference.stdout and double.stdout.count("\n") > 1
    assert "double engine" in double.stderr
