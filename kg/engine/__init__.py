"""The one seam between kg and the libraries that store, parse, reason and query.

kg talks to an `Engine`; `reference` is rdflib + owlrl. A faster engine (pyoxigraph +
reasonable) can be added as kg/engine/fast.py and registered in `_ENGINES` without
touching load, reason or queries.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rdflib import Graph
from rdflib.term import Node

from kg.errors import UsageError

__all__ = ["Answer", "Engine", "Prepared", "available_engines", "get_engine"]

DEFAULT_ENGINE = "reference"

# name -> module defining `ENGINE_CLASS`; imported only when asked for.
_ENGINES: dict[str, str] = {"reference": "kg.engine.reference"}


@dataclass(frozen=True)
class Prepared:
    """A parsed, read-only SPARQL query, ready to run many times."""

    text: str
    kind: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    variables: frozenset[str]  # every variable the query mentions, without "?"
    ordered: bool  # True when the query fixes its row order with ORDER BY
    native: Any = field(repr=False, compare=False)  # the engine's own prepared form


@dataclass
class Answer:
    """A query's result in engine-neutral form."""

    kind: str
    variables: list[str] = field(default_factory=list)
    rows: list[tuple[Node | None, ...]] = field(default_factory=list)
    boolean: bool | None = None
    graph: Graph | None = None
    ordered: bool = False


class Engine(Protocol):
    name: str
    version: str  # changes whenever results may change; part of the reasoning cache key

    def parse(self, path: Path, format: str) -> Graph:
        """Parse one file; raise LoadError naming the file and line on bad input."""

    def closure(self, graph: Graph) -> Graph:
        """Return a new graph: `graph` plus its OWL 2 RL entailments. `graph` is not modified."""

    def prepare(self, sparql_text: str) -> Prepared:
        """Parse a query once; raise QueryError on syntax errors and update requests."""

    def query(self, dataset: Graph, prepared: Prepared, bindings: Mapping[str, Node]) -> Answer:
        """Run a prepared query with variables pre-bound to `bindings`."""


def available_engines() -> list[str]:
    return sorted(_ENGINES)


@functools.cache
def get_engine(name: str = DEFAULT_ENGINE) -> Engine:
    """The engine called `name`, created once per process."""
    try:
        module_name = _ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine {name!r}; available: {', '.join(available_engines())}") from None
    module = importlib.import_module(module_name)
    return module.ENGINE_CLASS()
