"""kg analyze and kg.analyze: exact figures derived from data/*.ttl and ontology/valuechain.ttl."""

from __future__ import annotations

import csv
import io
import json

import pytest

from kg import analyze as A
from kg.errors import UsageError
from kg.project import class_hierarchy, project
from kg.regions import resolve_place

STAGES = [
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
]


@pytest.fixture(scope="module")
def ds(bundled_reference_kg):
    return bundled_reference_kg


def test_value_chain_is_the_ring_of_valuechain_ttl(ds):
    chain = A.value_chain(ds)
    assert [s.curie for s in chain] == STAGES
    assert [s.order for s in chain] == list(range(1, 12))
    feeds = {s.curie: s.feeds_into for s in chain}
    assert feeds["kgc:stage-raw-materials"] == (
        "kgc:stage-precursor",
        "kgc:stage-anode-material",
        "kgc:stage-electrolyte",
    )
    assert feeds["kgc:stage-recycling"] == ("kgc:stage-raw-materials", "kgc:stage-precursor")  # the 선순환 loop
    assert chain[0].label_ko == "원료·광물" and chain[-1].label_en == "Recycling"


@pytest.mark.parametrize("name", ["Gunsan", "gunsan", "KUNSAN", "군산시", "군산", "kgd:gunsan"])
def test_resolve_region_by_any_name(ds, name):
    assert resolve_place(ds, name).curie == "kgd:gunsan"


def test_unknown_region_is_a_usage_error(ds):
    with pytest.raises(UsageError, match=r"unknown region 'Atlantis'; use one of Daejeon \(kgd:daejeon\)"):
        resolve_place(ds, "Atlantis")


# Gunsan (gunsan.ttl, located in Gunsan via site → zone 2 → gunsan): the capability programme supports
# raw materials and used battery; the analysis-centre project precursor, cathode, cell; the centre
# (facility) precursor and cathode. The evaluation-support task has no location, so it does not count.
GUNSAN = [1, 2, 2, 0, 0, 0, 1, 0, 0, 1, 0]
# Daejeon (daejeon.ttl): only the micro all-solid-state battery platform supports a stage (cell).
DAEJEON = [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]


@pytest.mark.parametrize(("region", "expected"), [("kgd:gunsan", GUNSAN), ("kgd:daejeon", DAEJEON)])
def test_coverage(ds, region, expected):
    cov = A.coverage(ds, resolve_place(ds, region))
    assert [s.curie for s in cov.stages] == STAGES
    assert list(cov.supporters) == expected


def test_gap_runs_follow_the_feeds_into_cycle(ds):
    cov = A.coverage(ds, resolve_place(ds, "Gunsan"))
    runs = A.gap_runs(cov)
    assert [r["stages"] for r in runs] == [
        ["kgc:stage-anode-material", "kgc:stage-electrolyte", "kgc:stage-separator"],
        ["kgc:stage-module-pack", "kgc:stage-end-use"],
        ["kgc:stage-recycling"],
    ]
    assert runs[0]["fed_by_covered"] == ["kgc:stage-raw-materials"] and runs[0]["feeds_covered"] == ["kgc:stage-cell"]
    assert runs[2]["fed_by_covered"] == ["kgc:stage-used-battery"]
    assert runs[2]["feeds_covered"] == ["kgc:stage-raw-materials", "kgc:stage-precursor"]
    # Daejeon: one run wrapping round the ring from module-pack back to separator.
    daejeon = A.gap_runs(A.coverage(ds, resolve_place(ds, "Daejeon")))
    assert len(daejeon) == 1 and daejeon[0]["stages"] == STAGES[7:] + STAGES[:6]


# A5: 369억 = 36,900,000,000 KRW for the analysis-centre project, the only funded initiative with stages.
def test_funding_by_stage(ds):
    whole = {f.stage.curie: (f.won, f.initiatives) for f in A.funding_by_stage(ds, None)}
    funded = {"kgc:stage-precursor", "kgc:stage-cathode-material", "kgc:stage-cell"}
    assert whole == {s: ((36_900_000_000, 1) if s in funded else (0, 0)) for s in STAGES}
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
    assert [c["size"] for c in comps] == [graph.number_of_nodes() - 5, 3, 2]
    assert comps[1]["members"] == ["kgd:article-newsstep-2025-10-01-gunsan", "kgd:choe-seon-gyeong", "kgd:newsstep"]


def test_cli_json_and_csv(kg, bundled_cache, tmp_path):
    out = tmp_path / "gunsan.json"
    result = kg("--engine", "reference", "analyze", "--region", "군산", "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["region"]["curie"] == "kgd:gunsan"
    cov = report["value_chain_coverage"]
    assert len(cov) == 1 and [s["supporters"] for s in cov[0]["stages"]] == GUNSAN
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
    supporters = {(r["region"], r["item"]): int(r["value"]) for r in rows if r["section"] == "value_chain_coverage"}
    assert [supporters["kgd:daejeon", s] for s in STAGES] == DAEJEON
    assert [supporters["kgd:gunsan", s] for s in STAGES] == GUNSAN


def test_cli_table_names_the_gaps(kg, bundled_cache):
    result = kg("--engine", "reference", "analyze", "--region", "Gunsan")
    assert result.exit_code == 0
    assert "Value-chain coverage, Gunsan · 군산시: 5 of 11 stages" in result.stdout
    assert (
        "  Anode material → Electrolyte → Separator  (fed by: Raw materials and minerals; feeds: Cell)" in result.stdout
    )


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
def test_cli_bad_input(kg, bundled_cache, args, message):
    result = kg("--engine", "reference", "analyze", *args)
    assert result.exit_code == 2
    # Click's own usage errors add a "Usage:" preamble; the error itself is one line, the last.
    assert result.stderr.splitlines()[-1].startswith(message)
    assert sum(line.startswith("Error:") for line in result.stderr.splitlines()) == 1
