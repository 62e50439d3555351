"""The exact answers of every named query in queries/ on the two-article fixture (tests/data/articles).

Expected values are worked out from tests/data/articles/*.ttl and FACTS.md by hand (see the
comments), not copied from kg's output. Cells are written as in tests/competency/*.csv (see
sparql_answers.py). The fixture is frozen, so sources added to data/ change none of them.
"""

from __future__ import annotations

import pytest
from rdflib import Graph

from conftest import ARTICLES, CONFLICT
from kg.errors import QueryError
from kg.namespaces import KGD
from kg.paths import queries_dir
from kg.queries import list_queries, parse_term, run
from sparql_answers import (
    expected_cell,
    has_order_by,
    oxigraph_answer,
    oxigraph_store,
    rdflib_cell,
    rdflib_rows,
)

# The stages of the value chain with their kg:stageOrder (ontology/valuechain.ttl), and the group
# of the four core materials (battery materials), ordered with its first member.
STAGES = [
    (1, "raw-materials"),
    (2, "precursor"),
    (3, "battery-materials"),
    (3, "cathode-material"),
    (4, "anode-material"),
    (5, "electrolyte"),
    (6, "separator"),
    (7, "cell"),
    (8, "module-pack"),
    (9, "end-use"),
    (10, "used-battery"),
    (11, "recycling"),
    (12, "equipment"),
]
# What each region has on the value chain (kg:valueChainStage: here kg:supportsStage), located
# (kg:locatedIn) in it:
#   Gunsan: the analysis-centre project (A3, A9/A12: precursor, cathode material, cell) and the
#     centre itself (A9: precursor, cathode material), both on the Saemangeum Zone 2 site in
#     Gunsan (A7); the capability programme in Gunsan (A13/A14: raw materials and minerals, used
#     battery). The evaluation-support task (A12) has no location of its own, so it is not counted.
#     Cathode material is one of the battery materials, so both count there too.
#   Daejeon: the micro all-solid-state battery platform (B11: cell).
# Every statement comes from the region's one article.
EVIDENCE = {
    "daejeon": {"cell": ["daejeon-micro-solid-state-battery-platform"]},
    "gunsan": {
        "raw-materials": ["gunsan-capability-programme"],
        "precursor": ["gunsan-analysis-centre", "gunsan-analysis-centre-project"],
        "battery-materials": ["gunsan-analysis-centre", "gunsan-analysis-centre-project"],
        "cathode-material": ["gunsan-analysis-centre", "gunsan-analysis-centre-project"],
        "cell": ["gunsan-analysis-centre-project"],
        "used-battery": ["gunsan-capability-programme"],
    },
}
EVIDENCE["jeonbuk-state"] = EVIDENCE["gunsan"]  # Gunsan lies in Jeonbuk
ARTICLE = {
    "daejeon": "kgd:article-sisacatch-2025-05-12-daejeon",
    "gunsan": "kgd:article-newsstep-2025-10-01-gunsan",
    "jeonbuk-state": "kgd:article-newsstep-2025-10-01-gunsan",
}


def _matrix(region: str) -> list[tuple]:
    """Region, sources covering it (its article), order, stage, evidence, sources of the evidence."""
    found = EVIDENCE[region]
    return [
        (f"kgd:{region}", "1", str(n), f"kgc:stage-{s}", str(len(found.get(s, []))), "1" if s in found else "0")
        for n, s in STAGES
    ]


def _evidence(region: str) -> list[tuple]:
    rows = []
    for n, s in STAGES:
        things = EVIDENCE[region].get(s)
        if things:
            rows += [(f"kgd:{region}", str(n), f"kgc:stage-{s}", f"kgd:{t}", ARTICLE[region]) for t in things]
        else:
            rows.append((f"kgd:{region}", str(n), f"kgc:stage-{s}", "no evidence in the sources", ""))
    return rows


# A5: 369억 = 150억 national (MOTIE) + 107억 provincial (Jeonbuk) + 107억 municipal (Gunsan) + 5억 private.
# Ties on 107억 are broken by the level IRI: level-municipal < level-provincial.
ANALYSIS_CENTRE_FUNDING = [
    ("kgd:gunsan-analysis-centre-project", "kgc:level-national", "kgd:motie", "15000000000", "36900000000"),
    (
        "kgd:gunsan-analysis-centre-project",
        "kgc:level-municipal",
        "kgd:gunsan-city-government",
        "10700000000",
        "36900000000",
    ),
    (
        "kgd:gunsan-analysis-centre-project",
        "kgc:level-provincial",
        "kgd:jeonbuk-state-government",
        "10700000000",
        "36900000000",
    ),
    ("kgd:gunsan-analysis-centre-project", "kgc:level-private", "", "500000000", "36900000000"),
]
# B4: 880.88억 over five years, with neither funder nor level in the source.
DAEJEON_PLAN_FUNDING = [("kgd:daejeon-battery-plan", "", "", "88088000000", "88088000000")]

# B5-B12: the plan's parts. Only B11's platform and hub centre are tied to a strategy (3).
PLAN_PARTS = [
    ("kgd:daejeon-battery-plan", "", "", "kgd:daejeon-battery-cluster"),
    ("kgd:daejeon-battery-plan", "", "", "kgd:daejeon-conversion-support"),
    ("kgd:daejeon-battery-plan", "", "", "kgd:daejeon-energy-valley"),
    ("kgd:daejeon-battery-plan", "", "", "kgd:daejeon-global-network"),
    ("kgd:daejeon-battery-plan", "", "", "kgd:daejeon-process-performance-technology"),
    ("kgd:daejeon-battery-plan", "", "", "kgd:daejeon-scale-up-programme"),
    ("kgd:daejeon-battery-plan", "", "", "kgd:daejeon-strategic-industry-demand"),
    ("kgd:daejeon-battery-plan", "kgd:daejeon-strategy-3", "3", "kgd:daejeon-battery-hub-centre"),
    ("kgd:daejeon-battery-plan", "kgd:daejeon-strategy-3", "3", "kgd:daejeon-micro-solid-state-battery-platform"),
]

# B13: 2030 targets, largest value first.
PLAN_TARGETS = [
    ("kgd:daejeon-battery-plan", "kgd:daejeon-target-revenue", "2358600000000", "KRW", "2030"),
    ("kgd:daejeon-battery-plan", "kgd:daejeon-target-jobs", "6191", "persons", "2030"),
    ("kgd:daejeon-battery-plan", "kgd:daejeon-target-specialists", "1390", "persons", "2030"),
    ("kgd:daejeon-battery-plan", "kgd:daejeon-target-listed-companies", "18", "companies", "2030"),
]

# Stage order, then city (unbound first), then initiative.
PROJECTS_BY_STAGE = [
    ("1", "kgc:stage-raw-materials", "kgd:gunsan-capability-programme", "kgd:gunsan"),
    ("2", "kgc:stage-precursor", "kgd:gunsan-analysis-centre-evaluation-support", ""),
    ("2", "kgc:stage-precursor", "kgd:gunsan-analysis-centre", "kgd:gunsan"),
    ("2", "kgc:stage-precursor", "kgd:gunsan-analysis-centre-project", "kgd:gunsan"),
    ("3", "kgc:stage-cathode-material", "kgd:gunsan-analysis-centre-evaluation-support", ""),
    ("3", "kgc:stage-cathode-material", "kgd:gunsan-analysis-centre", "kgd:gunsan"),
    ("3", "kgc:stage-cathode-material", "kgd:gunsan-analysis-centre-project", "kgd:gunsan"),
    ("7", "kgc:stage-cell", "kgd:gunsan-analysis-centre-evaluation-support", ""),
    ("7", "kgc:stage-cell", "kgd:daejeon-micro-solid-state-battery-platform", "kgd:daejeon"),
    ("7", "kgc:stage-cell", "kgd:gunsan-analysis-centre-project", "kgd:gunsan"),
    ("10", "kgc:stage-used-battery", "kgd:gunsan-capability-programme", "kgd:gunsan"),
]

# A4 May 2024; A15 13 Oct 2025; A18 23-24 Oct 2025; A10 Nov 2025; B11 2026-2030; A6 2028;
# B4 2030; B13 2030. ISO strings sort across precisions; ties by milestone, then subject.
TIMELINE = [
    ("2024-05", "selected", "kgd:gunsan-analysis-centre-project"),
    ("2025-10-13", "application deadline", "kgd:gunsan-capability-programme"),
    ("2025-10-23", "starts", "kgd:gunsan-battery-conference-2025"),
    ("2025-10-24", "ends", "kgd:gunsan-battery-conference-2025"),
    ("2025-11", "equipment installation starts", "kgd:gunsan-analysis-centre"),
    ("2025-11", "starts", "kgd:gunsan-analysis-centre"),
    ("2026", "starts", "kgd:daejeon-battery-hub-centre"),
    ("2026", "starts", "kgd:daejeon-micro-solid-state-battery-platform"),
    ("2028", "ends", "kgd:gunsan-analysis-centre-project"),
    ("2030", "ends", "kgd:daejeon-battery-hub-centre"),
    ("2030", "ends", "kgd:daejeon-battery-plan"),
    ("2030", "ends", "kgd:daejeon-micro-solid-state-battery-platform"),
    ("2030", "target year", "kgd:daejeon-target-jobs"),
    ("2030", "target year", "kgd:daejeon-target-listed-companies"),
    ("2030", "target year", "kgd:daejeon-target-revenue"),
    ("2030", "target year", "kgd:daejeon-target-specialists"),
]

# Every role, by actor. "runs" includes the executing agency (kg:executedBy is a subproperty of
# kg:runBy); "hosts" is the place given as kg:location.
DAEJEON_HOSTS = [
    "battery-cluster",
    "battery-hub-centre",
    "battery-plan",
    "conversion-support",
    "energy-valley",
    "global-network",
    "micro-solid-state-battery-platform",
    "process-performance-technology",
    "scale-up-programme",
    "strategic-industry-demand",
]
WHO_DOES_WHAT = [
    *[
        ("kgd:analysis-centre-participants", "takes part in", f"kgd:gunsan-analysis-centre-{part}")
        for part in ("company-support", "evaluation-support", "project", "realtime-infrastructure")
    ],  # A11
    *[("kgd:daejeon", "hosts", f"kgd:daejeon-{part}") for part in DAEJEON_HOSTS],  # B9-B12
    ("kgd:daejeon-city-government", "established", "kgd:daejeon-battery-plan"),  # B1
    ("kgd:daejeon-city-government", "runs", "kgd:daejeon-battery-plan"),
    ("kgd:gunsan", "hosts", "kgd:gunsan-capability-programme"),  # A13
    ("kgd:gunsan-city-government", "funds", "kgd:gunsan-analysis-centre-project"),  # A5 시비
    ("kgd:gunsan-city-government", "organises", "kgd:gunsan-battery-conference-2025"),  # A18
    ("kgd:gunsan-city-government", "runs", "kgd:gunsan-analysis-centre-project"),
    ("kgd:gunsan-city-government", "runs", "kgd:gunsan-capability-programme"),  # A13
    ("kgd:gunsan-city-government", "secured the budget of", "kgd:gunsan-analysis-centre-project"),  # A1
    ("kgd:gunsan-city-government", "secured the budget of", "kgd:gunsan-capability-programme"),
    ("kgd:gunsan-conference-partner-agencies", "organises", "kgd:gunsan-battery-conference-2025"),  # A18
    ("kgd:jeonbuk-state-government", "funds", "kgd:gunsan-analysis-centre-project"),  # A5 도비
    ("kgd:jeonbuk-state-government", "runs", "kgd:gunsan-analysis-centre-project"),
    ("kgd:jeonbuk-state-government", "runs", "kgd:gunsan-capability-programme"),
    ("kgd:jeonbuk-state-government", "secured the budget of", "kgd:gunsan-analysis-centre-project"),  # A1
    ("kgd:jeonbuk-state-government", "secured the budget of", "kgd:gunsan-capability-programme"),
    ("kgd:jeonbuk-technopark-battery-unit", "executes", "kgd:gunsan-capability-programme"),  # A15
    ("kgd:jeonbuk-technopark-battery-unit", "runs", "kgd:gunsan-capability-programme"),
    ("kgd:motie", "funds", "kgd:gunsan-analysis-centre-project"),  # A5 국비
    ("kgd:motie", "selects", "kgd:gunsan-analysis-centre-project"),  # A4
    ("kgd:saemangeum-zone-2-research-site", "hosts", "kgd:gunsan-analysis-centre"),  # A7
    ("kgd:saemangeum-zone-2-research-site", "hosts", "kgd:gunsan-analysis-centre-project"),
]

# What is located in a place (directly or in a place inside it), with its most specific kg: class.
GUNSAN_THINGS = [
    ("kgd:gunsan-analysis-centre", "kg:Facility", "kgd:saemangeum-zone-2-research-site"),
    ("kgd:gunsan-analysis-centre-project", "kg:Project", "kgd:saemangeum-zone-2-research-site"),
    ("kgd:gunsan-capability-programme", "kg:Programme", "kgd:gunsan"),
]
DAEJEON_THINGS = [
    ("kgd:daejeon-battery-cluster", "kg:Cluster", "kgd:daejeon"),
    ("kgd:daejeon-battery-hub-centre", "kg:Facility", "kgd:daejeon"),
    ("kgd:daejeon-battery-plan", "kg:Plan", "kgd:daejeon"),
    ("kgd:daejeon-conversion-support", "kg:Programme", "kgd:daejeon"),
    ("kgd:daejeon-energy-valley", "kg:Cluster", "kgd:daejeon"),
    ("kgd:daejeon-global-network", "kg:Project", "kgd:daejeon"),
    ("kgd:daejeon-micro-solid-state-battery-platform", "kg:Facility", "kgd:daejeon"),
    ("kgd:daejeon-process-performance-technology", "kg:Task", "kgd:daejeon"),
    ("kgd:daejeon-scale-up-programme", "kg:Programme", "kgd:daejeon"),
    ("kgd:daejeon-strategic-industry-demand", "kg:Task", "kgd:daejeon"),
]

# (query name, params, expected rows). Params are written as on the command line.
CASES: list[tuple[str, dict[str, str], list[tuple]]] = [
    # Province-level regions only: Daejeon (a metropolitan city) and Jeonbuk, not Gunsan.
    ("coverage-matrix", {}, _matrix("daejeon") + _matrix("jeonbuk-state")),
    ("coverage-matrix", {"region": "kgd:jeonbuk-state"}, _matrix("jeonbuk-state")),
    ("coverage-matrix", {"region": "kgd:daejeon"}, _matrix("daejeon")),
    ("value-chain-evidence", {}, _evidence("daejeon") + _evidence("gunsan") + _evidence("jeonbuk-state")),
    ("value-chain-evidence", {"region": "kgd:gunsan"}, _evidence("gunsan")),
    ("funding-by-project", {}, DAEJEON_PLAN_FUNDING + ANALYSIS_CENTRE_FUNDING),
    ("funding-by-project", {"project": "kgd:gunsan-analysis-centre-project"}, ANALYSIS_CENTRE_FUNDING),
    (
        "funding-by-level",
        {},
        [
            ("kgd:daejeon", "", "88088000000", "1"),
            ("kgd:jeonbuk-state", "kgc:level-national", "15000000000", "1"),
            ("kgd:jeonbuk-state", "kgc:level-municipal", "10700000000", "1"),
            ("kgd:jeonbuk-state", "kgc:level-provincial", "10700000000", "1"),
            ("kgd:jeonbuk-state", "kgc:level-private", "500000000", "1"),
        ],
    ),
    ("funding-by-level", {"region": "kgd:daejeon"}, [("kgd:daejeon", "", "88088000000", "1")]),
    ("plan-structure", {}, PLAN_PARTS),
    ("plan-structure", {"plan": "kgd:daejeon-battery-plan"}, PLAN_PARTS),
    ("plan-targets", {}, PLAN_TARGETS),
    ("plan-targets", {"plan": "kgd:daejeon-battery-plan"}, PLAN_TARGETS),
    ("plan-targets", {"plan": "kgd:gunsan-analysis-centre-project"}, []),  # a project, not a plan
    ("projects-by-stage", {}, PROJECTS_BY_STAGE),
    ("projects-by-stage", {"stage": "kgc:stage-cell"}, [r for r in PROJECTS_BY_STAGE if r[0] == "7"]),
    ("projects-by-stage", {"stage": "kgc:stage-recycling"}, []),
    ("timeline", {}, TIMELINE),
    ("who-does-what", {}, WHO_DOES_WHAT),
    ("who-does-what", {"actor": "kgd:motie"}, [r for r in WHO_DOES_WHAT if r[0] == "kgd:motie"]),
    ("in-place", {"place": "kgd:gunsan"}, GUNSAN_THINGS),
    ("in-place", {"place": "kgd:jeonbuk-state"}, GUNSAN_THINGS),
    ("in-place", {"place": "kgd:saemangeum-zone-2"}, GUNSAN_THINGS[:2]),
    ("in-place", {"place": "kgd:daejeon"}, DAEJEON_THINGS),
    ("in-place", {"place": "kgd:south-korea"}, DAEJEON_THINGS + GUNSAN_THINGS),
]

QUERY_FILES = sorted(queries_dir().glob("*.rq"))


def _case_id(case: tuple) -> str:
    name, params, _ = case
    return name + "".join(f"[{k}={v}]" for k, v in params.items())


def _bindings(params: dict[str, str]) -> dict:
    return {name: parse_term(value) for name, value in params.items()}


def test_every_named_query_has_a_test():
    assert QUERY_FILES
    tested = {name for name, _, _ in CASES} | {"entity", "conflicts"}  # test_entity_*, test_conflicts_* below
    assert tested == {path.stem for path in QUERY_FILES}
    assert [info.name for info in list_queries()] == [path.stem for path in QUERY_FILES]


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_named_query_answer(case, articles_dataset):
    name, params, expected = case
    answer = run(name, articles_dataset, **_bindings(params))
    rows = rdflib_rows(answer.rows)
    wanted = [tuple(expected_cell(cell) for cell in row) for row in expected]
    assert has_order_by((queries_dir() / f"{name}.rq").read_text(encoding="utf-8")) == answer.ordered
    if answer.ordered:
        assert rows == wanted
    else:
        assert sorted(rows) == sorted(wanted)


@pytest.fixture(scope="module")
def store(articles_dataset):
    return oxigraph_store(articles_dataset)


@pytest.mark.parametrize("case", [c for c in CASES if not c[1]], ids=[_case_id(c) for c in CASES if not c[1]])
def test_pyoxigraph_agrees_on_named_queries(case, store, articles_dataset):
    """A second, independent SPARQL engine gives the same rows in the same order."""
    name, _, expected = case
    variables, rows = oxigraph_answer(store, (queries_dir() / f"{name}.rq").read_text(encoding="utf-8"))
    assert variables == run(name, articles_dataset).variables
    assert rows == [tuple(expected_cell(cell) for cell in row) for row in expected]


# -- conflicts: two sources, two claims (tests/data/conflict) ---------------------------------

# The daily (2023-04-06, dated on the page) says 710,000 t/yr by 2027; the weekly (no date on
# the page, inferred 2023-07-13) says by 2028. Ordered by code, then publication date.
CONFLICT_ROWS = [
    (
        "C1",
        "kgd:conflict-fixture",
        "kgd:fixture-capacity-daily",
        "710000",
        "t/yr",
        "2027",
        "kgd:source-fixture-daily",
        "2023-04-06",
        "stated",
    ),
    (
        "C1",
        "kgd:conflict-fixture",
        "kgd:fixture-capacity-weekly",
        "710000",
        "t/yr",
        "2028",
        "kgd:source-fixture-weekly",
        "2023-07-13",
        "inferred",
    ),
]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_conflicts_lists_each_claim_with_value_source_and_date(engine, tmp_path):
    from kg.engine import get_engine
    from kg.graph import Inputs, open_graph
    from kg.paths import ontology_dir

    graph = open_graph(Inputs(ontology_dir(), (CONFLICT,), get_engine(engine), cache=tmp_path))
    answer = graph.run(str(queries_dir() / "conflicts.rq"))
    assert answer.variables == [
        "code",
        "conflict",
        "claim",
        "value",
        "unit",
        "refersTo",
        "source",
        "published",
        "dated",
    ]
    assert rdflib_rows(answer.rows) == [tuple(expected_cell(c) for c in row) for row in CONFLICT_ROWS]
    one = graph.run(str(queries_dir() / "conflicts.rq"), conflict=KGD["conflict-fixture"])
    assert rdflib_rows(one.rows) == rdflib_rows(answer.rows)


# -- entity: everything about one entity, with its sources ------------------------------------


def _asserted_in_data_files(subject) -> set[tuple[str, str]]:
    """(property, value) of `subject` read straight from the fixture's files with rdflib, not through kg."""
    graph = Graph()
    for path in sorted(ARTICLES.glob("*.ttl")):
        graph.parse(path)
    return {(str(p), rdflib_cell(o)) for p, o in graph.predicate_objects(subject)}


def test_entity_lists_asserted_inferred_and_source_statements(articles_dataset):
    motie, article = KGD.motie, KGD["article-newsstep-2025-10-01-gunsan"]
    answer = run("entity", articles_dataset, entity=motie)
    assert answer.variables == ["subject", "property", "value", "origin", "source"]
    rows = rdflib_rows(answer.rows)
    by_origin: dict[str, set] = {}
    for subject, prop, value, origin, source in rows:
        by_origin.setdefault(origin, set()).add((subject, prop, value))
        # korea.ttl cites both articles; MOTIE's statements there are credited to the one MOTIE cites.
        assert source == (expected_cell("kgd:article-newsstep-2025-10-01-gunsan") if origin == "asserted" else "")

    # The entity's own statements come first, then those about its source (ORDER BY DESC(?subject = ?entity)).
    subjects = [row[0] for row in rows]
    assert subjects == [str(motie)] * subjects.count(str(motie)) + [str(article)] * subjects.count(str(article))
    assert set(by_origin) == {"asserted", "inferred", "source"}

    assert {(p, v) for _, p, v in by_origin["asserted"]} == _asserted_in_data_files(motie)
    assert len(by_origin["asserted"]) == 9  # data/korea.ttl: type, 2 labels, 2 altLabels, note, area, domain, source

    expected_inferred = {
        ("rdf:type", "kg:GovernmentOrganisation"),  # Ministry ⊑ GovernmentOrganisation ⊑ Organisation ⊑ Agent
        ("rdf:type", "kg:Organisation"),
        ("rdf:type", "kg:Agent"),
        ("rdf:type", "schema:GovernmentOrganization"),  # alignments/schema.ttl
        ("rdf:type", "schema:Organization"),
        ("rdf:type", "schema:Thing"),
        ("rdf:type", "org:FormalOrganization"),  # alignments/standards.ttl
        ("rdf:type", "org:Organization"),
        ("rdf:type", "prov:Agent"),
        ("rdf:type", "prov:Organization"),
        ("dcterms:source", "kgd:article-newsstep-2025-10-01-gunsan"),
        ("prov:hadPrimarySource", "kgd:article-newsstep-2025-10-01-gunsan"),
        ("schema:areaServed", "kgd:south-korea"),
        ("kg:funds", "kgd:gunsan-analysis-centre-project"),  # inverse of the fundedBy chain (A5 국비)
    }
    assert {(p, v) for _, p, v in by_origin["inferred"]} == {
        (expected_cell(p), expected_cell(v)) for p, v in expected_inferred
    }

    # The source article as data/sources.ttl describes it.
    assert {(p, v) for _, p, v in by_origin["source"]} == _asserted_in_data_files(article)
    assert (expected_cell("kg:headline"), "군산시, 이차전지 산업 신성장 거점도시 도약") in {
        (p, v) for _, p, v in by_origin["source"]
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("entity", "query entity needs --param entity=VALUE (e.g. kgd:gunsan-analysis-centre-project)"),
        ("in-place", "query in-place needs --param place=VALUE (e.g. kgd:gunsan, kgd:jeonbuk-state, kgd:south-korea)"),
    ],
)
def test_required_params_are_required(name, message, articles_dataset):
    with pytest.raises(QueryError) as error:
        run(name, articles_dataset)
    assert error.value.message == message


def test_value_chain_evidence_lists_each_piece_of_evidence_once(bundled_kg):
    """A statement is in its file's graph and in kgg:data, the merge: joined naively it came twice."""
    rows = [tuple(row) for row in bundled_kg.run((queries_dir() / "value-chain-evidence.rq").read_text()).rows]
    assert rows and len(rows) == len(set(rows))
