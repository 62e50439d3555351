"""kg serve's query workers (kg.query_pool): answers, content negotiation, stopping and replacing workers."""

from __future__ import annotations

import contextlib
import time

import pyoxigraph as ox
import pytest

from kg.query_pool import QueryPool, Refused, Request, Stopped, negotiate

EX = "http://example.org/"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    location = tmp_path_factory.mktemp("pool") / "store"
    store = ox.Store(str(location))
    store.extend(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p"), ox.Literal(str(i)), ox.NamedNode(f"{EX}g"))
                 for i in range(300))  # fmt: skip
    store.flush()
    del store
    pool = QueryPool(location, size=1, seconds=2)
    yield pool
    pool.close()


def _read(pool: QueryPool, query: str, accept: str | None = "text/csv") -> tuple[str, bytes]:
    media, chunks = pool.answer(Request(query, accept=accept), time.monotonic() + pool.seconds)
    with contextlib.closing(chunks):
        return media, b"".join(chunks)


def test_answers_over_the_union_of_the_graphs_and_keeps_its_worker(pool):
    before = pool.pids()
    assert _read(pool, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{EX}p> ?o }}") == ("text/csv", b"n\r\n300\r\n")
    media, body = _read(pool, f"CONSTRUCT WHERE {{ <{EX}s7> ?p ?o }}", "text/turtle")
    assert media == "text/turtle" and {str(t) for t in ox.parse(body, format=ox.RdfFormat.TURTLE)} == {
        f'<{EX}s7> <{EX}p> "7"'
    }
    assert pool.pids() == before


def test_an_answer_left_unread_costs_its_worker_and_the_pool_stays_whole(pool):
    before = pool.pids()
    _media, chunks = pool.answer(Request(f"SELECT * WHERE {{ ?s <{EX}p> ?o }}"), time.monotonic() + 2)
    chunks.close()  # the client went away before reading
    assert len(pool.pids()) == 1 and pool.pids() != before
    assert _read(pool, "ASK { ?s ?p ?o }", "application/sparql-results+json") == (
        "application/sparql-results+json",
        b'{"head":{},"boolean":true}',
    )


def test_a_query_past_the_limit_is_stopped_and_its_worker_replaced(pool):
    before = pool.pids()
    with pytest.raises(Stopped):
        _read(pool, "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }")
    assert len(pool.pids()) == 1 and pool.pids() != before
    assert _read(pool, f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o }}")[1] == b"o\r\n1\r\n"


def test_bad_queries_and_unacceptable_formats_are_refused_with_a_status(pool):
    with pytest.raises(Refused) as bad:
        _read(pool, "SELECT * WHERE { ?s ?p }")
    assert bad.value.status == 400 and bad.value.message.startswith("the query is not valid SPARQL: error at 1:")
    with pytest.raises(Refused) as unacceptable:
        _read(pool, "ASK {}", "image/png")
    assert unacceptable.value.status == 406


@pytest.mark.parametrize(
    ("accept", "graph", "expected"),
    [
        (None, False, ("application/sparql-results+json", "JSON")),
        ("*/*", True, ("application/n-triples", "N_TRIPLES")),
        ("text/csv;q=0.5, application/sparql-results+xml", False, ("application/sparql-results+xml", "XML")),
        ("text/*", False, ("text/xml", "XML")),
        ("application/rdf+xml;q=0.9, text/turtle", True, ("text/turtle", "TURTLE")),
        ("text/turtle;q=0, application/ld+json", True, ("application/ld+json", "JSON_LD")),
    ],
)
def test_negotiation_follows_the_accept_header(accept, graph, expected):
    assert negotiate(accept, graph) == expected
