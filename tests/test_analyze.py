"""kg analyze and kg.analyze: exact figures derived from the two-article fixture (tests/data/articles)
and ontology/valuechain.ttl."""

from __future__ import annotations

import csv
import io
import json

import pytest

from kg import analyze as A
from kg.errors import UsageError
from kg.project import class_hierarchy, project
from kg.regions import resolve_place

# The main stages in ring order (kg:stageOrder 1-12).
RING = [
    "kgc:stage-raw-materials",
    "kgc:stage-precursor",
    "kgc:stage-cathode-material",
    "kgc:stage-anode-material",
    "kgc:stage-electrolyte",
    "kgc:stage-separator",
    "kgc:stage-cell",
    "kgc:stage-module-pack",
    "kgc:stage-end-use",
    "kgc:stage-used-battery",
    "kgc:stage-recycling",
    "kgc:stage-equipment",
]
# Every stage in matrix order: the battery-materials group before its first member (cathode, 3).
STAGES = [*RING[:2], "kgc:stage-battery-materials", *RING[2:]]


@pytest.fixture(scope="module")
def ds(articles_reference_kg):
    return articles_reference_kg


def test_value_chain_is_the_ring_of_valuechain_ttl(ds):
    chain = A.value_chain(ds)
    assert [s.curie for s in chain] == STAGES
    assert [s.order for s in chain] == [1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert [s.curie for s in A.ring(chain)] == RING
    materials = chain[2]
    assert (materials.label_en, materials.label_ko, materials.feeds_into) == ("Battery materials", "소재", ())
    assert materials.members == (
        "kgc:stage-cathode-material",
        "kgc:stage-anode-material",
        "kgc:stage-electrolyte",
        "kgc:stage-separator",
    )
    feeds = {s.curie: s.feeds_into for s in chain}
    assert feeds["kgc:stage-raw-materials"] == (
        "kgc:stage-precursor",
        "kgc:stage-anode-material",
        "kgc:stage-electrolyte",
    )
    assert feeds["kgc:stage-recycling"] == ("kgc:stage-raw-materials", "kgc:stage-precursor")  # the 선순환 loop
    assert feeds["kgc:stage-equipment"] == ()  # serves the chain, feeds no stage
    assert chain[0].label_ko == "원료·광물" and chain[-1].label_en == "Equipment"


@pytest.mark.parametrize("name", ["Gunsan", "gunsan", "KUNSAN", "군산시", "군산", "kgd:gunsan"])
def test_resolve_region_by_any_name(ds, name):
    assert resolve_place(ds, name).curie == "kgd:gunsan"


def test_unknown_region_is_a_usage_error(ds):
    with pytest.raises(UsageError, match=r"unknown region 'Atlantis'; use one of Daejeon \(kgd:daejeon\)"):
        resolve_place(ds, "Atlantis")


# Gunsan (gunsan.ttl, located in Gunsan via site → zone 2 → gunsan): the capability programme supports
# raw materials and used battery; the analysis-centre project precursor, cathode, cell; the centre
# (facility) precursor and cathode. The evaluation-support task has no location, so it does not count.
# Cathode material is a battery material, so the group (third) counts the same two as cathode.
GUNSAN = [1, 2, 2, 2, 0, 0, 0, 1, 0, 0, 1, 0, 0]
# Daejeon (daejeon.ttl): only the micro all-solid-state battery platform has a stage (cell).
DAEJEON = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
GUNSAN_ARTICLE = "kgd:article-newsstep-2025-10-01-gunsan"


@pytest.mark.parametrize(("region", "expected"), [("kgd:gunsan", GUNSAN), ("kgd:daejeon", DAEJEON)])
def test_coverage(ds, region, expected):
    cov = A.coverage(ds, resolve_place(ds, region))
    assert [s.curie for s in cov.stages] == STAGES
    assert [len(e) for e in cov.evidence] == expected
    assert cov.sources == 1  # each region is covered by its one article
    assert [len(c) for c in cov.citing] == [min(n, 1) for n in expected]


def test_coverage_names_the_evidence_and_its_source(ds):
    cov = A.coverage(ds, resolve_place(ds, "Gunsan"))
    precursor = STAGES.index("kgc:stage-precursor")
    assert [(e.curie, e.label_ko) for e in cov.evidence[precursor]] == [
        ("kgd:gunsan-analysis-centre", "이차전지 실시간 고도분석센터"),
        ("kgd:gunsan-analysis-centre-project", "이차전지 실시간 고도분석센터 기반구축 사업"),
    ]
    assert cov.citing[precursor] == (GUNSAN_ARTICLE,)
    assert [s.curie for s in cov.without_evidence] == [
        s for s, n in zip(STAGES, GUNSAN, strict=True) if n == 0 and s != "kgc:stage-battery-materials"
    ]


def test_no_evidence_runs_follow_the_feeds_into_cycle(ds):
    cov = A.coverage(ds, resolve_place(ds, "Gunsan"))
    runs = A.no_evidence_runs(cov)
    # Equipment (12) has no evidence either, but it is not on the feeds-into cycle.
    assert [r["stages"] for r in runs] == [
        ["kgc:stage-anode-material", "kgc:stage-electrolyte", "kgc:stage-separator"],
        ["kgc:stage-module-pack", "kgc:stage-end-use"],
        ["kgc:stage-recycling"],
    ]
    assert runs[0]["fed_by_evidenced"] == ["kgc:stage-raw-materials"]
    assert runs[0]["feeds_evidenced"] == ["kgc:stage-cell"]
    assert runs[2]["fed_by_evidenced"] == ["kgc:stage-used-battery"]
    assert runs[2]["feeds_evidenced"] == ["kgc:stage-raw-materials", "kgc:stage-precursor"]
    # Daejeon: one run wrapping round the ring from module-pack back to separator.
    daejeon = A.no_evidence_runs(A.coverage(ds, resolve_place(ds, "Daejeon")))
    assert len(daejeon) == 1 and daejeon[0]["stages"] == RING[7:11] + RING[:6]


def test_coverage_matrix_has_every_province_level_region(ds):
    matrix = A.coverage_matrix(ds)
    assert [s.curie for s in matrix.stages] == STAGES
    # Daejeon is a metropolitan city; Gunsan is not province-level, Jeonbuk holds its evidence.
    assert [(r.region.curie, r.sources, list(r.evidence)) for r in matrix.rows] == [
        ("kgd:daejeon", 1, DAEJEON),
        ("kgd:jeonbuk-state", 1, GUNSAN),
    ]
    assert [list(r.citing) for r in matrix.rows] == [[min(n, 1) for n in DAEJEON], [min(n, 1) for n in GUNSAN]]


# A5: 369억 = 36,900,000,000 KRW for the analysis-centre project, the only funded initiative with stages.
def test_funding_by_stage(ds):
    whole = {f.stage.curie: (f.won, f.initiatives) for f in A.funding_by_stage(ds, None)}
    funded = {"kgc:stage-precursor", "kgc:stage-cathode-material", "kgc:stage-cell"}
    assert whole == {s: ((36_900_000_000, 1) if s in funded else (0, 0)) for s in RING}
    daejeon = A.funding_by_stage(ds, resolve_place(ds, "Daejeon"))
    assert all(f.won == 0 for f in daejeon)


def test_funding_by_level(ds):
    whole = [(f.level, f.won, f.initiatives) for f in A.funding_by_level(ds, None)]
    assert whole == [
        ("", 88_088_000_000, 1),  # B4 880.88억, no level stated
        ("kgc:level-national", 15_000_000_000, 1),  # A5 국비 150억
        ("kgc:level-municipal", 10_700_000_000, 1),  # 시비 107억
        ("kgc:level-provincial", 10_700_000_000, 1),  # 도비 107억
        ("kgc:level-private", 500_000_000, 1),  # 민자 5억
    ]
    assert sum(w for level, w, _ in whole if level) == 36_900_000_000  # the grants partition the budget
    gunsan = A.funding_by_level(ds, resolve_place(ds, "Gunsan"))
    assert [(f.level, f.label_ko) for f in gunsan] == [
        ("kgc:level-national", "국비"),
        ("kgc:level-municipal", "시비"),
        ("kgc:level-provincial", "도비"),
        ("kgc:level-private", "민자"),
    ]


def test_central_organisations_and_components(ds):
    graph, hierarchy = project(ds.rdflib), class_hierarchy(ds.rdflib)
    top = A.central_organisations(graph, hierarchy, top=3)
    # Gunsan City Government: runBy ×2, budgetSecuredBy ×2, funder (municipal share), organizer, areaServed.
    assert [(o["id"], o["degree"]) for o in top] == [
        ("kgd:gunsan-city-government", 7),
        ("kgd:jeonbuk-state-government", 6),
        ("kgd:daejeon-city-government", 4),
    ]
    every = A.central_organisations(graph, hierarchy, top=0)
    assert all(o["type"] not in ("kg:City", "kg:Project") for o in every)
    assert every == sorted(every, key=lambda o: (-o["degree"], -o["betweenness"], o["id"]))
    comps = A.components(graph)
    # kg:source is an attribute, not an edge: each article with its publisher (and reporter) stands apart.
    # The ontology's concepts no fixture statement points at stand alone: the equipment stage and the
    # trust levels (the fixture's articles state none).
    alone = ["kgc:stage-equipment", *(f"kgc:trust-{t}" for t in ("company", "government", "mirror", "news", "op-ed"))]
    assert [c["size"] for c in comps] == [graph.number_of_nodes() - 5 - len(alone), 3, 2] + [1] * len(alone)
    assert comps[1]["members"] == ["kgd:article-newsstep-2025-10-01-gunsan", "kgd:choe-seon-gyeong", "kgd:newsstep"]
    assert [c["members"][0] for c in comps[3:]] == alone


def test_cli_json_and_csv(kg, articles_cache, tmp_path):
    out = tmp_path / "gunsan.json"
    result = kg("--engine", "reference", "analyze", "--region", "군산", "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["region"]["curie"] == "kgd:gunsan"
    assert report["coverage_matrix"] is None  # the national matrix is the whole graph's
    cov = report["value_chain_evidence"]
    assert len(cov) == 1 and [len(s["evidence"]) for s in cov[0]["stages"]] == GUNSAN
    assert (cov[0]["sources"], cov[0]["stages_with_evidence"], cov[0]["main_stages"]) == (1, 5, 12)
    assert cov[0]["stages"][0]["evidence"] == [
        {
            "id": "kgd:gunsan-capability-programme",
            "label_en": "Capability-strengthening programme for secondary-battery and value-chain companies",
            "label_ko": "이차전지 전후방기업 역량강화 지원사업",
        }
    ]
    assert report["funding_by_level"][0] == {
        "level": "kgc:level-national",
        "label_en": "National",
        "label_ko": "국비",
        "won": 15_000_000_000,
        "initiatives": 1,
    }
    result = kg("--engine", "reference", "analyze", "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and list(rows[0]) == ["section", "region", "item", "label_en", "label_ko", "metric", "value"]
    matrix = {(r["region"], r["item"], r["metric"]): int(r["value"]) for r in rows if r["section"] == "coverage_matrix"}
    assert [matrix["kgd:daejeon", s, "evidence"] for s in STAGES] == DAEJEON
    assert [matrix["kgd:jeonbuk-state", s, "evidence"] for s in STAGES] == GUNSAN
    assert matrix["kgd:jeonbuk-state", "", "sources"] == 1


def test_cli_table_says_no_evidence_never_gap(kg, articles_cache):
    result = kg("--engine", "reference", "analyze", "--region", "Gunsan")
    assert result.exit_code == 0
    assert "Value-chain evidence, Gunsan · 군산시: 5 of 12 stages with evidence; 1 source cover" in result.stdout
    assert "    5  Electrolyte                        0        0  no evidence in the sources" in result.stdout
    assert (
        "  Anode material → Electrolyte → Separator  (fed by: Raw materials and minerals; feeds: Cell)" in result.stdout
    )
    assert "gap" not in result.stdout.casefold()
    whole = kg("--engine", "reference", "analyze")
    assert "region         sources  1  2  3-6  3  4  5  6  7  8  9  10  11  12" in whole.stdout
    assert "Jeonbuk State        1  1  2    2  2  .  .  .  1  .  .   1   .   ." in whole.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "Atlantis"], "Error: unknown region 'Atlantis'; use one of"),
        (["--format", "xml"], "Error: Invalid value for '--format'"),
        (
            ["-o", "/nonexistent-dir/a.csv"],
            "Error: cannot write /nonexistent-dir/a.csv: /nonexistent-dir does not exist",
        ),
    ],
)
def test_cli_bad_input(kg, articles_cache, args, message):
    result = kg("--engine", "reference", "analyze", *args)
    assert result.exit_code == 2
    # Click's own usage errors add a "Usage:" preamble; the error itself is one line, the last.
    assert result.stderr.splitlines()[-1].startswith(message)
    assert sum(line.startswith("Error:") for line in result.stderr.splitlines()) == 1
