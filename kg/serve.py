"""Serve the reasoned graph over the SPARQL 1.1 Protocol with Oxigraph's own server.

We write no database and no HTTP server: kg writes the named graphs as N-Quads,
`oxigraph load` builds a store from them in a temporary folder, and
`oxigraph serve-read-only` answers queries (union of the graphs as the default graph,
CORS on, a query time limit). Oxigraph's server ships in the `oxigraph` wheel on PyPI,
which the `server` extra installs.
"""

from __future__ import annotations

import ctypes
import html
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import ServerError, UsageError
from kg.graph import KnowledgeGraph
from kg.paths import display
from kg.queries import QueryInfo
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
) -> Server:
    """Start Oxigraph read-only on `store` and return once it answers queries.

    The server runs in its own process group (a terminal's Ctrl-C reaches kg, which stops
    it in order), logs to `workdir`/server.log, and on Linux dies with kg.
    """
    log = workdir / "server.log"
    command = [
        binary,
        "serve-read-only",
        "--location",
        str(store),
        "--bind",
        f"{url_host(host)}:{port}",
        "--cors",
        "--union-default-graph",
        "--timeout-s",
        str(timeout),
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
    server = Server(process, f"http://{url_host(host)}:{port}/", log, temp)
    probe = f"http://{url_host(probe_host)}:{port}/query?query=" + urllib.parse.quote("ASK {}")
    deadline = time.monotonic() + READY_WITHIN
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        while True:
            if process.poll() is not None:
                raise ServerError(f"the SPARQL server did not start: {server.last_message()}")
            try:
                with opener.open(probe, timeout=2) as response:
                    if response.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"the SPARQL server did not answer within {READY_WITHIN:g} s on {host}:{port}")
            time.sleep(0.05)
    except BaseException:
        server.stop()
        raise


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


def banner(server: Server, what: str, queries: list[QueryInfo], index: Path, timeout: int) -> str:
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
    lines += ["", f"Queries stop after {timeout} s; updates are refused. Press Ctrl-C to stop."]
    return "\n".join(lines)
