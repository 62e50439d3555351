"""Bad input, tried systematically: each gives one line on stderr, a known exit status, no traceback,
and no half-written output file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import DATA

VALID = DATA / "valid" / "small.ttl"
INVALID = DATA / "invalid"
HEAD = VALID.read_text(encoding="utf-8")


def one_error(result, status: int = 2) -> str:
    """The single `Error: ...` line of a failed run, after checking status and that nothing else was printed."""
    assert result.exit_code == status, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.fixture(autouse=True)
def run_here(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # messages name files relative to the working directory


# -- data files ----------------------------------------------------------------------------

BROKEN_TURTLE = [
    (
        "syntax.ttl",
        HEAD + "\nkgd:oops kg:source kgd:fixture-article\n",
        r"syntax.ttl, line \d+: .* — fix the Turtle syntax there",
    ),
    ("prefix.ttl", HEAD + "\nkgd:oops nope:source kgd:fixture-article .\n", r"prefix.ttl, line 11\d: .*nope.*"),
    (
        "iri.ttl",
        HEAD + "\n<https://w3id.org/battery-kg/id/has space> a kg:Project .\n",
        r"iri.ttl, line \d+: invalid IRI",
    ),
    (
        "datatype.ttl",
        HEAD.replace('"300"^^xsd:decimal', '"abc"^^xsd:decimal'),
        r'datatype.ttl, line 57: "abc" is not a valid xsd:decimal value — fix the literal or its datatype',
    ),
    ("empty.ttl", "", r"empty.ttl: holds no triples \(an empty file\?\) — add data or leave the file out"),
    ("comments.ttl", "# only a comment\n", r"comments.ttl: holds no triples"),
    (
        "latin1.ttl",
        HEAD.replace("지어낸 기사", "caf\u00e9").encode("latin-1", errors="replace"),
        r"latin1.ttl, line 15: not valid UTF-8 \(byte 0xe9\) — save the file as UTF-8",
    ),
    ("binary.ttl", bytes(range(256)) * 4, r"binary.ttl, line \d+: not valid UTF-8"),
]


@pytest.mark.parametrize(("name", "content", "pattern"), BROKEN_TURTLE, ids=[c[0] for c in BROKEN_TURTLE])
@pytest.mark.parametrize("command", [["validate"], ["query", "-e", "ASK {}"], ["stats"]])
def test_broken_data_file(kg, tmp_path, name, content, pattern, command):
    import re

    path = write(tmp_path, name, content)
    line = one_error(kg("--data", str(path), *command))
    assert re.search(pattern, line), line


def test_latin1_prefix_survives_as_ascii_only_when_no_accent(kg, tmp_path):
    # ASCII is valid UTF-8: the same data without the accent loads.
    path = write(tmp_path, "ascii.ttl", HEAD)
    assert kg("--data", str(path), "validate").exit_code == 0


@pytest.mark.parametrize(
    ("name", "transform"),
    [
        ("bom.ttl", lambda text: b"\xef\xbb\xbf" + text.encode("utf-8")),
        ("crlf.ttl", lambda text: text.replace("\n", "\r\n").encode("utf-8")),
        ("bom-crlf.ttl", lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")),
    ],
)
def test_bom_and_crlf_load_fine(kg, tmp_path, name, transform):
    path = write(tmp_path, name, transform(HEAD))
    result = kg("--data", str(path), "validate")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.endswith(
        "1 data file and 9 ontology files checked against "
        + result.stdout.split(" checked against ")[1].split("\n")[0]
        + "\n"
    )
    assert "0 violations, 0 warnings, 0 info" in result.stdout
    # Placement still finds the lines (a BOM shifts nothing; CRLF ends lines).
    bad = write(tmp_path, "bad-" + name, transform(HEAD.replace('"200"^^xsd:decimal', '"250"^^xsd:decimal')))
    report = kg("--data", str(bad), "validate", "--format", "json")
    assert report.exit_code == 1
    import json

    (entity,) = json.loads(report.stdout)["entities"]
    assert (entity["entity"].rsplit("/", 1)[1], entity["line"], entity["rows"]) == ("fixture-project", 51, ["F4"])


def test_file_over_the_size_limit_fails_fast(kg, tmp_path, monkeypatch):
    big = tmp_path / "big.ttl"
    chunk = (
        '<https://w3id.org/battery-kg/id/x> <https://w3id.org/battery-kg/ontology#description> "' + "x" * 900 + '" .\n'
    ).encode()
    with big.open("wb") as handle:
        for _ in range(100 * 1024 * 1024 // len(chunk) + 1):
            handle.write(chunk)
    assert big.stat().st_size >= 100 * 1024 * 1024
    # The limit is rdflib's: the reference engine parses with it (the fast engine and pyshacl-turbo
    # never make an rdflib graph of the data, and have a higher limit of their own).
    line = one_error(kg("--data", str(big), "--engine", "reference", "validate"))
    assert line == (
        "Error: big.ttl: 100 MB is over the 64 MB limit for one input file (parsing would take minutes) — "
        "split it, or raise the limit with KG_MAX_INPUT_MB=<megabytes>"
    )
    monkeypatch.setenv("KG_MAX_INPUT_MB", "ten")
    assert one_error(kg("--data", str(big), "--engine", "reference", "validate")) == (
        "Error: KG_MAX_INPUT_MB='ten' is not a number of megabytes"
    )


def test_data_folder_without_rdf(kg, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    write(folder, "notes.txt", "not RDF")
    assert one_error(kg("--data", str(folder), "validate")) == (
        "Error: folder: 1 other file and no RDF files in this folder "
        "(kg reads .ttl, .nt, .jsonld, .json, .rdf, .owl, .xml, .nq, .trig)"
    )


def test_data_folder_is_read_recursively_and_skipped_files_are_named(kg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "folder"
    (folder / "sources" / "2025").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "sources" / "2025" / "a.ttl").write_text(
        (DATA / "valid" / "small.ttl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    write(folder, "README.md", "not RDF")
    write(folder / ".git", "HEAD", "hidden")
    result = kg("--data", str(folder), "stats")
    assert result.exit_code == 0
    # The file in a sub-folder is read into a graph named by its path; README.md is reported,
    # the hidden folder is not looked at.
    assert result.stderr == (
        "warning: skipped folder/README.md: not an RDF data file "
        "(kg reads .ttl, .nt, .jsonld, .json, .rdf, .owl, .xml, .nq, .trig)\n"
    )
    assert "\n1 data file, each a named graph of its own (kgg:data/...)\n" in result.stdout


def test_missing_file(kg):
    assert one_error(kg("--data", "nope.ttl", "validate")) == "Error: nope.ttl: no such file or folder"


def test_unknown_suffix(kg, tmp_path):
    path = write(tmp_path, "data.txt", HEAD)
    line = one_error(kg("--data", str(path), "validate"))
    assert line.startswith("Error: data.txt: unknown RDF file type '.txt'")


# -- validation results and the gate ---------------------------------------------------------


def test_validate_exit_codes(kg):
    assert kg("--data", str(VALID), "validate").exit_code == 0
    assert kg("--data", str(INVALID / "ko-label-missing.ttl"), "validate").exit_code == 0  # a warning only
    result = kg("--data", str(INVALID / "grants-do-not-sum.ttl"), "validate")
    assert (result.exit_code, result.stderr) == (1, "")
    assert "has grants adding up to 350, but its recorded total is 300" in result.stdout


def test_validate_files_argument_replaces_the_data(kg):
    result = kg("validate", str(INVALID / "start-after-end.ttl"))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("kgd:fixture-facility  —  ")


@pytest.mark.parametrize("command", [["query", "funding-by-project"], ["stats"], ["reason", "-o", "out.ttl"]])
def test_core_commands_refuse_data_with_violations(kg, tmp_path, command):
    args = ["--data", str(INVALID / "grants-do-not-sum.ttl")]
    line = one_error(kg(*args, *command), status=1)
    assert line.startswith("Error: ")
    assert line.endswith(
        "kgd:fixture-project has grants adding up to 350, but its recorded total is 300 — run `kg validate` to see "
        "every problem, or pass --no-validate to go ahead anyway"
    )
    assert "grants-do-not-sum.ttl, line 53: " in line
    assert not (tmp_path / "out.ttl").exists()
    assert kg("--no-validate", *args, *command).exit_code == 0


def test_warnings_do_not_block(kg):
    result = kg("--data", str(INVALID / "place-outside-country.ttl"), "query", "-e", "ASK { ?s ?p ?o }")
    assert (result.exit_code, result.stdout) == (0, "true\n")


# -- queries -----------------------------------------------------------------------------------


def test_query_syntax_error(kg):
    line = one_error(kg("--data", str(VALID), "query", "-e", "SELECT ?x WHERE { ?x ?y }"))
    assert line.startswith("Error: query text: SPARQL syntax error at line 1, column 26")


def test_update_request(kg):
    line = one_error(kg("--data", str(VALID), "query", "-e", "DELETE WHERE { ?s ?p ?o }"))
    assert line == "Error: query text: update requests are not allowed: kg is read-only"


def test_slow_query_is_stopped_by_timeout(kg, tmp_path):
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    out = tmp_path / "out.csv"
    result = kg("--data", str(VALID), "query", "--timeout", "1", "-e", slow, "--format", "csv", "-o", str(out))
    assert one_error(result) == (
        "Error: the query was stopped after 1 s (--timeout 1); narrow it down with LIMIT or FILTER, or allow more time"
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "cache"] or not out.exists()
    assert not out.exists()


def test_timeout_lets_a_quick_query_through(kg):
    result = kg("--data", str(VALID), "query", "--timeout", "60", "-e", "ASK { ?s ?p ?o }")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "true\n", "")


def test_timeout_passes_query_errors_through(kg):
    result = kg("--data", str(VALID), "query", "--timeout", "60", "-e", "SELECT ?x WHERE { ?x ?y }")
    assert one_error(result).startswith("Error: query text: SPARQL syntax error")


# -- outputs -----------------------------------------------------------------------------------


def test_output_is_a_directory(kg, tmp_path):
    folder = tmp_path / "dir"
    folder.mkdir()
    line = one_error(kg("--data", str(VALID), "validate", "-o", str(folder)))
    assert line == "Error: cannot write dir: it is a directory"


def test_output_under_a_regular_file(kg, tmp_path):
    # chmod does not stop root, but no one can create a file inside a file.
    write(tmp_path, "file.txt", "x")
    line = one_error(kg("--data", str(VALID), "query", "-e", "ASK {}", "-o", str(tmp_path / "file.txt" / "out.txt")))
    assert line == "Error: cannot write file.txt/out.txt: file.txt is not a folder"


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root writes into read-only folders; see test_output_under_a_regular_file"
)
def test_output_in_a_read_only_folder(kg, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        line = one_error(kg("--data", str(VALID), "query", "-e", "ASK {}", "-o", str(folder / "out.txt")))
        assert line == "Error: cannot write ro/out.txt: Permission denied"
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(kg, tmp_path):
    out = write(tmp_path, "out.ttl", "old contents\n")
    result = kg("--data", str(INVALID / "grants-do-not-sum.ttl"), "reason", "-o", str(out))
    assert result.exit_code == 1
    assert out.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out.ttl"]
