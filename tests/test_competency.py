"""Competency questions: every FACTS.md row, and INTEROP.md's contract, answered exactly through SPARQL.

Each tests/competency/*.rq (tagged `# Fact: A5`) and tests/interop/*.rq has a sibling .csv with
the expected answer. Both kg (rdflib) and pyoxigraph must give exactly that answer over the
reasoned bundled graph.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import Graph

from kg.engine import get_engine
from kg.namespaces import KGG
from kg.queries import run
from sparql_answers import expected_cell, has_order_by, oxigraph_answer, oxigraph_store, rdflib_rows, read_expected

HERE = Path(__file__).parent
COMPETENCY = sorted((HERE / "competency").glob("*.rq"))
INTEROP = sorted((HERE / "interop").glob("*.rq"))
QUESTIONS = COMPETENCY + INTEROP

# The rows of ../shared/FACTS.md (Article A: A1-A18, Article B: B1-B14). Hard-coded because
# ../shared is not part of the repository.
FACT_ROWS = {f"A{n}" for n in range(1, 19)} | {f"B{n}" for n in range(1, 15)}
_FACT_LINE = re.compile(r"^#\s*Fact:\s*((?:[AB]\d+[\s,]+)+)", re.MULTILINE)


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def test_questions_are_discovered():
    assert len(COMPETENCY) >= len(FACT_ROWS) - 3  # B5-B8 share one file
    assert INTEROP
    for path in QUESTIONS:
        assert path.with_suffix(".csv").is_file(), f"{path.name} has no expected answer"
    for folder in ("competency", "interop"):
        orphans = {p.stem for p in (HERE / folder).glob("*.csv")} - {p.stem for p in (HERE / folder).glob("*.rq")}
        assert not orphans, f"expected answers without a query in {folder}/: {sorted(orphans)}"


def fact_tags(text: str) -> set[str]:
    return {tag for match in _FACT_LINE.finditer(text) for tag in re.findall(r"[AB]\d+", match.group(1))}


def test_fact_tag_parser():
    assert fact_tags("# Fact: B5 B6 B7 B8 The plan's four strategies\nSELECT") == {"B5", "B6", "B7", "B8"}
    assert fact_tags("# Fact: A10 Construction starts in November 2025") == {"A10"}
    assert fact_tags("# Contract: A5 is not a fact tag") == set()


def test_every_facts_row_has_a_competency_question():
    tagged: dict[str, set[str]] = {}
    for path in COMPETENCY:
        tags = fact_tags(path.read_text(encoding="utf-8"))
        assert tags, f"{path.name} has no `# Fact: A5` line"
        tagged[path.name] = tags
    assert set().union(*tagged.values()) == FACT_ROWS


@pytest.fixture(scope="module")
def store(bundled_dataset):
    return oxigraph_store(bundled_dataset)


def _check(path: Path, variables: list[str], rows: list[tuple[str, ...]], engine: str) -> None:
    header, expected = read_expected(path.with_suffix(".csv"))
    assert variables == header, f"{engine}: variables of {path.name}"
    if has_order_by(path.read_text(encoding="utf-8")):
        assert rows == expected, f"{engine}: ordered answer of {path.name}"
    else:
        assert sorted(rows) == sorted(expected), f"{engine}: answer of {path.name}"


@pytest.mark.parametrize("path", QUESTIONS, ids=_ids(QUESTIONS))
def test_kg_answers_exactly(path: Path, bundled_dataset):
    answer = run(path, bundled_dataset)
    assert answer.kind == "SELECT"
    _check(path, answer.variables, rdflib_rows(answer.rows), "kg")


@pytest.mark.parametrize("path", QUESTIONS, ids=_ids(QUESTIONS))
def test_pyoxigraph_gives_the_same_answer(path: Path, store):
    variables, rows = oxigraph_answer(store, path.read_text(encoding="utf-8"))
    _check(path, variables, rows, "pyoxigraph")


# What each contract check that expects no rows finds in tests/data/interop/decoys.ttl.
DECOY_FINDINGS = {
    "provenance-missing": [("kgd:decoy-project",)],
    "grants-partition-budget": [("kgd:decoy-project", "20", "10")],
    "no-outside-sameas": [("kgd:decoy-project", "wd:Q1")],
    "hierarchy-violations": [("kgd:decoy-city", "schema:Place"), ("kgd:decoy-city", "schema:Place")],
    "names-missing": [("kgd:decoy-place", "ko")],
}


def test_contract_checks_that_expect_nothing_find_decoys(bundled_dataset):
    """Guards against vacuous passes: each empty-answer contract query reports exactly its decoys."""
    empty = sorted(p.stem for p in INTEROP if not read_expected(p.with_suffix(".csv"))[1])
    assert empty == sorted(DECOY_FINDINGS)
    graphs = {name: bundled_dataset.graph(name) for name in (KGG.ontology, KGG.data, KGG.inferred)}
    graphs[KGG.decoys] = Graph().parse(HERE / "data" / "interop" / "decoys.ttl")
    with_decoys = get_engine("reference").dataset(graphs)
    for name, findings in DECOY_FINDINGS.items():
        expected = sorted(tuple(expected_cell(cell) for cell in row) for row in findings)
        assert sorted(rdflib_rows(run(HERE / "interop" / f"{name}.rq", with_decoys).rows)) == expected, name
