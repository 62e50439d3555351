"""OWL 2 RL reasoning on a copy of the asserted graphs, keeping only the useful new triples.

`reason` runs an engine's closure over rdflib graphs; `NOISE` is the policy of what a closure
adds that says nothing about the battery domain, which every engine applies (kg.engine.Noise).
Caching and the route from files to a store are kg.graph's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kg.engine import Engine, get_engine
from kg.engine.rules import Interner, sorted_unique
from kg.namespaces import OURS, OWL, RDF, RDFS, XSD, bind

__all__ = ["Inference", "NOISE", "is_noise", "noise_mask", "reason"]

log = logging.getLogger(__name__)

_BUILTIN_NAMESPACES = (str(OWL), str(RDF), str(RDFS), str(XSD))
_CONTAINER_MEMBERSHIP = re.compile(re.escape(str(RDF)) + r"_[0-9]+$")
_REFLEXIVE_NOISE = frozenset(
    (RDFS.subClassOf, RDFS.subPropertyOf, OWL.equivalentClass, OWL.equivalentProperty, OWL.sameAs)
)
# Module constants: rdflib's namespace attribute lookups cost a Python call each.
_TYPE, _SUB_CLASS, _SAME_AS, _THING, _RESOURCE = RDF.type, RDFS.subClassOf, OWL.sameAs, OWL.Thing, RDFS.Resource


@dataclass
class Inference:
    """Asserted graphs plus what reasoning added to them (noise removed)."""

    ontology: Graph
    data: Graph
    inferred: Graph


def is_noise(s: Node, p: Node, o: Node) -> bool:
    """True for entailments that say nothing about the battery domain (see STYLE.md, practice 5)."""
    if isinstance(s, Literal):
        return True  # Turtle can't even write these
    if _is_member(s) or _is_member(p) or _is_member(o):
        return True
    # str.startswith: rdflib's Identifier.startswith silently mishandles a tuple of prefixes.
    if isinstance(s, URIRef) and str.startswith(s, _BUILTIN_NAMESPACES):
        return True  # axioms about owl:Thing, xsd:string, rdfs:label...
    if p == _TYPE and (o == _THING or o == _RESOURCE):
        return True
    if p in _REFLEXIVE_NOISE and s == o:
        return True
    if p == _SUB_CLASS and o == _THING:
        return True
    if p == _SAME_AS and not (_ours(s) and _ours(o)):
        return True  # identity with outside IRIs would smush their facts into ours
    return False


def _ours(term: Node) -> bool:
    return isinstance(term, BNode) or (isinstance(term, URIRef) and str.startswith(term, OURS))


def _is_member(term: Node) -> bool:
    return isinstance(term, URIRef) and _CONTAINER_MEMBERSHIP.match(term) is not None


def noise_mask(rows: np.ndarray, terms: Interner) -> np.ndarray:
    """`is_noise` for integer-coded triples (kg.engine.rules), one flag per row: the same policy, vectorised.

    The fast engine filters millions of entailments with it, where calling is_noise on
    each would take longer than the reasoning; a test holds the two to the same answers.
    """
    size = len(terms.terms)
    literal, member, builtin, ours = (np.zeros(size, dtype=bool) for _ in range(4))
    for i in sorted_unique(rows.ravel()).tolist():
        term = terms.terms[i]
        if terms.is_literal(term):
            literal[i] = True
            continue
        text = terms.iri_text(term)
        if text is None:  # a blank node
            ours[i] = True
        else:
            member[i] = _CONTAINER_MEMBERSHIP.match(text) is not None
            builtin[i] = text.startswith(_BUILTIN_NAMESPACES)
            ours[i] = text.startswith(OURS)
    s, p, o = rows[:, 0], rows[:, 1], rows[:, 2]
    term = terms.id_of
    noise = literal[s] | member[s] | member[p] | member[o] | builtin[s]
    noise |= (p == term(str(_TYPE))) & ((o == term(str(_THING))) | (o == term(str(_RESOURCE))))
    noise |= np.isin(p, [term(str(t)) for t in _REFLEXIVE_NOISE]) & (s == o)
    noise |= (p == term(str(_SUB_CLASS))) & (o == term(str(_THING)))
    noise |= (p == term(str(_SAME_AS))) & ~(ours[s] & ours[o])
    return noise


class _Noise:
    """The noise policy as kg.engine.Noise: per triple for the reference engine, on arrays for the fast one."""

    is_noise = staticmethod(is_noise)
    mask = staticmethod(noise_mask)


NOISE = _Noise()


def reason(ontology: Graph, data: Graph, engine: Engine | None = None) -> Inference:
    """Run the engine's closure over ontology + data (never modified) and keep the new, useful triples."""
    engine = engine or get_engine()
    log.info("reasoning with the %s engine (%s)", engine.name, engine.version)
    # Plain sets, not rdflib graphs: at 10^5 triples, graph adds and lookups cost more than the
    # fast engine's closure itself.
    asserted = set(ontology)
    asserted.update(data)
    inferred = Graph()
    inferred.addN((s, p, o, inferred) for s, p, o in engine.entailments(asserted, NOISE))
    log.info("inferred %d triples", len(inferred))
    return Inference(ontology, data, bind(inferred))
