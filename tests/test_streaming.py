"""Big SELECT results are streamed: `kg query` writes rows as the engine yields them, in flat memory.

The memory tests run `kg` in a subprocess over a one-file fixture with an ad-hoc query whose
two VALUES blocks cross-join to n² rows, and compare the child's peak RSS (os.wait4) at 10,000
rows with that at 1,000,000 (fast engine) or 90,000 (reference engine: rdflib needs ~35 µs
a row, so a million rows would take half a minute). No timing is asserted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from conftest import DATA
from kg.engine import Answer, available_engines, get_engine
from kg.queries import bind_query, execute
from kg.results import STREAM_FORMATS, write_answer, write_rows

VALID = DATA / "valid" / "small.ttl"
KG = [sys.executable, "-m", "kg"]
ENGINES = available_engines()


def cross_join(n: int, order_by: str = "") -> str:
    """SELECT ?a ?b over 1..n × 1..n: n² rows with no data behind them."""
    values = " ".join(str(i) for i in range(1, n + 1))
    return f"SELECT ?a ?b WHERE {{ VALUES ?a {{ {values} }} VALUES ?b {{ {values} }} }} {order_by}"


def run_kg(args: list[str], tmp_path: Path) -> tuple[int, float, str]:
    """(exit status, peak RSS in MB, stderr) of one `kg` process."""
    env = {**os.environ, "KG_CACHE_DIR": str(tmp_path / "cache")}
    with open(tmp_path / "stderr", "wb") as stderr:
        process = subprocess.Popen([*KG, *args], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024, (tmp_path / "stderr").read_text()


def check_cross_join_csv(path: Path, n: int) -> None:
    """Exactly the n² rows 1..n × 1..n, each once, under the header, with CRLF line ends."""
    seen = bytearray(n * n)
    with open(path, "rb") as handle:
        assert handle.readline() == b"a,b\r\n"
        count = 0
        for line in handle:
            a, b = line.removesuffix(b"\r\n").split(b",")
            index = (int(a) - 1) * n + int(b) - 1
            assert 0 <= index < n * n and not seen[index], line
            seen[index] = 1
            count += 1
    assert count == n * n and all(seen)


@pytest.mark.parametrize(
    ("engine", "small", "big", "margin_mb"),
    [("fast", 100, 1000, 40), ("reference", 100, 300, 20)],
)
def test_memory_stays_flat_for_a_big_streamed_result(tmp_path, engine, small, big, margin_mb):
    if engine not in ENGINES:
        pytest.skip(f"the {engine} engine is not installed")
    peaks = {}
    for n in (small, big):
        out = tmp_path / f"rows-{n}.csv"
        args = ["--engine", engine, "--data", str(VALID), "--no-validate", "query", "--no-reasoning", "--stream"]
        status, peaks[n], stderr = run_kg([*args, "-e", cross_join(n), "--format", "csv", "-o", str(out)], tmp_path)
        assert (status, stderr) == (0, "")
        check_cross_join_csv(out, n)
        if n == big:
            assert sum(1 for _ in open(out, "rb")) == big * big + 1
    print(f"\n{engine}: peak RSS {peaks[small]:.1f} MB at {small**2:,} rows, {peaks[big]:.1f} MB at {big**2:,} rows")
    # Holding the rows would cost hundreds of bytes each (~640 MB more for a million with the fast engine).
    assert peaks[big] < peaks[small] + margin_mb
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_an_ordered_query_streams_by_default_and_keeps_its_order(tmp_path):
    out = tmp_path / "ordered.csv"
    query = cross_join(300, "ORDER BY DESC(?a) ?b")
    status, _, stderr = run_kg(["--data", str(VALID), "--no-validate", "query", "--no-reasoning", "-e", query,
                                "--format", "csv", "-o", str(out)], tmp_path)  # fmt: skip
    assert (status, stderr) == (0, "")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    assert rows[0] == ["a", "b"]
    assert rows[1:] == [[str(a), str(b)] for a in range(300, 0, -1) for b in range(1, 301)]


# -- the streamed bytes are the sorted path's bytes where order is fixed ----------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fmt", STREAM_FORMATS)
def test_ordered_output_is_identical_streamed_or_not(kg, engine, fmt, tmp_path):
    """The CLI streams ORDER BY queries; the bytes equal write_answer's (which holds every row)."""
    query = cross_join(7, "ORDER BY DESC(?b) ?a")
    args = ["--engine", engine, "--data", str(VALID), "--no-validate", "query", "--no-reasoning", "-e", query]
    streamed = kg(*args, "--format", fmt, "-o", str(tmp_path / "streamed"))
    assert streamed.exit_code == 0, streamed.stderr
    dataset = get_engine(engine).dataset({URIRef("urn:x:g"): []})
    bound = bind_query(query, engine=get_engine(engine))
    expected = write_answer(execute(bound, dataset, get_engine(engine)), fmt)
    assert (tmp_path / "streamed").read_bytes().decode("utf-8") == expected
    assert kg(*args, "--format", fmt, "--stream").stdout_bytes.decode("utf-8") == expected  # --stream: same bytes


@pytest.mark.parametrize("fmt", STREAM_FORMATS)
def test_stream_flag_writes_every_row_in_every_format(kg, fmt):
    result = kg("--data", str(VALID), "--no-validate", "query", "--no-reasoning", "-e", cross_join(20),
                "--format", fmt, "--stream")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = {(str(a), str(b)) for a in range(1, 21) for b in range(1, 21)}
    text = result.stdout
    if fmt == "csv":
        rows = [tuple(r) for r in csv.reader(io.StringIO(text, newline=""))][1:]
    elif fmt == "tsv":
        integer = f"^^<{XSD.integer}>"
        rows = [tuple(cell.strip('"').removesuffix(integer).strip('"') for cell in line.split("\t"))
                for line in text.splitlines()[1:]]  # fmt: skip
    elif fmt == "json":
        document = json.loads(text)
        assert document["head"]["vars"] == ["a", "b"]
        rows = [(b["a"]["value"], b["b"]["value"]) for b in document["results"]["bindings"]]
    else:
        ns = {"r": "http://www.w3.org/2005/sparql-results#"}
        root = ET.fromstring(text.encode("utf-8"))
        rows = [tuple(r.find(f"r:binding[@name='{v}']/r:literal", ns).text for v in "ab")
                for r in root.findall("r:results/r:result", ns)]  # fmt: skip
    assert len(rows) == 400 and set(rows) == expected


def test_without_order_by_or_stream_rows_are_sorted(kg):
    args = ["--data", str(VALID), "--no-validate", "query", "--no-reasoning", "-e", cross_join(12)]
    result = kg(*args, "--format", "csv")
    numbers = [tuple(map(int, line.split(","))) for line in result.stdout.splitlines()[1:]]
    assert numbers == sorted(numbers) and len(numbers) == 144


# -- engines and writers -------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_stream_rows_lazily(engine):
    eng = get_engine(engine)
    dataset = eng.dataset({URIRef("urn:x:g"): []})
    bound = bind_query(cross_join(1000), engine=eng)
    answer = execute(bound, dataset, eng, stream=True)
    assert answer.streaming and answer.variables == ["a", "b"]
    rows = answer.iter_rows()
    first = next(rows)  # a million-row result yields its first row without computing the rest
    assert len(first) == 2 and all(isinstance(t, Literal) and t.datatype == XSD.integer for t in first)
    assert not answer.streaming
    with pytest.raises(RuntimeError):
        answer.rows  # noqa: B018 - handed over to iter_rows, gone
    small = bind_query(cross_join(5), engine=eng)
    streamed = execute(small, dataset, eng, stream=True)
    assert streamed.rows == execute(small, dataset, eng).rows  # `rows` reads a stream into the same list
    assert isinstance(streamed.rows, list) and len(streamed.rows) == 25


def test_write_rows_renames_blank_nodes_and_counts():
    from rdflib import BNode

    x, y = BNode("xyz"), BNode("abc")
    answer = Answer("SELECT", ["s"], iter([(x,), (y,), (x,), (None,)]))
    out = io.BytesIO()
    assert write_rows(answer, "tsv", out) == 4
    assert out.getvalue() == b"?s\n_:b0\n_:b1\n_:b0\n\n"


def test_write_rows_refuses_table_and_graphs():
    from kg.errors import UsageError

    with pytest.raises(UsageError, match="cannot be streamed"):
        write_rows(Answer("SELECT", ["s"], []), "table", io.BytesIO())
    with pytest.raises(UsageError, match="no CSV form"):
        write_rows(Answer("ASK", boolean=True), "csv", io.BytesIO())


# -- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "table"], "Error: --stream writes csv, tsv, json, xml; --format table needs every row first"),
        (["-e", "ASK {}", "--format", "json"], "Error: --stream is for SELECT results; ASK results are written whole"),
        (
            ["--endpoint", "http://127.0.0.1:9/query"],
            "Error: --stream is for local queries; an --endpoint's answer is read whole",
        ),
    ],
)
def test_stream_usage_errors(kg, args, message):
    if "-e" not in args:
        args = ["-e", cross_join(2), *args]
    result = kg("--data", str(VALID), "--no-validate", "query", "--stream", *args)
    assert (result.exit_code, result.stderr.strip()) == (2, message)


def test_stream_with_timeout_to_stdout_and_file(kg, tmp_path):
    args = ["--data", str(VALID), "--no-validate", "query", "--no-reasoning", "--stream", "--timeout", "60"]
    result = kg(*args, "-e", cross_join(30), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 901
    out = tmp_path / "rows.csv"
    assert kg(*args, "-e", cross_join(30), "--format", "csv", "-o", str(out)).exit_code == 0
    check_cross_join_csv(out, 30)


def test_a_stopped_stream_leaves_no_file(kg, tmp_path):
    """--timeout kills the worker mid-stream: neither the output nor its temporary file remains."""
    folder = tmp_path / "out"
    folder.mkdir()
    values = " ".join(map(str, range(3000)))
    huge = f"SELECT * WHERE {{ VALUES ?a {{ {values} }} VALUES ?b {{ {values} }} VALUES ?c {{ {values} }} }}"
    result = kg("--data", str(VALID), "--no-validate", "query", "--no-reasoning", "--stream", "--timeout", "1",
                "-e", huge, "--format", "csv", "-o", str(folder / "rows.csv"))  # fmt: skip
    assert result.exit_code == 2 and "stopped after 1 s" in result.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_stream_leaves_no_file(tmp_path, signum):
    folder = tmp_path / "out"
    folder.mkdir()
    huge = cross_join(3000)  # 9 million rows: still writing when the signal comes
    env = {**os.environ, "KG_CACHE_DIR": str(tmp_path / "cache")}
    args = ["--data", str(VALID), "--no-validate", "query", "--no-reasoning", "--stream", "-e", huge]
    args += ["-o", str(folder / "rows.csv")]
    process = subprocess.Popen([*KG, *args, "--format", "csv"], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 0 for p in folder.iterdir()) and process.poll() is None:
        assert time.monotonic() < deadline, "the temporary file never grew"
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (130 if signum == signal.SIGINT else 128 + signal.SIGTERM)
    assert b"Traceback" not in stderr
    assert list(folder.iterdir()) == []
