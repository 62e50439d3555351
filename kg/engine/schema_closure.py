"""The schema part of the fast engine's OWL 2 RL closure: reasonable, completed by the rules it lacks.

reasonable 0.4 closes a graph natively but implements neither property chains (prp-spo2) nor the
schema rules scm-cls (C subClassOf owl:Thing), scm-spo, scm-eqc1/2, scm-eqp1/2, scm-dom1/2 and
scm-rng1/2; `_MissingRules` adds them, and reasonable runs again on what they derive until
nothing new appears. The fast engine runs this on the schema (a few thousand triples) and
kg.engine.rules on the instances; a graph that needs a rule the array reasoner does not compile
is closed here as a whole (slower, same answer).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rdflib import Literal, URIRef
from rdflib.term import Node

from kg.engine import rules
from kg.engine.terms import XSD_STRING

__all__ = ["closure"]


def closure(triples: Iterable[tuple[Node, Node, Node]]) -> set[tuple[Node, Node, Node]]:
    """`triples` and everything OWL 2 RL derives from them, as rdflib terms.

    The schema rules are closed in one go, so usually only chain conclusions need a second run
    of reasonable and the third finds nothing.
    """
    import reasonable  # only reasoning needs it; cached queries never do

    reasoner = reasonable.PyReasoner()
    reasoner.from_graph(list(triples))
    missing = _MissingRules()
    known: set[tuple[Node, Node, Node]] = set()
    while True:
        grown = {_plain(t) for t in reasoner.reason()}  # every triple known so far, not only the new ones
        new, known = grown - known, grown
        extra = missing.derive(new, known) - known
        if not extra:
            return known
        reasoner.from_graph(list(extra))


# -- rules reasonable lacks ----------------------------------------------------------

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_OWL = "http://www.w3.org/2002/07/owl#"
_SUB_PROPERTY = URIRef(_RDFS + "subPropertyOf")
_SUB_CLASS = URIRef(_RDFS + "subClassOf")
_DOMAIN = URIRef(_RDFS + "domain")
_RANGE = URIRef(_RDFS + "range")
_CHAIN = URIRef(_OWL + "propertyChainAxiom")
_TYPE, _OWL_CLASS, _THING = URIRef(_RDF + "type"), URIRef(_OWL + "Class"), URIRef(_OWL + "Thing")
_FIRST, _REST, _NIL = URIRef(_RDF + "first"), URIRef(_RDF + "rest"), URIRef(_RDF + "nil")

_SCHEMA = (_SUB_CLASS, _SUB_PROPERTY, _DOMAIN, _RANGE)
_EQUIVALENT = {URIRef(_OWL + "equivalentClass"): _SUB_CLASS, URIRef(_OWL + "equivalentProperty"): _SUB_PROPERTY}
_ROLES = {
    **dict.fromkeys(_SCHEMA, "schema"),
    **dict.fromkeys(_EQUIVALENT, "equivalent"),
    _TYPE: "type",
    _CHAIN: "chain",
    _FIRST: "first",
    _REST: "rest",
}
_OWL_CLASS_KEY = {_OWL_CLASS}


def _plain(triple: tuple[Node, Node, Node]) -> tuple[Node, Node, Node]:
    # reasonable types plain literals as xsd:string; rdflib (and the reference engine) keep them plain.
    s, p, o = triple
    if isinstance(o, Literal) and o.datatype is not None and o.language is None and str(o.datatype) == XSD_STRING:
        return s, p, Literal(str(o))
    return triple


class _MissingRules:
    """prp-spo2, scm-cls, scm-spo, scm-eqc1/2, scm-eqp1/2, scm-dom1/2, scm-rng1/2 over a closure growing by rounds.

    `derive(new, closure)` is given the triples new since its last call and returns what the
    rules conclude (the caller drops what is already known). It keeps only what the rules
    read — the schema, the chain axioms and their lists, the triples of chain properties — so
    a round costs about its new triples, not the whole closure:
    - the schema rules are closed in one pass over the small schema, whenever it grew;
    - chains are joined semi-naively: only paths through at least one new triple are followed.
    """

    def __init__(self) -> None:
        self.schema: dict[Node, dict[Node, set[Node]]] = {p: {} for p in _SCHEMA}  # predicate -> s -> objects
        self.classes: set[Node] = set()
        self.equivalences: set[tuple[Node, Node, Node]] = set()
        self.chain_axioms: set[tuple[Node, Node]] = set()  # (p, head of its list)
        self.first: dict[Node, Node] = {}
        self.rest: dict[Node, Node] = {}
        self.chains: list[tuple[Node, list[Node]]] = []
        self.forward: dict[Node, dict[Node, set[Node]]] = {}  # chain step -> subject -> objects
        self.backward: dict[Node, dict[Node, set[Node]]] = {}  # chain step -> object -> subjects

    def derive(
        self, new: Iterable[tuple[Node, Node, Node]], closure: set[tuple[Node, Node, Node]]
    ) -> set[tuple[Node, Node, Node]]:
        steps = self.forward.keys()
        delta: dict[Node, list[tuple[Node, Node]]] = {}
        schema_grew = lists_grew = False
        for s, p, o in new:
            # Dict and set lookups, not `==`: rdflib's `==` on terms is a Python call.
            role = _ROLES.get(p)
            if role == "schema":
                self.schema[p].setdefault(s, set()).add(o)
                schema_grew = True
            elif role == "equivalent":  # scm-eqc1, scm-eqp1: subclass (subproperty) both ways
                sub = _EQUIVALENT[p]
                self.schema[sub].setdefault(s, set()).add(o)
                self.schema[sub].setdefault(o, set()).add(s)
                self.equivalences.update(((s, sub, o), (o, sub, s)))
                schema_grew = True
            elif role == "type" and o in _OWL_CLASS_KEY:
                self.classes.add(s)
                schema_grew = True
            elif role == "chain":
                self.chain_axioms.add((s, o))
                lists_grew = True
            elif role == "first":
                self.first[s] = o
                lists_grew = True
            elif role == "rest":
                self.rest[s] = o
                lists_grew = True
            if p in steps:
                delta.setdefault(p, []).append((s, o))
        derived = self._schema_rules() if schema_grew else set()
        chains = self._chains() if lists_grew else self.chains
        if chains != self.chains:  # new chains (the first round, in practice): index and join them in full
            self.chains = chains
            self._index(closure)
            for p, chain in chains:
                derived |= self._paths(p, chain, 0, self._pairs(chain[0]))
        else:  # the same chains: extend the index, follow only paths through a new triple
            for step, pairs in delta.items():
                forward, backward = self.forward[step], self.backward[step]
                for s, o in pairs:
                    forward.setdefault(s, set()).add(o)
                    backward.setdefault(o, set()).add(s)
            for p, chain in chains:
                for i, step in enumerate(chain):
                    if step in delta:
                        derived |= self._paths(p, chain, i, delta[step])
        return derived

    def _schema_rules(self) -> set[tuple[Node, Node, Node]]:
        """scm-cls, scm-spo and scm-dom1/2, scm-rng1/2 to their fixpoint over the schema known so far."""
        sub_class = {c: set(supers) for c, supers in self.schema[_SUB_CLASS].items()}
        sub_property = self.schema[_SUB_PROPERTY]
        # scm-cls (the part reasonable skips): every class is a subclass of owl:Thing.
        derived = {(c, _SUB_CLASS, _THING) for c in self.classes} | self.equivalences
        # scm-eqc2, scm-eqp2: subclasses (subproperties) of each other are equivalent.
        for equivalent, sub in _EQUIVALENT.items():
            edges = self.schema[sub]
            derived.update(
                (a, equivalent, b) for a, supers in edges.items() for b in supers if a != b and a in edges.get(b, ())
            )
        for c in self.classes:
            sub_class.setdefault(c, set()).add(_THING)
        # scm-spo: subPropertyOf is transitive.
        supers_of = {p: _reachable(sub_property, p) for p in sub_property}
        derived |= {(p1, _SUB_PROPERTY, p3) for p1, supers in supers_of.items() for p3 in supers}
        # scm-dom2/scm-rng2: a property has its superproperties' domains and ranges;
        # scm-dom1/scm-rng1: which widen to all their superclasses.
        wider: dict[Node, set[Node]] = {}
        for axiom in (_DOMAIN, _RANGE):
            declared = self.schema[axiom]
            for p in declared.keys() | supers_of.keys():
                for q in (p, *supers_of.get(p, ())):
                    for c in declared.get(q, ()):
                        if c not in wider:
                            wider[c] = _reachable(sub_class, c)
                        derived.update((p, axiom, c2) for c2 in (c, *wider[c]))
        return derived

    def _chains(self) -> list[tuple[Node, list[Node]]]:
        return rules.property_chains(self.chain_axioms, self.first, self.rest, _NIL)

    def _index(self, closure: set[tuple[Node, Node, Node]]) -> None:
        steps = {step for _, chain in self.chains for step in chain}
        self.forward = {step: {} for step in steps}
        self.backward = {step: {} for step in steps}
        for s, p, o in closure:
            if p in steps:
                self.forward[p].setdefault(s, set()).add(o)
                self.backward[p].setdefault(o, set()).add(s)

    def _pairs(self, step: Node) -> Iterator[tuple[Node, Node]]:
        for s, objects in self.forward[step].items():
            for o in objects:
                yield s, o

    def _paths(
        self, p: Node, chain: list[Node], i: int, edges: Iterable[tuple[Node, Node]]
    ) -> set[tuple[Node, Node, Node]]:
        """prp-spo2: x p z for each path x chain[0] ... chain[-1] z whose i-th step is one of `edges`."""
        reached: dict[Node, set[Node]] = {}  # start of the path so far -> its ends
        for y, z in edges:
            reached.setdefault(y, set()).add(z)
        for step in reversed(chain[:i]):  # extend the starts leftwards...
            backward = self.backward[step]
            earlier: dict[Node, set[Node]] = {}
            for y, ends in reached.items():
                for x in backward.get(y, ()):
                    earlier.setdefault(x, set()).update(ends)
            reached = earlier
        for step in chain[i + 1 :]:  # ...and the ends rightwards
            forward = self.forward[step]
            reached = {x: {z for y in ends for z in forward.get(y, ())} for x, ends in reached.items()}
        return {(x, p, z) for x, ends in reached.items() for z in ends}


def _reachable(graph: dict[Node, set[Node]], start: Node) -> set[Node]:
    """The nodes reachable from `start` in one step or more."""
    seen: set[Node] = set()
    todo = list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen
