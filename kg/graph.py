"""The reasoned graph: the one handle every command and library call opens.

`open_graph(inputs)` returns a `KnowledgeGraph`: the engine, the engine's own dataset, and the
record of what it was built from (kg.cache). The dataset holds each data file's statements in a
named graph of its own (kgg:data/<path>), all of them once more, each triple once, in kgg:data,
the ontology in kgg:ontology, the inferences in kgg:inferred, and in the default graph which
source each file's graph is derived from (prov:wasDerivedFrom). Queries without GRAPH see the
merge of them all, each triple once. It comes from the first of:

1. an on-disk store (`kg load --store DIR`), opened read-only;
2. the reasoning cache, when the record of these input paths says no file changed and the closure
   file hashes to what the record promises: straight into the engine, nothing parsed;
3. reasoning: engines with Capability.FILES_TO_STORE go from files to their store with no rdflib
   graph on the way; the others parse into rdflib graphs and reason over them. The closure is
   then written to the cache.

Consumers that need rdflib (SHACL, the projection, publishing) read `rdflib` or `graph(name)`,
made once, on first use, from the engine's dataset; nothing else converts between the two.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

from rdflib import Dataset, Graph, URIRef
from rdflib.term import Node

from kg import progress
from kg.cache import Cache, Record, changed_inputs, fingerprint, paths_key, sha256_file
from kg.engine import Answer, Capability, Engine, get_engine, shacl_validator, validator_label
from kg.errors import LoadError, OutputError, UsageError
from kg.load import (
    CATALOG_FILE,
    ENTRY_FILE,
    check_parsed,
    check_size,
    data_graphs,
    file_format,
    load_data,
    load_ontology,
    provenance,
    quiet_literal_warnings,
)
from kg.namespaces import DATA_GRAPHS, DEFAULT_GRAPH, KGG, bind
from kg.paths import atomic_stream, check_files, display

__all__ = ["Inputs", "KnowledgeGraph", "open_graph", "reason_into", "engine_label", "GRAPHS", "STORE_RECORD"]

log = logging.getLogger(__name__)

# The graphs of a reasoned dataset by role, besides each data file's own (kgg:data/...) and the
# default graph (which source each file's graph is derived from). kgg:data holds every data
# file's triples once: queries without GRAPH see the merge of these and the default graph.
GRAPHS: dict[str, URIRef] = {"ontology": KGG.ontology, "data": KGG.data, "inferred": KGG.inferred}
STORE_RECORD = "kg-store.json"


@dataclass(frozen=True)
class Inputs:
    """What a graph is built from, and where its cache is."""

    ontology: Path
    data: tuple[Path, ...]
    engine: Engine
    shapes: Path | None = None  # part of the fingerprint: a report is only reused for the same shapes
    validator: str | None = None  # the SHACL validator (kg.engine.VALIDATORS); None: the engine's own
    cache: Path | None = None  # the cache folder; None: neither read nor write a cache
    store: Path | None = None  # an on-disk store to open instead of reasoning

    @classmethod
    def of(
        cls,
        ontology: Path,
        data: Iterable[Path],
        engine: Engine | str | None = None,
        **options: Any,
    ) -> Inputs:
        """Inputs from paths; the engine by name or object (default: the reference engine)."""
        chosen = engine if isinstance(engine, Engine) else get_engine(engine or "reference")
        return cls(Path(ontology), tuple(Path(p) for p in data), chosen, **options)


class KnowledgeGraph:
    """One reasoned (or merely loaded) graph: the engine, its dataset and the record of its inputs."""

    def __init__(
        self,
        engine: Engine,
        dataset: Any,
        record: Record,
        *,
        reasoned: bool = True,
        cache: Cache | None = None,
        key: str = "",
        store: Path | None = None,
    ) -> None:
        self.engine = engine
        self.dataset = dataset
        self.record = record
        self.reasoned = reasoned
        self.store = store
        self._cache, self._key = cache, key

    # -- files -----------------------------------------------------------------

    @property
    def ontology_files(self) -> list[Path]:
        return self.record.files("ontology")

    @property
    def data_files(self) -> list[Path]:
        return self.record.files("data")

    def remember(self, record: Record) -> None:
        """Keep an updated record (a validation report added) in the cache, when there is one."""
        self.record = record
        if self._cache is not None and self._key:
            self._cache.save(self._key, record)

    # -- querying ----------------------------------------------------------------

    def run(self, query: str | Path, /, *, queries_dir: Path | None = None, **bindings: Any) -> Answer:
        """A named query, .rq file or SPARQL text over this graph (kg.queries.run)."""
        from kg.queries import run

        return run(query, self.dataset, queries_dir=queries_dir, engine=self.engine, **bindings)

    # -- rdflib views, made on first use -----------------------------------------------

    @cached_property
    def rdflib(self) -> Dataset:
        """The named graphs as an rdflib Dataset whose default graph is their union.

        rdflib needs minutes and gigabytes where the engine needs seconds, so the rdflib size limit
        for input files (kg.load.check_size) applies here, where rdflib graphs are made.
        """
        for path in self.data_files:
            if Path(path).is_file():
                check_size(Path(path))
        if isinstance(self.dataset, Dataset):
            return self.dataset
        dataset = bind(Dataset(default_union=True))
        for name in [*self.engine.graph_names(self.dataset), DEFAULT_GRAPH]:
            context = dataset.graph(name)
            dataset.addN((s, p, o, context) for s, p, o in self.engine.triples(self.dataset, name))
        return dataset

    @property
    def data_graph_names(self) -> list[URIRef]:
        """The named graphs of the data files (kgg:data/...), one per file."""
        return [name for name in self.engine.graph_names(self.dataset) if str(name).startswith(DATA_GRAPHS)]

    def graph(self, name: URIRef) -> Graph:
        """One named graph as a plain rdflib Graph."""
        graph = bind(Graph())
        graph += self.rdflib.graph(name)
        return graph

    @cached_property
    def ontology(self) -> Graph:
        return self.graph(KGG.ontology)

    @cached_property
    def data(self) -> Graph:
        """Every data file's statements, each once (kgg:data)."""
        return self.graph(KGG.data)

    @cached_property
    def provenance(self) -> Graph:
        """The default graph: which sources each data file's graph is derived from."""
        return self.graph(DEFAULT_GRAPH)

    @cached_property
    def inferred(self) -> Graph:
        return self.graph(KGG.inferred)

    @cached_property
    def asserted(self) -> Graph:
        """Ontology and data: what was written, before reasoning."""
        return bind(self.ontology + self.data)

    def with_graphs(self, extra: Mapping[URIRef, Iterable[tuple[Node, Node, Node]]]) -> KnowledgeGraph:
        """A graph holding ours and `extra` (more named graphs), on the same engine."""
        names = [*self.engine.graph_names(self.dataset), DEFAULT_GRAPH]
        graphs = {name: list(self.engine.triples(self.dataset, name)) for name in names}
        graphs = {name: triples for name, triples in graphs.items() if triples}
        graphs.update(extra)
        return KnowledgeGraph(self.engine, self.engine.dataset(graphs), self.record, reasoned=self.reasoned)

    def dump_nquads(self, out: BinaryIO) -> None:
        self.engine.dump_nquads(self.dataset, out)

    def write_rdf(self, format: str, *, inferred_only: bool = False) -> bytes:
        """The reasoned graph as `kg reason` writes it (kg.results.serialize_lines): in a triple format
        the ontology, the data and the inferences merged; in nq or trig the graphs of
        source_graphs() kept apart. `inferred_only`: kgg:inferred alone. Each graph comes from the
        engine as N-Triples, with no rdflib graph on the way; blank nodes are canonicalised only
        where the engine's labels are not already stable."""
        from kg.results import QUAD_FORMATS, serialize_lines

        quads = format in QUAD_FORMATS
        if inferred_only:
            names: list[URIRef | None] = [KGG.inferred]
        elif quads:
            names = [n for n in self.engine.graph_names(self.dataset) if n != KGG.data] + [None]
        else:
            names = [KGG.ontology, KGG.data, KGG.inferred]
        lines: list[bytes] = []
        for name in names:
            buffer = io.BytesIO()
            self.engine.dump_graph(self.dataset, name, buffer)
            graph_lines = buffer.getvalue().splitlines()
            if quads and name is not None:
                suffix = f" <{name}> .".encode()
                graph_lines = [line[:-2] + suffix for line in graph_lines if line]
            lines += graph_lines
        return serialize_lines(lines, format, canonical=not self.engine.has_stable_labels(self.dataset))

    def source_graphs(self, *, inferred_only: bool = False) -> dict[URIRef | None, list[tuple[Node, Node, Node]]]:
        """The graphs as kg writes them for others (kg reason, push, serve): each data file's own graph,
        kgg:ontology, kgg:inferred, and the default graph (None) saying which source each file's graph
        is derived from. kgg:data, the merge kg keeps so that queries count each statement once, is
        left out: it repeats the files' graphs. With `inferred_only`, kgg:inferred alone."""
        if inferred_only:
            return {KGG.inferred: list(self.engine.triples(self.dataset, KGG.inferred))}
        names = [n for n in self.engine.graph_names(self.dataset) if n != KGG.data]
        graphs: dict[URIRef | None, list[tuple[Node, Node, Node]]] = {
            name: list(self.engine.triples(self.dataset, name)) for name in names
        }
        graphs[None] = list(self.engine.triples(self.dataset, DEFAULT_GRAPH))
        return {name: triples for name, triples in graphs.items() if triples}


def engine_label(engine: Engine) -> str:
    return f"{engine.name} ({engine.version})"


def open_graph(inputs: Inputs, *, reasoning: bool = True) -> KnowledgeGraph:
    """The graph of `inputs`: from a store, the cache, or reasoning (see the module's docstring)."""
    engine = inputs.engine
    if inputs.store is not None and reasoning:
        return _open_store(inputs.store, engine)
    if not reasoning:
        ontology = load_ontology(inputs.ontology, engine)
        data = load_data(inputs.data, engine)
        dataset = engine.dataset(
            {KGG.ontology: ontology.graph, KGG.data: data.graph, **data.graphs, DEFAULT_GRAPH: provenance(data.graphs)}
        )
        record = Record(_fingerprint(inputs, ontology.files, data.files), engine_label(engine))
        return KnowledgeGraph(engine, dataset, record, reasoned=False)
    cache = Cache(inputs.cache) if inputs.cache is not None else None
    key = paths_key(engine_label(engine), inputs.ontology, inputs.shapes, *inputs.data, validator=_validator(inputs))
    if cache is not None:
        record = cache.lookup(key)
        closure = cache.closure_file(record) if record is not None else None
        if record is not None and closure is not None:
            try:
                with progress.step("reading the reasoning cache"):
                    dataset = engine.load_nquads(closure)
            except Exception as error:  # a damaged cache costs a rebuild, never an error
                log.warning("ignoring unreadable reasoning cache %s (%s); rebuilding", display(closure), error)
            else:
                log.info("reasoning cache hit: %s (%s engine skipped, nothing parsed)", display(closure), engine.name)
                return KnowledgeGraph(engine, dataset, record, cache=cache, key=key)
        log.info("reasoning cache miss: %s", display(cache.record_path(key)))
    dataset, record = reason_into(inputs)
    if cache is not None:
        with progress.step("writing the reasoning cache"):
            _write_closure(cache, record, engine, dataset)
            cache.save(key, record)
    return KnowledgeGraph(engine, dataset, record, cache=cache, key=key)


def reason_into(inputs: Inputs, directory: Path | None = None) -> tuple[Any, Record]:
    """Load and reason: the engine's dataset (on disk at `directory` when the engine can) and its record.

    Each data file is a named graph of its own (kg.load.data_graphs), the default graph says
    which sources each is derived from (kg.load.provenance), kgg:inferred holds what reasoning
    added. Every input passes the same checks on either route: imports resolved locally, the
    size limit, no empty file, no ill-typed literal.
    """
    from kg.reason import NOISE, reason

    engine = inputs.engine
    ontology = load_ontology(inputs.ontology, engine)
    names = data_graphs(inputs.data)
    if Capability.FILES_TO_STORE in engine.capabilities:
        for path in names:
            check_size(path, native=True)
        with quiet_literal_warnings():
            dataset, counts = engine.reason_files(
                ontology.graph,
                [(path, file_format(path), name) for path, name in names.items()],
                check=check_parsed,
                noise=NOISE,
                directory=directory,
            )
        log.info("inferred %d triples (%s engine, array reasoner)", counts["inferred"], engine.name)
    else:
        data = load_data(inputs.data, engine)
        with progress.step("reasoning (OWL 2 RL)"):
            inference = reason(ontology.graph, data.graph, engine)
        cited = provenance(data.graphs)
        dataset = engine.dataset(
            {
                KGG.ontology: ontology.graph,
                KGG.data: data.graph,
                **data.graphs,
                DEFAULT_GRAPH: cited,
                KGG.inferred: inference.inferred,
            }
        )
        counts = {
            "ontology": len(ontology.graph),
            "data": len(data.graph),
            "provenance": len(cited),
            "inferred": len(inference.inferred),
        }
    return dataset, Record(_fingerprint(inputs, ontology.files, list(names)), engine_label(engine), counts=counts)


def _fingerprint(inputs: Inputs, ontology: list[Path], data: list[Path]) -> dict:
    entry = inputs.ontology if inputs.ontology.is_file() else inputs.ontology / ENTRY_FILE
    catalog = entry.parent / CATALOG_FILE
    files = {"ontology": ontology, "data": data, "catalog": [catalog] if catalog.is_file() else []}
    if inputs.shapes is not None and Path(inputs.shapes).is_file():
        files["shapes"] = [Path(inputs.shapes)]
    files["checks"] = check_files(inputs.ontology)
    # The record keeps a validation report: one validator's (and version's), so it names it.
    return {**fingerprint(files, [p for p in inputs.data if Path(p).is_dir()]), "validator": _validator(inputs)}


def _validator(inputs: Inputs) -> str:
    """The SHACL validator the inputs' reports come from, with its version: pyshacl-turbo 0.6.5."""
    return validator_label(shacl_validator(inputs.engine, inputs.validator))


def _write_closure(cache: Cache, record: Record, engine: Engine, dataset: Any) -> None:
    """The closure as N-Quads beside its record; the record keeps the file's checksum."""
    path = cache.closure_path(record)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_stream(path) as out:
            engine.dump_nquads(dataset, out)
        record.checksum = sha256_file(path)
    except (OSError, OutputError) as error:  # a cache that can't be written only costs time
        log.warning("could not write reasoning cache %s: %s", display(path), error)


def _open_store(directory: Path, engine: Engine) -> KnowledgeGraph:
    """An on-disk store as a graph; warns when its inputs changed since it was built."""
    if Capability.DISK_STORE not in engine.capabilities:
        raise UsageError(f"the {engine.name} engine cannot open an on-disk store; use --engine fast")
    record = read_store_record(directory)
    stale = changed_inputs(record.inputs)
    if stale:
        shown = ", ".join(stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
        log.warning(
            "store %s is stale: %s changed since it was built; run kg load --store %s again",
            display(directory),
            shown,
            display(directory),
        )
    log.info(
        "opened store %s (%s triples, built by the %s engine)",
        display(directory),
        sum(record.counts.values()),
        record.engine,
    )
    try:
        dataset = engine.open_store(Path(directory))
    except (OSError, RuntimeError) as error:  # RocksDB reports a damaged store as RuntimeError
        raise LoadError(damaged_store(directory, error)) from None
    return KnowledgeGraph(engine, dataset, record, store=Path(directory))


def damaged_store(directory: Path, error: BaseException) -> str:
    """One line for a store the database cannot read, saying how to repair it."""
    reason = " ".join(str(error).split()) or type(error).__name__
    return (
        f"{display(directory)}: cannot read the store ({reason}); rebuild it with kg load --store {display(directory)}"
    )


def read_store_record(directory: Path) -> Record:
    """The record kept in a store folder by `kg load --store`."""
    path = Path(directory) / STORE_RECORD
    try:
        return Record.from_json(path.read_bytes())
    except FileNotFoundError:
        raise LoadError(
            f"{display(directory)}: not a kg store (no {STORE_RECORD}); build it with kg load --store"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LoadError(f"{display(path)}: unreadable ({error}); rebuild with kg load --store") from None
