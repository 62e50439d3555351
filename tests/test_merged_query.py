"""kg query --with (other datasets and linksets in named graphs) and --allow-service (issue 4)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import DATA

LINK = DATA / "link"
STATISTICS = LINK / "statistics.ttl"
MERGED_QUERY = LINK / "funding-with-population.rq"
WITH = "https://w3id.org/battery-kg/graph/with/"


# The two-article fixture, reasoned once per session (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("articles_cache")


@pytest.fixture
def linkset(kg, tmp_path) -> Path:
    out = tmp_path / "statistics-links.ttl"
    assert kg("link", str(STATISTICS), "-o", str(out)).exit_code == 0
    return out


def test_merged_query_joins_our_funding_with_their_population(kg, linkset):
    result = kg("query", "--with", str(STATISTICS), "--with", str(linkset), str(MERGED_QUERY), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "city,population,funding",
        "https://w3id.org/battery-kg/id/daejeon,200000,88088000000",
        "https://w3id.org/battery-kg/id/gunsan,100000,36900000000",
    ]


def test_each_file_gets_its_own_named_graph_shown_with_verbose(kg, linkset):
    result = kg(
        "-v",
        "query",
        "--with",
        str(STATISTICS),
        "--with",
        str(linkset),
        "--format",
        "csv",
        "-e",
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
        f'FILTER(STRSTARTS(STR(?g), "{WITH}")) }} GROUP BY ?g ORDER BY ?g',
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "g,n",
        f"{WITH}statistics-links.ttl,37",
        f"{WITH}statistics.ttl,10",
    ]
    assert f"into graph <{WITH}statistics.ttl> (10 triples)" in result.stderr
    assert f"into graph <{WITH}statistics-links.ttl> (37 triples)" in result.stderr


def test_from_named_selects_one_with_graph(kg):
    result = kg(
        "query",
        "--with",
        str(STATISTICS),
        "--format",
        "csv",
        "-e",
        f"SELECT ?area ?n FROM NAMED <{WITH}statistics.ttl> WHERE {{ GRAPH ?g {{ "
        "?area <http://example.org/fixture/statistics/population> ?n } } ORDER BY ?area",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "area,n",
        "http://example.org/fixture/statistics/area-3000000000,200000",
        "http://example.org/fixture/statistics/area-5213000000,100000",
    ]


def test_two_files_with_one_name_are_refused(kg, tmp_path):
    other = tmp_path / "statistics.ttl"
    other.write_bytes(STATISTICS.read_bytes())
    result = kg("query", "--with", str(STATISTICS), "--with", str(other), "-e", "ASK { ?s ?p ?o }")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert f"would share the graph <{WITH}statistics.ttl>; rename one of them\n" in result.stderr


def test_links_to_entities_we_do_not_have_warn(kg, in_data_dir):
    result = kg(
        "query",
        "--with",
        "link/bad/dangling.ttl",
        "--format",
        "csv",
        "-e",
        "SELECT (COUNT(*) AS ?n) WHERE { ?s <http://www.w3.org/2004/02/skos/core#exactMatch> ?o }",
    )
    assert result.exit_code == 0
    assert "warning: link/bad/dangling.ttl links to 1 entities we do not have: kgd:no-such-place\n" in result.stderr


def test_not_rdf_with_file_is_a_one_line_error(kg, in_data_dir):
    result = kg("query", "--with", "link/bad/places.csv", "-e", "ASK { ?s ?p ?o }")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: link/bad/places.csv: unknown serialisation '.csv'")
    assert result.stderr.count("\n") == 1


# -- SERVICE ----------------------------------------------------------------------------

SERVICE_QUERY = "SELECT ?x WHERE {{ SERVICE <{url}> {{ ?x ?p ?o }} }} ORDER BY ?x"


class _Endpoint(BaseHTTPRequestHandler):
    """A tiny SPARQL endpoint on loopback that answers every query with two fixed rows."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        query = parse_qs(urlparse(self.path).query).get("query", [""])[0]
        type(self).seen.append(query)
        body = json.dumps(
            {
                "head": {"vars": ["x", "p", "o"]},
                "results": {
                    "bindings": [
                        {
                            "x": {"type": "uri", "value": f"http://example.org/fixture/remote/{n}"},
                            "p": {"type": "uri", "value": "http://example.org/fixture/remote/p"},
                            "o": {"type": "literal", "value": str(n)},
                        }
                        for n in (1, 2)
                    ]
                },
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    server = HTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Endpoint.seen = []
    yield f"http://127.0.0.1:{server.server_port}/sparql"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_service_is_refused_by_default(kg, endpoint, engine):
    result = kg("--engine", engine, "query", "-e", SERVICE_QUERY.format(url=endpoint))
    assert result.exit_code == 2
    assert result.stderr == "Error: query text: SERVICE is not allowed: kg queries only its own graphs, offline\n"
    assert _Endpoint.seen == []


def test_service_to_another_endpoint_is_refused(kg, endpoint):
    result = kg("query", "--allow-service", "http://127.0.0.1:9/other", "-e", SERVICE_QUERY.format(url=endpoint))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: query text: SERVICE <{endpoint}> is not allowed (--allow-service names only http://127.0.0.1:9/other)\n"
    )
    assert _Endpoint.seen == []


def test_service_allowed_to_the_named_loopback_endpoint(kg, endpoint):
    # --no-reasoning: the answer comes from the endpoint; no need to reason over our graph first
    result = kg(
        "query",
        "--no-reasoning",
        "--allow-service",
        endpoint,
        "--format",
        "csv",
        "-e",
        SERVICE_QUERY.format(url=endpoint),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "x",
        "http://example.org/fixture/remote/1",
        "http://example.org/fixture/remote/2",
    ]
    assert len(_Endpoint.seen) == 1
    # the permission ends with the command: the same query is refused again afterwards
    again = kg("--engine", "reference", "query", "--no-reasoning", "-e", SERVICE_QUERY.format(url=endpoint))
    assert again.exit_code == 2


def test_service_failure_is_one_line(kg):
    url = "http://127.0.0.1:9/sparql"  # discard port: nothing listens
    result = kg("query", "--no-reasoning", "--allow-service", url, "-e", SERVICE_QUERY.format(url=url))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: SERVICE call failed: ")
    assert result.stderr.count("\n") == 1
