"""Hostile input and faults, run as a user would: exit status, the one-line message, what is left on disk.

Each test reproduces one way kg used to fail (a request made on a caller's behalf, a wrong answer
from a damaged cache, unbounded work on a hostile file, a worker or temporary file outliving a
killed command, a store left broken by a killed or concurrent load) and pins the behaviour now.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from test_remote import free_port, iter_lines_until, stop, wait_for

from conftest import ARTICLES

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- kg serve makes no request on a caller's behalf ------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A loopback listener standing for any address the user's machine can reach."""

    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def listener():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/internal-admin?a=1"
    server.shutdown()
    server.server_close()


def _serve(tmp_path: Path, cache_dir: Path, *options: str):
    port = free_port()
    env = {**os.environ, "KG_CACHE_DIR": str(cache_dir), "KG_DATA": str(ARTICLES), "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "kg", "serve", "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        start_new_session=True,
    )
    wait_for(f"http://127.0.0.1:{port}/query?query=ASK%7B%7D", process)
    banner = "".join(iter_lines_until(process.stdout, "Press Ctrl-C to stop."))
    return process, port, banner


def _post(port: int, query: str, origin: str = "https://evil.example"):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/query",
        data=urllib.parse.urlencode({"query": query}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/csv", "Origin": origin},
    )
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read().decode()


def test_serve_refuses_service_and_sends_no_cors_by_default(tmp_path, articles_kg, articles_cache_dir, listener):
    process, port, banner = _serve(tmp_path, articles_cache_dir)
    try:
        assert "SERVICE refused; no CORS." in banner
        status, headers, body = _post(port, f"SELECT * WHERE {{ SERVICE <{listener}> {{ ?s ?p ?o }} }}")
        assert (status, body) == (
            403,
            "SERVICE is not allowed: this endpoint answers from its own graphs only (kg serve --allow-service)\n",
        )
        # hidden in a GET parameter, lower case, SILENT: refused all the same
        get = f"http://127.0.0.1:{port}/query?query=" + urllib.parse.quote(
            f"select * {{ service silent <{listener}> {{ ?s ?p ?o }} }}"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            OPENER.open(get, timeout=30)
        assert refused.value.code == 403
        assert _Recorder.seen == []  # nothing reached the listener
        # a variable or a class named "service" is no SERVICE clause
        status, headers, body = _post(
            port, "PREFIX schema: <http://schema.org/> SELECT ?service WHERE { ?service a schema:Service }"
        )
        assert (status, body.splitlines()) == (200, ["service"])
        assert not any(key.lower().startswith("access-control-") for key in headers)
    finally:
        stop(process)


def test_serve_allow_service_and_cors_are_the_operators_choice(tmp_path, articles_kg, articles_cache_dir, listener):
    process, port, banner = _serve(tmp_path, articles_cache_dir, "--allow-service", "--cors", "https://yasgui.org")
    try:
        assert "SERVICE allowed (--allow-service); CORS for https://yasgui.org." in banner
        status, headers, _body = _post(port, f"SELECT * WHERE {{ SERVICE <{listener}> {{ ?s ?p ?o }} }}")
        assert _Recorder.seen == ["POST /internal-admin?a=1"]
        assert {k.lower(): v for k, v in headers.items()}["access-control-allow-origin"] == "https://yasgui.org"
    finally:
        stop(process)
