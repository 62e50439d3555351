"""kg validate: the shapes and OWL 2 RL checks, over the bundled data and a corpus of wrong data.

tests/data/invalid/<defect>.ttl is tests/data/valid/small.ttl with one injected error (the file's
header names the rule it breaks); each must give exactly the findings listed here.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from rdflib import RDF, Graph, URIRef

from conftest import ARTICLES, DATA
from kg.graph import Inputs, open_graph
from kg.namespaces import KG
from kg.paths import check_files, data_dir, default_shapes, ontology_dir
from kg.results import curie
from kg.validate import Report, render_json, validate

VALID = DATA / "valid" / "small.ttl"
INVALID = sorted((DATA / "invalid").glob("*.ttl"))
ENGINE = "fast"

# defect -> {(entity, focus, path, check, severity)}: focus "[]" marks a value node of the entity.
EXPECTED: dict[str, set[tuple[str, str, str, str, str]]] = {
    "amount-negative": {
        ("kgd:fixture-project", "", "", "kgsh:Budget-grants-sum", "violation"),
        ("kgd:fixture-project-municipal", "[]", "kg:amount/kg:value", "kgsh:MonetaryAmount-value", "violation"),
    },
    "amount-not-decimal": {
        ("kgd:fixture-project-municipal", "[]", "kg:amount/kg:value", "kgsh:MonetaryAmount-value", "violation"),
    },
    "class-undeclared": {("kgd:fixture-conference", "", "rdf:type", "kgsh:Entity-declared-class", "violation")},
    "currency-missing": {
        ("kgd:fixture-project-private", "[]", "kg:amount/kg:currency", "kgsh:MonetaryAmount-currency", "violation"),
    },
    "date-not-a-date": {("kgd:fixture-conference", "", "kg:endDate", "kgsh:Dated-endDate", "violation")},
    "disjoint-classes": {("kgd:fixture-city", "", "", "disjoint-classes", "violation")},
    "en-label-missing": {("kgd:fixture-city", "", "rdfs:label", "kgsh:Entity-label-en", "violation")},
    "functional-two-values": {("kgd:fixture-strategy", "", "kg:ordinal", "functional-property", "violation")},
    "geonames-wrong-form": {("kgd:fixture-city", "", "*", "kgsh:ExternalLink-geonames", "violation")},
    "grant-unattributed": {("kgd:fixture-project-private", "", "", "kgsh:UnattributedFundingShape", "info")},
    "grants-do-not-sum": {("kgd:fixture-project", "", "", "kgsh:Budget-grants-sum", "violation")},
    "ko-label-missing": {("kgd:fixture-site", "", "rdfs:label", "kgsh:KoreanEntity-label-ko", "warning")},
    "place-outside-country": {
        ("kgd:fixture-city", "", "", "kgsh:ContainedPlaceShape", "warning"),
        ("kgd:fixture-site", "", "", "kgsh:ContainedPlaceShape", "warning"),
    },
    "source-dangling": {("kgd:fixture-conference", "", "*", "kgsh:Sourced-source-class", "violation")},
    # A page without a headline or a date is still a source: worth knowing, not wrong.
    "source-date-missing": {("kgd:fixture-article", "", "*", "kgsh:Source-datePublished", "info")},
    "source-headline-missing": {("kgd:fixture-article", "", "*", "kgsh:Source-headline", "info")},
    "source-missing": {("kgd:fixture-project", "", "*", "kgsh:Sourced-source", "violation")},
    "stage-not-in-scheme": {
        ("kgc:sector-bio", "", "rdf:type", "kgsh:ValueChainStage-type", "violation"),
        ("kgc:sector-bio", "", "skos:inScheme", "kgsh:ValueChainStage-scheme", "violation"),
    },
    "start-after-end": {("kgd:fixture-facility", "", "", "kgsh:Dated-start-before-end", "violation")},
    "two-en-labels": {("kgd:fixture-facility", "", "rdfs:label", "kgsh:Entity-label-unique", "warning")},
    "wikidata-wrong-form": {("kgd:fixture-city", "", "*", "kgsh:ExternalLink-wikidata", "violation")},
}

# defect -> (message, line of the finding, fact rows cited there), for the first finding in EXPECTED order.
MESSAGES = {
    "amount-negative": "has grants adding up to 100, but its recorded total is 300",
    "amount-not-decimal": 'needs exactly one positive amount as an exact xsd:decimal in whole units ("36900000000"^^xsd:decimal)',  # noqa: E501
    "class-undeclared": "is typed kg:Conferense, which the ontology does not declare (a typo?)",
    "currency-missing": 'needs exactly one ISO 4217 currency code (kg:currency "KRW")',
    "date-not-a-date": "needs at most one end date, as xsd:date, xsd:gYearMonth or xsd:gYear",
    "disjoint-classes": "is both a kg:Agent and a kg:Place, which are disjoint classes",
    "en-label-missing": 'has no English label (rdfs:label "..."@en)',
    "functional-two-values": "has 2 values of the functional property kg:ordinal, from 1 to 2",
    "geonames-wrong-form": "links to <http://www.geonames.org/999999999>; a GeoNames feature is https://sws.geonames.org/<id>/",
    "grant-unattributed": "names neither a funder nor a funding level (fine when the source does not say)",
    "grants-do-not-sum": "has grants adding up to 350, but its recorded total is 300",
    "ko-label-missing": 'is Korean but has no Korean label (rdfs:label "..."@ko)',
    "place-outside-country": "is not contained, step by step (kg:containedInPlace), in any country",
    "source-dangling": "cites kgd:fixture-artcle as its source, which is not a kg:Source (misspelt, or not in the files given?)",  # noqa: E501
    "source-date-missing": "states no date (kg:datePublished; kg:inferredDatePublished when only inferred): fine when the page shows none",  # noqa: E501
    "source-headline-missing": "shows no headline (kg:headline, verbatim; or kg:alternativeHeadline for a subhead): fine when the page shows none",  # noqa: E501
    "source-missing": "has no source (kg:source pointing at the article its facts come from)",
    "stage-not-in-scheme": "is used as a value-chain stage but is not a kg:ValueChainStage",
    "start-after-end": "starts (2028-03) after it ends (2027)",
    "two-en-labels": "has two rdfs:label values in one language; keep one and make the others skos:altLabel",
    "wikidata-wrong-form": "links to <https://www.wikidata.org/wiki/Q999999999>; a Wikidata item is http://www.wikidata.org/entity/Q… (wd:Q…)",  # noqa: E501
}


def _validate(path: Path, engine: str = ENGINE) -> Report:
    inputs = Inputs.of(ontology_dir(), [path], engine, shapes=default_shapes())
    return validate(open_graph(inputs), inputs.shapes)


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    """Every corpus file validated once, two at a time (each takes a few seconds: SHACL plus reasoning)."""
    paths = [VALID, *INVALID]
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        return {path.stem: report for path, report in zip(paths, pool.map(_validate, paths), strict=True)}


def _key(finding) -> tuple[str, str, str, str, str]:
    path = finding.path if "|" not in finding.path else "*"  # alternative paths are long; the check names them
    return (
        curie(URIRef(finding.entity)),
        finding.focus if finding.focus == "[]" else "",
        path,
        finding.check,
        finding.severity,
    )


def test_corpus_is_complete():
    assert len(INVALID) >= 20
    assert sorted(p.stem for p in INVALID) == sorted(EXPECTED) == sorted(MESSAGES)
    base = VALID.read_text(encoding="utf-8")
    for path in INVALID:
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[1].startswith(f"# DEFECT {path.stem}: breaks the rule that "), path.name
        assert text != base and len(text.splitlines()) - len(base.splitlines()) in (0, 1, 2), path.name


def test_valid_fixture_has_no_findings(reports):
    assert reports["small"].findings == []
    assert reports["small"].conforms


@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_each_defect_gives_exactly_its_findings(reports, defect):
    report = reports[defect]
    assert {_key(f) for f in report.findings} == EXPECTED[defect]
    first = min(report.findings, key=lambda f: (("violation", "warning", "info").index(f.severity), _key(f)))
    assert first.message == MESSAGES[defect]
    assert report.conforms == all(key[-1] != "violation" for key in EXPECTED[defect])
    for finding in report.findings:
        if finding.entity.startswith("https://w3id.org/battery-kg/id/"):
            assert Path(finding.file) == DATA / "invalid" / f"{defect}.ttl"
            line = Path(finding.file).read_text(encoding="utf-8").splitlines()[finding.line - 1]
            assert line.split()[0].rstrip(";") in {curie(URIRef(finding.entity)), *_props(finding)}, (defect, line)


def _props(finding) -> set[str]:
    return {part for part in finding.path.replace("/", "|").split("|") if part} | {"kg:totalBudget", "kg:amount"}


def test_findings_cite_fact_rows(reports):
    grant = next(f for f in reports["amount-not-decimal"].findings)
    assert (grant.line, grant.rows) == (68, ("F5",))  # the kg:amount line, under "# F5 municipal share"
    place = reports["amount-not-decimal"].entities[grant.entity]
    assert (place.line, place.rows, place.sources) == (64, ("F5",), ("kgd:fixture-article",))


def test_bundled_data_has_no_violation_and_reports_each_conflict_as_information():
    report = _validate(data_dir())
    assert report.conforms
    assert [f for f in report.findings if f.severity == "violation"] == []
    # Every conflict between sources is information, once, naming its code.
    data = Graph()
    for path in sorted(data_dir().rglob("*.ttl")):
        data.parse(path)
    conflicts = {str(c) for c in data.subjects(RDF.type, KG.Conflict)}
    reported = [f for f in report.findings if f.check == "kgsh:Conflict-report"]
    assert sorted(f.entity for f in reported) == sorted(conflicts) and conflicts
    assert {f.severity for f in reported} == {"info"}
    c5 = next(f for f in reported if f.entity.endswith("/conflict-c5"))
    assert (
        c5.message
        == "sources disagree (conflict C5): each claim is kept with its own source; `kg query conflicts` lists them"
    )


def test_two_article_fixture_conforms_with_one_info():
    report = _validate(ARTICLES)
    assert report.conforms
    assert {_key(f) for f in report.findings} == {
        ("kgd:daejeon-battery-plan-budget", "", "", "kgsh:UnattributedFundingShape", "info")
    }
    (finding,) = report.findings
    assert (Path(finding.file).name, finding.rows) == ("daejeon.ttl", ("B4",))


def test_violation_queries_are_discovered():
    names = [p.stem for p in check_files()]
    assert names == ["disjoint-classes-violation", "functional-property-violation", "owl-rl-inconsistency-violation"]


def test_owlrl_marks_are_reported_with_the_reference_engine(tmp_path):
    data = tmp_path / "nothing.ttl"
    data.write_text(
        VALID.read_text(encoding="utf-8")
        .replace("kgd:fixture-strategy a kg:Strategy ;", "kgd:fixture-strategy a kg:Strategy , owl:Nothing ;")
        .replace("@prefix kg:", "@prefix owl:     <http://www.w3.org/2002/07/owl#> .\n@prefix kg:"),
        encoding="utf-8",
    )
    report = _validate(data, "reference")
    assert ("kgd:fixture-strategy", "", "", "owl-rl-inconsistency", "violation") in {_key(f) for f in report.findings}


def test_shapes_load_and_use_every_severity():
    import pyshacl

    shapes = Graph().parse(ontology_dir() / "shapes.ttl")
    # (pyshacl's meta_shacl=True check recurses too deep on sh:or lists, so load them on an empty graph.)
    conforms, _graph, text = pyshacl.validate(Graph(), shacl_graph=shapes, advanced=True)
    assert conforms, text
    severities = {str(o) for o in shapes.objects(None, URIRef("http://www.w3.org/ns/shacl#severity"))}
    assert {s.rsplit("#", 1)[1] for s in severities} == {"Violation", "Warning", "Info"}


def test_report_round_trips_through_json(reports):
    report = reports["amount-negative"]
    assert Report.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    document = json.loads(render_json(report))
    assert document["conforms"] is False
    assert document["counts"] == {"violation": 2, "warning": 0, "info": 0}
    assert [e["entity"] for e in document["entities"]] == [
        "https://w3id.org/battery-kg/id/fixture-project",
        "https://w3id.org/battery-kg/id/fixture-project-municipal",
    ]


def test_fact_rows_of_three_digits_and_ranges_are_cited(tmp_path):
    from kg.validate import _SourceFile

    path = tmp_path / "rows.ttl"
    path.write_text("# N100 and N145–N147 [C16]\nkgd:x a kg:Plan .\n# A5\nkgd:y a kg:Plan .\n", encoding="utf-8")
    source = _SourceFile(path)
    assert source.rows_above(2) == ("C16", "N100", "N145", "N146", "N147")
    assert source.rows_above(4) == ("A5",)
