"""The identifiers of shared/EXTERNAL-IDS.md are in data/ exactly as the sheet gives them (issue 4).

The expected values below are copied from the sheet; a wrong link is worse than none, so
the data may hold no identity link the sheet does not list.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from kg.namespaces import KG, KGD, OWL, SKOS, WD
from kg.paths import data_dir

INTEROP = Path(__file__).parent / "interop"
GN = "https://sws.geonames.org/"

# entity slug -> (Wikidata/GeoNames IRIs, legal-district code, former code, ISO 3166) per EXTERNAL-IDS.md
SHEET: dict[str, tuple[set[str], str | None, str | None, str | None]] = {
    "south-korea": ({f"{WD}Q884", f"{GN}1835841/"}, None, None, "KR"),
    "jeonbuk-state": ({f"{WD}Q41157", f"{GN}1845789/"}, "5200000000", "4500000000", "KR-45"),
    "gunsan": ({f"{GN}1842025/"}, "5213000000", "4513000000", None),
    "daejeon": ({f"{WD}Q20921", f"{GN}1835224/"}, "3000000000", None, "KR-30"),
    "motie": (set(), None, None, None),
    "jeonbuk-technopark": (set(), None, None, None),
    "saemangeum-national-industrial-complex": (set(), None, None, None),
}
# Links the sheet grades "likely" (GeoNames for Jeonbuk State and Gunsan).
LIKELY = {("jeonbuk-state", f"{GN}1845789/"), ("gunsan", f"{GN}1842025/")}
# Coordinates (WGS 84) the sheet gives.
COORDINATES = {
    "gunsan": ("35.983", "126.717"),
    "daejeon": ("36.35", "127.385"),
    "jeonbuk-state": ("35.82013", "127.10957"),
}


# Reuse the session's reasoning of the bundled data (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("bundled_cache")


@pytest.fixture(scope="module")
def data() -> Graph:
    graph = Graph()
    files = sorted(data_dir().rglob("*.ttl"))
    assert files
    for path in files:
        graph.parse(path)
    return graph


@pytest.mark.parametrize("slug", sorted(SHEET))
def test_identifiers_as_the_sheet_gives_them(data, slug):
    entity = KGD[slug]
    assert (entity, None, None) in data, f"{slug} is not in the data"
    links, code, former, iso = SHEET[slug]
    assert {str(o) for o in data.objects(entity, SKOS.exactMatch)} == links
    assert {str(o) for o in data.objects(entity, KG.legalDistrictCode)} == ({code} if code else set())
    assert {str(o) for o in data.objects(entity, KG.formerLegalDistrictCode)} == ({former} if former else set())
    assert {str(o) for o in data.objects(entity, KG.iso3166Code)} == ({iso} if iso else set())


def test_no_identity_link_without_the_sheet(data):
    listed = {(KGD[slug], URIRef(iri)) for slug, (links, *_) in SHEET.items() for iri in links}
    outside = {(s, o) for s, o in data.subject_objects(SKOS.exactMatch) if not str(o).startswith(str(KGD))}
    assert outside == listed
    assert [(s, o) for s, o in data.subject_objects(OWL.sameAs)] == []


def test_likely_links_are_annotated_as_likely(data):
    annotated = {
        (str(data.value(axiom, OWL.annotatedSource))[len(str(KGD)) :], str(data.value(axiom, OWL.annotatedTarget)))
        for axiom in data.subjects(KG.confidence, Literal("likely"))
        if data.value(axiom, OWL.annotatedProperty) == SKOS.exactMatch
    }
    assert annotated == LIKELY


@pytest.mark.parametrize("slug", sorted(COORDINATES))
def test_coordinates_as_the_sheet_gives_them(data, slug):
    lat, lon = COORDINATES[slug]
    assert Decimal(str(data.value(KGD[slug], KG.latitude))) == Decimal(lat)
    assert Decimal(str(data.value(KGD[slug], KG.longitude))) == Decimal(lon)


def _expand(value: str) -> str:
    return str(KGD) + value[len("kgd:") :] if value.startswith("kgd:") else value


@pytest.mark.parametrize("name", ["identity-links", "no-outside-sameas"])
def test_interop_identity_row(kg, name):
    """The INTEROP.md identity row, as tests/interop/ states it, on the reasoned graph."""
    query, expected = INTEROP / f"{name}.rq", INTEROP / f"{name}.csv"
    assert query.is_file() and expected.is_file()
    result = kg("query", str(query), "--format", "csv")
    assert result.exit_code == 0, result.output
    got = list(csv.reader(io.StringIO(result.stdout)))
    want = [[_expand(cell) for cell in row] for row in csv.reader(io.StringIO(expected.read_text(encoding="utf-8")))]
    assert got == want
