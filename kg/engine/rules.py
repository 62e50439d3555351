"""OWL 2 RL for instance data as array joins: how the fast engine reasons at scale.

reasonable closes 10^5 triples of our graph in ~5 s and 1.4 GB, and runs out of memory at
10^6. But OWL 2 RL splits in two: the schema (a few thousand triples) is closed once, by
reasonable, and what it then says about instances compiles into a few lookup tables —
superproperties, inverses, symmetric and transitive properties, domains, ranges,
superclasses, property chains. Instance triples become rows of integers in a numpy array,
and each rule a vectorised lookup or join, run semi-naively (every round starts only from
the previous round's new triples) until nothing new appears.

Rules compiled here: prp-spo1, prp-eqp1/2, prp-inv1/2, prp-symp, prp-trp, prp-spo2,
prp-dom, prp-rng, cax-sco, cax-eqc1/2. Anything else that concludes instance triples
(owl:sameAs between instances, hasValue, some/allValuesFrom, intersectionOf, unionOf,
max cardinality, hasKey, a functional property with two values) raises Unsupported, and
the caller runs reasonable on the whole graph instead: the answer never depends on which
path ran, only the time does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"

# Triples with these predicates are schema: they go to the schema closure, not the arrays...
SCHEMA_PREDICATES = frozenset(
    [RDFS + name for name in ("subClassOf", "subPropertyOf", "domain", "range")]
    + [
        OWL + name
        for name in (
            "equivalentClass equivalentProperty inverseOf propertyChainAxiom onProperty someValuesFrom "
            "allValuesFrom hasValue intersectionOf unionOf complementOf oneOf maxCardinality "
            "maxQualifiedCardinality onClass hasKey disjointWith members distinctMembers "
            "propertyDisjointWith disjointUnionOf onProperties"
        ).split()
    ]
)
# ...and so are the cells (rdf:first, rdf:rest) of the lists these predicates take; a list in
# the data that no axiom refers to is data (a list of 10^5 items must not reach reasonable)...
_LIST_AXIOMS = frozenset(
    OWL + name
    for name in "intersectionOf unionOf oneOf propertyChainAxiom hasKey members distinctMembers disjointUnionOf "
    "onProperties".split()
)
# ...and so are rdf:type triples whose class is one of these vocabularies' own (owl:Class,
# owl:TransitiveProperty...), except the classes every instance may have.
_VOCABULARIES = (RDF, RDFS, OWL)
_INSTANCE_CLASSES = frozenset([OWL + "Thing", RDFS + "Resource", OWL + "NamedIndividual", OWL + "Axiom"])
# Schema terms whose instance rules are not compiled here.
_NOT_COMPILED = frozenset(
    OWL + name
    for name in (
        "someValuesFrom allValuesFrom hasValue intersectionOf unionOf maxCardinality maxQualifiedCardinality hasKey"
    ).split()
)
_SAME_AS = OWL + "sameAs"

# A triple packs into one int64 key: 24 bits of subject, 15 of (compact) predicate, 24 of object.
_TERM_BITS, _PREDICATE_BITS = 24, 15
_TERM_MASK = (1 << _TERM_BITS) - 1
_PREDICATE_MASK = (1 << _PREDICATE_BITS) - 1


class Unsupported(Exception):
    """The graph needs a rule this module does not compile; the message says which."""


class Interner:
    """Terms to consecutive integers and back; any hashable term type (rdflib's or Oxigraph's).

    `iri_text(term)` gives an IRI term's text (None for blank nodes and literals),
    `make_iri(text)` makes one (the vocabulary is looked up through them), and
    `is_literal(term)` tells literals from blank nodes.
    """

    def __init__(
        self,
        make_iri: Callable[[str], Hashable],
        iri_text: Callable[[Any], str | None],
        is_literal: Callable[[Any], bool],
    ) -> None:
        self.ids: dict[Hashable, int] = {}
        self.terms: list[Hashable] = []
        self.make_iri = make_iri
        self.iri_text = iri_text
        self.is_literal = is_literal

    def __call__(self, term: Hashable) -> int:
        found = self.ids.get(term)
        if found is None:
            found = self.ids[term] = len(self.terms)
            self.terms.append(term)
        return found

    def iri(self, text: str) -> int:
        return self(self.make_iri(text))

    def encode(self, triples: Iterable[tuple[Hashable, Hashable, Hashable]]) -> np.ndarray:
        """An (n, 3) int64 array of the triples' term ids."""
        ids, intern = self.ids, self
        flat = [ids[t] if t in ids else intern(t) for triple in triples for t in triple]
        return np.array(flat, dtype=np.int64).reshape(-1, 3)

    def id_of(self, text: str) -> int:
        """The id of an IRI, or -1 when no triple names it (so comparisons with it are all false)."""
        return self.ids.get(self.make_iri(text), -1)

    def decode(self, rows: np.ndarray) -> list[tuple[Hashable, Hashable, Hashable]]:
        terms = self.terms
        return [(terms[s], terms[p], terms[o]) for s, p, o in rows.tolist()]


def schema_mask(triples: np.ndarray, terms: Interner) -> np.ndarray:
    """Which rows are schema (see SCHEMA_PREDICATES): the part the schema closure reads."""
    predicates = [terms.ids[terms.make_iri(iri)] for iri in SCHEMA_PREDICATES if terms.make_iri(iri) in terms.ids]
    mask = np.isin(triples[:, 1], np.array(predicates, dtype=np.int64))
    mask |= _axiom_lists(triples, terms)
    type_id = terms.ids.get(terms.make_iri(RDF + "type"))
    if type_id is not None:
        typed = triples[:, 1] == type_id
        classes = sorted_unique(triples[typed, 2])
        vocabulary = [c for c in classes.tolist() if _is_vocabulary_class(terms.iri_text(terms.terms[c]))]
        mask |= typed & np.isin(triples[:, 2], np.array(vocabulary, dtype=np.int64))
    return mask


def _axiom_lists(triples: np.ndarray, terms: Interner) -> np.ndarray:
    """The rdf:first and rdf:rest rows of the lists schema axioms take (see _LIST_AXIOMS), walked from their heads."""
    first, rest = terms.id_of(RDF + "first"), terms.id_of(RDF + "rest")
    cells = (triples[:, 1] == first) | (triples[:, 1] == rest)
    if not cells.any():
        return cells
    axioms = np.array([terms.id_of(iri) for iri in sorted(_LIST_AXIOMS)], dtype=np.int64)  # -1: not in the graph
    heads = triples[np.isin(triples[:, 1], axioms), 2].tolist()
    rests = triples[triples[:, 1] == rest]
    following = dict(zip(rests[:, 0].tolist(), rests[:, 2].tolist(), strict=True))
    reached: set[int] = set()
    for node in heads:
        while node != -1 and node not in reached:  # -1: past the end (ids are >= 0)
            reached.add(node)
            node = following.get(node, -1)
    return cells & np.isin(triples[:, 0], np.array(sorted(reached), dtype=np.int64))


def _is_vocabulary_class(iri: str | None) -> bool:
    return iri is not None and iri.startswith(_VOCABULARIES) and iri not in _INSTANCE_CLASSES


def property_chains(
    axioms: Iterable[tuple[Any, Any]], first: dict[Any, Any], rest: dict[Any, Any], nil: Any
) -> list[tuple[Any, list[Any]]]:
    """The well-formed property chains, as (p, [p1 ... pn]), sorted so equal sets compare equal.

    `axioms` are (p, head of its list) pairs of owl:propertyChainAxiom; `first` and `rest`
    map list nodes to rdf:first and rdf:rest. Any term type: ids here, rdflib terms in fast.py.
    """
    chains = []
    for p, head in sorted(set(axioms)):
        chain, node = [], head
        while node in first and len(chain) < 50:
            chain.append(first[node])
            node = rest.get(node, nil)
        if node == nil and chain:  # otherwise not a well-formed list: OWL 2 RL draws nothing from it
            chains.append((p, chain))
    return chains


class _Table:
    """id -> several ids, stored flat (CSR) so that a whole column is looked up at once."""

    def __init__(self, mapping: dict[int, set[int]], size: int) -> None:
        counts = np.zeros(size, dtype=np.int64)
        for key, values in mapping.items():
            counts[key] = len(values)
        self.counts = counts
        self.offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
        self.values = np.array([v for key in sorted(mapping) for v in sorted(mapping[key])], dtype=np.int64)
        self.empty = not mapping

    def expand(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, value) for every value of every key: row indexes `keys`."""
        counts = self.counts[keys]
        rows = np.repeat(np.arange(len(keys)), counts)
        starts = np.repeat(self.offsets[keys] - (np.cumsum(counts) - counts), counts)
        return rows, self.values[starts + np.arange(len(rows))]


def _join(left_key: np.ndarray, left_val: np.ndarray, right_key: np.ndarray, right_val: np.ndarray):
    """(left_val, right_val) for every pair of rows with left_key == right_key."""
    order = np.argsort(right_key, kind="stable")
    right_key, right_val = right_key[order], right_val[order]
    low = np.searchsorted(right_key, left_key, "left")
    counts = np.searchsorted(right_key, left_key, "right") - low
    rows = np.repeat(np.arange(len(left_key)), counts)
    starts = np.repeat(low - (np.cumsum(counts) - counts), counts)
    return left_val[rows], right_val[starts + np.arange(len(rows))]


class Schema:
    """What a closed schema says about instances, as lookup tables over term ids."""

    def __init__(self, closure: np.ndarray, terms: Interner) -> None:
        self._terms = terms
        iri = self._iri
        self.type = iri(RDF + "type")
        by_predicate: dict[int, list[tuple[int, int]]] = {}
        for s, p, o in closure.tolist():
            by_predicate.setdefault(p, []).append((s, o))

        def pairs(name: str) -> list[tuple[int, int]]:
            return by_predicate.get(iri(name), [])

        for name in _NOT_COMPILED:
            if pairs(name):
                raise Unsupported(f"the schema uses <{name}>")

        def grouped(*edges: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
            table: dict[int, set[int]] = {}
            for group in edges:
                for a, b in group:
                    if a != b:
                        table.setdefault(a, set()).add(b)
            return table

        flip = lambda edges: [(b, a) for a, b in edges]  # noqa: E731
        equivalent_properties = pairs(OWL + "equivalentProperty")
        equivalent_classes = pairs(OWL + "equivalentClass")
        inverse = pairs(OWL + "inverseOf")
        self.super_properties = grouped(
            pairs(RDFS + "subPropertyOf"), equivalent_properties, flip(equivalent_properties)
        )
        self.inverses = grouped(inverse, flip(inverse))
        self.super_classes = grouped(pairs(RDFS + "subClassOf"), equivalent_classes, flip(equivalent_classes))
        self.domains = grouped(pairs(RDFS + "domain"))
        self.ranges = grouped(pairs(RDFS + "range"))
        self.inverses.update({p: self.inverses.get(p, set()) | {p} for p in self._typed(by_predicate, "Symmetric")})
        self.transitive = sorted(self._typed(by_predicate, "Transitive"))
        functional = self._typed(by_predicate, "Functional")
        inverse_functional = self._typed(by_predicate, "InverseFunctional")
        self.functional = sorted(functional)
        self.inverse_functional = sorted(inverse_functional)
        self.chains = self._chains(by_predicate)
        self.same_as = iri(_SAME_AS)
        self._refuse_schema_conclusions()
        self.size = len(terms.terms)  # after the last term the tables name was interned
        self.tables = {
            name: _Table(getattr(self, name), self.size)
            for name in ("super_properties", "inverses", "super_classes", "domains", "ranges")
        }

    def _refuse_schema_conclusions(self) -> None:
        """Raise Unsupported when an instance rule could write schema or owl:sameAs.

        Such triples would feed the schema closure, which has already run.
        """
        text = self._terms.iri_text
        name = lambda i: text(self._terms.terms[i]) or ""  # noqa: E731
        for table in (self.super_properties, self.inverses):
            for p, targets in table.items():
                if name(p) in SCHEMA_PREDICATES:
                    continue
                for q in targets:
                    if name(q) in SCHEMA_PREDICATES or q == self.same_as or p == self.same_as:
                        raise Unsupported(f"<{name(p)}> concludes <{name(q)}> triples")
        for table in (self.super_classes, self.domains, self.ranges):
            for key, classes in table.items():
                if table is self.super_classes and _is_vocabulary_class(name(key)):
                    continue
                for c in classes:
                    if _is_vocabulary_class(name(c)):
                        raise Unsupported(f"instances would be typed <{name(c)}>")

    def _iri(self, text: str) -> int:
        return self._terms.iri(text)

    def _typed(self, by_predicate: dict[int, list[tuple[int, int]]], kind: str) -> set[int]:
        return {s for s, o in by_predicate.get(self.type, []) if o == self._owl(kind + "Property")}

    def _owl(self, name: str) -> int:
        return self._iri(OWL + name)

    def _chains(self, by_predicate: dict[int, list[tuple[int, int]]]) -> list[tuple[int, list[int]]]:
        return property_chains(
            by_predicate.get(self._owl("propertyChainAxiom"), []),
            dict(by_predicate.get(self._iri(RDF + "first"), [])),
            dict(by_predicate.get(self._iri(RDF + "rest"), [])),
            self._iri(RDF + "nil"),
        )

    def predicates(self) -> set[int]:
        """Every predicate a rule may write."""
        out = {self.type}
        for table in (self.super_properties, self.inverses):
            for values in table.values():
                out |= values
        out.update(p for p, _ in self.chains)
        return out


def materialise(asserted: np.ndarray, schema_closure: np.ndarray, terms: Interner) -> np.ndarray:
    """Every triple OWL 2 RL derives from `asserted` and the closure of its schema, and that is not asserted.

    Returns an (n, 3) array without duplicates (the new part of the schema closure included).
    Raises Unsupported when the graph needs a rule not compiled here.
    """
    schema = Schema(schema_closure, terms)
    size = schema.size
    if size > _TERM_MASK:
        raise Unsupported(f"{size} distinct terms is more than the array reasoner packs ({_TERM_MASK})")
    predicates = set(sorted_unique(asserted[:, 1]).tolist()) | set(schema_closure[:, 1].tolist())
    predicates = sorted(predicates | schema.predicates())
    if len(predicates) > _PREDICATE_MASK:
        raise Unsupported(f"{len(predicates)} distinct predicates is more than the array reasoner packs")
    compact = np.full(size, -1, dtype=np.int64)
    compact[predicates] = np.arange(len(predicates))
    expanded = np.array(predicates, dtype=np.int64)

    def keys(rows: np.ndarray) -> np.ndarray:
        return (rows[:, 0] << (_TERM_BITS + _PREDICATE_BITS)) | (compact[rows[:, 1]] << _TERM_BITS) | rows[:, 2]

    def rows_of(packed: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                packed >> (_TERM_BITS + _PREDICATE_BITS),
                expanded[(packed >> _TERM_BITS) & _PREDICATE_MASK],
                packed & _TERM_MASK,
            ],
            axis=1,
        )

    start = sorted_unique(keys(asserted))
    known = sorted_unique(np.concatenate([start, keys(schema_closure)]))
    delta = rows_of(known)
    # Triples of the predicates joins read (transitive ones, chain steps), kept per predicate.
    joined = set(schema.transitive) | {step for _, chain in schema.chains for step in chain}
    pairs: dict[int, tuple[np.ndarray, np.ndarray]] = {
        p: (np.empty(0, np.int64), np.empty(0, np.int64)) for p in joined
    }
    while len(delta):
        if ((delta[:, 1] == schema.same_as) & (delta[:, 0] != delta[:, 2])).any():
            raise Unsupported("instances are linked with owl:sameAs")
        for p in joined:
            chosen = delta[delta[:, 1] == p]
            if len(chosen):
                pairs[p] = (np.concatenate([pairs[p][0], chosen[:, 0]]), np.concatenate([pairs[p][1], chosen[:, 2]]))
        found = _round(delta, schema, pairs)
        if not found:
            break
        candidates = sorted_unique(keys(np.concatenate(found)))
        fresh = candidates[~_contains(known, candidates)]
        if not len(fresh):
            break
        known = np.insert(known, np.searchsorted(known, fresh), fresh)
        delta = rows_of(fresh)
    _check_functional(schema, pairs_of=lambda p: _pairs_with(known, compact, p, rows_of))
    return rows_of(known[~_contains(start, known)])


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """np.unique by sorting: numpy 2's default hashing is several times slower on int64 keys."""
    keys = np.sort(keys)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each of `keys`, whether it is in `sorted_keys`."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def _pairs_with(known: np.ndarray, compact: np.ndarray, predicate: int, rows_of) -> np.ndarray:
    index = compact[predicate]
    if index < 0:
        return np.empty((0, 3), np.int64)
    chosen = known[((known >> _TERM_BITS) & _PREDICATE_MASK) == index]
    return rows_of(chosen)


def _check_functional(schema: Schema, pairs_of) -> None:
    """prp-fp/prp-ifp conclude owl:sameAs when a functional property has two values: not compiled."""
    for predicate, key, kind in [(p, 0, "functional") for p in schema.functional] + [
        (p, 2, "inverse functional") for p in schema.inverse_functional
    ]:
        rows = pairs_of(predicate)
        if len(rows) and len(sorted_unique(rows[:, key])) != len(rows):
            raise Unsupported(f"a {kind} property has two values for one term")


def _round(delta: np.ndarray, schema: Schema, pairs: dict[int, tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """What the rules conclude from `delta` (the last round's new triples) and what is known."""
    s, p, o = delta[:, 0], delta[:, 1], delta[:, 2]
    tables, found = schema.tables, []

    def add(subjects: np.ndarray, predicates: np.ndarray | int, objects: np.ndarray) -> None:
        if len(subjects):
            column = np.broadcast_to(np.asarray(predicates, dtype=np.int64), subjects.shape)
            found.append(np.stack([subjects, column, objects], axis=1))

    row, q = tables["super_properties"].expand(p)  # prp-spo1, prp-eqp1/2
    add(s[row], q, o[row])
    row, q = tables["inverses"].expand(p)  # prp-inv1/2, prp-symp
    add(o[row], q, s[row])
    row, c = tables["domains"].expand(p)  # prp-dom
    add(s[row], schema.type, c)
    row, c = tables["ranges"].expand(p)  # prp-rng
    add(o[row], schema.type, c)
    typed = p == schema.type
    row, c = tables["super_classes"].expand(o[typed])  # cax-sco, cax-eqc1/2
    add(s[typed][row], schema.type, c)
    new = {step: (s[p == step], o[p == step]) for step in pairs}
    for t in schema.transitive:  # prp-trp: new ∘ known and known ∘ new
        (ds, do), (ks, ko) = new[t], pairs[t]
        if len(ds):
            x, z = _join(do, ds, ks, ko)
            add(x, t, z)
            z, x = _join(ds, do, ko, ks)
            add(x, t, z)
    for head, chain in schema.chains:  # prp-spo2: every path with at least one new step
        for i, step in enumerate(chain):
            if not len(new[step][0]):
                continue
            starts, ends = new[step]
            for earlier in reversed(chain[:i]):
                ks, ko = pairs[earlier]
                ends, starts = _join(starts, ends, ko, ks)
            for later in chain[i + 1 :]:
                ks, ko = pairs[later]
                starts, ends = _join(ends, starts, ks, ko)
            add(starts, head, ends)
    return found
