"""Filling an Oxigraph store in a second thread while the caller reasons.

Filling costs as much as parsing and reasoning together. Quad objects, not N-Quads text:
Oxigraph renames the blank nodes of every text load, and our amounts are blank nodes several
graphs share. The thread gives up the GIL between quads, and numpy releases it in its sorts
and joins, so the two overlap on two cores.
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import pyoxigraph as ox
from rdflib import URIRef

from kg.engine import rules
from kg.engine.terms import graph_of
from kg.errors import LoadError

__all__ = ["StoreFiller", "distinct_rows"]


class StoreFiller:
    """Fills an Oxigraph store from rows of term ids (Oxigraph terms in `terms`) in a second thread.

    Leaving the `with` block waits for the thread and re-raises its error as a LoadError.
    """

    def __init__(self, store: ox.Store, terms: rules.Interner) -> None:
        self._store, self._terms = store, terms
        self._parts: queue.Queue[tuple[np.ndarray, ox.NamedNode] | None] = queue.Queue()
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._fill, name="kg-store-filler", daemon=True)

    def __enter__(self) -> StoreFiller:
        self._thread.start()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self._parts.put(None)
        self._thread.join()
        if error is None and self._error is not None:
            raise LoadError(f"cannot fill the store: {self._error}") from None

    def add(self, rows: np.ndarray, graph: URIRef) -> None:
        """Rows to put in `graph` (kg.namespaces.DEFAULT_GRAPH: the default graph)."""
        self._parts.put((rows, graph_of(graph)))

    def _fill(self) -> None:
        terms = self._terms.terms  # only ever appended to, so safe to read from here
        while (part := self._parts.get()) is not None:
            rows, graph = part
            if self._error is None:
                try:
                    self._store.bulk_extend(ox.Quad(terms[s], terms[p], terms[o], graph) for s, p, o in rows.tolist())
                except Exception as error:  # noqa: BLE001 - re-raised in the caller's thread, never lost
                    self._error = error


def distinct_rows(rows: np.ndarray) -> int:
    """How many different triples `rows` holds (a file may repeat one; the store keeps it once)."""
    if not len(rows):
        return 0
    ordered = rows[np.lexsort(rows.T[::-1])]
    return int(1 + np.count_nonzero((ordered[1:] != ordered[:-1]).any(axis=1)))
