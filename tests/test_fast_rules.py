"""The rules kg/engine/fast.py adds to reasonable, on a small fixture built to need several rounds.

The fixture (made-up IRIs, not battery facts) has chains over chain conclusions, a chain whose
second step is a chain conclusion, chain steps that only reasonable derives (an inverse), and
schema rules that must be combined (scm-dom2 then scm-dom1): the fast closure must still equal
the reference engine's, and the terms reasonable hands back must be plain rdflib terms.
"""

from __future__ import annotations

import rdflib
from rdflib import Graph, Literal, Namespace
from rdflib.namespace import RDF, RDFS, XSD

from kg.engine import get_engine
from kg.reason import reason

EX = Namespace("http://example.org/fixture#")

FIXTURE = """
@prefix ex: <http://example.org/fixture#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

ex:A a owl:Class ; rdfs:subClassOf ex:B .
ex:B a owl:Class .
ex:C a owl:Class .
ex:p a owl:ObjectProperty .
ex:rInv a owl:ObjectProperty ; owl:inverseOf ex:r .
ex:q owl:propertyChainAxiom ( ex:p ex:r ) ; rdfs:range ex:C .
ex:s owl:propertyChainAxiom ( ex:q ex:t ) ; rdfs:subPropertyOf ex:top .
ex:u owl:propertyChainAxiom ( ex:t2 ex:q ) .
ex:sub rdfs:subPropertyOf ex:s .
ex:top rdfs:domain ex:A .

ex:a ex:p ex:b .
ex:c ex:rInv ex:b .
ex:c ex:t ex:d .
ex:z ex:t2 ex:a .
ex:m rdfs:label "plain" .
"""


def _graph() -> Graph:
    return Graph().parse(data=FIXTURE, format="turtle")


def test_fast_closure_needs_every_rule_and_equals_the_reference():
    graph = _graph()
    fast = set(reason(graph, Graph(), get_engine("fast")).inferred)
    reference = set(reason(graph, Graph(), get_engine("reference")).inferred)
    expected = {
        (EX.a, EX.q, EX.c),  # prp-spo2 over r, which only reasonable derives (inverse)
        (EX.a, EX.s, EX.d),  # prp-spo2 over a chain conclusion (first step)
        (EX.z, EX.u, EX.c),  # prp-spo2 over a chain conclusion (second step)
        (EX.a, EX.top, EX.d),  # reasonable on a chain conclusion (prp-spo1)
        (EX.a, RDF.type, EX.B),  # ... and then prp-dom, cax-sco
        (EX.c, RDF.type, EX.C),  # prp-rng on a chain conclusion
        (EX.sub, RDFS.subPropertyOf, EX.top),  # scm-spo
        (EX.sub, RDFS.domain, EX.B),  # scm-dom2, then scm-dom1
        (EX.s, RDFS.domain, EX.B),
    }
    assert expected <= fast
    assert fast == reference, sorted(fast ^ reference)


def test_reasonable_terms_are_plain_rdflib_terms_and_rdflib_is_left_as_it_was():
    classes = rdflib.URIRef, rdflib.Literal, rdflib.BNode
    closure = set(get_engine("fast").closure(_graph()))
    assert (rdflib.URIRef, rdflib.Literal, rdflib.BNode) == classes
    labels = {o for s, p, o in closure if s == EX.m and p == RDFS.label}
    assert labels == {Literal("plain")}
    assert all(label.datatype is None for label in labels)
    assert (EX.m, RDFS.label, Literal("plain", datatype=XSD.string)) not in closure
    assert {type(t) for triple in closure for t in triple} <= {rdflib.URIRef, rdflib.Literal, rdflib.BNode}
