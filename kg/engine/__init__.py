"""The one seam between kg and the libraries that store, parse, reason and query.

kg talks to an `Engine`, a class with a declared interface: `reference` is rdflib + owlrl, the
readable implementation every answer is checked against; `fast` is pyoxigraph + reasonable
(native code), which the command line uses by default. What an engine can do beyond the
interface it says in `capabilities`, never by kg probing for methods. Datasets an engine
returns are its own (an Oxigraph store, an rdflib Dataset): pass them back to the same engine.

Engines are registered by name (`register_engine`), so another one plugs in without editing kg:
`kg --engine NAME` and every library call then use it.
"""

from __future__ import annotations

import abc
import functools
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from kg.errors import UsageError
from kg.namespaces import DEFAULT_GRAPH

if TYPE_CHECKING:
    import numpy as np
    from rdflib import Graph, URIRef
    from rdflib.term import Node

    from kg.formats import RdfFormat

__all__ = [
    "distribution_version",
    "Answer",
    "Capability",
    "Engine",
    "Noise",
    "Prepared",
    "Row",
    "available_engines",
    "get_engine",
    "register_engine",
    "DEFAULT_ENGINE",
    "REFERENCE_ENGINE",
    "VALIDATORS",
    "shacl_validator",
    "validator_label",
]

REFERENCE_ENGINE = "reference"


@dataclass(frozen=True)
class Prepared:
    """A parsed, read-only SPARQL query, ready to run many times."""

    text: str
    kind: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    variables: frozenset[str]  # every variable the query mentions, without "?"
    ordered: bool  # True when the query fixes its row order with ORDER BY
    native: Any = field(repr=False, compare=False)  # the engine's own prepared form


Row = tuple["Node | None", ...]


class Answer:
    """A query's result in engine-neutral form.

    SELECT rows are a list, or, for an answer the engine streams (`query(..., stream=True)`),
    an iterator it fills as the query runs. `iter_rows()` reads them once without keeping
    them, so a million-row result costs no more memory than one row; `rows` is always a
    list (reading a stream into it on first use), for tables, tests and small answers.
    """

    def __init__(
        self,
        kind: str,
        variables: list[str] | None = None,
        rows: Iterable[Row] = (),
        boolean: bool | None = None,
        graph: Graph | None = None,
        ordered: bool = False,
    ) -> None:
        self.kind = kind
        self.variables = list(variables or [])
        self.rows = rows
        self.boolean = boolean
        self.graph = graph
        self.ordered = ordered

    @property
    def rows(self) -> list[Row]:
        if self._pending is not None:
            self._rows, self._pending = list(self._pending), None
        if self._rows is None:
            raise RuntimeError("this answer's rows were streamed with iter_rows() and are gone")
        return self._rows

    @rows.setter
    def rows(self, rows: Iterable[Row]) -> None:
        if isinstance(rows, list):
            self._rows, self._pending = rows, None
        else:
            self._rows, self._pending = None, iter(rows)

    @property
    def streaming(self) -> bool:
        """True while the rows are an unread stream."""
        return self._pending is not None

    def iter_rows(self) -> Iterator[Row]:
        """Every row once, in the engine's order; a stream is handed over, not copied."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        return iter(self.rows)

    def _key(self) -> tuple:
        return (self.kind, self.variables, self.rows, self.boolean, self.graph, self.ordered)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Answer) and self._key() == other._key()

    __hash__ = None  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        rows = "<stream>" if self.streaming else f"{len(self.rows)} rows"
        fields = f"kind={self.kind!r}, variables={self.variables!r}, {rows}, boolean={self.boolean!r}"
        return f"Answer({fields}, ordered={self.ordered!r})"


@functools.cache
def distribution_version(name: str) -> str:
    """An installed distribution's version, from its .dist-info folder's name on sys.path.

    What importlib.metadata.version says, without importing it (a tenth of a second of every
    command's start-up); importlib.metadata is asked only when no folder matches.
    """
    wanted = re.sub(r"[-_.]+", "_", name).lower()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                dist, _, found = folder[: -len(".dist-info")].rpartition("-")
                if re.sub(r"[-_.]+", "_", dist).lower() == wanted:
                    return found
    from importlib.metadata import version

    return version(name)


# SHACL validators by name (as kg validate --validator and reports spell them) -> their module.
# pyshacl is the readable one, the reference engine's; pyshacl-turbo runs the same shapes in
# native code (Rust) and reads an Oxigraph store directly: the fast engine's.
VALIDATORS = {"pyshacl": "pyshacl", "pyshacl-turbo": "pyshacl_turbo"}


def shacl_validator(engine: Engine, chosen: str | None = None) -> str:
    """The SHACL validator to run: `chosen`, else the engine's own (Engine.validator); pyshacl when
    the engine's own is not installed (pyshacl-turbo needs Python 3.11)."""
    name = chosen or engine.validator
    if name not in VALIDATORS:
        raise UsageError(f"unknown SHACL validator {name!r}; available: {', '.join(VALIDATORS)}")
    if importlib.util.find_spec(VALIDATORS[name]) is None:
        if chosen:
            raise UsageError(f"the SHACL validator {name} is not installed: pip install {name}")
        return "pyshacl"
    return name


def validator_label(name: str) -> str:
    """'pyshacl-turbo 0.6.5': a validator with its version, as cache keys and reports record it."""
    return f"{name} {distribution_version(name)}"


class Capability:
    """What an engine may offer beyond the interface; an engine lists the ones it has in `capabilities`."""

    FILES_TO_STORE = "files-to-store"  # reason_files: from data files to its own store without rdflib graphs
    DISK_STORE = "disk-store"  # open_store / build on disk: the on-disk store `kg load --store` writes
    SERVICE = "service"  # evaluates SPARQL SERVICE calls to endpoints the user allows


Triple = tuple["Node", "Node", "Node"]


class Noise(Protocol):
    """The entailments reasoning drops (kg.reason's policy), for engines to apply where it is cheapest."""

    def is_noise(self, s: Node, p: Node, o: Node) -> bool: ...

    def mask(self, rows: np.ndarray, terms: Any) -> np.ndarray:
        """One flag per row of term ids; `terms` is the kg.engine.rules.Interner that made them."""


class Engine(abc.ABC):
    """Parses, reasons, holds datasets and answers SPARQL; everything above talks to one of these.

    A dataset is the engine's own object holding named graphs (kgg:ontology, kgg:data...) whose
    union is the default graph. Terms cross the interface as rdflib terms.
    """

    name: str = ""
    version: str = ""  # changes whenever results may change; part of every cache key
    validator: str = "pyshacl"  # the SHACL validator it runs by default (VALIDATORS)
    capabilities: frozenset[str] = frozenset()

    # -- parsing ---------------------------------------------------------------

    @abc.abstractmethod
    def parse(self, path: Path, rdf_format: RdfFormat) -> Graph:
        """Parse one file; raise LoadError naming the file and line on bad input."""

    # -- reasoning -------------------------------------------------------------

    @abc.abstractmethod
    def entailments(self, triples: set[Triple] | list[Triple], noise: Noise) -> list[Triple]:
        """What the OWL 2 RL closure adds to `triples` (never modified), less what `noise` drops."""

    def closure(self, graph: Graph) -> Graph:
        """A new graph: `graph` plus every entailment (noise included)."""
        from rdflib import Graph as RdfGraph

        out = RdfGraph()
        out += graph
        out.addN((s, p, o, out) for s, p, o in self.entailments(set(graph), _KEEP_ALL))
        return out

    # -- datasets --------------------------------------------------------------

    @abc.abstractmethod
    def dataset(self, graphs: Mapping[URIRef, Iterable[Triple]]) -> Any:
        """A queryable dataset with each graph under its name (kg.namespaces.DEFAULT_GRAPH: the default
        graph); queries see the union of all of them."""

    @abc.abstractmethod
    def load_nquads(self, path: Path) -> Any:
        """A dataset read from an N-Quads file, blank nodes shared between its graphs."""

    @abc.abstractmethod
    def dump_nquads(self, dataset: Any, out: BinaryIO) -> None:
        """Write every quad of `dataset` to a binary stream as N-Quads."""

    @abc.abstractmethod
    def triples(self, dataset: Any, graph: URIRef | None = None) -> Iterator[Triple]:
        """The triples of one graph of `dataset` (all graphs when None; DEFAULT_GRAPH: the default graph)."""

    @abc.abstractmethod
    def graph_names(self, dataset: Any) -> list[URIRef]:
        """The names of the named graphs `dataset` holds (not its default graph), sorted."""

    def dump_graph(self, dataset: Any, graph: URIRef | None, out: BinaryIO) -> None:
        """Write one graph of `dataset` (None: the default graph) to a binary stream as N-Triples.
        Engines with a native writer override this one, which goes term by term."""
        from rdflib import Graph

        triples = Graph()
        triples.addN((s, p, o, triples) for s, p, o in self.triples(dataset, graph or DEFAULT_GRAPH))
        out.write(triples.serialize(format="nt", encoding="utf-8"))

    def merged_store(self, dataset: Any, graphs: Iterable[URIRef]) -> Any:
        """A new pyoxigraph Store holding `graphs` of `dataset` merged in its default graph, blank
        nodes keeping their labels (what pyshacl-turbo reads with no rdflib graph on the way);
        None when the engine holds no Oxigraph store (then rdflib graphs are used)."""
        return None

    def has_stable_labels(self, dataset: Any) -> bool:
        """True when `dataset`'s blank-node labels depend only on its inputs (the same inputs give the
        same labels on every run), so writers need not canonicalise them. False by default."""
        return False

    def close(self, dataset: Any) -> None:  # noqa: B027 - optional: most datasets need no finishing
        """Finish with a dataset: an on-disk store is compacted and flushed. Nothing to do by default."""

    # -- SPARQL ----------------------------------------------------------------

    @abc.abstractmethod
    def prepare(self, sparql_text: str) -> Prepared:
        """Parse a query once; raise QueryError on syntax errors and update requests."""

    @abc.abstractmethod
    def query(self, dataset: Any, prepared: Prepared, bindings: Mapping[str, Node], *, stream: bool = False) -> Answer:
        """Run a prepared query with variables pre-bound to `bindings`.

        With `stream`, SELECT rows come as an iterator the engine fills while the query runs
        (errors it meets on the way raise QueryError from the iterator); otherwise a list.
        """

    # -- optional: see `capabilities` ------------------------------------------

    def reason_files(
        self,
        ontology: Graph,
        files: list[tuple[Path, RdfFormat, URIRef]],
        *,
        check: Callable[[Path, int, list], None],
        noise: Noise,
        directory: Path | None = None,
    ) -> tuple[Any, dict[str, int]]:
        """Capability.FILES_TO_STORE: data files (each with its graph name) straight into a reasoned dataset
        (on disk at `directory`), with the provenance of each data graph in the default graph."""
        raise NotImplementedError(f"the {self.name} engine cannot reason from files into a store")

    def open_store(self, directory: Path) -> Any:
        """Capability.DISK_STORE: the on-disk store that `kg load --store` built, read-only."""
        raise NotImplementedError(f"the {self.name} engine cannot open an on-disk store")


class _KeepAll:
    def is_noise(self, s: Node, p: Node, o: Node) -> bool:
        return False

    def mask(self, rows: np.ndarray, terms: Any) -> np.ndarray:
        import numpy as np

        return np.zeros(len(rows), dtype=bool)


_KEEP_ALL = _KeepAll()

# name -> a module defining ENGINE_CLASS (imported only when asked for) or a class.
_ENGINES: dict[str, str | Callable[[], Engine]] = {"reference": "kg.engine.reference"}
# The fast engine needs two native wheels; without them kg still works, only slower.
if importlib.util.find_spec("pyoxigraph") and importlib.util.find_spec("reasonable"):
    _ENGINES["fast"] = "kg.engine.fast"

# What the command line uses unless told otherwise: the fast engine whenever it is installed
# (parity with the reference engine is tested). Library functions called without an engine
# use the reference engine.
DEFAULT_ENGINE = "fast" if "fast" in _ENGINES else REFERENCE_ENGINE


def register_engine(name: str, engine: str | Callable[[], Engine]) -> None:
    """Make an engine available as `name`: a module path defining ENGINE_CLASS, or a class (or factory)."""
    _ENGINES[name] = engine
    get_engine.cache_clear()


def available_engines() -> list[str]:
    return sorted(_ENGINES)


@functools.cache
def get_engine(name: str = REFERENCE_ENGINE) -> Engine:
    """The engine called `name`, created once per process."""
    try:
        found = _ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine {name!r}; available: {', '.join(available_engines())}") from None
    factory = importlib.import_module(found).ENGINE_CLASS if isinstance(found, str) else found
    engine = factory()
    if not isinstance(engine, Engine):
        raise UsageError(f"engine {name!r} does not implement kg.engine.Engine")
    return engine
