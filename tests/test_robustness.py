"""Property tests (any graph kg writes parses back; writers never crash on odd labels) and "nothing lost"."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic

from conftest import ARTICLES
from kg.engine import Answer
from kg.namespaces import KGD, RDFS
from kg.paths import resource_root
from kg.results import serialize_graph, write_answer

# Labels as people write them: quotes, backslashes, newlines, tabs, Hangul, emoji, right-to-left text.
# (No surrogates or NUL: they are not allowed in RDF literals.)
LABEL = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\"'\\\n\r\t <>{}#@^;,.군산이차전지🔋⚡שלוםمرحبا\u200f\u0301")),
        st.characters(blacklist_categories=("Cs", "Cc")),
    ),
    max_size=40,
)
LANG = st.sampled_from([None, "en", "ko", "he", "ar"])


@st.composite
def graphs(draw) -> Graph:
    graph = Graph()
    for i, (label, lang) in enumerate(draw(st.lists(st.tuples(LABEL, LANG), min_size=1, max_size=6))):
        graph.add((KGD[f"thing-{i}"], RDFS.label, Literal(label, lang=lang)))
    return graph


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.sampled_from(["ttl", "nt", "jsonld"]))
def test_written_graphs_parse_back_isomorphic(graph, fmt):
    text = serialize_graph(graph, fmt)
    parsed = Graph().parse(data=text, format={"ttl": "turtle", "nt": "nt", "jsonld": "json-ld"}[fmt])
    assert isomorphic(parsed, graph)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(LABEL, LANG), min_size=1, max_size=5))
def test_result_writers_never_crash_and_round_trip(labels):
    rows = [(URIRef(KGD[f"t{i}"]), Literal(text, lang=lang)) for i, (text, lang) in enumerate(labels)]
    answer = Answer(kind="SELECT", variables=["s", "label"], rows=rows)
    document = json.loads(write_answer(answer, "json"))
    assert sorted(b["label"]["value"] for b in document["results"]["bindings"]) == sorted(str(r[1]) for r in rows)
    table = list(csv.reader(io.StringIO(write_answer(answer, "csv"), newline="")))
    assert sorted(row[1] for row in table[1:]) == sorted(str(r[1]) for r in rows)
    for fmt in ("tsv", "xml", "table"):
        assert write_answer(answer, fmt)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_nothing_lost(kg, tmp_path):
    """Every read-only kg command over a copy of the data (the two-article fixture) and ontology/ leaves
    both byte-identical."""
    shutil.copytree(ARTICLES, tmp_path / "data")
    for name in ("ontology", "queries"):
        shutil.copytree(resource_root() / name, tmp_path / name)
    before = {name: _digest(tmp_path / name) for name in ("data", "ontology")}
    assert before["data"] and before["ontology"]
    common = [
        "--data",
        str(tmp_path / "data"),
        "--ontology",
        str(tmp_path / "ontology"),
        "--queries",
        str(tmp_path / "queries"),
    ]
    runs = [
        ["validate"],
        ["validate", "--format", "json", "-o", str(tmp_path / "report.json")],
        ["reason", "-o", str(tmp_path / "out.ttl")],
        ["query", "funding-by-project", "--format", "csv"],
        ["query", "--list"],
        ["query", "--timeout", "60", "-e", "ASK { ?s ?p ?o }"],
        ["stats"],
    ]
    for args in runs:
        result = kg(*common, *args)
        assert result.exit_code == 0, (args, result.stderr)
    assert {name: _digest(tmp_path / name) for name in ("data", "ontology")} == before
