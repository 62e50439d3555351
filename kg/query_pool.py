"""The processes that answer kg serve's queries: a fixed number, one killed and replaced when it runs too long.

Oxigraph's own server stops a query at its time limit by starting a thread per request that
sleeps for the whole limit: 16,000 requests left 12,844 threads for 30 s. Here a fixed pool of
processes (pyoxigraph on the same store, opened read-only) answers queries one at a time each;
a query past the limit is stopped by killing its process, which is replaced. Nothing outlives
its request, so threads and memory are flat once a load ends.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["QueryPool", "Refused", "Stopped", "StoreUnreadable", "negotiate"]

CHUNK = 1 << 16  # bytes per message from a worker
STARTUP_SECONDS = 60.0  # for a worker to start and open the store


class Refused(Exception):
    """The query cannot be answered: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Stopped(Exception):
    """The time limit was reached; the worker was killed."""


class StoreUnreadable(Exception):
    """A worker could not open the store; the message is the database's."""


# -- content negotiation -------------------------------------------------------------

_RESULTS = [  # media type, pyoxigraph format name (QueryResultsFormat)
    ("application/sparql-results+json", "JSON"),
    ("application/json", "JSON"),
    ("application/sparql-results+xml", "XML"),
    ("application/xml", "XML"),
    ("text/xml", "XML"),
    ("text/csv", "CSV"),
    ("text/tab-separated-values", "TSV"),
]
_GRAPHS = [  # media type, pyoxigraph format name (RdfFormat)
    ("application/n-triples", "N_TRIPLES"),
    ("text/turtle", "TURTLE"),
    ("application/rdf+xml", "RDF_XML"),
    ("application/ld+json", "JSON_LD"),
    ("application/n-quads", "N_QUADS"),
    ("application/trig", "TRIG"),
    ("text/plain", "N_TRIPLES"),
]


def negotiate(accept: str | None, graph: bool) -> tuple[str, str]:
    """The (media type, format name) the Accept header prefers for a graph or results answer.

    Without an Accept header, or with */*, results are SPARQL JSON and graphs N-Triples, as
    Oxigraph answers. Raises Refused(406) when nothing acceptable is offered.
    """
    offers = _GRAPHS if graph else _RESULTS
    wanted = []
    for position, part in enumerate((accept or "*/*").split(",")):
        fields = [field.strip() for field in part.split(";")]
        media, quality = fields[0].lower(), 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                with contextlib.suppress(ValueError):
                    quality = float(value)
        if media and quality > 0:
            wanted.append((-quality, position, media))
    for _quality, _position, media in sorted(wanted):
        for offered, name in offers:
            if media in (offered, "*/*") or (media.endswith("/*") and offered.startswith(media[:-1])):
                return offered, name
    kinds = ", ".join(dict.fromkeys(media for media, _ in offers))
    raise Refused(406, f"none of the accepted media types is available; this answer comes as {kinds}")


# -- the workers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    query: str
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    accept: str | None = None


def _serve(location: str, connection: Connection, parent: int) -> None:  # pragma: no cover - in the worker
    """A worker: answer one request at a time from the store at `location`, until the pipe closes
    or kg (`parent`) is gone, however it ended (even mid-query)."""
    import pyoxigraph as ox

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches kg, which stops the pool

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    try:
        store = ox.Store.read_only(location)
    except (OSError, RuntimeError) as error:  # RocksDB reports a damaged store as RuntimeError
        connection.send(("failed", " ".join(str(error).split()) or type(error).__name__))
        return
    connection.send(("ready",))
    sender = _Sender(connection)
    while True:
        try:
            request: Request = connection.recv()
        except (EOFError, OSError):
            return
        try:
            results = store.query(
                request.query,
                use_default_graph_as_union=not request.default_graphs,
                default_graph=[ox.NamedNode(g) for g in request.default_graphs] or None,
                named_graphs=[ox.NamedNode(g) for g in request.named_graphs] or None,
            )
            graph = isinstance(results, ox.QueryTriples)
            media, name = negotiate(request.accept, graph)
            target = getattr(ox.RdfFormat if graph else ox.QueryResultsFormat, name)
        except Refused as refused:
            connection.send(("refused", refused.status, refused.message))
            continue
        except SyntaxError as error:
            connection.send(("refused", 400, f"the query is not valid SPARQL: {error}"))
            continue
        except (OSError, ValueError, TypeError) as error:
            connection.send(("refused", 400, str(error)))
            continue
        connection.send(("head", media))
        try:
            results.serialize(sender, target)
            sender.flush()
        except Exception as error:  # a failure while evaluating: the answer ends incomplete
            connection.send(("cut", str(error)))
            continue
        connection.send(("end",))


class _Sender:
    """A file-like object that sends what is written to it through the pipe, CHUNK bytes at a time."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self.connection.send(("data", bytes(self.buffer)))
            self.buffer.clear()


class _Worker:
    def __init__(self, context: Any, location: Path) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(str(location), child, os.getpid()), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.join()
        self.connection.close()


class QueryPool:
    """`size` worker processes answering queries over the store at `location`, `seconds` at most each."""

    def __init__(self, location: Path, *, size: int, seconds: float) -> None:
        self.location = location
        self.seconds = seconds
        self.context = multiprocessing.get_context("spawn")  # the gate is threaded: never fork it
        self.idle: queue.Queue[_Worker] = queue.Queue()
        self.everyone: set[_Worker] = set()
        self.lock = threading.Lock()
        self.closed = False
        self.broken: str | None = None
        try:
            for _ in range(size):
                self._add()
        except BaseException:
            self.close()
            raise

    def _add(self) -> None:
        worker = _Worker(self.context, self.location)
        try:
            ready = worker.connection.recv() if worker.connection.poll(STARTUP_SECONDS) else ("failed", "no answer")
        except (EOFError, OSError):
            ready = ("failed", "the worker ended at once")
        if ready[0] != "ready":
            worker.kill()
            raise StoreUnreadable(ready[1])
        with self.lock:
            self.everyone.add(worker)
        self.idle.put(worker)

    def answer(self, request: Request, deadline: float) -> tuple[str, _Chunks]:
        """The media type and the chunks of the answer to `request`, all before `deadline` (time.monotonic).

        Raises Refused (the request's fault, or every worker busy until the deadline) or Stopped
        (the deadline passed while the query ran; the chunks raise it too, mid-answer). The
        caller closes the chunks (contextlib.closing), read to the end or not.
        """
        if self.broken is not None:
            raise Refused(500, f"cannot read the store ({self.broken}); rebuild it with kg load --store")
        try:
            worker = self.idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise Refused(503, f"every query worker stayed busy for {self.seconds:g} s; try again later") from None
        try:
            worker.connection.send(request)
            first = self._receive(worker, deadline)
        except BaseException:
            self._replace(worker)
            raise
        if first[0] == "refused":
            self.idle.put(worker)
            raise Refused(first[1], first[2])
        return first[1], _Chunks(self, worker, deadline)

    def _receive(self, worker: _Worker, deadline: float) -> tuple:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not worker.connection.poll(remaining):
            raise Stopped()
        try:
            return worker.connection.recv()
        except (EOFError, OSError):
            raise Refused(500, "the query worker ended unexpectedly") from None

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self.lock:
            self.everyone.discard(worker)
            closed = self.closed
        if not closed:
            try:
                self._add()
            except StoreUnreadable as error:  # the store was damaged while serving: say so to every request
                self.broken = str(error)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            workers = list(self.everyone)
            self.everyone.clear()
        for worker in workers:
            worker.kill()

    def pids(self) -> list[int]:
        with self.lock:
            return sorted(w.process.pid for w in self.everyone if w.process.pid is not None)


class _Chunks:
    """The rest of an answer, read from its worker; closing it gives the worker back to the pool
    if the answer was read to its end, and otherwise kills and replaces it (it may still be sending)."""

    def __init__(self, pool: QueryPool, worker: _Worker, deadline: float) -> None:
        self.pool, self.worker, self.deadline = pool, worker, deadline
        self.finished = self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        while not self.finished:
            message = self.pool._receive(self.worker, self.deadline)
            if message[0] == "data":
                yield message[1]
            else:
                self.finished = True
                if message[0] != "end":  # "cut": evaluation failed part way
                    raise Refused(500, message[1])

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.finished:
                self.pool.idle.put(self.worker)
            else:
                self.pool._replace(self.worker)


def default_size() -> int:
    """One worker per core (at least 2, at most 8)."""
    return max(2, min(8, os.cpu_count() or 2))
