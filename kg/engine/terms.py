"""RDF terms between rdflib and Oxigraph: the one converter every module uses.

rdflib terms are what crosses the engine interface; Oxigraph's are what its store holds.
Blank nodes keep their labels both ways, so a blank node shared by two graphs stays shared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kg.namespaces import DEFAULT_GRAPH

__all__ = [
    "to_ox",
    "to_rdflib",
    "quad",
    "graph_of",
    "is_typed",
    "stable_bnode_names",
    "XSD_STRING",
    "RDF_LANG_STRING",
]

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


def to_ox(term: Node | None) -> Any:
    """An rdflib term as Oxigraph's (None stays None: a wildcard in patterns)."""
    if term is None:
        return None
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


def graph_of(name: Node | None) -> Any:
    """A graph name as Oxigraph's: an IRI, or its default graph for None and kg.namespaces.DEFAULT_GRAPH."""
    return ox.DefaultGraph() if name is None or name == DEFAULT_GRAPH else ox.NamedNode(str(name))


def quad(s: Node, p: Node, o: Node, graph: Node | None = None) -> ox.Quad:
    """One triple as an Oxigraph quad, in `graph` (an IRI) or the default graph."""
    return ox.Quad(to_ox(s), to_ox(p), to_ox(o), graph_of(graph))


class _Memo:
    """Remembers recent conversions: building an rdflib term costs ~10 µs, and quads and result
    rows repeat their terms (a million-row answer often holds a few thousand distinct ones)."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.terms: dict[Any, Node] = {}

    def __call__(self, term: Any) -> Node | None:
        if term is None:
            return None
        converted = self.terms.get(term)
        if converted is None:
            if len(self.terms) > self.LIMIT:
                self.terms.clear()
            converted = self.terms[term] = _convert(term)
        return converted


def _convert(term: Any) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype))
    if isinstance(term, ox.DefaultGraph):
        return None
    raise TypeError(f"unsupported term from Oxigraph: {term!r}")


to_rdflib = _Memo()


def is_typed(term: Any) -> bool:
    """An Oxigraph literal whose datatype constrains its text (not a plain or language-tagged string)."""
    return isinstance(term, ox.Literal) and term.datatype.value not in (XSD_STRING, RDF_LANG_STRING)


def stable_bnode_names(triples: Iterable[tuple[Node, Node, Node]]) -> dict[BNode, str]:
    """A name for each blank node from a hash of its surroundings: the same graph gives the same names."""
    around: dict[BNode, set[tuple[str, ...]]] = {}
    edges: list[tuple[Node, Node, Node]] = []
    for s, p, o in triples:
        edges.append((s, p, o))
        if isinstance(s, BNode):
            around.setdefault(s, set())
        if isinstance(o, BNode):
            around.setdefault(o, set())
    colour = {b: "" for b in around}
    for _round in range(3):  # neighbours' colours refine each node's own (Weisfeiler-Lehman)
        for b in around:
            around[b] = set()
        for s, p, o in edges:
            if isinstance(s, BNode):
                around[s].add(("out", p.n3(), colour[o] if isinstance(o, BNode) else o.n3()))
            if isinstance(o, BNode):
                around[o].add(("in", p.n3(), colour[s] if isinstance(s, BNode) else s.n3()))
        colour = {b: hashlib.sha256(repr(sorted(around[b])).encode()).hexdigest()[:24] for b in around}
    names: dict[BNode, str] = {}
    seen: dict[str, int] = {}
    for b in sorted(around, key=lambda b: (colour[b], str(b))):
        n = seen.get(colour[b], 0)
        seen[colour[b]] = n + 1
        names[b] = colour[b] if n == 0 else f"{colour[b]}-{n}"  # indistinguishable twins
    return names
