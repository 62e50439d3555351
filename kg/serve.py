"""Serve the reasoned graph over the SPARQL 1.1 Protocol, with Oxigraph.

We write no database: kg writes the named graphs as N-Quads, `oxigraph load` builds a store
from them in a temporary folder, and `oxigraph serve-read-only` serves its query editor and the
store. Oxigraph's server ships in the `oxigraph` wheel on PyPI, which the `server` extra installs.

Callers reach it through `Gate`, a small HTTP front on the address the operator chose:
- Oxigraph evaluates SERVICE, so a query would make the machine fetch from any address it can
  reach, on behalf of whoever sent it (any web page, with CORS). The gate refuses every request
  whose query holds a SERVICE clause (unless the operator started kg serve with
  --allow-service) and sends CORS headers only for the origin the operator names (--cors).
- Queries are answered by kg.query_pool (pyoxigraph on the same store, read-only): a fixed
  number of processes, one killed and replaced when its query outlives the time limit.
  Oxigraph's own time limit keeps a sleeping thread per request for the whole limit.
- Everything else (the editor at /, the store, refused updates) is relayed to Oxigraph, which
  listens on a private loopback port only the gate talks to.
"""

from __future__ import annotations

import contextlib
import ctypes
import html
import http.client
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kg.engine import sparql_text
from kg.errors import LoadError, ServerError, UsageError
from kg.graph import KnowledgeGraph, damaged_store
from kg.paths import display
from kg.queries import QueryInfo
from kg.query_pool import QueryPool, Refused, Request, Stopped, StoreUnreadable, default_size
from kg.results import render_table

OXIGRAPH_ENV = "KG_OXIGRAPH"
INSTALL_HINT = "pip install 'battery-kg[server]'"
READY_WITHIN = 20.0  # seconds for the server to open its port


def find_oxigraph() -> str:
    """The `oxigraph` server binary: $KG_OXIGRAPH, else the one installed beside this Python, else on PATH."""
    explicit = os.environ.get(OXIGRAPH_ENV)
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise ServerError(f"{OXIGRAPH_ENV}={explicit}: not an executable file")
        return explicit
    name = "oxigraph.exe" if os.name == "nt" else "oxigraph"
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("oxigraph")
    if found:
        return found
    raise ServerError(f"kg serve needs Oxigraph's SPARQL server, which is not installed: {INSTALL_HINT}")


def store_of(kg: KnowledgeGraph, binary: str, temp: Path) -> tuple[Path, str]:
    """An Oxigraph store of `kg`'s graphs in `temp`, built by `oxigraph load` from its N-Quads; and what it holds."""
    nquads = temp / "graphs.nq"
    nquads.write_bytes(kg.write_rdf("nq"))
    location = temp / "store"
    build_store(binary, nquads, location)
    nquads.unlink()
    return location, f"the reasoned graph ({sum(kg.record.counts.values()):,} triples)"


def build_store(binary: str, nquads: Path, location: Path) -> None:
    """`oxigraph load` the N-Quads file into a new store folder."""
    result = subprocess.run(
        [binary, "load", "--location", str(location), "--file", str(nquads), "--format", "nq"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise ServerError(f"oxigraph load failed: {_last_line(result.stderr or result.stdout)}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass
class Server:
    """A running `oxigraph serve-read-only` child process."""

    process: subprocess.Popen
    base_url: str
    log: Path
    temp: Path | None = None  # removed on stop
    stopped: bool = field(default=False, repr=False)
    gate: Gate | None = field(default=None, repr=False)

    @property
    def query_url(self) -> str:
        return self.base_url + "query"

    def last_message(self) -> str:
        try:
            return _last_line(self.log.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return "(no message)"

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the server's process group, wait for it (SIGKILL after `grace` s), remove the temp folder."""
        if not self.stopped:
            self.stopped = True
            if self.gate is not None:
                self.gate.close()
            if self.process.poll() is None:
                _signal_group(self.process, signal.SIGTERM)
                try:
                    self.process.wait(grace)
                except subprocess.TimeoutExpired:
                    _signal_group(self.process, signal.SIGKILL)
                    self.process.wait()
        if self.temp is not None:
            shutil.rmtree(self.temp, ignore_errors=True)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, signum)
        else:  # pragma: no cover - Windows has no process groups of this kind
            process.terminate()
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux: if kg itself is killed (even with SIGKILL) the server gets SIGTERM, so nothing is left running.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start(
    binary: str,
    store: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 7878,
    timeout: int = 30,
    workdir: Path,
    temp: Path | None = None,
    allow_service: bool = False,
    cors: str | None = None,
) -> Server:
    """Start the query pool and Oxigraph read-only on `store`, behind a `Gate` on `host`:`port`;
    return once it answers queries.

    The server runs in its own process group (a terminal's Ctrl-C reaches kg, which stops
    it in order), logs to `workdir`/server.log, and on Linux dies with kg. Oxigraph itself
    listens on a free loopback port only the gate talks to.
    """
    log = workdir / "server.log"
    gate = Gate((host, port), allow_service=allow_service, cors=cors, timeout=timeout)
    try:
        gate.pool = QueryPool(store, size=default_size(), seconds=timeout)
    except StoreUnreadable as error:
        gate.server_close()
        raise LoadError(damaged_store(store, error)) from None
    except BaseException:
        gate.server_close()
        raise
    inner = _free_loopback_port()
    gate.upstream = ("127.0.0.1", inner)
    command = [
        binary,
        "serve-read-only",
        "--location",
        str(store),
        "--bind",
        f"127.0.0.1:{inner}",
        "--union-default-graph",
    ]
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=os.name == "posix",
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    server = Server(process, f"http://{url_host(host)}:{port}/", log, temp, gate=gate)
    gate.start()
    base = f"http://{url_host(probe_host)}:{port}/"
    # Ready when the query pool answers and Oxigraph (the editor at /, relayed) does too.
    probes = [base + "query?query=" + urllib.parse.quote("ASK {}"), base]
    deadline = time.monotonic() + READY_WITHIN
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        while True:
            if process.poll() is not None:
                raise ServerError(f"the SPARQL server did not start: {server.last_message()}")
            try:
                with opener.open(probes[0], timeout=2) as response:
                    if response.status == 200:
                        probes.pop(0)
                        if not probes:
                            return server
                        continue
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"the SPARQL server did not answer within {READY_WITHIN:g} s on {host}:{port}")
            time.sleep(0.05)
    except BaseException:
        server.stop()
        raise


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVICE_REFUSED = "SERVICE is not allowed: this endpoint answers from its own graphs only (kg serve --allow-service)"
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a query or form larger than this is refused (413)
BUFFERED_BYTES = 1024 * 1024  # answers up to this size are held until complete, so their status is true
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def service_in_request(target: str, body: bytes) -> bool:
    """Whether any text a request carries (URL parameters, the body, the body as a form) holds a SERVICE clause.

    Every candidate is read with kg's SPARQL tokeniser, so `?service`, `schema:Service` or the word
    inside a string or comment are not SERVICE; a request that hides one anywhere is refused whole.
    """
    candidates = [value for values in urllib.parse.parse_qs(urllib.parse.urlsplit(target).query).values()
                  for value in values]  # fmt: skip
    if body:
        text = body.decode("utf-8", errors="replace")
        candidates.append(text)
        candidates += [value for values in urllib.parse.parse_qs(text).values() for value in values]
    return any(sparql_text.service_endpoints(candidate, {}) for candidate in candidates)


class Gate(http.server.ThreadingHTTPServer):
    """The HTTP front of kg serve: checks each request, then relays it to Oxigraph and its answer back."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], *, allow_service: bool, cors: str | None, timeout: float = 30) -> None:
        host, port = address
        self.query_seconds = timeout
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.allow_service = allow_service
        self.cors = cors
        self.upstream: tuple[str, int] = ("127.0.0.1", 0)
        self.pool: QueryPool | None = None
        self.thread: threading.Thread | None = None
        try:
            super().__init__((host.strip("[]"), port), _GateHandler)
        except OSError as error:
            raise ServerError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.serve_forever, name="kg-serve-gate", daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.thread is not None:
            self.shutdown()
            self.thread = None
        self.server_close()
        if self.pool is not None:
            self.pool.close()


class _GateHandler(http.server.BaseHTTPRequestHandler):
    server: Gate
    protocol_version = "HTTP/1.1"
    server_version = "battery-kg"
    sys_version = ""

    def setup(self) -> None:
        self.timeout = self.server.query_seconds  # a client silent this long is dropped: idle sockets hold no thread
        super().setup()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet: Oxigraph logs requests
        pass

    def _refuse(self, status: int, message: str) -> None:
        body = (message + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self._cors_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def _cors_headers(self) -> None:
        if self.server.cors is not None:
            self.send_header("Access-Control-Allow-Origin", self.server.cors)
            if self.server.cors != "*":
                self.send_header("Vary", "Origin")

    def do_OPTIONS(self) -> None:  # noqa: N802 - CORS preflight, answered here
        self.send_response(204)
        self._cors_headers()
        if self.server.cors is not None:
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type, Accept")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802
        self._relay()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815 - Oxigraph refuses writes itself

    def _relay(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self._refuse(400, "bad Content-Length")
        if self.headers.get("Transfer-Encoding"):
            return self._refuse(411, "send the request body with a Content-Length")
        if length < 0 or length > MAX_REQUEST_BYTES:
            return self._refuse(413, f"the request is over {MAX_REQUEST_BYTES // 1048576} MB")
        body = self.rfile.read(length) if length else b""
        if not self.server.allow_service and service_in_request(self.path, body):
            return self._refuse(403, SERVICE_REFUSED)
        if urllib.parse.urlsplit(self.path).path == "/query":
            return self._query(body)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host", "origin"}}
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=None)
        try:
            upstream.request(self.command, self.path, body=body if length else None, headers=headers)
            response = upstream.getresponse()
        except (OSError, http.client.HTTPException) as error:
            upstream.close()
            return self._refuse(502, f"Oxigraph's server did not answer ({error}); see its log or restart kg serve")
        try:
            self._relay_answer(response)
        except (OSError, http.client.HTTPException):
            self.close_connection = True  # cut part way: no complete-looking answer
        finally:
            upstream.close()

    def _relay_answer(self, response: http.client.HTTPResponse) -> None:
        """Oxigraph's answer to anything but a query (its query editor, the store, refused updates)."""
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP and not key.lower().startswith("access-control-"):
                self.send_header(key, value)
        self._cors_headers()
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            while chunk := response.read1(1 << 16):
                self.wfile.write(chunk)

    def _query(self, body: bytes) -> None:
        """A SPARQL 1.1 Protocol query (GET, POST form or POST sparql-query), answered by the query pool.

        An answer that fits in BUFFERED_BYTES is held until complete, so its status tells the
        truth: stopped at the time limit, it is a 503 with one line. A longer one streams in
        chunks; if the limit stops it or it fails part way, the connection closes without the
        final chunk, so the client sees an incomplete answer rather than a complete-looking one.
        """
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if self.command in ("GET", "HEAD"):
            queries = params.get("query", [])
        elif self.command != "POST":
            return self._refuse(405, f"{self.command} is not a SPARQL query; use GET or POST")
        elif media == "application/x-www-form-urlencoded":
            form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
            params = {**params, **form}
            queries = params.get("query", [])
        elif media == "application/sparql-query":
            try:
                queries = [body.decode("utf-8")]
            except UnicodeDecodeError:
                return self._refuse(400, "the query is not UTF-8")
        else:
            return self._refuse(415, "POST a query as application/sparql-query or application/x-www-form-urlencoded")
        if "update" in params:
            return self._refuse(403, "updates are refused: this endpoint is read-only")
        if len(queries) != 1:
            return self._refuse(400, "give exactly one query (the query parameter, or the body of a sparql-query POST)")
        request = Request(
            queries[0],
            tuple(params.get("default-graph-uri", [])),
            tuple(params.get("named-graph-uri", [])),
            self.headers.get("Accept"),
        )
        seconds = self.server.query_seconds
        stopped = f"the query was stopped after {seconds:g} s (kg serve --timeout)"
        try:
            media, chunks = self.server.pool.answer(request, time.monotonic() + seconds)
        except Stopped:
            return self._refuse(503, stopped)
        except Refused as refused:
            return self._refuse(refused.status, refused.message)
        with contextlib.closing(chunks):
            head, ended = b"", True
            try:
                for chunk in chunks:
                    head += chunk
                    if len(head) > BUFFERED_BYTES:
                        ended = False
                        break
            except Stopped:
                return self._refuse(503, stopped)
            except Refused as refused:
                return self._refuse(refused.status, refused.message)
            self.send_response(200)
            self.send_header("Content-Type", media)
            self._cors_headers()
            self.send_header("Connection", "close")
            self.close_connection = True
            if ended:
                self.send_header("Content-Length", str(len(head)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(head)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                self._chunk(head)
                for chunk in chunks:
                    self._chunk(chunk)
            except (Stopped, Refused, OSError):
                return  # stopped, failed or the client left: no final chunk
            self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def check_store(location: Path) -> None:
    """Refuse a folder that is not an Oxigraph (RocksDB) store, before Oxigraph creates one there."""
    if not (location / "CURRENT").is_file():
        raise UsageError(f"--store {display(location)}: not an Oxigraph store (build one with `kg load --store DIR`)")


def editor_link(base_url: str, info: QueryInfo, text: str) -> str:
    """A link that opens `text` in a new tab of Oxigraph's YASGUI editor (it reads the URL fragment)."""
    fragment = urllib.parse.urlencode(
        {"query": text, "endpoint": base_url + "query", "requestMethod": "POST", "tabTitle": info.name}
    )
    return f"{base_url}#{fragment}"


def write_index(path: Path, base_url: str, queries: list[tuple[QueryInfo, str]]) -> None:
    """A static HTML page listing the named queries, each linking into the server's query editor.

    Oxigraph serves its own front page; this file stands in for the list it cannot show.
    """
    items = "\n".join(
        f'<li><a href="{html.escape(editor_link(base_url, info, text))}">{html.escape(info.name)}</a>'
        f" — {html.escape(info.title)}<br><small>{html.escape(info.purpose)}</small></li>"
        for info, text in queries
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>battery-kg named queries</title></head>\n'
        f"<body><h1>battery-kg named queries</h1>\n<p>SPARQL endpoint: <code>{html.escape(base_url)}query</code>"
        f" (read-only). Each link opens the query in the server's editor.</p>\n<ul>\n{items}\n</ul>\n"
        "</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")


def banner(
    server: Server,
    what: str,
    queries: list[QueryInfo],
    index: Path,
    timeout: int,
    *,
    allow_service: bool = False,
    cors: str | None = None,
) -> str:
    """What `kg serve` prints once the server answers: where to query, the named queries, examples."""
    example = next((info for info in queries if not any(not p.optional for p in info.params or ())), None)
    lines = [
        f"Serving {what} read-only with Oxigraph",
        f"  SPARQL endpoint  {server.query_url}",
        "                   graphs: one per data file (kgg:data/<path>), kgg:ontology, kgg:inferred; their union"
        " is the default graph",
        f"  query editor     {server.base_url}",
        f"  named queries    {index.as_uri()}  (each link opens the query in the editor)",
        "",
        render_table(["name", "title"], [[info.name, info.title] for info in queries]).rstrip("\n"),
        "",
        "Try:",
    ]
    if example is not None:
        lines += [
            f"  curl -H 'Accept: text/csv' --data-urlencode query@{example.path} {server.query_url}",
            f"  kg query {example.name} --endpoint {server.query_url}",
        ]
    service = "SERVICE allowed (--allow-service)" if allow_service else "SERVICE refused"
    origins = f"CORS for {cors}" if cors else "no CORS"
    lines += ["", f"Queries stop after {timeout} s; updates are refused; {service}; {origins}. Press Ctrl-C to stop."]
    return "\n".join(lines)
