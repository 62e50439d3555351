"""A new source is one new file: added to a copy of data/, it changes no other answer.

The fixture source (tests/data/new-source/) is written by following docs/EDITORS.md: one file
under data/sources/, using shared entities from data/reference/, with its own competency
question. On a copy of the bundled data with it added, validation still finds no violation,
every competency question still gets exactly its expected answer, every universal INTEROP
promise still holds, every named query still runs, and the new facts show up with their
source wherever the graph shows evidence.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import DATA
from kg.engine import get_engine
from kg.graph import Inputs, open_graph
from kg.namespaces import KGD
from kg.paths import data_dir, default_shapes, ontology_dir, queries_dir
from kg.queries import list_queries
from kg.results import curie
from kg.validate import validate
from sparql_answers import has_order_by, oxigraph_answer, read_expected

HERE = Path(__file__).parent
NEW = DATA / "new-source"
SOURCE = "kgd:source-2026-01-15-kukinews-fixture-separator-plant"
QUESTIONS = sorted((HERE / "competency").glob("*.rq"))
UNIVERSAL = [p for p in sorted((HERE / "interop").glob("*.rq")) if not read_expected(p.with_suffix(".csv"))[1]]


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """The bundled data plus the new source, reasoned by the default engine."""
    folder = tmp_path_factory.mktemp("grown")
    shutil.copytree(data_dir(), folder / "data")
    (source,) = NEW.glob("*.ttl")
    shutil.copy(source, folder / "data" / "sources" / source.name)
    inputs = Inputs(ontology_dir(), (folder / "data",), get_engine("fast"), shapes=default_shapes())
    return open_graph(inputs)


def _answer(kg, path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    return oxigraph_answer(kg.dataset.store, path.read_text(encoding="utf-8"))


def _check(kg, path: Path) -> None:
    variables, rows = _answer(kg, path)
    header, expected = read_expected(path.with_suffix(".csv"))
    assert variables == header, path.name
    if has_order_by(path.read_text(encoding="utf-8")):
        assert rows == expected, path.name
    else:
        assert sorted(rows) == sorted(expected), path.name


def test_the_new_source_is_valid_and_nothing_else_breaks(grown):
    report = validate(grown, default_shapes())
    assert report.conforms
    assert [f for f in report.findings if f.severity == "violation"] == []
    assert not [f for f in report.findings if SOURCE[4:] in f.entity]  # not even a warning about it


def test_every_competency_question_keeps_its_answer(grown):
    assert len(QUESTIONS) > 200
    for path in QUESTIONS:
        _check(grown, path)


def test_its_own_competency_question(grown):
    (question,) = NEW.glob("*.rq")
    _check(grown, question)


def test_every_interop_promise_still_holds(grown):
    assert UNIVERSAL
    for path in UNIVERSAL:
        assert _answer(grown, path)[1] == [], path.name


def test_every_named_query_still_runs_and_shows_the_new_evidence(grown):
    names = [info.name for info in list_queries()]
    params = {"entity": {"entity": KGD["fixture-pohang-separator-plant"]}, "in-place": {"place": KGD.pohang}}
    answers = {name: grown.run(str(queries_dir() / f"{name}.rq"), **params.get(name, {})) for name in names}
    # The plant is evidence for the separator stage in Pohang and in Gyeongbuk, from its source.
    evidence = answers["value-chain-evidence"].rows
    found = {
        (curie(region), curie(stage), curie(source))
        for region, _, stage, thing, source in evidence
        if thing == KGD["fixture-pohang-separator-plant"]
    }
    assert found == {(region, "kgc:stage-separator", SOURCE) for region in ("kgd:pohang", "kgd:gyeongbuk-province")} | {
        (region, "kgc:stage-battery-materials", SOURCE) for region in ("kgd:pohang", "kgd:gyeongbuk-province")
    }
    # Every statement about the plant is credited to the new source.
    rows = answers["entity"].rows
    asserted = [row for row in rows if str(row[3]) == "asserted"]
    assert asserted and {curie(row[4]) for row in asserted} == {SOURCE}


def test_the_source_template_is_turtle():
    import pyoxigraph as ox

    template = Path(__file__).resolve().parent.parent / "docs" / "templates" / "source.ttl"
    triples = list(ox.parse(path=str(template), format=ox.RdfFormat.TURTLE))
    assert ox.NamedNode("https://w3id.org/battery-kg/id/source-YYYY-MM-DD-publisher-slug") in {
        t.subject for t in triples
    }
