"""Link discovery: which entities of another dataset are ours, with a score and the evidence for each.

The other dataset is read into its own graph and never merged into ours; the result is a
separate linkset (skos:exactMatch, optionally owl:sameAs in another file) with a
void:Linkset description and one kg:LinkEvidence node per link.

Scoring (weights sum to 1; a criterion without evidence on both sides adds 0):

=============  ======  ==============================================================
criterion      weight  score
=============  ======  ==============================================================
label          0.40    1.0 exact after Unicode NFKC + case/space/punctuation folding;
                       0.9 after dropping suffixes (시, 광역시, City, -si, -do...);
                       0.85 after folding romanisation variants (Kunsan/Gunsan,
                       Taejon/Daejeon); 0.5 similar (difflib ratio >= 0.85)
type           0.20    1.0 same specific kind (city, province...); 0.5 only a generic
                       kind in common (place); 0 when the other side has no known type.
                       Known kinds that clash (a person, a club, an airport against a
                       city) veto the candidate
coordinates    0.15    1.0 within the kind's tolerance, falling linearly to 0 at three
                       times it; farther vetoes the candidate
identifier     0.15    1.0 when both carry the same code or IRI (legal-district code,
                       ISO 3166 code, a Wikidata or GeoNames IRI in our exactMatch);
                       a different IRI of the same authority vetoes the candidate
parent         0.10    1.0 when a parent place they give matches a place containing ours
=============  ======  ==============================================================
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from kg.engine import Engine, get_engine
from kg.errors import LinkError, LoadError, UsageError
from kg.formats import RdfFormat, by_name, by_suffix, names, suffixes
from kg.names import strip_admin_suffix
from kg.namespaces import DCTERMS, GEO, GN, KG, KGD, OURS, OWL, RDF, RDFS, SCHEMA, SKOS, VOID, WD, XSD, bind
from kg.paths import display

log = logging.getLogger(__name__)

WDT = Namespace("http://www.wikidata.org/prop/direct/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
GEONAMES_IRI = "https://sws.geonames.org/"

WEIGHTS: dict[str, Decimal] = {
    "label": Decimal("0.40"),
    "type": Decimal("0.20"),
    "coordinates": Decimal("0.15"),
    "identifier": Decimal("0.15"),
    "parent": Decimal("0.10"),
}
DEFAULT_THRESHOLD = Decimal("0.6")
DEFAULT_REVIEW_THRESHOLD = Decimal("0.35")
AMBIGUITY_MARGIN = Decimal("0.05")  # the best candidate must beat the runner-up by this much

LABEL_SCORES = {
    "exact": Decimal("1"),
    "suffix": Decimal("0.9"),
    "romanisation": Decimal("0.85"),
    "similar": Decimal("0.5"),
}
SIMILARITY_CUTOFF = 0.85

LABEL_PROPERTIES = (
    RDFS.label,
    SKOS.prefLabel,
    SKOS.altLabel,
    SKOS.hiddenLabel,
    SCHEMA.name,
    SCHEMA.alternateName,
    GN.name,
    GN.alternateName,
    GN.officialName,
    GN.shortName,
    FOAF.name,
)
IDENTITY_PROPERTIES = (SKOS.exactMatch, OWL.sameAs, SCHEMA.sameAs)
LINK_PROPERTIES = (SKOS.exactMatch, SKOS.closeMatch, OWL.sameAs, SCHEMA.sameAs)
CODE_PROPERTIES = (
    SCHEMA.identifier,
    DCTERMS.identifier,
    KG.legalDistrictCode,
    KG.formerLegalDistrictCode,
    KG.iso3166Code,
    WDT.P297,
    WDT.P300,
)
PARENT_PROPERTIES = (
    WDT.P131,
    WDT.P17,
    GN.parentADM1,
    GN.parentADM2,
    GN.parentCountry,
    SCHEMA.containedInPlace,
    SCHEMA.containedIn,
    KG.containedInPlace,
)

# ---------------------------------------------------------------- kinds of things

# Kind -> the more generic kind it belongs to (a city is an area is a place).
KIND_PARENT: dict[str, str] = {
    "country": "area",
    "province": "area",
    "city": "area",
    "area": "place",
    "district": "place",
    "site": "place",
    "person": "agent",
    "organisation": "agent",
    "government": "organisation",
    "club": "organisation",
    "airport": "facility",
}

# Our classes (and their subclasses, through our ontology) -> kind. Everything else is "other".
OUR_CLASS_KINDS: dict[URIRef, str] = {
    KG.Country: "country",
    KG.ProvinceLevelArea: "province",
    KG.City: "city",
    KG.AdministrativeArea: "area",
    KG.Site: "site",
    KG.IndustrialComplex: "site",
    KG.IndustrialComplexZone: "site",
    KG.Place: "place",
    KG.Person: "person",
    KG.GovernmentOrganisation: "government",
    KG.Organisation: "organisation",
    KG.Agent: "agent",
    KG.Facility: "facility",
    KG.Initiative: "initiative",
    KG.Event: "event",
    KG.Source: "source",
}

# The other side's types -> kind: a small table, not a reasoner. Wikidata classes (wdt:P31),
# GeoNames feature codes (gn:featureCode) and schema.org classes.
OUTSIDE_TYPE_KINDS: dict[URIRef, str] = {
    WD.Q6256: "country",  # country
    WD.Q3624078: "country",  # sovereign state
    WD.Q34876: "province",  # province
    WD.Q10864048: "province",  # first-level administrative country subdivision
    WD.Q515: "city",  # city
    WD.Q1549591: "city",  # big city
    WD.Q5: "person",  # human
    WD.Q476028: "club",  # association football club
    WD.Q847017: "club",  # sports club
    WD.Q1248784: "airport",  # airport
    WD.Q43229: "organisation",  # organization
    WD.Q327333: "government",  # government agency
    GN["A.PCLI"]: "country",
    GN["A.PCL"]: "country",
    GN["A.ADM1"]: "province",
    GN["A.ADM2"]: "city",
    GN["P.PPLC"]: "city",
    GN["P.PPLA"]: "city",
    GN["P.PPLA2"]: "city",
    GN["P.PPLA3"]: "city",
    GN["P.PPL"]: "city",
    GN["P.PPLX"]: "district",
    GN["S.AIRP"]: "airport",
    GN["S.AIRB"]: "airport",
    GN["S.AIRF"]: "airport",
    GN["L.INDS"]: "site",
    SCHEMA.Country: "country",
    SCHEMA.State: "province",
    SCHEMA.City: "city",
    SCHEMA.AdministrativeArea: "area",
    SCHEMA.Place: "place",
    SCHEMA.Person: "person",
    SCHEMA.SportsTeam: "club",
    SCHEMA.SportsOrganization: "club",
    SCHEMA.Airport: "airport",
    SCHEMA.Organization: "organisation",
    SCHEMA.GovernmentOrganization: "government",
}

# Distance tolerance in km by matched kind: centroids of a province lie farther apart than a city's.
TOLERANCE_KM: dict[str, float] = {"country": 800.0, "province": 80.0, "area": 80.0, "city": 25.0}
DEFAULT_TOLERANCE_KM = 5.0

# ---------------------------------------------------------------- label normalisation

# Trailing words that name the kind of area, not the area (longest first).
LATIN_SUFFIXES: tuple[tuple[str, ...], ...] = (
    ("special", "self", "governing", "province"),
    ("special", "self", "governing", "city"),
    ("metropolitan", "city"),
    ("special", "city"),
    ("state",),
    ("province",),
    ("city",),
    ("county",),
    ("si",),
    ("do",),
    ("gun",),
)
LATIN_PREFIXES: tuple[tuple[str, ...], ...] = (("city", "of"), ("province", "of"))
# Names, after folding, that mean the same country (ISO 3166 and GeoNames spell it out).
NAME_ALIASES = {"republicofkorea": "southkorea", "korearepublicof": "southkorea", "korearepublic": "southkorea"}
# McCune-Reischauer -> Revised Romanization at the start of a word, longest first.
_INITIAL_CONSONANTS = (("ch", "j"), ("k", "g"), ("t", "d"), ("p", "b"))
_VOWELS = (("eo", "o"), ("eu", "u"), ("shi", "si"))
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def fold(text: str) -> list[str]:
    """Words of `text` after NFKC, case folding and removing accents (Hangul kept whole) and punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    text = unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))
    return [word for word in re.split(r"[\W_]+", text) if word]


def label_keys(text: str) -> dict[str, str]:
    """Match keys of one label: exact, suffix (kind words dropped), romanisation (spelling variants folded)."""
    words = fold(text)
    exact = "".join(words)
    stripped = _strip_suffix(words)
    suffix = NAME_ALIASES.get("".join(stripped), "".join(stripped))
    roman = "".join(_romanisation_key(word) for word in stripped)
    roman = NAME_ALIASES.get(roman, roman)
    return {"exact": NAME_ALIASES.get(exact, exact), "suffix": suffix, "romanisation": roman}


def _strip_suffix(words: list[str]) -> list[str]:
    for prefix in LATIN_PREFIXES:
        if tuple(words[: len(prefix)]) == prefix and len(words) > len(prefix):
            words = words[len(prefix) :]
            break
    for suffix in LATIN_SUFFIXES:
        if len(words) > len(suffix) and tuple(words[-len(suffix) :]) == suffix:
            words = words[: -len(suffix)]
            break
    if len(words) == 1 and _HANGUL.search(words[0]):
        stripped = strip_admin_suffix(words[0])
        if stripped is not None:
            return [stripped]
    return words


def _romanisation_key(word: str) -> str:
    if _HANGUL.search(word) or not word.isascii():
        return word
    for old, new in _INITIAL_CONSONANTS:
        if word.startswith(old):
            word = new + word[len(old) :]
            break
    for old, new in _VOWELS:
        word = word.replace(old, new)
    return word


# ---------------------------------------------------------------- entities


@dataclass
class Entity:
    """What matching needs to know about one entity, on either side."""

    iri: URIRef
    labels: list[Literal] = field(default_factory=list)
    specific: frozenset[str] = frozenset()  # the most specific kinds its types give
    coordinates: tuple[float, float] | None = None
    codes: frozenset[str] = frozenset()
    ids: frozenset[URIRef] = frozenset()  # the IRI itself and the IRIs it is the same as
    parents: tuple[Node, ...] = ()  # ours: every containing place; theirs: the parents they give
    keys: list[tuple[Literal, dict[str, str]]] = field(default_factory=list)

    @property
    def kinds(self) -> frozenset[str]:
        """The specific kinds with all their generic parents."""
        return _with_parents(self.specific)

    def __post_init__(self) -> None:
        self.keys = [(label, label_keys(str(label))) for label in self.labels]


def _with_parents(kinds: Iterable[str]) -> frozenset[str]:
    closed = set()
    for kind in kinds:
        while kind:
            closed.add(kind)
            kind = KIND_PARENT.get(kind, "")
    return frozenset(closed)


def _labels(graph: Graph, subject: Node) -> list[Literal]:
    found = {
        o for p in LABEL_PROPERTIES for o in graph.objects(subject, p) if isinstance(o, Literal) and str(o).strip()
    }
    return sorted(found, key=lambda lit: (str(lit), lit.language or ""))


def our_entities(ontology: Graph, data: Graph) -> list[Entity]:
    """Every labelled entity of our data, with kinds from our class hierarchy and places containing it."""
    supers: dict[Node, set[Node]] = defaultdict(set)
    for sub, sup in ontology.subject_objects(RDFS.subClassOf):
        supers[sub].add(sup)

    def ancestors_of(cls: Node) -> set[Node]:
        seen, todo = set(), [cls]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(supers.get(current, ()))
        return seen

    def containers(entity: Node) -> tuple[Node, ...]:
        """Every place containing `entity`, nearest first (breadth first, sorted within a level)."""
        found: list[Node] = []
        level = sorted(set(data.objects(entity, KG.containedInPlace)))
        while level:
            level = [p for p in level if p not in found]
            found.extend(level)
            level = sorted({o for p in level for o in data.objects(p, KG.containedInPlace)})
        return tuple(found)

    entities = []
    for subject in sorted({s for s in data.subjects(RDFS.label) if isinstance(s, URIRef)}):
        classes = (
            set().union(*(ancestors_of(c) for c in data.objects(subject, RDF.type)))
            if (subject, RDF.type, None) in data
            else set()
        )
        kinds = {OUR_CLASS_KINDS[c] for c in classes if c in OUR_CLASS_KINDS} or {"other"}
        entities.append(
            Entity(
                iri=subject,
                labels=_labels(data, subject),
                specific=frozenset(_most_specific(kinds)),
                coordinates=_our_coordinates(data, subject),
                codes=frozenset(
                    str(o)
                    for p in (KG.legalDistrictCode, KG.formerLegalDistrictCode, KG.iso3166Code)
                    for o in data.objects(subject, p)
                ),
                ids=frozenset({subject, *(o for o in data.objects(subject, SKOS.exactMatch) if isinstance(o, URIRef))}),
                parents=containers(subject),
            )
        )
    return entities


def _most_specific(kinds: set[str]) -> set[str]:
    """Drop kinds that are only generic parents of another kind given (schema:Place beside schema:City)."""
    implied = set().union(*(_with_parents([k]) - {k} for k in kinds)) if kinds else set()
    return {k for k in kinds if k not in implied}


def _our_coordinates(data: Graph, subject: Node) -> tuple[float, float] | None:
    lat, lon = data.value(subject, KG.latitude), data.value(subject, KG.longitude)
    return _as_point(lat, lon)


def _as_point(lat: Node | None, lon: Node | None) -> tuple[float, float] | None:
    try:
        point = (float(lat), float(lon))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return point if -90 <= point[0] <= 90 and -180 <= point[1] <= 180 else None


_WKT_POINT = re.compile(r"^\s*(?:<[^>]*>\s*)?point\s*\(\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\)\s*$", re.I)


def _their_coordinates(graph: Graph, subject: Node) -> tuple[float, float] | None:
    point = _as_point(graph.value(subject, GEO.lat), graph.value(subject, GEO.long))
    point = point or _as_point(graph.value(subject, SCHEMA.latitude), graph.value(subject, SCHEMA.longitude))
    for geo in graph.objects(subject, SCHEMA.geo):
        point = point or _as_point(graph.value(geo, SCHEMA.latitude), graph.value(geo, SCHEMA.longitude))
    for wkt in graph.objects(subject, WDT.P625):
        match = _WKT_POINT.match(str(wkt))
        if match and point is None:  # WKT writes longitude first
            point = _as_point(match.group(2), match.group(1))
    return point


def their_entities(graph: Graph) -> list[Entity]:
    """The other dataset's entities worth matching: IRIs outside our namespaces with a label or an identity link."""
    subjects = {s for p in (*LABEL_PROPERTIES, *IDENTITY_PROPERTIES, WDT.P1566) for s in graph.subjects(p)}
    entities = []
    for subject in sorted(s for s in subjects if isinstance(s, URIRef) and not str.startswith(s, OURS)):
        kinds = {
            OUTSIDE_TYPE_KINDS[t]
            for p in (RDF.type, WDT.P31, GN.featureCode)
            for t in graph.objects(subject, p)
            if t in OUTSIDE_TYPE_KINDS
        }
        kinds |= {OUR_CLASS_KINDS[t] for t in graph.objects(subject, RDF.type) if t in OUR_CLASS_KINDS}
        ids = {subject, *(o for p in IDENTITY_PROPERTIES for o in graph.objects(subject, p) if isinstance(o, URIRef))}
        ids |= {URIRef(f"{GEONAMES_IRI}{o}/") for o in graph.objects(subject, WDT.P1566) if str(o).isdigit()}
        codes = set()
        for p in CODE_PROPERTIES:
            for o in graph.objects(subject, p):
                value = graph.value(o, SCHEMA.value) if not isinstance(o, Literal) else o
                if isinstance(value, Literal):
                    codes.add(str(value).strip())
        entities.append(
            Entity(
                iri=subject,
                labels=_labels(graph, subject),
                specific=frozenset(_most_specific(kinds)),
                coordinates=_their_coordinates(graph, subject),
                codes=frozenset(codes),
                ids=frozenset(ids),
                parents=tuple(sorted({o for p in PARENT_PROPERTIES for o in graph.objects(subject, p)})),
            )
        )
    return entities


# ---------------------------------------------------------------- matching


@dataclass
class Candidate:
    """One (ours, theirs) pair with its score and evidence; `veto` says why it can never be a link."""

    ours: URIRef
    theirs: URIRef
    score: Decimal = Decimal(0)
    our_label: Literal | None = None
    their_label: Literal | None = None
    label_match: str = ""
    kind: str = ""
    distance_km: Decimal | None = None
    identifier: Node | None = None
    parent: URIRef | None = None
    veto: str = ""
    note: str = ""


@dataclass
class LinkResult:
    """Links at or above the threshold, review candidates below it, and what was rejected."""

    links: list[Candidate]
    review: list[Candidate]
    rejected: list[Candidate]
    entities: int  # their entities considered
    threshold: Decimal
    review_threshold: Decimal


def best_label_match(ours: Entity, theirs: Entity) -> tuple[str, Literal, Literal] | None:
    """The strongest label agreement between two entities, ties broken by the labels' text."""
    best: tuple[Decimal, str, Literal, Literal] | None = None
    for our_label, our_keys in ours.keys:
        for their_label, their_keys in theirs.keys:
            level = next(
                (
                    lvl
                    for lvl in ("exact", "suffix", "romanisation")
                    if our_keys[lvl] and our_keys[lvl] == their_keys[lvl]
                ),
                "",
            )
            if not level:
                a, b = our_keys["romanisation"], their_keys["romanisation"]
                if min(len(a), len(b)) >= 4 and difflib.SequenceMatcher(None, a, b).ratio() >= SIMILARITY_CUTOFF:
                    level = "similar"
            if level and (best is None or LABEL_SCORES[level] > best[0]):
                best = (LABEL_SCORES[level], level, our_label, their_label)
    return None if best is None else best[1:]


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def _authority(iri: Node) -> str:
    text = str(iri)
    if text.startswith(str(WD)):
        return "Wikidata"
    if text.startswith(GEONAMES_IRI):
        return "GeoNames"
    return ""


def score_pair(ours: Entity, theirs: Entity, their_graph: Graph, by_iri: dict[Node, Entity]) -> Candidate:
    """Score one pair on every criterion; see the module docstring for the weights."""
    cand = Candidate(ours.iri, theirs.iri)
    parts: dict[str, Decimal] = {}

    label = best_label_match(ours, theirs)
    if label:
        cand.label_match, cand.our_label, cand.their_label = label
        parts["label"] = LABEL_SCORES[cand.label_match]

    if theirs.specific:
        same = sorted(ours.specific & theirs.specific)
        if same:
            cand.kind, parts["type"] = same[0], Decimal(1)
        elif theirs.specific <= ours.kinds or ours.specific <= theirs.kinds:
            # one side only says "a place" or "an organisation": compatible, weaker evidence
            narrower = ours.specific if theirs.specific <= ours.kinds else theirs.specific
            cand.kind, parts["type"] = sorted(narrower)[0], Decimal("0.5")
        else:
            cand.veto = f"type clash: theirs is {_kind_text(theirs.specific)}, ours is {_kind_text(ours.specific)}"

    shared_ids = sorted(ours.ids & theirs.ids)
    shared_codes = sorted(ours.codes & theirs.codes)
    if shared_ids:
        cand.identifier, parts["identifier"] = shared_ids[0], Decimal(1)
    elif shared_codes:
        cand.identifier, parts["identifier"] = Literal(shared_codes[0]), Decimal(1)
    else:
        for their_id in sorted(theirs.ids):
            authority = _authority(their_id)
            clash = authority and any(_authority(i) == authority for i in ours.ids)
            if clash and not cand.veto:
                cand.veto = f"different {authority} identifier: ours is not {their_id}"

    if ours.coordinates and theirs.coordinates:
        km = haversine_km(ours.coordinates, theirs.coordinates)
        cand.distance_km = Decimal(f"{km:.1f}")
        tolerance = TOLERANCE_KM.get(cand.kind, DEFAULT_TOLERANCE_KM)
        if km <= tolerance:
            parts["coordinates"] = Decimal(1)
        elif km <= 3 * tolerance:
            parts["coordinates"] = Decimal(f"{(3 * tolerance - km) / (2 * tolerance):.3f}")
        elif not cand.veto:
            cand.veto = f"too far apart: {km:.1f} km (tolerance for a {cand.kind or 'place'}: {tolerance:g} km)"

    parent = _matched_parent(ours, theirs, their_graph, by_iri)
    if parent is not None:
        cand.parent, parts["parent"] = parent, Decimal(1)

    if not cand.veto:
        cand.score = sum((WEIGHTS[name] * value for name, value in parts.items()), Decimal(0)).quantize(
            Decimal("0.001")
        )
    return cand


def _kind_text(kinds: frozenset[str]) -> str:
    return "/".join(sorted(kinds)) or "unknown"


def _matched_parent(ours: Entity, theirs: Entity, their_graph: Graph, by_iri: dict[Node, Entity]) -> URIRef | None:
    """One of our containing places that a parent they give resolves to, by IRI or by label."""
    if not ours.parents or not theirs.parents:
        return None
    for ancestor in ours.parents:  # nearest first, so the most telling parent is the one reported
        mine = by_iri.get(ancestor)
        if mine is None:
            continue
        for parent in theirs.parents:
            if parent in mine.ids:
                return mine.iri
            keys = {label_keys(str(label))["suffix"] for label in _labels(their_graph, parent)}
            if keys & {k["suffix"] for _, k in mine.keys}:
                return mine.iri
    return None


def find_links(
    ours: list[Entity],
    theirs: list[Entity],
    their_graph: Graph,
    *,
    threshold: Decimal = DEFAULT_THRESHOLD,
    review_threshold: Decimal = DEFAULT_REVIEW_THRESHOLD,
    step: Callable[[], None] | None = None,
) -> LinkResult:
    """Score every plausible pair (a label key or identifier in common) and keep each entity's best match."""
    by_iri = {entity.iri: entity for entity in ours}
    index: dict[str, set[URIRef]] = defaultdict(set)
    for entity in ours:
        for _, keys in entity.keys:
            for level, key in keys.items():
                index[f"{level}:{key}"].add(entity.iri)
        for value in (*entity.ids, *entity.codes):
            index[f"id:{value}"].add(entity.iri)
    by_initial: dict[str, list[Entity]] = defaultdict(list)
    for entity in ours:
        for initial in sorted({keys["romanisation"][:1] for _, keys in entity.keys}):
            by_initial[initial].append(entity)

    links, review, rejected = [], [], []
    for entity in theirs:
        pool: set[URIRef] = set()
        for _, keys in entity.keys:
            for level, key in keys.items():
                pool |= index.get(f"{level}:{key}", set())
            for other in by_initial.get(keys["romanisation"][:1], ()):
                pool.add(other.iri)  # for "similar" labels; scored below, most drop out
        for value in (*entity.ids, *entity.codes):
            pool |= index.get(f"id:{value}", set())
        candidates = []
        for iri in sorted(pool):
            cand = score_pair(by_iri[iri], entity, their_graph, by_iri)
            if cand.label_match or cand.identifier is not None:
                candidates.append(cand)
        rejected.extend(c for c in candidates if c.veto)
        viable = sorted((c for c in candidates if not c.veto), key=lambda c: (-c.score, str(c.ours)))
        if viable:
            best = viable[0]
            close = [c for c in viable[1:] if best.score - c.score < AMBIGUITY_MARGIN]
            if close and best.score >= review_threshold:
                for c in (best, *close):
                    c.note = "ambiguous: " + ", ".join(sorted(str(o.ours) for o in (best, *close) if o is not c))
                review.extend(c for c in (best, *close))
            elif best.score >= threshold:
                links.append(best)
            elif best.score >= review_threshold:
                review.append(best)
        if step:
            step()
    order = lambda c: (str(c.ours), str(c.theirs))  # noqa: E731
    return LinkResult(
        sorted(links, key=order),
        sorted(review, key=lambda c: (-c.score, *order(c))),
        sorted(rejected, key=order),
        len(theirs),
        threshold,
        review_threshold,
    )


# ---------------------------------------------------------------- reading the other dataset


def input_format(path: Path, explicit: str | None = None) -> RdfFormat:
    """The format of `path`, from --from or its suffix; a one-line error otherwise."""
    if explicit:
        try:
            return by_name(explicit)
        except UsageError:
            raise LoadError(f"unknown serialisation {explicit!r}; use one of {', '.join(names())}") from None
    found = by_suffix(path)
    if found is None:
        raise LoadError(
            f"{display(path)}: unknown serialisation {path.suffix or '(no suffix)'!r}; use one of "
            f"{', '.join(suffixes())} or name the format with --from"
        )
    return found


def read_external(path: Path, format: str | None = None, engine: Engine | None = None) -> tuple[Graph, str]:
    """Parse another dataset and return it with the SHA-256 of its bytes (its identity in the linkset)."""
    path = Path(path)
    rdf_format = input_format(path, format)
    graph = (engine or get_engine()).parse(path, rdf_format)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return graph, digest


def dangling_links(graph: Graph, data: Graph) -> list[URIRef]:
    """IRIs in our namespaces that `graph` links to (exactMatch, sameAs...) but our data does not describe."""
    known = set(data.subjects())
    found = set()
    for p in LINK_PROPERTIES:
        for s, o in graph.subject_objects(p):
            for term in (s, o):
                if isinstance(term, URIRef) and str.startswith(term, OURS) and term not in known:
                    found.add(term)
    return sorted(found)


def has_labels(entities: list[Entity]) -> bool:
    return any(entity.labels for entity in entities)


def check_linkable(path: Path, entities: list[Entity]) -> None:
    """Warn when nothing has a label; fail when there is nothing at all to match on."""
    if not has_labels(entities):
        log.warning("%s: no entity has a label (rdfs:label, skos:prefLabel, schema:name, gn:name...)", display(path))
        if not any(e.ids - {e.iri} or e.codes for e in entities):
            raise LinkError(f"{display(path)}: nothing to link — no labels, identifiers or codes to match ours on")


# ---------------------------------------------------------------- output


def our_dataset_iri() -> URIRef:
    return KGD["dataset"]


def linkset_graph(result: LinkResult, digest: str, source_name: str, predicate: URIRef = SKOS.exactMatch) -> Graph:
    """The links as `predicate` triples, a void:Linkset describing them, and one kg:LinkEvidence per link."""
    graph = bind(Graph())
    kind = "sameas" if predicate == OWL.sameAs else "exactmatch"
    linkset = KGD[f"linkset/{digest[:12]}-{kind}"]
    theirs = URIRef(f"urn:sha256:{digest}")
    graph.add((linkset, RDF.type, VOID.Linkset))
    graph.add((linkset, VOID.subjectsTarget, our_dataset_iri()))
    graph.add((linkset, VOID.objectsTarget, theirs))
    graph.add((linkset, VOID.linkPredicate, predicate))
    graph.add((linkset, VOID.triples, Literal(len(result.links), datatype=XSD.integer)))
    graph.add((linkset, DCTERMS.source, theirs))
    graph.add(
        (
            linkset,
            DCTERMS.description,
            Literal(
                f"Links found by kg link at threshold {result.threshold} in {source_name} "
                f"({result.entities} entities considered).",
                lang="en",
            ),
        )
    )
    graph.add((our_dataset_iri(), RDF.type, VOID.Dataset))
    graph.add((theirs, RDF.type, VOID.Dataset))
    graph.add((theirs, RDFS.label, Literal(source_name)))
    graph.add((theirs, DCTERMS.identifier, Literal(f"sha256:{digest}")))
    for cand in result.links:
        graph.add((cand.ours, predicate, cand.theirs))
        node = BNode()
        graph.add((node, RDF.type, KG.LinkEvidence))
        graph.add((node, RDF.type, OWL.Axiom))
        graph.add((node, OWL.annotatedSource, cand.ours))
        graph.add((node, OWL.annotatedProperty, predicate))
        graph.add((node, OWL.annotatedTarget, cand.theirs))
        graph.add((node, VOID.inDataset, linkset))
        graph.add((node, KG.linkScore, Literal(cand.score, datatype=XSD.decimal)))
        if cand.our_label is not None:
            graph.add((node, KG.ourLabel, cand.our_label))
            graph.add((node, KG.theirLabel, cand.their_label))
            graph.add((node, KG.labelMatch, Literal(cand.label_match)))
        if cand.kind:
            graph.add((node, KG.matchedKind, Literal(cand.kind)))
        if cand.distance_km is not None:
            graph.add((node, KG.distanceKm, Literal(cand.distance_km, datatype=XSD.decimal)))
        if cand.identifier is not None:
            graph.add((node, KG.matchedIdentifier, cand.identifier))
        if cand.parent is not None:
            graph.add((node, KG.matchedParent, cand.parent))
    return graph


REVIEW_COLUMNS = [
    "score",
    "ours",
    "theirs",
    "our_label",
    "their_label",
    "label_match",
    "kind",
    "distance_km",
    "identifier",
    "parent",
    "note",
]


def review_rows(result: LinkResult) -> list[list[str]]:
    """The review table: candidates between the review threshold and the threshold, best first."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    return [
        [
            text(c.score),
            str(c.ours),
            str(c.theirs),
            text(c.our_label),
            text(c.their_label),
            c.label_match,
            c.kind,
            text(c.distance_km),
            text(c.identifier),
            text(c.parent),
            c.note,
        ]
        for c in result.review
    ]


# ---------------------------------------------------------------- merged queries (kg query --with)

WITH_GRAPH_PREFIX = "with/"


def with_graph_name(path: Path) -> URIRef:
    """kgg:with/<file name>: the named graph a --with file is loaded into (same file name, same graph)."""
    from urllib.parse import quote

    from kg.namespaces import KGG

    return KGG[WITH_GRAPH_PREFIX + quote(Path(path).name, safe="-._~")]


def load_with(paths: Iterable[Path], engine: Engine | None = None, format: str | None = None) -> dict[URIRef, Graph]:
    """Parse each --with file into its own graph, keyed by its graph name; two files may not share a name."""
    graphs: dict[URIRef, Graph] = {}
    origin: dict[URIRef, Path] = {}
    for path in map(Path, paths):
        name = with_graph_name(path)
        if name in graphs:
            raise LinkError(
                f"{display(path)} and {display(origin[name])} would share the graph <{name}>; rename one of them"
            )
        graph, _ = read_external(path, format, engine)
        graphs[name], origin[name] = graph, path
    return graphs
