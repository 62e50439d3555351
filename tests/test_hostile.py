"""Hostile input and faults, run as a user would: exit status, the one-line message, what is left on disk.

Each test reproduces one way kg used to fail (a request made on a caller's behalf, a wrong answer
from a damaged cache, unbounded work on a hostile file, a worker or temporary file outliving a
killed command, a store left broken by a killed or concurrent load) and pins the behaviour now.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyoxigraph
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


def _post(port: int, query: str, origin: str = "https://evil.example", accept: str = "text/csv"):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/query",
        data=urllib.parse.urlencode({"query": query}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": accept, "Origin": origin},
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


# -- a damaged reasoning cache is rebuilt, never read ---------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [lambda raw: b"", lambda raw: b"".join(raw.splitlines(keepends=True)[: raw.count(b"\n") // 2])],
    ids=["emptied", "cut-at-a-line-boundary"],
)
def test_damaged_cache_gives_the_right_answer_with_a_warning(kg, articles_cache, tmp_path, monkeypatch, damage):
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(articles_cache, cache)
    monkeypatch.setenv("KG_CACHE_DIR", str(cache))
    query = ["query", "--format", "csv", "-e", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"]
    stats, count = kg("stats"), kg(*query)
    assert stats.exit_code == 0 and count.exit_code == 0 and stats.stderr == ""
    for closure in cache.glob("*.nq"):
        closure.write_bytes(damage(closure.read_bytes()))
    again = kg("stats")
    assert again.exit_code == 0
    assert again.stdout == stats.stdout  # not 0 ontology triples
    (warning,) = again.stderr.splitlines()
    assert warning.startswith("warning: ignoring damaged reasoning cache ")
    assert warning.endswith(".nq (its checksum does not match); rebuilding")
    rebuilt = kg(*query)  # the rebuilt cache is whole: no warning, the same answer
    assert (rebuilt.exit_code, rebuilt.stdout, rebuilt.stderr) == (0, count.stdout, "")


# -- every input path: no entity expansion, regular files only, the size limit ---------------------

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
  <!ENTITY a "ha">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
  <rdf:Description rdf:about="https://example.org/laughs">
    <rdfs:label>&c;</rdfs:label>
  </rdf:Description>
</rdf:RDF>
"""
REFUSED_DTD = (
    "Error: laughs.rdf, line 2: a DOCTYPE declaring entities is refused (expanding them can take minutes and"
    " gigabytes) — remove the DOCTYPE; RDF/XML needs none"
)


def _every_reader(name: str, out: Path) -> list[list[str]]:
    """The four ways a user hands kg a file: as the data, to validate, as --with, to link."""
    return [
        ["--data", name, "validate"],
        ["validate", name],
        ["query", "--with", name, "-e", "ASK { ?s ?p ?o }"],
        ["link", name, "-o", str(out)],
    ]


def _one_error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    (line,) = result.stderr.splitlines()
    return line


def test_xml_entities_are_refused_on_every_input_path(kg, articles_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "laughs.rdf").write_text(LAUGHS, encoding="utf-8")
    for args in _every_reader("laughs.rdf", tmp_path / "links.ttl"):
        assert _one_error(kg(*args)) == REFUSED_DTD, args
    # in UTF-16 too
    (tmp_path / "laughs.rdf").write_bytes(LAUGHS.replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
                                          .encode("utf-16"))  # fmt: skip
    assert _one_error(kg("validate", "laughs.rdf")) == REFUSED_DTD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["laughs.rdf"]  # no linkset, no temporary file


@pytest.mark.parametrize(
    ("make", "shown", "kind"),
    [
        (lambda path: os.mkfifo(path), ["odd.ttl"] * 4, "a named pipe"),
        # every input named as the user gave it, links kept
        (lambda path: path.symlink_to("/dev/zero"), ["odd.ttl"] * 4, "a device"),
    ],
    ids=["fifo", "symlink-to-dev-zero"],
)
def test_only_regular_files_are_read_on_every_input_path(kg, articles_cache, tmp_path, monkeypatch, make, shown, kind):
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "odd.ttl")
    lines = [_one_error(kg(*args)) for args in _every_reader("odd.ttl", tmp_path / "links.ttl")]
    assert lines == [f"Error: {name}: {kind}, not a regular file — kg reads only regular files" for name in shown]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.ttl"]


def test_the_size_limit_holds_on_every_input_path(kg, articles_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KG_MAX_INPUT_MB", "1")
    line = '<https://example.org/x> <http://www.w3.org/2000/01/rdf-schema#label> "' + "x" * 1000 + '" .\n'
    (tmp_path / "big.ttl").write_text(line * 2100, encoding="utf-8")
    for args in _every_reader("big.ttl", tmp_path / "links.ttl"):
        assert _one_error(kg(*args)) == (
            "Error: big.ttl: 2 MB is over the 1 MB limit for one input file (parsing would take minutes) — "
            "split it, or raise the limit with KG_MAX_INPUT_MB=<megabytes>"
        ), args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.ttl"]


# -- deep nesting and long lists: read in bounded time, or one line past the documented depth ------

EX = "@prefix ex: <http://example.org/> .\n"


def _nested_turtle(levels: int) -> str:
    return EX + "ex:a ex:p " + "[ ex:p " * levels + "ex:z" + " ]" * levels + " .\n"


def _nested_jsonld(levels: int) -> str:
    inner = '"@id": "http://example.org/z"'
    return '{"@id": "http://example.org/a", ' + '"http://example.org/p": {' * levels + inner + "}" * levels + "}"


TOO_DEEP_JSONLD = (
    "Error: deep.jsonld: nested deeper than kg reads with rdflib (more than about 100 levels) — "
    "give the inner node objects an @id and list them at the top level instead"
)


def test_deep_json_ld_is_one_line_on_every_input_path(kg, articles_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.jsonld").write_text(_nested_jsonld(5000), encoding="utf-8")
    for args in _every_reader("deep.jsonld", tmp_path / "links.ttl"):
        assert _one_error(kg(*args)) == TOO_DEEP_JSONLD, args
    assert _one_error(kg("--engine", "reference", "--data", "deep.jsonld", "query", "-e", "ASK {}")) == TOO_DEEP_JSONLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.jsonld"]


def test_deep_turtle_is_one_line_on_the_reference_engine_and_read_by_the_fast_one(kg, articles_cache, tmp_path,
                                                                                  monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.ttl").write_text(_nested_turtle(20_000), encoding="utf-8")
    assert _one_error(kg("--engine", "reference", "--data", "deep.ttl", "query", "-e", "ASK {}")) == (
        "Error: deep.ttl: nested deeper than kg reads with rdflib (more than about 100 levels) — label the inner "
        "nodes (_:b1 ex:p _:b2 .) instead of nesting [ ] or ( ), or use --engine fast (Oxigraph reads Turtle at "
        "any depth)"
    )
    depth = "SELECT (COUNT(?n) AS ?levels) WHERE { <http://example.org/a> ex:p+ ?n FILTER isBlank(?n) }"
    depth = "PREFIX ex: <http://example.org/> " + depth
    for args in (["--data", "deep.ttl", "query"], ["query", "--with", "deep.ttl"]):
        result = kg(*args, "-e", depth, "--format", "csv")
        assert (result.exit_code, result.stdout.split()) == (0, ["levels", "20000"]), args
    # written back with labels that depend only on the graph (not RDFC-1.0: it would take hours here)
    construct = "CONSTRUCT { ?s <http://example.org/p> ?o } WHERE { ?s <http://example.org/p> ?o }"
    for name in ("one.ttl", "two.ttl"):
        assert kg("--data", "deep.ttl", "query", "-e", construct, "-o", name).exit_code == 0
    assert (tmp_path / "one.ttl").read_bytes() == (tmp_path / "two.ttl").read_bytes()
    assert len(list(pyoxigraph.parse(path=str(tmp_path / "one.ttl"), format=pyoxigraph.RdfFormat.TURTLE))) == 20_001


def test_the_documented_depth_is_read_by_the_reference_engine_as_a_user_runs_it(tmp_path, articles_cache_dir):
    (tmp_path / "deep.ttl").write_text(_nested_turtle(100), encoding="utf-8")
    (tmp_path / "deep.jsonld").write_text(_nested_jsonld(100), encoding="utf-8")
    env = {**os.environ, "KG_CACHE_DIR": str(tmp_path / "cache"), "KG_DATA": str(tmp_path / "none")}
    for name, statements in (("deep.ttl", "101"), ("deep.jsonld", "100")):
        done = subprocess.run(
            [sys.executable, "-m", "kg", "--engine", "reference", "--no-validate", "--data", name, "query", "-e",
             "SELECT (COUNT(*) AS ?n) WHERE { ?s <http://example.org/p> ?o }", "--format", "csv"],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert (done.returncode, done.stdout.split(), done.stderr) == (0, ["n", statements], ""), name


def test_a_long_list_in_the_data_is_data_not_schema(kg, articles_cache, tmp_path, monkeypatch):
    """A list no axiom refers to stays out of the schema closure: kg.engine.rules.schema_mask."""
    from rdflib import Graph, URIRef

    from kg.engine import rules

    items = " ".join(f'"{i}"' for i in range(3))
    graph = Graph().parse(data=EX + f"ex:a ex:p ( {items} ) . ex:C <http://www.w3.org/2002/07/owl#unionOf> "
                          "( ex:D ex:E ) .", format="turtle")  # fmt: skip
    terms = rules.Interner(URIRef, lambda t: str(t) if isinstance(t, URIRef) else None, lambda t: False)
    rows = terms.encode(sorted(graph))
    schema = {tuple(t) for t in terms.decode(rows[rules.schema_mask(rows, terms)])}
    lists = {(s, p, o) for s, p, o in graph if str(p).endswith(("#first", "#rest"))}
    union = {t for t in lists if _in_list_of(graph, t[0], "C")}
    assert (len(lists), len(union)) == (10, 4)
    assert schema & lists == union
    monkeypatch.chdir(tmp_path)
    (tmp_path / "long.ttl").write_text(EX + "ex:a ex:p ( " + " ".join(f'"{i}"' for i in range(50_000)) + " ) .\n",
                                       encoding="utf-8")  # fmt: skip
    items = "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> PREFIX ex: <http://example.org/> " \
        "SELECT (COUNT(?item) AS ?n) WHERE { ex:a ex:p/rdf:rest*/rdf:first ?item }"  # fmt: skip
    result = kg("--data", "long.ttl", "query", "--format", "csv", "-e", items)
    assert (result.exit_code, result.stdout.split()) == (0, ["n", "50000"])


def _in_list_of(graph, cell, owner: str) -> bool:
    from rdflib import RDF, URIRef

    head = graph.value(URIRef("http://example.org/" + owner), URIRef("http://www.w3.org/2002/07/owl#unionOf"))
    node = head
    while node is not None and node != RDF.nil:
        if node == cell:
            return True
        node = graph.value(node, RDF.rest)
    return False


# Every command that reads the data, with a hostile file given as the data, beside it, or on stdin.
READING_COMMANDS = [
    ["query", "-e", "ASK {}"],
    ["validate"],
    ["reason", "-o", "out.ttl"],
    ["stats"],
    ["analyze"],
    ["export", "--format", "graphml", "-o", "out.graphml"],
    ["render", "-o", "out.svg"],
    ["load", "--store", "store"],
    ["publish", "-o", "release"],
    ["push", "--endpoint", "http://127.0.0.1:9/query", "--store-endpoint", "http://127.0.0.1:9/store"],
    ["serve", "--port", "9"],
]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=[c[0] for c in READING_COMMANDS])
def test_every_command_that_reads_data_refuses_hostile_files_in_one_line(kg, articles_cache, tmp_path, monkeypatch,
                                                                          command):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "laughs.rdf").write_text(LAUGHS, encoding="utf-8")
    (tmp_path / "deep.jsonld").write_text(_nested_jsonld(5000), encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.ttl")
    assert _one_error(kg("--data", "laughs.rdf", *command)) == REFUSED_DTD
    assert _one_error(kg("--add-data", "deep.jsonld", *command)) == TOO_DEEP_JSONLD
    assert _one_error(kg("--add-data", "pipe.ttl", *command)) == (
        "Error: pipe.ttl: a named pipe, not a regular file — kg reads only regular files"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.jsonld", "laughs.rdf", "pipe.ttl"]


# -- the --timeout worker ends with kg, and leaves no temporary file --------------------------------

ENDLESS = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # about 10^10 rows of the fixture


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] not in "ZX"
    except (OSError, IndexError):
        return False


def _wait(condition, what: str, within: float = 120.0) -> None:
    """Poll until `condition()`; the bound only keeps a broken build from hanging (never a speed check)."""
    import time

    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
def test_timeout_worker_dies_with_kg_and_leaves_no_temporary_file(tmp_path, articles_kg, articles_cache_dir, signum):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "KG_CACHE_DIR": str(articles_cache_dir), "KG_DATA": str(ARTICLES)}
    process = subprocess.Popen(
        [sys.executable, "-m", "kg", "query", "--timeout", "3600", "--stream", "--format", "csv",
         "-o", str(out / "rows.csv"), "-e", ENDLESS],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait(lambda: any(p.stat().st_size > 0 for p in out.iterdir()), "the worker never wrote rows")
        (worker,) = _children(process.pid)
        os.kill(process.pid, signum)
        process.wait(60)
        _wait(lambda: not _alive(worker), "the worker outlived kg")
        assert list(out.iterdir()) == []  # neither rows.csv nor its temporary file
        assert process.returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 143)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()


def test_what_a_killed_writer_left_is_removed_by_the_next_write(tmp_path, articles_kg, articles_cache_dir):
    """SIGKILL cannot be caught: where the file system refuses unnamed files (O_TMPFILE), a streamed
    `query -o` killed without a time limit leaves its temporary file; the next write removes it."""
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "KG_CACHE_DIR": str(articles_cache_dir), "KG_DATA": str(ARTICLES), "KG_QUERY_TIMEOUT": "0"}
    command = [sys.executable, "-m", "kg", "query", "--stream", "--format", "csv", "-o", str(out / "rows.csv"), "-e"]
    process = subprocess.Popen([*command, ENDLESS], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # rows are being written (to a named temporary file, or to an unnamed one that nothing lists)
        _wait(lambda: process.poll() is None and _written(process.pid, out) > 0, "kg never wrote rows")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        process.stderr.close()
    assert all(p.name.startswith(".rows.csv.kg-") and p.suffix == ".tmp" for p in out.iterdir())
    done = subprocess.run([*command, "SELECT ?n WHERE { VALUES ?n { 1 } }"], env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert [p.name for p in out.iterdir()] == ["rows.csv"] and (out / "rows.csv").read_bytes() == b"n\r\n1\r\n"


def _written(pid: int, folder: Path) -> int:
    """Bytes written so far to any file `pid` has open in `folder` (named or not)."""
    total = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(folder)):
                total += os.stat(fd).st_size
    return total


def test_scratch_folders_of_processes_that_are_gone_are_removed(tmp_path):
    from kg.paths import scratch_folder

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(gone.stdout), os.getpid()
    for pid in (dead, alive):
        (tmp_path / f"kg-serve-{pid}-abc").mkdir()
        (tmp_path / f"kg-serve-{pid}-abc" / "store").write_text("x")
    (tmp_path / "kg-serve-notes").mkdir()  # not ours: no process id
    new = scratch_folder("kg-serve-", tmp_path)
    assert new.name.startswith(f"kg-serve-{alive}-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"kg-serve-{alive}-abc", "kg-serve-notes", new.name])


# -- on-disk stores: swapped in atomically, built by one load at a time, damage named in one line ---


def _count(kg, store: Path) -> str:
    result = kg("--store", str(store), "query", "--format", "csv", "-e", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_rebuilding_a_store_never_leaves_the_folder_without_one(kg, articles_cache, tmp_path, monkeypatch):
    import shutil

    from kg import store as building

    store = tmp_path / "store"
    assert kg("load", "--store", str(store)).exit_code == 0
    before = _count(kg, store)
    seen = []
    remove = shutil.rmtree

    def watched(path, *args, **kwargs):  # after every removal the store must still be there, whole
        remove(path, *args, **kwargs)
        seen.append((Path(path).name, (store / "kg-store.json").is_file() and (store / "CURRENT").is_file()))

    monkeypatch.setattr(building.shutil, "rmtree", watched)
    assert kg("load", "--store", str(store)).exit_code == 0
    assert seen and all(whole for _name, whole in seen), seen
    assert _count(kg, store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # no .building, no .old, no lock file


def test_a_second_load_into_a_busy_store_says_so(kg, articles_cache, tmp_path):
    import fcntl

    store = tmp_path / "store"
    assert kg("load", "--store", str(store)).exit_code == 0
    before = _count(kg, store)
    with open(tmp_path / ".store.lock", "a+b") as lock:  # another kg load --store holds the lock
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = kg("load", "--store", str(store))
    assert _one_error(result) == (
        f"Error: the store {store} is busy: another kg load --store is building it; wait for it to finish, "
        "then run this again"
    )
    assert _count(kg, store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".store.lock", "store"]  # the other build's lock


@pytest.mark.parametrize("damage", ["truncated", "removed"])
def test_a_damaged_store_is_one_line_saying_how_to_repair(kg, articles_cache, tmp_path, monkeypatch, damage):
    monkeypatch.chdir(tmp_path)
    assert kg("load", "--store", "store").exit_code == 0
    table = max((tmp_path / "store").glob("*.sst"), key=lambda p: p.stat().st_size)
    if damage == "truncated":
        table.write_bytes(table.read_bytes()[:2000])
    else:
        table.unlink()
    for command in (["query", "-e", "ASK { ?s ?p ?o }"], ["serve", "--port", str(free_port())]):
        line = _one_error(kg("--store", "store", *command))
        assert line.startswith("Error: store: cannot read the store (Corruption: "), command
        assert line.endswith("); rebuild it with kg load --store store"), command
    assert kg("load", "--store", "store").exit_code == 0  # and the repair works
    assert _count(kg, tmp_path / "store").splitlines()[0] == "n"


# -- SERVICE is a clause of the query, not a word in its text ----------------------------------------


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_service_check_reads_the_query_not_its_text(kg, articles_cache, engine):
    def csv(text: str) -> list[str]:
        result = kg("--engine", engine, "query", "--format", "csv", "-e", text)
        assert (result.exit_code, result.stderr) == (0, ""), result.stderr
        return result.stdout.splitlines()

    assert csv("PREFIX schema: <http://schema.org/> SELECT ?service WHERE { ?service a schema:Service }") == ["service"]
    assert csv('SELECT ("SERVICE <http://127.0.0.1:9/> {}" AS ?s) {} # SERVICE <http://127.0.0.1:9/>') == [
        "s",
        "SERVICE <http://127.0.0.1:9/> {}",
    ]
    # FROM with the query's own prefix names the same graph as its full IRI
    count = "SELECT (COUNT(*) AS ?n) {} WHERE {{ ?s ?p ?o }}"
    own = csv("PREFIX g: <https://w3id.org/battery-kg/graph/> " + count.format("FROM g:data"))
    full = csv(count.format("FROM <https://w3id.org/battery-kg/graph/data>"))
    assert own == full and int(full[1]) > 0
    for refused in ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
                    "SELECT * WHERE { service silent ?where { ?s ?p ?o } }"):  # fmt: skip
        line = _one_error(kg("--engine", engine, "query", "-e", refused))
        assert line == "Error: query text: SERVICE is not allowed: kg queries only its own graphs, offline"
    # SERVICE followed by no endpoint: one line (a syntax error or the refusal), no traceback
    assert _one_error(kg("--engine", engine, "query", "-e", "SELECT * WHERE { SERVICE ( }")).startswith(
        "Error: query text: "
    )


# -- local queries have a time limit by default ------------------------------------------------------


def test_local_queries_have_a_default_time_limit(kg, articles_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("KG_QUERY_TIMEOUT", "1")  # the default (600 s) made short, as an operator may
    out = tmp_path / "rows.csv"
    result = kg("query", "--format", "csv", "-o", str(out), "-e", ENDLESS)
    assert _one_error(result) == (
        "Error: the query was stopped after 1 s (--timeout 1); narrow it down with LIMIT or FILTER, or allow more time"
    )
    assert list(tmp_path.iterdir()) == []
    # --timeout 0: no limit, no worker (an endless query would run on; a quick one shows it)
    quick = kg("query", "--timeout", "0", "--format", "csv", "-e", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert quick.exit_code == 0 and quick.stdout.splitlines()[0] == "n"
    monkeypatch.setenv("KG_QUERY_TIMEOUT", "soon")
    assert _one_error(kg("query", "-e", "ASK {}")) == (
        "Error: KG_QUERY_TIMEOUT='soon' is not a number of seconds (0 for no limit)"
    )


# -- kg serve: a stopped query is not answered with 200 --------------------------------------------


def test_serve_says_when_its_time_limit_stopped_a_query(tmp_path, articles_kg, articles_cache_dir):
    import http.client

    process, port, _banner = _serve(tmp_path, articles_cache_dir, "--timeout", "1")
    try:
        status, _headers, body = _post(port, ENDLESS.replace("SELECT *", "SELECT (COUNT(*) AS ?n)"))
        assert (status, body) == (503, "the query was stopped after 1 s (kg serve --timeout)\n")
        # an answer already streaming when the limit is up ends incomplete, never as a whole 200
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/query",
            data=urllib.parse.urlencode({"query": ENDLESS}).encode(),
            headers={"Accept": "text/csv"},
        )
        with OPENER.open(request, timeout=60) as response:
            assert response.status == 200
            with pytest.raises(http.client.IncompleteRead):
                response.read()
        status, headers, body = _post(port, "SELECT (COUNT(*) AS ?n) WHERE { ?s a ?type }")
        assert status == 200 and body.splitlines()[0] == "n" and int(headers["Content-Length"]) == len(body)
    finally:
        stop(process)


# -- kg serve under load: no errors, and nothing left behind once the load ends -----------------


def _tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found = [pid]
    for child in _children(pid):
        found += _tree(child)
    return found


def _threads_and_memory(pid: int) -> tuple[int, int, int]:
    """Processes, threads and resident kB of kg serve and everything it started."""
    threads = memory = 0
    tree = _tree(pid)
    for member in tree:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{member}/status").read_text().splitlines() if ":" in line
        )
        threads += int(status["Threads"])
        memory += int(status.get("VmRSS", "0 kB").split()[0])
    return len(tree), threads, memory


def _at_rest(pid: int) -> tuple[int, int, int]:
    """Processes, threads and memory once the thread count has held still for half a second (the
    thread that sent the last answer may still be ending)."""
    import time

    readings = [_threads_and_memory(pid)]
    while len(readings) < 3 or len({r[:2] for r in readings[-3:]}) > 1:
        assert len(readings) < 200, "kg serve never came to rest"
        time.sleep(0.25)
        readings.append(_threads_and_memory(pid))
    return readings[-1]


def _back_to_rest(pid: int, rest: tuple[int, int], within: float) -> None:
    """Wait until kg serve has no more processes and threads than at rest (a bound against hangs only)."""
    import time

    deadline = time.monotonic() + within
    while True:
        now = _threads_and_memory(pid)[:2]
        if now[0] <= rest[0] and now[1] <= rest[1]:
            return
        assert time.monotonic() < deadline, f"(processes, threads) {now} after the load, {rest} at rest"
        time.sleep(0.1)


def test_serve_under_load_answers_every_request_and_returns_to_its_resting_state(tmp_path, articles_kg,
                                                                                 articles_cache_dir):  # fmt: skip
    import collections
    import concurrent.futures

    process, port, _banner = _serve(tmp_path, articles_cache_dir, "--timeout", "30")
    requests = [  # (query, Accept, expected status)
        ("SELECT (COUNT(*) AS ?n) WHERE { ?s a ?type }", "text/csv", 200),
        ((Path(__file__).resolve().parents[1] / "queries" / "funding-by-level.rq").read_text(encoding="utf-8"),
         "application/sparql-results+json", 200),
        ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 50", "text/turtle", 200),
        ("ASK { ?s ?p ?o }", "application/sparql-results+xml", 200),
        ("SELECT * WHERE { ?s ?p }", "text/csv", 400),
        ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", "text/csv", 403),
    ]  # fmt: skip

    def send(index: int) -> tuple[int, bool]:
        query, accept, expected = requests[index % len(requests)]
        status, headers, body = _post(port, query, accept=accept)
        return status, status == expected and (status != 200 or int(headers["Content-Length"]) == len(body.encode()))

    def load(count: int) -> collections.Counter:
        with concurrent.futures.ThreadPoolExecutor(8) as clients:
            return collections.Counter(ok for _status, ok in clients.map(send, range(count)))

    try:
        assert load(120) == {True: 120}  # warm up: every worker has answered, the server is at rest
        processes, threads, memory = _at_rest(process.pid)
        assert load(2400) == {True: 2400}  # zero errors: every answer has the expected status and is complete
        _back_to_rest(process.pid, (processes, threads), 30)
        grown = _threads_and_memory(process.pid)[2] - memory
        assert grown < 30_000  # kB: memory flat, no growth with requests
    finally:
        stop(process)


def test_serve_drops_clients_that_send_nothing(tmp_path, articles_kg, articles_cache_dir):
    import socket

    process, port, _banner = _serve(tmp_path, articles_cache_dir, "--timeout", "2")
    try:
        assert _post(port, "ASK { ?s ?p ?o }")[0] == 200
        rest = _at_rest(process.pid)[:2]
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        idle[0].sendall(b"GET /query?query=ASK")  # half a request line, never finished
        for sock in idle:
            sock.settimeout(60)
            assert sock.recv(1024) == b""  # closed by the server, after its time limit
        _back_to_rest(process.pid, rest, 20)
        assert _post(port, "ASK { ?s ?p ?o }")[0] == 200
        for sock in idle:
            sock.close()
    finally:
        stop(process)
