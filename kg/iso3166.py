"""ISO 3166-2 subdivisions as pycountry ships them (Debian's iso-codes), as a graph kg link can match.

Each subdivision of a country becomes a node with its ISO name (skos:prefLabel), its name in
Korean from pycountry's own translations (iso-codes' .mo files, @ko), its code (kg:iso3166Code)
and its kind (a province, a metropolitan or special city: both a city and a first-level area).
The nodes' IRIs (urn:iso3166-2:<code>) exist only while matching: a link is written as the code,
`kg:iso3166Code "KR-47"`, never as that IRI.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rdflib import Graph, Literal, URIRef

from kg.errors import LinkError
from kg.namespaces import DCTERMS, KG, RDF, SCHEMA, SKOS, bind

SUBDIVISION_IRI = "urn:iso3166-2:"
COUNTRY_IRI = "urn:iso3166-1:"
ISO_LICENCE_NOTE = "iso-codes (Debian), as shipped by pycountry under the LGPL-2.1"
ISO_URL = "https://salsa.debian.org/iso-codes-team/iso-codes"

# pycountry's subdivision types -> what kind of area they are (kg.link kinds).
TYPE_KINDS: dict[str, frozenset[str]] = {
    "Province": frozenset({"province"}),
    "Special self-governing province": frozenset({"province"}),
    "Metropolitan city": frozenset({"province", "city"}),
    "Special city": frozenset({"province", "city"}),
    "Special self-governing city": frozenset({"province", "city"}),
    "State": frozenset({"province"}),
    "Region": frozenset({"province"}),
}


@dataclass(frozen=True)
class Subdivision:
    code: str  # KR-47
    name: str  # Gyeongsangbuk-do
    type: str  # Province
    local_name: str | None  # 경상북도 (pycountry's Korean translation), None when it has none
    parent: str | None


def _pycountry():
    try:
        import pycountry
    except ImportError:  # pragma: no cover - a declared dependency
        raise LinkError("pycountry is not installed: pip install pycountry") from None
    return pycountry


def pycountry_version() -> str:
    from importlib.metadata import version

    return version("pycountry")


@lru_cache(maxsize=16)
def subdivisions(country: str, language: str = "ko") -> tuple[Subdivision, ...]:
    """Every ISO 3166-2 subdivision of `country` (alpha-2), sorted by code, with its `language` name."""
    pycountry = _pycountry()
    found = pycountry.subdivisions.get(country_code=country.upper())
    if not found:
        raise LinkError(f"pycountry knows no ISO 3166-2 subdivisions of {country!r}; give an ISO 3166-1 alpha-2 code")
    try:
        translation = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=[language])
    except OSError:
        translation = None
    result = []
    for item in sorted(found, key=lambda s: s.code):
        local = translation.gettext(item.name) if translation else None
        result.append(
            Subdivision(
                code=item.code,
                name=item.name,
                type=item.type,
                local_name=local if local and local != item.name else None,
                parent=getattr(item, "parent_code", None),
            )
        )
    return tuple(result)


def country_name(country: str, language: str = "ko") -> tuple[str, str | None]:
    """The ISO 3166-1 name of `country` and its `language` translation."""
    pycountry = _pycountry()
    record = pycountry.countries.get(alpha_2=country.upper())
    if record is None:
        raise LinkError(f"{country!r} is not an ISO 3166-1 alpha-2 country code")
    try:
        local = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language]).gettext(record.name)
    except OSError:
        local = None
    return record.name, local


def data_files(language: str = "ko") -> list[Path]:
    """The files of pycountry the subdivisions are read from: the ISO 3166-2 database and its translation."""
    pycountry = _pycountry()
    files = [Path(pycountry.DATABASE_DIR) / "iso3166-2.json"]
    translation = Path(pycountry.LOCALES_DIR) / language / "LC_MESSAGES" / "iso3166-2.mo"
    return files + ([translation] if translation.is_file() else [])


def subdivision_iri(code: str) -> URIRef:
    return URIRef(SUBDIVISION_IRI + code)


def subdivision_graph(country: str, language: str = "ko") -> Graph:
    """The subdivisions of `country` as nodes kg.link.their_entities reads (labels, kinds, codes, parent)."""
    graph = bind(Graph())
    name, local = country_name(country, language)
    country_node = URIRef(COUNTRY_IRI + country.upper())
    graph.add((country_node, SKOS.prefLabel, Literal(name)))
    if local:
        graph.add((country_node, SKOS.altLabel, Literal(local, lang=language)))
    graph.add((country_node, KG.iso3166Code, Literal(country.upper())))
    graph.add((country_node, RDF.type, SCHEMA.Country))
    for item in subdivisions(country, language):
        node = subdivision_iri(item.code)
        graph.add((node, SKOS.prefLabel, Literal(item.name)))
        if item.local_name:
            graph.add((node, SKOS.altLabel, Literal(item.local_name, lang=language)))
        graph.add((node, KG.iso3166Code, Literal(item.code)))
        graph.add((node, DCTERMS.type, Literal(item.type)))
        for kind in sorted(TYPE_KINDS.get(item.type, frozenset({"province"}))):
            graph.add((node, RDF.type, SCHEMA.State if kind == "province" else SCHEMA.City))
        parent = subdivision_iri(item.parent) if item.parent else country_node
        graph.add((node, KG.containedInPlace, parent))
    return graph
