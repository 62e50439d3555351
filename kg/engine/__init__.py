"""The one seam between kg and the libraries that store, parse, reason and query.

kg talks to an `Engine`: `reference` is rdflib + owlrl, the readable implementation every
answer is checked against; `fast` is pyoxigraph + reasonable (native code), which the
command line uses by default. Datasets an engine returns are opaque to the code above it:
pass them back to the same engine's `query`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kg.errors import UsageError

if TYPE_CHECKING:
    from rdflib import Graph, URIRef
    from rdflib.term import Node

__all__ = [
    "Answer",
    "Engine",
    "Prepared",
    "Row",
    "available_engines",
    "get_engine",
    "DEFAULT_ENGINE",
    "REFERENCE_ENGINE",
]

REFERENCE_ENGINE = "reference"

# name -> module defining `ENGINE_CLASS`; imported only when asked for.
_ENGINES: dict[str, str] = {"reference": "kg.engine.reference"}
# The fast engine needs two native wheels; without them kg still works, only slower.
if importlib.util.find_spec("pyoxigraph") and importlib.util.find_spec("reasonable"):
    _ENGINES["fast"] = "kg.engine.fast"

# What the command line uses unless told otherwise: the fast engine whenever it is installed
# (parity with the reference engine is tested). Library functions called without an engine
# use the reference engine.
DEFAULT_ENGINE = "fast" if "fast" in _ENGINES else REFERENCE_ENGINE


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


class Engine(Protocol):
    name: str
    version: str  # changes whenever results may change; part of the reasoning cache key

    def parse(self, path: Path, format: str) -> Graph:
        """Parse one file; raise LoadError naming the file and line on bad input."""

    def closure(self, graph: Graph) -> Graph:
        """Return a new graph: `graph` plus its OWL 2 RL entailments. `graph` is not modified."""

    def closure_triples(self, triples: Iterable[tuple[Node, Node, Node]]) -> set[tuple[Node, Node, Node]]:
        """The same closure as a set of triples: what reasoning uses, cheaper than a graph at scale."""

    def dataset(self, graphs: Mapping[URIRef, Iterable[tuple[Node, Node, Node]]]) -> Any:
        """A queryable dataset with each graph under its name; its default graph is their union.

        The value is the engine's own (rdflib Dataset, Oxigraph store...); it offers
        `objects(subject, predicate)` and `len()`, and goes back into `query`.
        """

    def load_nquads(self, data: bytes | Path) -> Any:
        """A queryable dataset read from N-Quads (bytes or a file), as `dataset` would build it."""

    def open_store(self, directory: Path) -> Any:
        """A queryable dataset over an on-disk Oxigraph store built by `kg load --store`."""

    def triples(self, dataset: Any, graph: URIRef | None = None) -> Iterator[tuple[Node, Node, Node]]:
        """The triples of one named graph of `dataset` (all graphs when None), as rdflib terms."""

    def prepare(self, sparql_text: str) -> Prepared:
        """Parse a query once; raise QueryError on syntax errors and update requests."""

    def query(
        self, dataset: Graph, prepared: Prepared, bindings: Mapping[str, Node], *, stream: bool = False
    ) -> Answer:
        """Run a prepared query with variables pre-bound to `bindings`.

        With `stream`, SELECT rows come as an iterator the engine fills while the query runs
        (errors it meets on the way raise QueryError from the iterator); otherwise a list.
        """


def available_engines() -> list[str]:
    return sorted(_ENGINES)


@functools.cache
def get_engine(name: str = REFERENCE_ENGINE) -> Engine:
    """The engine called `name`, created once per process."""
    try:
        module_name = _ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine {name!r}; available: {', '.join(available_engines())}") from None
    module = importlib.import_module(module_name)
    return module.ENGINE_CLASS()
