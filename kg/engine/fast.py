"""The fast engine: pyoxigraph parses, stores and queries; the OWL 2 RL closure is two-part.

reasonable (native) closes the schema, completed by the rules it lacks (`_MissingRules`);
kg.engine.rules compiles what the schema says about instances into numpy array joins,
which scale to millions of triples where reasonable alone ran out of memory. Queries run
on an Oxigraph store, filled straight from N-Quads (the reasoning cache, or an on-disk
store from `kg load --store`) or from the array reasoner's rows (`reason_files`), so the
query path never builds rdflib graphs. Answers come back as rdflib terms, like the reference
engine's, so everything above the engine stays engine-neutral.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kg.engine import Answer, Prepared, rules
from kg.errors import LoadError, QueryError
from kg.namespaces import PREFIXES
from kg.paths import display

_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "json-ld": ox.RdfFormat.JSON_LD,
    "xml": ox.RdfFormat.RDF_XML,
    "nquads": ox.RdfFormat.N_QUADS,
}
_SYNTAX_NAMES = {"turtle": "Turtle", "nt": "N-Triples", "json-ld": "JSON-LD", "xml": "RDF/XML"}
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
log = logging.getLogger(__name__)
_PREFIXES = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}


class FastDataset:
    """An Oxigraph store holding kgg:ontology, kgg:data and (when reasoned) kgg:inferred.

    Offers the little of rdflib's Graph API that code above the engine uses on a dataset
    (`objects` for table labels, `len`), so callers need not know which engine made it.
    """

    def __init__(self, store: ox.Store) -> None:
        self.store = store

    def objects(self, subject: Node | None = None, predicate: Node | None = None) -> Iterator[Node]:
        seen = set()
        for quad in self.store.quads_for_pattern(_to_ox(subject), _to_ox(predicate), None, None):
            term = _to_rdflib(quad.object)
            if term not in seen:
                seen.add(term)
                yield term

    def graph_names(self) -> list[str]:
        return sorted(graph.value for graph in self.store.named_graphs() if isinstance(graph, ox.NamedNode))

    def __len__(self) -> int:
        return len(self.store)


class FastEngine:
    name = "fast"

    def __init__(self) -> None:
        self.version = f"pyoxigraph-{ox.__version__}+reasonable-{version('reasonable')}+numpy-{np.__version__}"

    # -- parsing -------------------------------------------------------------

    def parse(self, path: Path, format: str) -> Graph:
        """Parse one file with Oxigraph (much faster than rdflib); syntax errors name the file and line."""
        graph = Graph()
        graph.addN((s, p, o, graph) for s, p, o in self.parse_terms(path, format))
        return graph

    def parse_terms(self, path: Path, format: str) -> Iterator[tuple[Node, Node, Node]]:
        """The triples of one file as rdflib terms."""
        for quad in self._parse(path, format):
            yield _to_rdflib(quad.subject), _to_rdflib(quad.predicate), _to_rdflib(quad.object)

    def _parse(self, path: Path, format: str) -> list[ox.Quad]:
        """Oxigraph for Turtle and N-Triples; anything it refuses is re-read by the reference parser.

        Bad input is rare and small, so the second read costs nothing that matters, and both
        engines then report the same one-line error (file, line, what to fix).
        JSON-LD and RDF/XML go to the reference parser too: it refuses remote JSON-LD contexts.
        """
        if format not in ("turtle", "nt"):
            return self._via_reference(path, format)
        try:
            raw = path.read_bytes()
            raw.decode("utf-8")
            return list(
                ox.parse(
                    raw.removeprefix(b"\xef\xbb\xbf"),
                    format=_FORMATS[format],
                    base_iri=path.resolve().as_uri(),
                    without_named_graphs=True,
                )
            )
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as error:
            self._via_reference(path, format)  # raises the reference engine's LoadError
            name, syntax = display(path), _SYNTAX_NAMES.get(format, format)
            line = getattr(error, "lineno", None)
            where = f", line {line}" if line else ""
            message = re.sub(r"^Parser error [^:]*: ", "", str(getattr(error, "msg", error)))
            raise LoadError(f"{name}{where}: {message} — fix the {syntax} syntax there") from None

    def _via_reference(self, path: Path, format: str) -> list[ox.Quad]:
        from kg.engine import get_engine

        graph = get_engine("reference").parse(path, format)
        return [ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o)) for s, p, o in graph]

    # -- reasoning -----------------------------------------------------------

    def closure(self, graph: Graph) -> Graph:
        """`graph` plus its OWL 2 RL entailments (see closure_triples), as a new graph."""
        out = Graph()
        out.addN((s, p, o, out) for s, p, o in self.closure_triples(graph))
        return out

    def closure_triples(self, triples: Iterable[tuple[Node, Node, Node]]) -> set[tuple[Node, Node, Node]]:
        """The OWL 2 RL closure: the schema closed by reasonable, instances by kg.engine.rules' array joins.

        When the graph needs a rule the array reasoner lacks (see kg.engine.rules), reasonable
        closes the whole graph instead; the closure is the same, only slower.
        """
        triples = triples if isinstance(triples, set | list) else list(triples)
        derived = self._derive(triples)
        if derived is None:
            return self._reasonable_closure(triples)
        terms, rows = derived
        closure = set(triples)
        closure.update(terms.decode(rows))
        return closure

    def entailments(
        self,
        triples: Iterable[tuple[Node, Node, Node]],
        *,
        noise: Callable[[np.ndarray, rules.Interner], np.ndarray],
    ) -> list[tuple[Node, Node, Node]] | None:
        """What the closure adds to `triples`, less what `noise(rows, terms)` marks: kg.reason's
        inferred graph, filtered on the arrays instead of triple by triple (at 10^5 the per-triple
        filter took longer than the reasoning). None when the array reasoner cannot close the graph.
        """
        derived = self._derive(triples if isinstance(triples, set | list) else list(triples))
        if derived is None:
            return None
        terms, rows = derived
        return terms.decode(rows[~noise(rows, terms)])

    def _derive(self, triples: Iterable[tuple[Node, Node, Node]]) -> tuple[rules.Interner, np.ndarray] | None:
        """The array reasoner's new triples as term-id rows with their terms; None when it lacks a rule."""
        terms = rules.Interner(URIRef, _uri_text, _is_rdflib_literal)
        derived = self._derived_rows(terms.encode(triples), terms)
        return None if derived is None else (terms, derived)

    def _derived_rows(
        self,
        asserted: np.ndarray,
        terms: rules.Interner,
        to_rdflib: Callable[[Any], Node] = lambda term: term,
        from_rdflib: Callable[[Node], Any] = lambda term: term,
    ) -> np.ndarray | None:
        """What the schema closure and the array reasoner add to `asserted`; None (logged) when a rule is missing."""
        try:
            schema = self._schema_closure(asserted, terms, to_rdflib, from_rdflib)
            return rules.materialise(asserted, schema, terms)
        except rules.Unsupported as why:
            log.info("array reasoner not used (%s): reasonable closes the whole graph", why)
            return None

    def _reasonable_closure(self, triples: Iterable[tuple[Node, Node, Node]]) -> set[tuple[Node, Node, Node]]:
        """reasonable's closure, completed to a fixpoint with the OWL 2 RL rules reasonable lacks.

        reasonable 0.4 implements neither property chains (prp-spo2) nor the schema rules
        scm-cls (C subClassOf owl:Thing), scm-spo, scm-dom1/2 and scm-rng1/2; `_MissingRules`
        adds them, and reasonable runs again on what they derive until nothing new appears.
        The schema rules are closed in one go, so usually only chain conclusions need a
        second run and the third finds nothing (two runs of reasonable, not three).
        """
        import reasonable  # only reasoning needs it; cached queries never do

        reasoner = reasonable.PyReasoner()
        reasoner.from_graph(list(triples))
        rules_ = _MissingRules()
        terms = _TermFactories()
        closure: set[tuple[Node, Node, Node]] = set()
        while True:
            with terms.installed():
                found = reasoner.reason()  # every triple known so far, not only the new ones
            if found and not terms.used:  # a reasonable that no longer builds terms through rdflib's module
                found = [_plain(t) for t in found]
            grown = set(found)
            new, closure = grown - closure, grown
            extra = rules_.derive(new, closure) - closure
            if not extra:
                return closure
            reasoner.from_graph(list(extra))

    # -- reasoning at scale: files to a store, with no rdflib graph on the way -----

    def reason_files(
        self,
        ontology: Graph,
        files: list[tuple[Path, str]],
        *,
        check: Callable[[Path, int, list[Literal]], None],
        noise: Callable[[np.ndarray, rules.Interner], np.ndarray],
        directory: Path | None = None,
    ) -> tuple[FastDataset, dict[str, int]]:
        """Parse data files straight into integer rows, reason over them, and fill an Oxigraph store.

        What `kg load --store` and uncached queries run: at 10^6 triples an rdflib graph
        would cost minutes and gigabytes, so only the ontology (a few thousand triples) is
        one. `check(path, triples, typed literals)` vets each file as kg.load does;
        `noise(rows, terms)` marks the entailments kg.reason drops. The store, in memory or
        on disk at `directory` (a new folder: `kg load --store` then needs no copy in memory),
        fills in a second thread while this one reasons. Returns it with kgg:ontology,
        kgg:data and kgg:inferred, and each graph's number of triples.
        """
        from kg.namespaces import KGG

        terms = rules.Interner(ox.NamedNode, _ox_iri_text, _is_ox_literal)
        ontology_rows = terms.encode((_to_ox(s), _to_ox(p), _to_ox(o)) for s, p, o in ontology)
        parts = [np.empty((0, 3), np.int64)]
        for path, format in files:
            known = len(terms.terms)
            rows = terms.encode((q.subject, q.predicate, q.object) for q in self._parse_stream(path, format))
            check(path, len(rows), [_to_rdflib(t) for t in terms.terms[known:] if _is_typed(t)])
            parts.append(rows)
        data_rows = np.concatenate(parts)
        asserted = np.concatenate([ontology_rows, data_rows])
        store = ox.Store(str(directory)) if directory is not None else ox.Store()
        with _StoreFiller(store, terms) as filler:
            filler.add(ontology_rows, KGG.ontology)
            filler.add(data_rows, KGG.data)
            derived = self._derived_rows(asserted, terms, _to_rdflib, _to_ox)
            if derived is None:
                closure = self._reasonable_closure(tuple(map(_to_rdflib, t)) for t in terms.decode(asserted))
                known = set(map(tuple, asserted.tolist()))
                everything = terms.encode(tuple(map(_to_ox, t)) for t in closure).tolist()
                derived = np.array([row for row in everything if tuple(row) not in known], np.int64).reshape(-1, 3)
            inferred = derived[~noise(derived, terms)]
            filler.add(inferred, KGG.inferred)
        counts = {"ontology": ontology_rows, "data": data_rows, "inferred": inferred}
        return FastDataset(store), {role: _distinct_rows(rows) for role, rows in counts.items()}

    def _schema_closure(
        self,
        asserted: np.ndarray,
        terms: rules.Interner,
        to_rdflib: Callable[[Any], Node] = lambda term: term,
        from_rdflib: Callable[[Node], Any] = lambda term: term,
    ) -> np.ndarray:
        """The schema part of `asserted`, closed by reasonable (a few thousand triples, well under a second).

        reasonable takes rdflib terms: `to_rdflib` and `from_rdflib` convert when `terms` holds Oxigraph's.
        """
        schema = [tuple(map(to_rdflib, t)) for t in terms.decode(asserted[rules.schema_mask(asserted, terms)])]
        return terms.encode(tuple(map(from_rdflib, t)) for t in self._reasonable_closure(schema))

    def _parse_stream(self, path: Path, format: str) -> Iterator[ox.Quad]:
        """The quads of one file as Oxigraph reads them, without holding them all; errors as `_parse`'s."""
        if format not in ("turtle", "nt"):
            yield from self._parse(path, format)
            return
        try:
            raw = path.read_bytes()
            raw.decode("utf-8")
            yield from ox.parse(
                raw.removeprefix(b"\xef\xbb\xbf"),
                format=_FORMATS[format],
                base_iri=path.resolve().as_uri(),
                without_named_graphs=True,
            )
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            self._parse(path, format)  # raises the one-line LoadError
            raise

    def dump_nquads(self, dataset: Any, stream: Any) -> None:
        """Write every quad of `dataset` as N-Quads to a binary stream (Oxigraph's serialiser)."""
        _as_store(dataset).dump(stream, format=ox.RdfFormat.N_QUADS)

    # -- datasets ------------------------------------------------------------

    def dataset(self, graphs: Mapping[URIRef, Iterable[tuple[Node, Node, Node]]]) -> FastDataset:
        """A queryable in-memory store with each graph under its name; the default graph is their union."""
        store = ox.Store()
        store.bulk_extend(
            ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), ox.NamedNode(str(name)))
            for name, graph in graphs.items()
            for s, p, o in graph
        )
        return FastDataset(store)

    def load_nquads(self, data: bytes | Path) -> FastDataset:
        """A store read straight from N-Quads, with no rdflib in between."""
        store = ox.Store()
        if isinstance(data, Path):
            store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
        else:
            store.bulk_load(data, format=ox.RdfFormat.N_QUADS)
        return FastDataset(store)

    def open_store(self, directory: Path) -> FastDataset:
        """An on-disk Oxigraph store built by `kg load --store`, opened read-only."""
        return FastDataset(ox.Store.read_only(str(directory)))

    def triples(self, dataset: Any, graph: URIRef | None = None) -> Iterator[tuple[Node, Node, Node]]:
        """The triples of one named graph (or all) of a dataset, as rdflib terms."""
        store = _as_store(dataset)
        name = ox.NamedNode(str(graph)) if graph is not None else None
        for quad in store.quads_for_pattern(None, None, None, name):
            yield _to_rdflib(quad.subject), _to_rdflib(quad.predicate), _to_rdflib(quad.object)

    # -- SPARQL --------------------------------------------------------------

    def prepare(self, sparql_text: str) -> Prepared:
        """Check a read-only query by running it once on an empty store: Oxigraph parses and plans it."""
        stripped = _strip(sparql_text)
        if not stripped.strip():
            raise QueryError("empty query: the text holds no SPARQL, only comments or blanks")
        if _UPDATE.search(stripped) and not _QUERY_FORM.search(stripped):
            raise QueryError("update requests are not allowed: kg is read-only")
        if re.search(r"\bSERVICE\b", stripped, re.I):
            raise QueryError("SERVICE is not allowed: kg queries only its own graphs, offline")
        try:
            probe = ox.Store().query(sparql_text, prefixes=_PREFIXES)
        except SyntaxError as error:
            if _UPDATE.search(stripped):
                raise QueryError("update requests are not allowed: kg is read-only") from None
            # Oxigraph points at the token where parsing failed, which rdflib's parser often
            # reports as the start of the whole group; keep Oxigraph's position.
            raise QueryError(f"SPARQL syntax error {_position(error, sparql_text)}") from None
        if isinstance(probe, ox.QuerySolutions):
            kind = "SELECT"
        elif isinstance(probe, ox.QueryBoolean):
            kind = "ASK"
        else:
            kind = "DESCRIBE" if _form(stripped) == "DESCRIBE" else "CONSTRUCT"
        return Prepared(
            text=sparql_text,
            kind=kind,
            variables=frozenset(re.findall(r"[?$]([A-Za-z_0-9\u00b7-\uffff]+)", stripped)),
            ordered=_is_ordered(stripped),
            native=_dataset_clause(sparql_text, stripped),
        )

    def query(self, dataset: Any, prepared: Prepared, bindings: Mapping[str, Node], *, stream: bool = False) -> Answer:
        """Run with Oxigraph; the default graph is the union of the named graphs, as in the reference engine.

        Oxigraph evaluates lazily, so with `stream` rows are produced as they are read.
        """
        store = _as_store(dataset)
        if prepared.native:
            known = {g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode)}
            for iri in prepared.native:
                if iri not in known:
                    names = ", ".join(f"<{g}>" for g in sorted(known)) or "none"
                    raise QueryError(
                        f"FROM <{iri}>: no such graph in kg's dataset (graphs: {names}); "
                        "kg never loads graphs from elsewhere"
                    )
        text, substitutions = _bind(prepared, bindings)
        try:
            result = store.query(
                text,
                prefixes=_PREFIXES,
                use_default_graph_as_union=not prepared.native,
                substitutions=substitutions or None,
            )
        except SyntaxError as error:
            raise QueryError(f"SPARQL syntax error {_position(error, text)}") from None
        except OSError as error:
            raise QueryError(f"query failed: {error}") from None
        answer = Answer(kind=prepared.kind, ordered=prepared.ordered)
        if isinstance(result, ox.QuerySolutions):
            variables = [v.value for v in result.variables]
            answer.variables = variables
            rows = _rows(result)
            answer.rows = rows if stream else list(rows)
        elif isinstance(result, ox.QueryBoolean):
            answer.boolean = bool(result)
        else:
            graph = Graph()
            graph.addN((_to_rdflib(t.subject), _to_rdflib(t.predicate), _to_rdflib(t.object), graph) for t in result)
            answer.graph = graph
        return answer


ENGINE_CLASS = FastEngine


class _StoreFiller:
    """Fills an Oxigraph store from rows of term ids in a second thread, while the caller reasons.

    Filling costs as much as parsing and reasoning together. Quad objects, not N-Quads
    text: Oxigraph renames the blank nodes of every text load, and our amounts are blank
    nodes the three graphs share. The thread gives up the GIL between quads, and numpy
    releases it in its sorts and joins, so the two overlap on two cores. Leaving the
    `with` block waits for the thread and re-raises its error.
    """

    def __init__(self, store: ox.Store, terms: rules.Interner) -> None:
        self._store, self._terms = store, terms
        self._parts: queue.Queue[tuple[np.ndarray, ox.NamedNode] | None] = queue.Queue()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._fill, name="kg-store-filler", daemon=True)

    def __enter__(self) -> _StoreFiller:
        self._thread.start()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self._parts.put(None)
        self._thread.join()
        if error is None and self._error is not None:
            raise LoadError(f"cannot fill the store: {self._error}") from None

    def add(self, rows: np.ndarray, graph: URIRef) -> None:
        self._parts.put((rows, ox.NamedNode(str(graph))))

    def _fill(self) -> None:
        terms = self._terms.terms  # only ever appended to, so safe to read from here
        while (part := self._parts.get()) is not None:
            rows, graph = part
            if self._error is None:
                try:
                    self._store.bulk_extend(ox.Quad(terms[s], terms[p], terms[o], graph) for s, p, o in rows.tolist())
                except Exception as error:  # noqa: BLE001 - re-raised in the caller's thread, never lost
                    self._error = error


def _distinct_rows(rows: np.ndarray) -> int:
    """How many different triples `rows` holds (a file may repeat one; the store keeps it once)."""
    if not len(rows):
        return 0
    ordered = rows[np.lexsort(rows.T[::-1])]
    return int(1 + np.count_nonzero((ordered[1:] != ordered[:-1]).any(axis=1)))


def _rows(solutions: ox.QuerySolutions) -> Iterator[tuple[Node | None, ...]]:
    """Solutions as tuples of rdflib terms; an evaluation error met while reading is a QueryError."""
    convert = _to_rdflib
    try:
        for solution in solutions:
            yield tuple(map(convert, solution))
    except OSError as error:
        raise QueryError(f"query failed: {error}") from None


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
    if isinstance(o, Literal) and o.datatype is not None and o.language is None and str(o.datatype) == _XSD_STRING:
        return s, p, Literal(str(o))
    return triple


class _TermFactories:
    """Memoising stand-ins for rdflib.URIRef, Literal and BNode while reasonable builds its answer.

    reasonable 0.4 makes every term of the closure it returns by calling `rdflib.URIRef(...)`
    (`Literal`, `BNode`), looked up on the rdflib module at each call. A closure names a few
    ten thousand distinct terms about a million times, and each URIRef() checks its IRI
    character by character: at 10^5 triples that was a quarter of the closure time. While
    installed, the stand-ins return the one rdflib term made for each distinct value, and keep
    plain literals plain (reasonable types them xsd:string; rdflib and the reference engine do
    not). They return real rdflib terms, and the swap lasts only for one `reason()` call (kg
    reasons in one thread; another thread's `isinstance(x, rdflib.URIRef)` meanwhile would fail).
    Should a later reasonable stop calling them, `used` stays False and the caller uses `_plain`.
    """

    def __init__(self) -> None:
        # Seeded with the rules' own constants, so that the closure's terms are those very objects.
        self.iris: dict[str, URIRef] = {str(t): t for t in (*_ROLES, _OWL_CLASS, _THING, _NIL)}
        self.literals: dict[tuple[str, str | None, str | None], Literal] = {}
        self.bnodes: dict[str, BNode] = {}
        self.used = False  # whether reasonable called them at all

    @contextmanager
    def installed(self) -> Iterator[None]:
        import rdflib

        saved = rdflib.URIRef, rdflib.Literal, rdflib.BNode
        rdflib.URIRef, rdflib.Literal, rdflib.BNode = self.iri, self.literal, self.bnode  # type: ignore[assignment]
        try:
            yield
        finally:
            rdflib.URIRef, rdflib.Literal, rdflib.BNode = saved

    # Calls of other shapes than reasonable's (value, lang, datatype as strings) go to rdflib unchanged.
    def iri(self, value: Any, *args: Any, **kwargs: Any) -> URIRef:
        if args or kwargs or type(value) is not str:
            return URIRef(value, *args, **kwargs)
        self.used = True
        term = self.iris.get(value)
        if term is None:
            term = self.iris[value] = URIRef(value)
        return term

    def literal(self, value: Any, lang: Any = None, datatype: Any = None, *args: Any, **kwargs: Any) -> Literal:
        if args or kwargs or type(value) is not str or type(lang or "") is not str or type(datatype or "") is not str:
            return Literal(value, lang, datatype, *args, **kwargs)
        key = (value, lang, datatype)
        term = self.literals.get(key)
        if term is None:
            plain = lang is None and datatype == _XSD_STRING
            term = self.literals[key] = Literal(value) if plain else Literal(value, lang, datatype)
        return term

    def bnode(self, value: Any = None, *args: Any, **kwargs: Any) -> BNode:
        if args or kwargs or type(value) is not str:
            return BNode(value, *args, **kwargs)
        term = self.bnodes.get(value)
        if term is None:
            term = self.bnodes[value] = BNode(value)
        return term


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
            # Dict and set lookups, not `==`: rdflib's `==` on terms is a Python call, too slow
            # to spend on a million triples (and reasonable's terms are our constants, see
            # _TermFactories, so lookups succeed on identity).
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


# -- terms ---------------------------------------------------------------------------


def _uri_text(term: Node) -> str | None:
    return str(term) if isinstance(term, URIRef) else None


def _is_rdflib_literal(term: Node) -> bool:
    return isinstance(term, Literal)


def _ox_iri_text(term: Any) -> str | None:
    return term.value if isinstance(term, ox.NamedNode) else None


def _is_ox_literal(term: Any) -> bool:
    return isinstance(term, ox.Literal)


def _is_typed(term: Any) -> bool:
    """A literal whose datatype constrains its text (not a plain or language-tagged string)."""
    return isinstance(term, ox.Literal) and term.datatype.value not in (_XSD_STRING, _RDF_LANG_STRING)


def _to_ox(term: Node | None) -> Any:
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


_TERM_CACHE: dict[Any, Node] = {}


def _to_rdflib(term: Any) -> Node | None:
    """An Oxigraph term as rdflib's, remembering recent ones: building an rdflib term costs
    ~10 µs, and quads and result rows repeat their terms (a million-row answer often holds a
    few thousand distinct ones)."""
    if term is None:
        return None
    converted = _TERM_CACHE.get(term)
    if converted is None:
        if len(_TERM_CACHE) > 100_000:
            _TERM_CACHE.clear()
        converted = _TERM_CACHE[term] = _convert(term)
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
        if datatype == _XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype))
    raise TypeError(f"unsupported term from Oxigraph: {term!r}")


def _as_store(dataset: Any) -> ox.Store:
    """The Oxigraph store behind `dataset`; rdflib graphs given by library callers are copied in."""
    if isinstance(dataset, FastDataset):
        return dataset.store
    if isinstance(dataset, ox.Store):
        return dataset
    contexts = getattr(dataset, "contexts", None)
    store = ox.Store()
    if contexts is not None:  # an rdflib Dataset: keep its named graphs
        quads = []
        for s, p, o, g in dataset.quads((None, None, None, None)):
            name = getattr(g, "identifier", g)
            graph = ox.NamedNode(str(name)) if isinstance(name, URIRef) else ox.DefaultGraph()
            quads.append(ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), graph))
        store.bulk_extend(quads)
    else:
        store.bulk_extend(ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o)) for s, p, o in dataset)
    return store


# -- query text ----------------------------------------------------------------------

# Strings, IRIs and comments blanked out, so keyword searches see only SPARQL syntax.
_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|<[^<>\"{}|^`\\\s]*>"
    r"|#[^\n]*",
    re.S,
)
_UPDATE = re.compile(r"\b(INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY)\b", re.I)
_QUERY_FORM = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.I)


def _strip(text: str) -> str:
    def blank(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("<"):
            return "<" + "_" * (len(token) - 2) + ">"
        return " " * len(token) if token.startswith("#") else '"' + " " * (len(token) - 2) + '"'

    return _TOKENS.sub(blank, text)


def _form(stripped: str) -> str:
    match = _QUERY_FORM.search(stripped)
    return match.group(1).upper() if match else ""


def _is_ordered(stripped: str) -> bool:
    """True when ORDER BY modifies the outermost query (after its last closing brace)."""
    tail = stripped[stripped.rfind("}") + 1 :]
    return re.search(r"\bORDER\s+BY\b", tail, re.I) is not None


def _bind(prepared: Prepared, bindings: Mapping[str, Node]) -> tuple[str, dict | None]:
    """Pre-bind parameters: Oxigraph's substitution (SEP-0007) for projected variables.

    Oxigraph substitutes only variables the SELECT projects; others are bound with an
    inline VALUES block opening the WHERE group, its terms written by Oxigraph's own
    N-Triples serialiser from RDF terms (so no user text ever becomes query syntax).
    """
    if not bindings:
        return prepared.text, None
    stripped = _strip(prepared.text)
    where = re.search(r"\bWHERE\s*\{|\{", stripped, re.I)
    projected = _projection(stripped)
    if projected is None or all(name in projected for name in bindings) or where is None:
        return prepared.text, {ox.Variable(name): _to_ox(term) for name, term in bindings.items()}
    names = sorted(bindings)
    values = " VALUES ({}) {{ ({}) }} ".format(
        " ".join(f"?{n}" for n in names), " ".join(str(_to_ox(bindings[n])) for n in names)
    )
    return prepared.text[: where.end()] + values + prepared.text[where.end() :], None


def _projection(stripped: str) -> set[str] | None:
    """Variables a SELECT projects (None for SELECT * and non-SELECT forms, where substitution works)."""
    match = re.search(r"\bSELECT\b(.*?)(\bWHERE\b|\{)", stripped, re.I | re.S)
    if not match or re.match(r"\s*(DISTINCT|REDUCED)?\s*\*", match.group(1), re.I):
        return None
    head = re.sub(r"\([^()]*(\([^()]*\)[^()]*)*\bAS\s+[?$](\w+)\s*\)", r" ?\2 ", match.group(1), flags=re.I)
    return set(re.findall(r"[?$](\w+)", head))


def _dataset_clause(text: str, stripped: str) -> tuple[str, ...]:
    """IRIs named by FROM / FROM NAMED before the WHERE clause (prefixed names expanded).

    `stripped` has the same length as `text`, so its match positions index the original IRIs.
    """
    head = stripped.split("{", 1)[0]
    pattern = re.compile(r"\bFROM\s+(?:NAMED\s+)?(<[^>]*>|[\w-]*:[\w.-]*)", re.I)
    return tuple(_expand(text[m.start(1) : m.end(1)]) for m in pattern.finditer(head))


def _expand(token: str) -> str:
    if token.startswith("<"):
        return token[1:-1]
    prefix, local = token.split(":", 1)
    return _PREFIXES.get(prefix, prefix + ":") + local


def _position(error: SyntaxError, text: str) -> str:
    """Oxigraph's line and column, with its expectation when that is short enough to help."""
    message = str(error.msg if hasattr(error, "msg") else error)
    match = re.match(r"error at (\d+):(\d+): (.*)", message, re.S)
    if not match:
        return f": {message}"
    line, column, expected = match.groups()
    lines = text.splitlines()
    rest = "\n".join([lines[int(line) - 1][int(column) - 1 :], *lines[int(line) :]]) if int(line) <= len(lines) else ""
    if not _strip(rest).strip():
        column += " (the end of the query)"
    if "Prefix not found" in expected:
        return f"at line {line}, column {column}: a prefix is not declared (add a PREFIX line)"
    # Oxigraph lists every token it could accept; a long list is noise, not help.
    return f"at line {line}, column {column}" + (f": {expected}" if len(expected) <= 60 else "")
