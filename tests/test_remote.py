"""kg serve, kg push and kg query --endpoint against real servers (issue 7).

The servers are Oxigraph's own (the `oxigraph` wheel), started on free loopback ports and
always stopped by fixture finalizers, also when a test fails. The odd servers (down, slow,
answering HTML or an error) are tiny loopback sockets the tests start themselves.
"""

from __future__ import annotations

import base64
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD

from conftest import ARTICLES
from kg.cli import cli
from kg.engine import Answer, get_engine
from kg.namespaces import DATA_GRAPHS, KGD, KGG
from kg.queries import list_queries, parse_term, run
from kg.remote import GENID, bind_values, default_store_url, query
from kg.results import normalized
from kg.serve import find_oxigraph


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(url: str, process: subprocess.Popen, within: float = 90.0) -> None:
    """Poll until `url` answers 200; fail early if the process died. Generous: CI machines can be busy."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with opener.open(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} not ready within {within} s")


def iter_lines_until(stream, end: str):
    """Lines of `stream` up to and including the first that contains `end`."""
    for line in stream:
        yield line
        if end in line:
            return


def stop(process: subprocess.Popen) -> None:
    """Stop a server started in its own process group, whatever state it is in."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# -- fixtures: a real Oxigraph server, the two-article fixture pushed to it -----------------


@pytest.fixture(scope="module")
def oxigraph():
    """A writable in-memory Oxigraph server on a free loopback port: (query URL, port)."""
    port = free_port()
    process = subprocess.Popen(
        [find_oxigraph(), "serve", "--bind", f"127.0.0.1:{port}", "--union-default-graph"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", process)
        yield f"http://127.0.0.1:{port}/query", port
    finally:
        stop(process)
    assert not port_open(port)


@pytest.fixture(scope="module")
def pushed(oxigraph, articles_cache_dir: Path, articles_kg) -> str:
    """The fixture's graphs pushed once to the module's Oxigraph; returns its query URL and kg push's output."""
    from click.testing import CliRunner

    endpoint, _port = oxigraph
    env = {
        "KG_CACHE_DIR": str(articles_cache_dir),
        "KG_DATA": str(ARTICLES),
        "KG_ENDPOINT_USER": None,
        "KG_ENDPOINT_PASSWORD": None,
    }
    result = CliRunner(env=env).invoke(
        cli, ["--engine", "reference", "push", "--endpoint", endpoint], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return endpoint, result.stdout


@pytest.fixture(scope="module")
def local_dataset(articles_kg):
    return articles_kg.rdflib


def _cases() -> list[tuple[str, dict[str, str]]]:
    """Every named query, without params when it can run so, and with the example values its header gives."""
    cases = []
    for info in list_queries():
        params = info.params or ()
        if not any(not p.optional for p in params):
            cases.append((info.name, {}))
        examples = {p.name: re.search(r"e\.g\.\s*(\S+?),?(\s|$)", p.description) for p in params}
        if params and all(examples.values()):
            cases.append((info.name, {name: match.group(1) for name, match in examples.items()}))
    return cases


CASES = _cases()


def test_cases_cover_every_named_query() -> None:
    assert {name for name, _ in CASES} == {info.name for info in list_queries()}
    assert len(CASES) > len(list_queries())  # some with params too


def comparable(answer: Answer) -> tuple:
    """Rows with numbers compared by value (engines write 1.0 or 1.00 alike) and blank nodes by position."""
    answer = normalized(answer)

    def term(t):
        if isinstance(t, Literal) and t.datatype in (XSD.decimal, XSD.integer, XSD.double) and not t.ill_typed:
            return ("number", Decimal(str(t.toPython())))
        if isinstance(t, Literal) and t.datatype == XSD.string:
            return Literal(str(t))
        return t

    return answer.kind, answer.variables, [tuple(term(t) for t in row) for row in answer.rows], answer.boolean


# -- kg push + kg query --endpoint ------------------------------------------------------------


def test_push_reports_each_graph_and_the_store_agrees(pushed, articles_kg) -> None:
    _endpoint, output = pushed
    # Each data file's graph, the ontology, the inferences, and which source each file's graph is from.
    sizes = {
        f"<{DATA_GRAPHS}{name.stem}>": len(articles_kg.graph(URIRef(DATA_GRAPHS + name.stem)))
        for name in ARTICLES.glob("*.ttl")
    }
    sizes |= {
        "kgg:ontology": len(articles_kg.ontology),
        "kgg:inferred": len(articles_kg.inferred),
        "kgg:provenance": len(articles_kg.provenance),
    }
    assert sum(sizes.values()) == sum(len(t) for t in articles_kg.source_graphs().values())
    rows = {
        line.split()[0]: [int(n.replace(",", "")) for n in line.split()[1:]]
        for line in output.splitlines()
        if line.startswith(("kgg:", "<"))
    }
    assert {name: (row[0], row[2]) for name, row in rows.items()} == {n: (s, s) for n, s in sizes.items()}
    assert output.startswith(f"Pushed to {_endpoint[: -len('query')]}store\n")


def test_blank_nodes_stay_shared_between_pushed_graphs(pushed) -> None:
    """A grant's amount is a blank node of kgg:data that kgg:inferred types: after the push they are one node."""
    endpoint, _ = pushed
    text = (Path(__file__).parent / "data" / "remote" / "shared-amounts.rq").read_text(encoding="utf-8")
    answer = query(endpoint, text, "SELECT", timeout=10)
    assert answer.rows, "the fixture has blank-node amounts in the data and the inferred graphs"
    assert all(isinstance(row[0], BNode) for row in answer.rows)  # genid IRIs come back as blank nodes


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}{'+' if p else ''}" for n, p in CASES])
def test_named_query_answers_the_same_remotely(pushed, local_dataset, name: str, params: dict[str, str]) -> None:
    endpoint, _ = pushed
    engine = get_engine("reference")
    bindings = {key: parse_term(value) for key, value in params.items()}
    local = run(name, local_dataset, engine=engine, **bindings)
    from kg.queries import bind_query

    bound = bind_query(name, engine=engine, **bindings)
    remote = query(
        endpoint,
        bind_values(bound.prepared.text, bound.bindings),
        bound.prepared.kind,
        ordered=bound.prepared.ordered,
        timeout=20,
    )
    assert remote.ordered == local.ordered
    assert comparable(remote) == comparable(local)
    # entity may answer nothing; the fixture records no conflict (tests/data/conflict does: test_named_queries).
    if local.kind == "SELECT" and name not in ("entity", "conflicts"):
        assert local.rows, f"{name} should answer something on the fixture"


@pytest.mark.parametrize("fmt", ["table", "csv", "tsv", "json", "xml"])
def test_cli_output_formats_are_identical(pushed, articles_cache, kg, fmt: str) -> None:
    endpoint, _ = pushed
    local = kg("--engine", "reference", "query", "funding-by-level", "--format", fmt)
    remote = kg("query", "funding-by-level", "--format", fmt, "--endpoint", endpoint)
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout
    assert "Jeonbuk State" in remote.stdout or "jeonbuk-state" in remote.stdout


def test_cli_ask_and_construct_over_endpoint(pushed, articles_cache, kg) -> None:
    endpoint, _ = pushed
    ask = "PREFIX kgd: <https://w3id.org/battery-kg/id/> ASK { kgd:gunsan ?p ?o }"
    assert kg("query", "-e", ask, "--endpoint", endpoint).stdout == "true\n"
    construct = (Path(__file__).parent / "data" / "remote" / "construct-labels.rq").as_posix()
    local = kg("--engine", "reference", "query", construct, "--format", "ttl")
    remote = kg("query", construct, "--format", "ttl", "--endpoint", endpoint)
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout
    graph = Graph().parse(data=remote.stdout, format="turtle")
    assert len(graph) > 10


def test_param_text_cannot_escape_the_values_block(pushed, articles_cache, kg) -> None:
    endpoint, _ = pushed
    # A CURIE may hold > and }: refused before anything is sent.
    result = kg("query", "entity", "-p", "entity=kgd:x>}", "--endpoint", endpoint)
    assert result.exit_code == 2
    last = result.stderr.splitlines()[-1]  # rdflib may warn about the IRI first
    assert last.startswith("Error: --param entity: <https://w3id.org/battery-kg/id/x>}> is not a valid IRI")
    # Quotes, braces and newlines in a literal are escaped, so the query still means what it says.
    tricky = '"x\\" } } ; DROP ALL # \\n"'
    text = bind_values("SELECT ?o WHERE { ?s ?p ?o }", {"o": parse_term(tricky)})
    assert text == 'SELECT ?o WHERE { VALUES (?o) { ("x\\" } } ; DROP ALL # \\n") }\n ?s ?p ?o }'
    answer = query(endpoint, text, "SELECT", timeout=10)
    assert answer.rows == []
    assert query(endpoint, "ASK { ?s ?p ?o }", "ASK", timeout=10).boolean is True  # nothing was dropped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the CONSTRUCT template is skipped; VALUES opens the WHERE group
        (
            "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
            "CONSTRUCT { ?s ?p ?o } WHERE { VALUES (?s) { (<urn:a>) }\n ?s ?p ?o }",
        ),
        # braces in comments, strings and SELECT expressions are not the WHERE group
        (
            "# { not this\nSELECT ?s (EXISTS { ?s ?p 1 } AS ?e) { ?s ?q '{' }",
            "# { not this\nSELECT ?s (EXISTS { ?s ?p 1 } AS ?e) { VALUES (?s) { (<urn:a>) }\n ?s ?q '{' }",
        ),
        # a sub-SELECT must stay alone in its group, so it is wrapped
        (
            "SELECT * WHERE { SELECT ?s { ?s ?p ?o } }",
            "SELECT * WHERE { VALUES (?s) { (<urn:a>) } { SELECT ?s { ?s ?p ?o } } }",
        ),
    ],
)
def test_bind_values_places_the_block(text: str, expected: str) -> None:
    bound = bind_values(text, {"s": URIRef("urn:a")})
    assert bound.rstrip() == expected.rstrip()
    get_engine("reference").prepare(bound)  # still valid SPARQL


def test_bind_values_refuses_the_short_construct_form() -> None:
    from kg.errors import QueryError

    with pytest.raises(QueryError, match="short form CONSTRUCT WHERE"):
        bind_values("CONSTRUCT WHERE { ?s ?p ?o }", {"s": URIRef("urn:a")})


def test_linkset_goes_into_its_own_graph(oxigraph, articles_cache, kg, tmp_path: Path) -> None:
    endpoint, _ = oxigraph
    linkset = tmp_path / "wikidata-links.ttl"
    linkset.write_text(
        "# fixture: two made-up links, not real identifiers\n"
        "<https://w3id.org/battery-kg/id/fixture-a> <http://www.w3.org/2002/07/owl#sameAs> <urn:fixture:1> .\n"
        "<https://w3id.org/battery-kg/id/fixture-b> <http://www.w3.org/2002/07/owl#sameAs> _:x .\n",
        encoding="utf-8",
    )
    result = kg("--engine", "reference", "push", "--endpoint", endpoint, "--linkset", str(linkset))
    assert result.exit_code == 0, result.output
    assert re.search(r"^<https://w3id.org/battery-kg/graph/links/wikidata-links>\s+2\s+\S+\s+2$", result.stdout, re.M)
    text = "SELECT ?s ?o WHERE { GRAPH <https://w3id.org/battery-kg/graph/links/wikidata-links> { ?s ?p ?o } }"
    rows = query(endpoint, text, "SELECT", timeout=10).rows
    assert sorted(str(s) for s, _o in rows) == [str(KGD["fixture-a"]), str(KGD["fixture-b"])]
    assert {type(o) for _s, o in rows} == {URIRef, BNode}


def test_default_store_urls() -> None:
    assert default_store_url("http://h:7878/query") == "http://h:7878/store"
    assert default_store_url("http://h:7878") == "http://h:7878/store"
    assert default_store_url("http://h:3030/ds/sparql") == "http://h:3030/ds/data"
    assert default_store_url("http://h:7200/repositories/kg") == "http://h:7200/repositories/kg/rdf-graphs/service"


# -- errors: down, slow, HTML, HTTP errors ----------------------------------------------------


def test_endpoint_down(kg) -> None:
    port = free_port()  # bound and closed again: nothing listens there
    result = kg("query", "timeline", "--endpoint", f"http://127.0.0.1:{port}/query", "--timeout", "2")
    assert result.exit_code == 2
    assert result.stderr == f"Error: cannot reach http://127.0.0.1:{port}/query: Connection refused\n"


@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_endpoint_slow(kg, silent_server: int) -> None:
    url = f"http://127.0.0.1:{silent_server}/query"
    started = time.monotonic()
    result = kg("query", "timeline", "--endpoint", url, "--timeout", "1")
    elapsed = time.monotonic() - started
    assert result.exit_code == 2
    assert result.stderr == f"Error: {url} did not answer within 1 s\n"
    assert elapsed < 20  # sanity bound against a hang, not a benchmark


class _Canned(http.server.BaseHTTPRequestHandler):
    """Answers every request with the class's canned status, type and body; remembers the headers."""

    status, content_type, body = 200, "text/html", b"<html><body>hello</body></html>"
    seen: list[dict[str, str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).seen.append(dict(self.headers))
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_POST = do_PUT = do_GET = _answer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def canned():
    """A loopback HTTP server answering with whatever the test sets on the returned handler class."""
    handler = type("Handler", (_Canned,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_response_that_is_not_sparql_results(kg, canned) -> None:
    handler, base = canned
    result = kg("query", "timeline", "--endpoint", f"{base}/")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {base}/ answered with text/html, not SPARQL results — is this the query URL "
        "(Oxigraph: /query, Fuseki: /DATASET/query)?\n"
    )


def test_http_error_shows_status_and_first_line(kg, canned) -> None:
    handler, base = canned
    handler.status, handler.content_type = 400, "text/plain"
    handler.body = b"Parser error at line 3: unexpected token\nmore detail\n"
    result = kg("query", "timeline", "--endpoint", f"{base}/query")
    assert result.exit_code == 2
    expected = f"Error: {base}/query answered HTTP 400 Bad Request: Parser error at line 3: unexpected token\n"
    assert result.stderr == expected


def test_credentials_from_environment_and_netrc(kg, canned, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    handler, base = canned
    handler.content_type, handler.body = "application/sparql-results+json", b'{"head": {}, "boolean": true}'
    ask = "ASK { ?s ?p ?o }"
    monkeypatch.setenv("KG_ENDPOINT_USER", "fixture-user")
    monkeypatch.setenv("KG_ENDPOINT_PASSWORD", "fixture-secret")
    assert kg("query", "-e", ask, "--endpoint", f"{base}/query").stdout == "true\n"
    monkeypatch.delenv("KG_ENDPOINT_USER")
    monkeypatch.delenv("KG_ENDPOINT_PASSWORD")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-secret\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert kg("query", "-e", ask, "--endpoint", f"{base}/query").stdout == "true\n"
    sent = [h.get("Authorization") for h in handler.seen]
    assert sent == [
        "Basic " + base64.b64encode(b"fixture-user:fixture-secret").decode(),
        "Basic " + base64.b64encode(b"netrc-user:netrc-secret").decode(),
    ]


def test_no_command_takes_credentials_on_the_command_line() -> None:
    def options(command):
        for param in command.params:
            yield from param.opts
        for sub in getattr(command, "commands", {}).values():
            yield from options(sub)

    names = list(options(cli))
    assert "--endpoint" in names and "--store-endpoint" in names
    assert not [n for n in names if re.search(r"pass|secret|token|user|cred|auth", n, re.I)]


# -- kg serve, driven as a real subprocess ------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, articles_cache_dir: Path, articles_kg):
    """`kg serve --port P` as a child process with its own TMPDIR; yields (process, port, tmpdir)."""
    port = free_port()
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **os.environ,
        "KG_CACHE_DIR": str(articles_cache_dir),
        "KG_DATA": str(ARTICLES),
        "TMPDIR": str(temp),
        "KG_ENGINE": "reference",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kg", "serve", "--port", str(port), "--timeout", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", process)
        # What a user sees once it is ready: read up to the banner's last line, so a busy machine
        # cannot deliver the test's Ctrl-C before kg has printed it.
        banner = "".join(iter_lines_until(process.stdout, "Press Ctrl-C to stop."))
        yield process, port, temp, banner
    finally:
        stop(process)
        process.stdout.close()
        process.stderr.close()


def _listening_address(port: int) -> str | None:
    """The local address a TCP socket listens on for `port`, from /proc/net/tcp (Linux)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            return socket.inet_ntoa(bytes.fromhex(address)[::-1])
    return None


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp")
def test_serve_answers_sparqlwrapper_refuses_updates_and_stops_cleanly(served, local_dataset) -> None:
    from SPARQLWrapper import CSV, JSON, TSV, XML, SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import EndPointInternalError, QueryBadFormed, SPARQLWrapperException

    process, port, temp, banner = served
    url = f"http://127.0.0.1:{port}/query"
    assert _listening_address(port) == "127.0.0.1"  # loopback only by default

    text = (Path(__file__).resolve().parents[1] / "queries" / "funding-by-level.rq").read_text(encoding="utf-8")
    local = normalized(run("funding-by-level", local_dataset, engine=get_engine("reference")))
    expected = [(str(r[0]), str(r[1] or ""), int(r[2]), int(r[3])) for r in local.rows]
    assert len(expected) == 5

    client = SPARQLWrapper(url)
    client.setQuery(text)
    client.setMethod("POST")
    client.setReturnFormat(JSON)
    bindings = client.query().convert()["results"]["bindings"]
    got = [
        (b["region"]["value"], b.get("level", {}).get("value", ""), int(b["totalWon"]["value"]),
         int(b["initiatives"]["value"]))
        for b in bindings
    ]  # fmt: skip
    assert got == expected

    client.setReturnFormat(XML)
    document = client.query().convert()  # an xml.dom Document
    values = [
        int(binding.getElementsByTagName("literal")[0].firstChild.data)
        for binding in document.getElementsByTagName("binding")
        if binding.getAttribute("name") == "totalWon"
    ]
    assert values == [row[2] for row in expected]

    client.setReturnFormat(CSV)
    csv_lines = client.query().convert().decode("utf-8").splitlines()
    assert csv_lines[0] == "region,level,totalWon,initiatives"
    assert [line.split(",")[0] for line in csv_lines[1:]] == [row[0] for row in expected]

    client.setReturnFormat(TSV)
    tsv_lines = client.query().convert().decode("utf-8").splitlines()
    assert tsv_lines[0] == "?region\t?level\t?totalWon\t?initiatives"
    assert [line.split("\t")[0] for line in tsv_lines[1:]] == [f"<{row[0]}>" for row in expected]

    # Updates are refused: through the update endpoint and through the Graph Store Protocol.
    writer = SPARQLWrapper(url, updateEndpoint=f"http://127.0.0.1:{port}/update")
    writer.setMethod("POST")
    writer.setQuery("INSERT DATA { <urn:fixture:s> <urn:fixture:p> <urn:fixture:o> }")
    with pytest.raises((SPARQLWrapperException, EndPointInternalError, QueryBadFormed, Exception)) as refused:
        writer.query()
    assert "403" in str(refused.value) or "Forbidden" in str(refused.value)
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    put = urllib.request.Request(
        f"http://127.0.0.1:{port}/store?graph=urn:fixture:g",
        data=b"<urn:fixture:s> <urn:fixture:p> <urn:fixture:o> .\n",
        headers={"Content-Type": "application/n-triples"},
        method="PUT",
    )
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        opener.open(put, timeout=5)
    assert forbidden.value.code == 403
    client.setQuery("ASK { <urn:fixture:s> ?p ?o }")
    client.setReturnFormat(JSON)
    assert client.query().convert()["boolean"] is False

    assert any(temp.iterdir())  # the temporary store exists while serving...
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0  # generous: a loaded 2-core CI machine is slow to stop a server
    stdout = banner + process.stdout.read()
    assert f"  SPARQL endpoint  {url}\n" in stdout
    assert "funding-by-level" in stdout and "Press Ctrl-C to stop." in stdout
    assert process.stderr.read() == "Stopped.\n"
    assert not port_open(port)
    assert list(temp.iterdir()) == []  # ...and is gone afterwards


def test_serve_sigterm_stops_too(served) -> None:
    process, port, temp, _banner = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0  # generous: a loaded 2-core CI machine is slow to stop a server
    assert not port_open(port)
    assert list(temp.iterdir()) == []


def test_serve_without_oxigraph_says_how_to_install(kg, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import kg.serve as serving

    monkeypatch.setattr(serving.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setattr(serving.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(serving.shutil, "which", lambda name: None)
    result = kg("serve")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: kg serve needs Oxigraph's SPARQL server, which is not installed: pip install 'battery-kg[server]'\n"
    )


def test_serve_warns_before_listening_beyond_loopback(kg, articles_cache, monkeypatch, tmp_path: Path) -> None:
    """With a stand-in binary that fails at once, nothing listens; the warning still comes first."""
    fake = tmp_path / "oxigraph"
    fake.write_text("#!/bin/sh\necho 'fixture: refusing to run' >&2\nexit 3\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("KG_OXIGRAPH", str(fake))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    result = kg("--engine", "reference", "serve", "--host", "0.0.0.0", "--port", "7999")
    assert result.exit_code == 2
    assert result.stderr == (
        "warning: listening on 0.0.0.0: anyone who can reach this machine on port 7999 can query the graph "
        "(read-only)\nError: oxigraph load failed: fixture: refusing to run\n"
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("kg-serve-")] == []


def test_serve_help_defaults_to_loopback(kg) -> None:
    result = kg("serve", "--help")
    assert re.search(r"--host TEXT\s+Address to listen on\..*\[default:\s+127\.0\.0\.1\]", result.stdout, re.S)
    assert "updates are refused" in result.stdout.lower().replace("\n", " ") or "Updates are refused" in result.stdout


def test_genid_prefix_is_ours() -> None:
    assert GENID.startswith(str(KGG).rsplit("/graph/", 1)[0])


@pytest.mark.parametrize("extra", [["--with", "README.md"], ["--allow-service", "http://127.0.0.1:9/q"]])
def test_endpoint_queries_refuse_local_only_options(extra):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["query", "timeline", "--endpoint", "http://127.0.0.1:9/query", *extra])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --with and --allow-service apply to local queries; a remote --endpoint uses its own data\n"
    )
