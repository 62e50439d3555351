"""Which SPARQL SERVICE endpoints a query may call: none, unless the user names them.

A query file must never make kg fetch from the network on its own, so engines refuse
SERVICE by default; `kg query --allow-service URL` opens exactly the endpoints named, for
the duration of one command (a context variable, so nothing leaks into later calls).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator

from kg.errors import QueryError

_ALLOWED: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("kg_allowed_services", default=frozenset())


def allowed() -> frozenset[str]:
    """The endpoints SERVICE may call right now."""
    return _ALLOWED.get()


@contextlib.contextmanager
def allow_services(urls: Iterable[str]) -> Iterator[frozenset[str]]:
    """Allow SERVICE calls to exactly `urls` inside the `with` block."""
    token = _ALLOWED.set(frozenset(str(url) for url in urls) | _ALLOWED.get())
    try:
        yield _ALLOWED.get()
    finally:
        _ALLOWED.reset(token)


def check(endpoints: Iterable[object]) -> None:
    """Raise QueryError unless every SERVICE endpoint (an IRI) is allowed.

    With nothing allowed the message is the engines' usual refusal, word for word.
    """
    endpoints = list(endpoints)
    if not endpoints:
        return
    permitted = _ALLOWED.get()
    if not permitted:
        raise QueryError("SERVICE is not allowed: kg queries only its own graphs, offline")
    for endpoint in endpoints:
        if not (isinstance(endpoint, str) and "://" in endpoint):
            raise QueryError(f"SERVICE {endpoint}: only an endpoint IRI named with --allow-service can be called")
    for endpoint in sorted(set(map(str, endpoints))):
        if endpoint not in permitted:
            raise QueryError(
                f"SERVICE <{endpoint}> is not allowed (--allow-service names only {', '.join(sorted(permitted))})"
            )
