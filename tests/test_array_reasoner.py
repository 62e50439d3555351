"""kg.engine.rules, the fast engine's array reasoner, and the route from files to a store (reason_files).

Each compiled rule is checked against the reference engine (owlrl) on a small fixture that
needs it; fixtures needing a rule the array reasoner lacks must give the reference answer
too (through reasonable). The vectorised noise filter must agree with is_noise on every
triple, and the route from files must give the same graphs as the rdflib route.
"""

from __future__ import annotations

import logging

import numpy as np
import pyoxigraph
import pytest
from rdflib import BNode, Graph, Literal, URIRef

from kg.engine import get_engine, rules
from kg.engine.fast import _iri_text, _is_literal
from kg.graph import Inputs, open_graph, reason_into
from kg.load import load, provenance
from kg.namespaces import DEFAULT_GRAPH, KGG
from kg.paths import data_dir, ontology_dir
from kg.reason import is_noise, noise_mask, reason
from kg.synth import synth

PREFIXES = """
@prefix ex: <https://w3id.org/battery-kg/data/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""

# One fixture per rule family (made-up IRIs in our data namespace, so owl:sameAs between
# them is kept by the noise filter), and whether the array reasoner compiles it.
FIXTURES = {
    "subproperty, equivalent property, domain, range, subclass": (
        True,
        """
        ex:A a owl:Class . ex:B a owl:Class . ex:C a owl:Class . ex:D a owl:Class .
        ex:p a owl:ObjectProperty . ex:q a owl:ObjectProperty . ex:r a owl:ObjectProperty .
        ex:p rdfs:subPropertyOf ex:q . ex:q owl:equivalentProperty ex:r .
        ex:r rdfs:domain ex:A ; rdfs:range ex:B . ex:A rdfs:subClassOf ex:C . ex:C owl:equivalentClass ex:D .
        ex:x ex:p ex:y .
        """,
    ),
    "inverse, symmetric, transitive over four steps": (
        True,
        """
        ex:in owl:inverseOf ex:out . ex:near a owl:SymmetricProperty . ex:part a owl:TransitiveProperty .
        ex:a ex:in ex:b . ex:b ex:near ex:c .
        ex:s1 ex:part ex:s2 . ex:s2 ex:part ex:s3 . ex:s3 ex:part ex:s4 . ex:s4 ex:part ex:s5 .
        """,
    ),
    "a chain of three steps over an inverse and a subproperty": (
        True,
        """
        ex:h owl:propertyChainAxiom ( ex:p1 ex:p2 ex:p3 ) . ex:p2inv owl:inverseOf ex:p2 .
        ex:sub rdfs:subPropertyOf ex:p3 .
        ex:a ex:p1 ex:b . ex:c ex:p2inv ex:b . ex:c ex:sub ex:d .
        """,
    ),
    "owl:sameAs between instances": (
        False,
        """
        ex:a owl:sameAs ex:b . ex:a ex:p ex:c . ex:p rdfs:domain ex:A .
        """,
    ),
    "hasValue": (
        False,
        """
        ex:R a owl:Restriction ; owl:onProperty ex:p ; owl:hasValue ex:v . ex:R rdfs:subClassOf ex:S .
        ex:a ex:p ex:v .
        """,
    ),
    "a functional property with two values": (
        False,
        """
        ex:f a owl:ObjectProperty , owl:FunctionalProperty .
        ex:a ex:f ex:b , ex:c . ex:b ex:label ex:l .
        """,
    ),
}


def _graph(text: str) -> Graph:
    return Graph().parse(data=PREFIXES + text, format="turtle")


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_rule_family_gives_the_reference_closure(name, caplog):
    compiled, text = FIXTURES[name]
    data = _graph(text)
    expected = reason(Graph(), data, get_engine("reference")).inferred
    with caplog.at_level(logging.INFO, logger="kg.engine.fast"):
        actual = reason(Graph(), data, get_engine("fast")).inferred
    assert set(actual) == set(expected)
    assert len(expected) >= 1  # every fixture derives something visible
    fell_back = any("array reasoner not used" in r.getMessage() for r in caplog.records)
    assert fell_back is not compiled


def test_compiled_rules_derive_what_each_rule_says():
    """Exact conclusions of the chain fixture: the chain joins through an inverse and a subproperty."""
    _, text = FIXTURES["a chain of three steps over an inverse and a subproperty"]
    inferred = set(reason(Graph(), _graph(text), get_engine("fast")).inferred)
    ex = "https://w3id.org/battery-kg/data/"
    assert (URIRef(ex + "a"), URIRef(ex + "h"), URIRef(ex + "d")) in inferred
    assert (URIRef(ex + "b"), URIRef(ex + "p2"), URIRef(ex + "c")) in inferred


def _bundled_closure() -> tuple[set, set]:
    sources = load(ontology_dir(), [data_dir()], get_engine("reference"))
    asserted = sources.ontology.graph + sources.data.graph
    return set(asserted), set(get_engine("fast").closure(asserted))


def test_noise_mask_agrees_with_is_noise_on_every_triple():
    asserted, closure = _bundled_closure()
    triples = sorted(closure, key=repr)
    terms = rules.Interner(URIRef, _iri_text, _is_literal)
    mask = noise_mask(terms.encode(triples), terms)
    expected = np.array([is_noise(*t) for t in triples])
    assert mask.tolist() == expected.tolist()
    assert 100 < int(mask.sum()) < len(triples) - 1000  # both answers occur, many times


def _without_blank_nodes(triples) -> set:
    """Triples without blank nodes (named afresh at each parse), literals compared by value:
    Oxigraph stores xsd:decimal "37.99850" as its value, written back as "37.9985"."""
    return {
        tuple(term.toPython() if isinstance(term, Literal) else term for term in t)
        for t in triples
        if not any(isinstance(term, BNode) for term in t)
    }


@pytest.mark.parametrize("which", ["bundled", "synthetic"])
def test_reasoning_from_files_gives_the_graphs_of_the_rdflib_route(which, tmp_path):
    if which == "bundled":
        data = data_dir()
    else:
        data = tmp_path / "synthetic.ttl"
        data.write_text(synth(2000, seed=3), encoding="utf-8")
    engine = get_engine("fast")
    sources = load(ontology_dir(), [data], engine)
    expected = reason(sources.ontology.graph, sources.data.graph, engine)
    dataset, record = reason_into(Inputs.of(ontology_dir(), [data], engine))
    cited = provenance(sources.data.graphs)
    assert record.counts == {
        "ontology": len(expected.ontology),
        "data": len(expected.data),
        "provenance": len(cited),
        "inferred": len(expected.inferred),
    }
    for name, graph in (("ontology", expected.ontology), ("data", expected.data), ("inferred", expected.inferred)):
        native = set(engine.triples(dataset, KGG[name]))
        assert _without_blank_nodes(native) == _without_blank_nodes(graph), name
    # Each file in a graph of its own, as the rdflib route reads it; the default graph says where from.
    for name, graph in sources.data.graphs.items():
        assert _without_blank_nodes(engine.triples(dataset, name)) == _without_blank_nodes(graph), name
    assert set(engine.triples(dataset, DEFAULT_GRAPH)) == set(cited)
    assert record.files("data") and record.files("ontology")


def test_reasoning_from_files_writes_a_cache_the_next_command_reads(tmp_path, caplog):
    engine = get_engine("fast")
    inputs = Inputs.of(ontology_dir(), [data_dir()], engine, cache=tmp_path / "cache")
    first = open_graph(inputs)
    caches = sorted((tmp_path / "cache").glob("*.nq"))
    assert len(caches) == 1
    sources = load(ontology_dir(), [data_dir()], engine)
    expected = reason(sources.ontology.graph, sources.data.graph, engine)
    counts = {
        "ontology": len(expected.ontology),
        "data": len(expected.data),
        "provenance": len(provenance(sources.data.graphs)),
        "inferred": len(expected.inferred),
    }
    assert first.record.counts == counts
    with caplog.at_level(logging.INFO, logger="kg.graph"):
        second = open_graph(inputs)
    assert any("reasoning cache hit" in r.getMessage() for r in caplog.records)
    # Every quad: the counted graphs, and each data file's own graph beside the merge (kgg:data).
    files = sum(len(graph) for graph in sources.data.graphs.values())
    assert len(second.dataset) == len(first.dataset) == sum(counts.values()) + files


def test_the_store_from_files_counts_what_it_holds_and_shares_blank_nodes_between_graphs(tmp_path):
    once, twice = tmp_path / "once.ttl", tmp_path / "twice.ttl"
    text = synth(2000, seed=3)
    once.write_text(text, encoding="utf-8")
    twice.write_text(text + "\n" + text, encoding="utf-8")  # every triple twice; one document, so one _:x
    engine = get_engine("fast")
    single = reason_into(Inputs.of(ontology_dir(), [once], engine))
    doubled, record = reason_into(Inputs.of(ontology_dir(), [twice], engine))
    assert record.counts == single[1].counts
    held = {
        str(row["g"].value).rsplit("/", 1)[-1]: int(row["n"].value)
        for row in doubled.store.query("SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
    }
    provenance_held = len(list(doubled.store.quads_for_pattern(None, None, None, pyoxigraph.DefaultGraph())))
    # The file's own graph (kgg:data/twice) holds what kgg:data does: the file's triples, each once.
    assert held == {**{k: v for k, v in record.counts.items() if k != "provenance"}, "twice": record.counts["data"]}
    assert provenance_held == record.counts["provenance"]
    # The amounts are blank nodes: the inferred graph must name the very nodes of the data graph.
    blank = {
        name: {t for triple in engine.triples(doubled, KGG[name]) for t in triple if isinstance(t, BNode)}
        for name in ("data", "inferred")
    }
    assert len(blank["data"]) == text.count(" a kg:MonetaryAmount .")
    assert blank["inferred"] and blank["inferred"] <= blank["data"]
