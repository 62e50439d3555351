"""The fast engine: pyoxigraph parses, stores and queries; the OWL 2 RL closure is two-part.

reasonable closes the schema (kg.engine.schema_closure); kg.engine.rules compiles what the
schema says about instances into numpy array joins, which scale to millions of triples where
reasonable alone ran out of memory. Queries run on an Oxigraph store, filled straight from
N-Quads (the reasoning cache, an on-disk store from `kg load --store`) or from the array
reasoner's rows (`reason_files`, with kg.engine.filler), so the query path builds no rdflib
graph. Answers come back as rdflib terms, like the reference engine's.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kg import progress
from kg.engine import (
    Answer,
    Capability,
    Engine,
    Noise,
    Prepared,
    Triple,
    distribution_version,
    services,
    sparql_text,
)
from kg.engine.terms import graph_of, is_typed, quad, stable_bnode_names, to_ox, to_rdflib
from kg.errors import LoadError, QueryError
from kg.formats import RdfFormat
from kg.namespaces import DATA_GRAPHS, DCTERMS, DEFAULT_GRAPH, KG, KGG, PREFIXES, PROV
from kg.paths import check_input, display, read_input

if TYPE_CHECKING:  # numpy and the array reasoner load only when reasoning: a cached query needs neither
    import numpy as np

    from kg.engine import rules

__all__ = ["FastDataset", "FastEngine", "ENGINE_CLASS"]

log = logging.getLogger(__name__)
_PREFIXES = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
_NATIVE_PARSE = ("ttl", "nt")  # what Oxigraph parses here; other formats go through the reference parser


class FastDataset:
    """An Oxigraph store holding named graphs (kgg:ontology, kgg:data, kgg:inferred...).

    Offers `objects(subject, predicate)` and `len()`, the little of rdflib's Graph API that
    labelling a result table needs, so callers need not know which engine made it.
    """

    def __init__(self, store: ox.Store, *, stable_labels: bool = False) -> None:
        self.store = store
        # True when blank-node labels depend only on the inputs (reasoned from files, or read back
        # from such a closure): outputs need no canonicalisation to be byte-stable.
        self.stable_labels = stable_labels

    def objects(self, subject: Node | None = None, predicate: Node | None = None) -> Iterator[Node]:
        seen = set()
        for found in self.store.quads_for_pattern(to_ox(subject), to_ox(predicate), None, None):
            term = to_rdflib(found.object)
            if term not in seen:
                seen.add(term)
                yield term

    def __len__(self) -> int:
        return len(self.store)


class FastEngine(Engine):
    name = "fast"
    validator = "pyshacl-turbo"  # native SHACL, over an Oxigraph store (kg.validate)
    capabilities = frozenset({Capability.FILES_TO_STORE, Capability.DISK_STORE})

    def __init__(self) -> None:
        self.version = (
            f"pyoxigraph-{ox.__version__}+reasonable-{distribution_version('reasonable')}"
            f"+numpy-{distribution_version('numpy')}"
        )

    # -- parsing -------------------------------------------------------------

    def parse(self, path: Path, rdf_format: RdfFormat) -> Graph:
        """Parse one file with Oxigraph (much faster than rdflib); syntax errors name the file and line."""
        check_input(path)  # it becomes an rdflib graph: the rdflib size limit
        graph = Graph()
        graph.addN(
            (to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object), graph)
            for q in self._parse(path, rdf_format)
        )
        return graph

    def _parse(self, path: Path, rdf_format: RdfFormat) -> Iterator[ox.Quad]:
        """Oxigraph for Turtle and N-Triples; anything it refuses is re-read by the reference parser.

        Bad input is rare and small, so the second read costs nothing that matters, and both
        engines then report the same one-line error (file, line, what to fix). Other formats go
        to the reference parser too: it refuses remote JSON-LD contexts.
        """
        if rdf_format.name not in _NATIVE_PARSE:
            yield from self._via_reference(path, rdf_format)
            return
        raw = read_input(path, native=True)  # a regular file within the size limit
        try:
            raw.decode("utf-8")
            yield from ox.parse(
                raw.removeprefix(b"\xef\xbb\xbf"),
                format=getattr(ox.RdfFormat, rdf_format.oxigraph),
                base_iri=path.resolve().as_uri(),
                without_named_graphs=True,
            )
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as error:
            list(self._via_reference(path, rdf_format))  # raises the reference engine's LoadError
            line = getattr(error, "lineno", None)
            where = f", line {line}" if line else ""
            message = re.sub(r"^Parser error [^:]*: ", "", str(getattr(error, "msg", error)))
            raise LoadError(f"{display(path)}{where}: {message} — fix the {rdf_format.label} syntax there") from None

    def _via_reference(self, path: Path, rdf_format: RdfFormat) -> Iterator[ox.Quad]:
        from kg.engine import get_engine

        for s, p, o in get_engine("reference").parse(path, rdf_format):
            yield quad(s, p, o)

    # -- reasoning -----------------------------------------------------------

    def entailments(self, triples: set[Triple] | list[Triple], noise: Noise) -> list[Triple]:
        """What the closure adds to `triples`, less noise: the schema closed by reasonable, the
        instances by kg.engine.rules' array joins, the noise filter applied to the arrays (at 10^5
        triples a per-triple filter took longer than the reasoning). A graph that needs a rule the
        array reasoner lacks is closed by reasonable as a whole: the same answer, slower.
        """
        from kg.engine import rules
        from kg.engine.schema_closure import closure as schema_closure

        terms = rules.Interner(URIRef, _iri_text, _is_literal)
        derived = self._derived_rows(terms.encode(triples), terms)
        if derived is not None:
            return terms.decode(derived[~noise.mask(derived, terms)])
        known = set(triples)
        return [t for t in schema_closure(triples) if t not in known and not noise.is_noise(*t)]

    def _derived_rows(
        self,
        asserted: np.ndarray,
        terms: rules.Interner,
        to_rdflib_term: Callable[[Any], Node] = lambda term: term,
        from_rdflib_term: Callable[[Node], Any] = lambda term: term,
    ) -> np.ndarray | None:
        """What the schema closure and the array reasoner add to `asserted`; None (logged) when a rule is missing.

        reasonable takes rdflib terms: the converters translate when `terms` holds Oxigraph's.
        """
        from kg.engine import rules
        from kg.engine.schema_closure import closure as schema_closure

        try:
            schema_rows = asserted[rules.schema_mask(asserted, terms)]
            schema = [tuple(map(to_rdflib_term, t)) for t in terms.decode(schema_rows)]
            closed = terms.encode(tuple(map(from_rdflib_term, t)) for t in schema_closure(schema))
            return rules.materialise(asserted, closed, terms)
        except rules.Unsupported as why:
            log.info("array reasoner not used (%s): reasonable closes the whole graph", why)
            return None

    # -- reasoning at scale: files to a store, with no rdflib graph on the way -----

    def reason_files(
        self,
        ontology: Graph,
        files: list[tuple[Path, RdfFormat, URIRef]],
        *,
        check: Callable[[Path, int, list[Literal]], None],
        noise: Noise,
        directory: Path | None = None,
    ) -> tuple[FastDataset, dict[str, int]]:
        """Parse data files straight into integer rows, reason over them, and fill an Oxigraph store.

        What `kg load --store` and uncached queries run: at 10^6 triples an rdflib graph would
        cost minutes and gigabytes, so only the ontology (a few thousand triples) is one. Each
        file goes into its named graph, and every file's triples, each once, into kgg:data;
        `check(path, triples, typed literals)` vets each file as kg.load does. The default graph
        says which sources each file's graph is derived from (kg.load.provenance). The store, in
        memory or on disk at `directory` (a new folder), fills in a second thread while this one
        reasons. Returns it, with the number of triples of the ontology, the data (each triple
        once), the provenance and the inferences.
        """
        import numpy as np

        from kg.engine import rules
        from kg.engine.filler import StoreFiller, distinct_rows
        from kg.engine.schema_closure import closure as schema_closure

        terms = rules.Interner(ox.NamedNode, _ox_iri_text, _is_ox_literal)
        # Blank nodes get labels that depend only on the input: the ontology's from their
        # surroundings, each file's from the file's graph name and the order they appear in, so
        # the same inputs give the same labels on every run and every output is byte-stable.
        named = {b: ox.BlankNode(f"o{label}") for b, label in stable_bnode_names(ontology).items()}
        ontology_rows = terms.encode(
            tuple(named[t] if isinstance(t, BNode) else to_ox(t) for t in triple) for triple in ontology
        )
        store = ox.Store(str(directory)) if directory is not None else ox.Store()
        with StoreFiller(store, terms) as filler:
            filler.add(ontology_rows, KGG.ontology)
            parts, cited = [np.empty((0, 3), np.int64)], []
            sources = [terms.iri(str(KG.source)), terms.iri(str(DCTERMS.source))]
            reading = progress.step(f"reading {len(files)} data file{'s' if len(files) != 1 else ''}", total=len(files))
            with reading as bar:
                for path, rdf_format, graph in files:
                    known = len(terms.terms)
                    rows = terms.encode(_stable_blank_nodes(self._parse(path, rdf_format), str(graph)))
                    check(path, len(rows), [to_rdflib(t) for t in terms.terms[known:] if is_typed(t)])
                    filler.add(rows, graph)
                    parts.append(rows)
                    objects = rules.sorted_unique(rows[np.isin(rows[:, 1], sources), 2])
                    cited.append(
                        np.column_stack(
                            [
                                np.full(len(objects), terms.iri(str(graph))),
                                np.full(len(objects), terms.iri(str(PROV.wasDerivedFrom))),
                                objects,
                            ]
                        )
                    )
                    bar.advance()
            provenance = np.concatenate(cited).astype(np.int64) if cited else np.empty((0, 3), np.int64)
            filler.add(provenance, DEFAULT_GRAPH)
            merged = np.unique(np.concatenate(parts), axis=0)
            filler.add(merged, KGG.data)
            asserted = np.concatenate([ontology_rows, merged])
            with progress.step("reasoning (OWL 2 RL)"):
                derived = self._derived_rows(asserted, terms, to_rdflib, to_ox)
            if derived is None:
                everything = schema_closure(tuple(map(to_rdflib, t)) for t in terms.decode(asserted))
                known = set(map(tuple, asserted.tolist()))
                rows = terms.encode(tuple(map(to_ox, t)) for t in everything).tolist()
                derived = np.array([row for row in rows if tuple(row) not in known], np.int64).reshape(-1, 3)
            inferred = derived[~noise.mask(derived, terms)]
            filler.add(inferred, KGG.inferred)
        counts = {
            "ontology": distinct_rows(ontology_rows),
            "data": len(merged),
            "provenance": distinct_rows(provenance),
            "inferred": distinct_rows(inferred),
        }
        return FastDataset(store, stable_labels=True), counts

    # -- datasets ------------------------------------------------------------

    def dataset(self, graphs: Mapping[URIRef, Iterable[Triple]]) -> FastDataset:
        """A queryable in-memory store with each graph under its name; the default graph is their union."""
        store = ox.Store()
        store.bulk_extend(quad(s, p, o, name) for name, graph in graphs.items() for s, p, o in graph)
        return FastDataset(store)

    def load_nquads(self, path: Path) -> FastDataset:
        """A store read straight from N-Quads, with no rdflib in between, blank nodes keeping their
        labels (Oxigraph's own load renames them)."""
        store = ox.Store()
        store.bulk_extend(ox.parse(path=str(path), format=ox.RdfFormat.N_QUADS))
        return FastDataset(store, stable_labels=True)

    def dump_graph(self, dataset: Any, graph: URIRef | None, out: BinaryIO) -> None:
        """One graph as N-Triples by Oxigraph's own writer."""
        _store_of(dataset).dump(out, format=ox.RdfFormat.N_TRIPLES, from_graph=graph_of(graph))

    def merged_store(self, dataset: Any, graphs: Iterable[URIRef]) -> ox.Store:
        """The graphs copied quad by quad into one new store's default graph (no parsing, so blank
        nodes keep their labels)."""
        store, source = ox.Store(), _store_of(dataset)
        for name in graphs:
            found = source.quads_for_pattern(None, None, None, graph_of(name))
            store.bulk_extend(ox.Quad(q.subject, q.predicate, q.object) for q in found)
        return store

    def has_stable_labels(self, dataset: Any) -> bool:
        return bool(getattr(dataset, "stable_labels", False))

    def dump_nquads(self, dataset: Any, out: BinaryIO) -> None:
        """Every quad of `dataset` as N-Quads (Oxigraph's serialiser)."""
        _store_of(dataset).dump(out, format=ox.RdfFormat.N_QUADS)

    def open_store(self, directory: Path) -> FastDataset:
        """An on-disk Oxigraph store built by `kg load --store`, opened read-only."""
        return FastDataset(ox.Store.read_only(str(directory)))

    def graph_names(self, dataset: Any) -> list[URIRef]:
        """The named graphs (not the default graph) of a dataset."""
        return sorted(URIRef(g.value) for g in _store_of(dataset).named_graphs() if isinstance(g, ox.NamedNode))

    def close(self, dataset: Any) -> None:
        store = _store_of(dataset)
        store.optimize()
        store.flush()

    def triples(self, dataset: Any, graph: URIRef | None = None) -> Iterator[Triple]:
        """The triples of one graph (all graphs when None; DEFAULT_GRAPH: the default graph), as rdflib terms."""
        name = graph_of(graph) if graph is not None else None
        for found in _store_of(dataset).quads_for_pattern(None, None, None, name):
            yield to_rdflib(found.subject), to_rdflib(found.predicate), to_rdflib(found.object)

    # -- SPARQL --------------------------------------------------------------

    def prepare(self, sparql_text_: str) -> Prepared:
        """Check a read-only query by running it once on an empty store: Oxigraph parses and plans it."""
        text = sparql_text_
        if not sparql_text.has_content(text):
            raise QueryError("empty query: the text holds no SPARQL, only comments or blanks")
        if sparql_text.is_update(text):
            raise QueryError("update requests are not allowed: kg is read-only")
        endpoints = sparql_text.service_endpoints(text, _PREFIXES)
        if endpoints:
            services.check(endpoints)  # refused unless `kg query --allow-service` names them
            raise QueryError("the fast engine does not call SERVICE endpoints; use --engine reference")
        try:
            probe = _empty_store().query(text, prefixes=_PREFIXES)
        except SyntaxError as error:
            if sparql_text.has_update_keyword(text):
                raise QueryError("update requests are not allowed: kg is read-only") from None
            # Oxigraph points at the token where parsing failed, which rdflib's parser often
            # reports as the start of the whole group; keep Oxigraph's position.
            raise QueryError(f"SPARQL syntax error {_position(error, text)}") from None
        if isinstance(probe, ox.QuerySolutions):
            kind = "SELECT"
        elif isinstance(probe, ox.QueryBoolean):
            kind = "ASK"
        else:
            kind = "DESCRIBE" if sparql_text.query_form(text) == "DESCRIBE" else "CONSTRUCT"
        return Prepared(
            text=text,
            kind=kind,
            variables=frozenset(sparql_text.variables(text)),
            ordered=sparql_text.is_ordered(text),
            native=sparql_text.dataset_clause(text, _PREFIXES),
        )

    def query(self, dataset: Any, prepared: Prepared, bindings: Mapping[str, Node], *, stream: bool = False) -> Answer:
        """Run with Oxigraph; the default graph is the merge of the graphs, as in the reference engine.

        Oxigraph evaluates lazily, so with `stream` rows are produced as they are read.
        """
        store = _store_of(dataset)
        if prepared.native:
            known = {g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode)}
            for iri in prepared.native:
                if iri not in known:
                    raise sparql_text.unknown_graph(iri, sorted(known))
        text, substitutions = _bind(prepared, bindings)
        try:
            result = store.query(
                text,
                prefixes=_PREFIXES,
                default_graph=None if prepared.native else _merged_graphs(store),
                substitutions=substitutions or None,
            )
        except SyntaxError as error:
            raise QueryError(f"SPARQL syntax error {_position(error, text)}") from None
        except (OSError, RuntimeError) as error:  # RuntimeError: RocksDB found an on-disk store damaged
            hint = (
                "; if the store is damaged, rebuild it with kg load --store" if isinstance(error, RuntimeError) else ""
            )
            raise QueryError(f"query failed: {' '.join(str(error).split())}{hint}") from None
        answer = Answer(kind=prepared.kind, ordered=prepared.ordered)
        if isinstance(result, ox.QuerySolutions):
            answer.variables = [v.value for v in result.variables]
            rows = _rows(result)
            answer.rows = rows if stream else list(rows)
        elif isinstance(result, ox.QueryBoolean):
            answer.boolean = bool(result)
        else:
            graph = Graph()
            graph.addN((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object), graph) for t in result)
            answer.graph = graph
        return answer


ENGINE_CLASS = FastEngine


def _stable_blank_nodes(quads: Iterable[ox.Quad], scope: str) -> Iterator[tuple[Any, Any, Any]]:
    """A file's triples with each blank node labelled by the file (`scope`, its graph name) and the
    order it first appears in: the same file gives the same labels on every parse."""
    prefix = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:10]
    labels: dict[str, ox.BlankNode] = {}

    def label(term: Any) -> Any:
        if isinstance(term, ox.BlankNode):
            found = labels.get(term.value)
            if found is None:
                found = labels[term.value] = ox.BlankNode(f"f{prefix}n{len(labels)}")
            return found
        return term

    for q in quads:
        yield label(q.subject), q.predicate, label(q.object)


def _merged_graphs(store: ox.Store) -> list:
    """The graphs whose union is the merge of every graph, each triple once: the default graph and
    every named graph but the data files' own (kgg:data/...), whose triples kgg:data holds once.

    Oxigraph's union of graphs keeps a triple once per graph that has it (counts and sums would
    double where two sources state the same thing), so the union is taken over disjoint graphs.
    """
    return [ox.DefaultGraph()] + [
        g for g in store.named_graphs() if isinstance(g, ox.NamedNode) and not g.value.startswith(DATA_GRAPHS)
    ]


@functools.cache
def _empty_store() -> ox.Store:
    """One empty store per process, on which prepare() has Oxigraph parse and plan each query."""
    return ox.Store()


def _store_of(dataset: Any) -> ox.Store:
    """The Oxigraph store of one of this engine's datasets; anything else is a caller's mistake."""
    if isinstance(dataset, FastDataset):
        return dataset.store
    if isinstance(dataset, ox.Store):
        return dataset
    raise TypeError(
        f"the fast engine queries its own datasets, not {type(dataset).__name__}; build one with engine.dataset()"
    )


def _rows(solutions: ox.QuerySolutions) -> Iterator[tuple[Node | None, ...]]:
    """Solutions as tuples of rdflib terms; an evaluation error met while reading is a QueryError."""
    convert = to_rdflib
    try:
        for solution in solutions:
            yield tuple(map(convert, solution))
    except OSError as error:
        raise QueryError(f"query failed: {error}") from None


def _bind(prepared: Prepared, bindings: Mapping[str, Node]) -> tuple[str, dict | None]:
    """Pre-bind parameters: Oxigraph's substitution (SEP-0007) for projected variables.

    Oxigraph substitutes only variables the SELECT projects; others are bound with an inline
    VALUES block opening the WHERE group (kg.engine.sparql_text.bind_values), its terms checked
    and written in N-Triples syntax, so no user text ever becomes query syntax.
    """
    if not bindings:
        return prepared.text, None
    projected = sparql_text.projection(prepared.text)
    if projected is None or all(name in projected for name in bindings):
        return prepared.text, {ox.Variable(name): to_ox(term) for name, term in bindings.items()}
    return sparql_text.bind_values(prepared.text, bindings), None


def _position(error: SyntaxError, text: str) -> str:
    """Oxigraph's line and column, with its expectation when that is short enough to help."""
    message = str(error.msg if hasattr(error, "msg") else error)
    match = re.match(r"error at (\d+):(\d+): (.*)", message, re.S)
    if not match:
        return f": {message}"
    line, column, expected = match.groups()
    lines = text.splitlines()
    rest = "\n".join([lines[int(line) - 1][int(column) - 1 :], *lines[int(line) :]]) if int(line) <= len(lines) else ""
    if not sparql_text.has_content(rest):
        column += " (the end of the query)"
    if "Prefix not found" in expected:
        return f"at line {line}, column {column}: a prefix is not declared (add a PREFIX line)"
    # Oxigraph lists every token it could accept; a long list is noise, not help.
    return f"at line {line}, column {column}" + (f": {expected}" if len(expected) <= 60 else "")


# -- the interner's views of terms ----------------------------------------------------


def _iri_text(term: Node) -> str | None:
    return str(term) if isinstance(term, URIRef) else None


def _is_literal(term: Node) -> bool:
    return isinstance(term, Literal)


def _ox_iri_text(term: Any) -> str | None:
    return term.value if isinstance(term, ox.NamedNode) else None


def _is_ox_literal(term: Any) -> bool:
    return isinstance(term, ox.Literal)
