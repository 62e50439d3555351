"""Competency questions: every fact-sheet row, and INTEROP.md's contract, answered exactly through SPARQL.

Each tests/competency/*.rq (tagged `# Fact: A5`, `# Fact: N54`, `# Fact: C3`) has a sibling .csv
with the expected answer, asked of the reasoned bundled graph: each question is about one
source's facts, so other sources do not change its answer. Both kg (rdflib) and pyoxigraph must
give exactly that answer.

tests/interop/*.rq check INTEROP.md's contract. A check that expects no rows is a universal
promise ("every figure has a source") and holds on the bundled graph as reasoned by each engine;
one with rows lists an exact answer, worked out on the two-article fixture (tests/data/articles).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import Graph, URIRef

from kg.engine import get_engine
from kg.namespaces import DATA_GRAPHS, KGG
from kg.queries import run
from sparql_answers import expected_cell, has_order_by, oxigraph_answer, oxigraph_store, rdflib_rows, read_expected

HERE = Path(__file__).parent
COMPETENCY = sorted((HERE / "competency").glob("*.rq"))
INTEROP = sorted((HERE / "interop").glob("*.rq"))
QUESTIONS = COMPETENCY + INTEROP

# The rows of the fact sheets in docs/facts/: A1-A18, B1-B14 (FACTS.md), N1-N150 and the
# conflicts C1-C16 (NATIONAL-FACTS.md), each a table row starting `| N54 |`.
FACT_SHEETS = sorted((HERE.parent / "docs" / "facts").glob("*FACTS.md"))
_ROW = re.compile(r"^\|\s*([ABNC]\d+)\s*\|", re.MULTILINE)
FACT_ROWS = {row for sheet in FACT_SHEETS for row in _ROW.findall(sheet.read_text(encoding="utf-8"))}
_FACT_LINE = re.compile(r"^#\s*Fact:\s*((?:[ABNC]\d+[\s,]+)+)", re.MULTILINE)


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def test_questions_are_discovered():
    assert {sheet.name for sheet in FACT_SHEETS} == {"FACTS.md", "NATIONAL-FACTS.md"}
    assert {"A1", "A18", "B14", "N1", "N150", "C1", "C16"} <= FACT_ROWS and len(FACT_ROWS) == 18 + 14 + 150 + 16
    assert len(COMPETENCY) >= len(FACT_ROWS) - 3  # B5-B8 share one file
    assert INTEROP
    for path in QUESTIONS:
        assert path.with_suffix(".csv").is_file(), f"{path.name} has no expected answer"
    for folder in ("competency", "interop"):
        orphans = {p.stem for p in (HERE / folder).glob("*.csv")} - {p.stem for p in (HERE / folder).glob("*.rq")}
        assert not orphans, f"expected answers without a query in {folder}/: {sorted(orphans)}"


def fact_tags(text: str) -> set[str]:
    return {tag for match in _FACT_LINE.finditer(text) for tag in re.findall(r"[ABNC]\d+", match.group(1))}


def test_fact_tag_parser():
    assert fact_tags("# Fact: B5 B6 B7 B8 The plan's four strategies\nSELECT") == {"B5", "B6", "B7", "B8"}
    assert fact_tags("# Fact: A10 Construction starts in November 2025") == {"A10"}
    assert fact_tags("# Fact: N17 N18 Investment in the complexes") == {"N17", "N18"}
    assert fact_tags("# Fact: C5 EcoPro's target year") == {"C5"}
    assert fact_tags("# Contract: A5 is not a fact tag") == set()


def test_every_facts_row_has_a_competency_question():
    tagged: dict[str, set[str]] = {}
    for path in COMPETENCY:
        tags = fact_tags(path.read_text(encoding="utf-8"))
        assert tags, f"{path.name} has no `# Fact: A5` line"
        tagged[path.name] = tags
    assert set().union(*tagged.values()) == FACT_ROWS


def _universal(path: Path) -> bool:
    """An interop check that expects no rows: a promise about every entity, not an example answer."""
    return path.parent.name == "interop" and not read_expected(path.with_suffix(".csv"))[1]


def _on_fixture(path: Path) -> bool:
    """Interop examples list exact answers: worked out on the frozen two-article fixture."""
    return path.parent.name == "interop" and not _universal(path)


@pytest.fixture(scope="module")
def stores(request):
    made: dict[str, object] = {}

    def store(fixture: str):
        if fixture not in made:
            made[fixture] = oxigraph_store(request.getfixturevalue(fixture))
        return made[fixture]

    return store


def _check(path: Path, variables: list[str], rows: list[tuple[str, ...]], engine: str) -> None:
    header, expected = read_expected(path.with_suffix(".csv"))
    assert variables == header, f"{engine}: variables of {path.name}"
    if has_order_by(path.read_text(encoding="utf-8")):
        assert rows == expected, f"{engine}: ordered answer of {path.name}"
    else:
        assert sorted(rows) == sorted(expected), f"{engine}: answer of {path.name}"


def _dataset(path: Path) -> str:
    return "articles_dataset" if _on_fixture(path) else "bundled_dataset"


@pytest.mark.parametrize("path", QUESTIONS, ids=_ids(QUESTIONS))
def test_kg_answers_exactly(path: Path, request):
    answer = run(path, request.getfixturevalue(_dataset(path)))
    assert answer.kind == "SELECT"
    _check(path, answer.variables, rdflib_rows(answer.rows), "kg")


@pytest.mark.parametrize("path", QUESTIONS, ids=_ids(QUESTIONS))
def test_pyoxigraph_gives_the_same_answer(path: Path, stores):
    variables, rows = oxigraph_answer(stores(_dataset(path)), path.read_text(encoding="utf-8"))
    _check(path, variables, rows, "pyoxigraph")


CONTRACT = [p for p in INTEROP if _universal(p)]
EXAMPLES = [p for p in INTEROP if _on_fixture(p)]


@pytest.fixture(scope="module")
def reference_store(bundled_reference_kg):
    return oxigraph_store(bundled_reference_kg.rdflib)


@pytest.mark.parametrize("path", CONTRACT, ids=_ids(CONTRACT))
def test_contract_holds_on_the_reference_engine(path: Path, reference_store):
    """The universal promises hold on the closure owlrl computes too, not only the fast engine's
    (asked with pyoxigraph, which answers them in milliseconds)."""
    assert oxigraph_answer(reference_store, path.read_text(encoding="utf-8"))[1] == []


@pytest.mark.parametrize("path", EXAMPLES, ids=_ids(EXAMPLES))
def test_examples_hold_on_the_reference_engine(path: Path, articles_reference_kg):
    answer = run(path, articles_reference_kg.rdflib)
    _check(path, answer.variables, rdflib_rows(answer.rows), "reference engine")


# What each contract check that expects no rows finds in tests/data/interop/decoys.ttl.
DECOY_FINDINGS = {
    "provenance-missing": [("kgd:decoy-project",), ("kgd:decoy-figure",), ("kgd:decoy-loose-amount",)],
    "companies-missing": [
        ("kgd:decoy-company", "no schema:Corporation"),
        ("kgd:decoy-jv", "no schema:parentOrganization"),
    ],
    "investments-missing": [
        ("kgd:decoy-plant", "schema:Project with schema:location"),
        ("kgd:decoy-plant", "no dcterms:date"),
        ("kgd:decoy-plant", "no dcterms:subject"),
    ],
    "figures-missing": [
        ("kgd:decoy-figure", "schema:value and a unit"),
        ("kgd:decoy-figure", "no dcterms:source"),
        ("kgd:decoy-loose-amount", "no dcterms:source"),
        ("kgd:decoy-loose-amount", "a thing it measures"),
    ],
    "designations-missing": [("kgd:decoy-zone", "schema:Place with schema:containedInPlace")],
    "sources-missing": [
        ("kgd:decoy-page", "no schema:WebPage"),
        ("kgd:decoy-page", "no schema:datePublished beside an inferred date"),
    ],
    "statement-provenance-missing": [("kgg:data/decoys", "no prov:wasDerivedFrom a source")],
    "conflicts-missing": [
        ("kgd:decoy-conflict", "dcterms:source on each claim"),
        ("kgd:decoy-conflict", "claims from two sources"),
    ],
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
    # A data file's graph that no source derives.
    graphs[URIRef(DATA_GRAPHS + "decoys")] = graphs[KGG.decoys]
    with_decoys = get_engine("reference").dataset(graphs)
    for name, findings in DECOY_FINDINGS.items():
        expected = sorted(tuple(expected_cell(cell) for cell in row) for row in findings)
        assert sorted(rdflib_rows(run(HERE / "interop" / f"{name}.rq", with_decoys).rows)) == expected, name
