"""Finding an entity by what a user types: a CURIE, an IRI, or one of its names in any language.

One resolver for `--region`, `--focus`, export, render, analyze and query parameters: "군산",
"Gunsan", "군산시" and "kgd:gunsan" all find Gunsan. Names match case-insensitively, first as
written, then without a Korean administrative suffix (kg.names); a territory and its government
share a Korean name (군산시), so places win ties, then the smallest CURIE.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from rdflib import Literal, URIRef

from kg.errors import UsageError
from kg.graph import KnowledgeGraph
from kg.names import name_variants
from kg.paths import internal_sparql_dir
from kg.results import curie

__all__ = ["Region", "Named", "names", "resolve_place", "resolve_entity"]

# Up to this many administrative areas, an unknown region's error lists them all; beyond, the closest.
LISTED = 10


@dataclass(frozen=True)
class Region:
    """A place as reports show it."""

    iri: str
    curie: str
    label_en: str
    label_ko: str

    @property
    def title(self) -> str:
        return f"{self.label_en} · {self.label_ko}" if self.label_ko else self.label_en


@dataclass(frozen=True)
class Named:
    """An entity and every name it goes by."""

    iri: URIRef
    names: frozenset[str]
    label_en: str
    label_ko: str
    place: bool
    area: bool

    @property
    def region(self) -> Region:
        return Region(str(self.iri), curie(self.iri), self.label_en or curie(self.iri), self.label_ko)


def names(kg: KnowledgeGraph) -> dict[URIRef, Named]:
    """Every entity of `kg` with its names (kg/sparql/names.rq)."""
    rows: dict[URIRef, dict] = {}
    for entity, name, label_en, label_ko, place, area in kg.run(internal_sparql_dir() / "names.rq").rows:
        entry = rows.setdefault(entity, {"names": set(), "en": set(), "ko": set(), "place": False, "area": False})
        if name is not None:
            entry["names"].add(str(name))
        if label_en is not None:
            entry["en"].add(str(label_en))
        if label_ko is not None:
            entry["ko"].add(str(label_ko))
        entry["place"] |= _true(place)
        entry["area"] |= _true(area)
    return {
        iri: Named(
            iri,
            frozenset(e["names"]),
            min(e["en"], default=""),
            min(e["ko"], default=""),
            e["place"],
            e["area"],
        )
        for iri, e in rows.items()
    }


def _true(term) -> bool:
    return isinstance(term, Literal) and term.toPython() is True


def _lookup(candidates: list[Named], text: str) -> Named | None:
    wanted = text.strip()
    for entity in candidates:
        if wanted in (curie(entity.iri), str(entity.iri)):
            return entity
    folded = wanted.casefold()
    for strip in (False, True):
        hits = sorted(
            (e for e in candidates if any(folded in name_variants(name, strip) for name in e.names)),
            key=lambda e: curie(e.iri),
        )
        if hits:
            places = [h for h in hits if h.place]
            return (places or hits)[0]
    return None


def resolve_place(kg: KnowledgeGraph, text: str) -> Region:
    """A place by CURIE, IRI or any of its names; a UsageError listing the areas otherwise."""
    candidates = [e for e in names(kg).values() if e.place]
    found = _lookup(candidates, text)
    if found is None:
        areas = {f"{e.label_en or curie(e.iri)} ({curie(e.iri)})": e for e in candidates if e.area}
        if len(areas) <= LISTED:
            raise UsageError(f"unknown region {text!r}; use one of {', '.join(sorted(areas))}, or a place's CURIE")
        spelled = {name.casefold(): shown for shown, e in areas.items() for name in e.names}
        close = difflib.get_close_matches(text.strip().casefold(), list(spelled), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(dict.fromkeys(spelled[c] for c in close))}?" if close else ""
        raise UsageError(
            f"unknown region {text!r}; {hint or f'the graph has {len(areas)} administrative areas'} "
            "(a place's name in English or Korean, or its CURIE)"
        )
    return found.region


def resolve_entity(kg: KnowledgeGraph, text: str) -> URIRef:
    """Any entity by CURIE, IRI or one of its names (places first); a UsageError otherwise."""
    found = _lookup(list(names(kg).values()), text)
    if found is None:
        raise UsageError(f"unknown entity {text!r}; give a CURIE such as kgd:gunsan or an exact label")
    return found.iri
