"""kg link: precision and recall on the project's fixtures, every decoy rejected, linksets read back (issue 4)."""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef

from conftest import DATA
from kg.link import label_keys
from kg.namespaces import KG, KGD, OWL, RDF, SKOS, VOID, XSD

LINK = DATA / "link"
# Links are sought among the two-article fixture's entities (tests/conftest.py), so the expected links
# and rejected decoys do not change as data/ grows.
pytestmark = pytest.mark.usefixtures("articles_cache")
BAD = LINK / "bad"
WD = "http://www.wikidata.org/entity/"
GN = "https://sws.geonames.org/"
FX = "http://example.org/fixture/places/"
DECOY = "http://example.org/decoy/"

# The true matches in each fixture (identifiers from shared/EXTERNAL-IDS.md).
GOLD: dict[str, set[tuple[str, str]]] = {
    "wikidata.ttl": {("south-korea", WD + "Q884"), ("jeonbuk-state", WD + "Q41157"), ("daejeon", WD + "Q20921")},
    "geonames.ttl": {
        ("south-korea", GN + "1835841/"),
        ("jeonbuk-state", GN + "1845789/"),
        ("gunsan", GN + "1842025/"),
        ("daejeon", GN + "1835224/"),
    },
    "schema-places.jsonld": {
        ("south-korea", FX + "korea"),
        ("jeonbuk-state", FX + "jeonbuk"),
        ("gunsan", FX + "kunsan"),
        ("daejeon", FX + "daejeon"),
        ("jeonbuk-technopark", FX + "jbtp"),
    },
    "statistics.ttl": {
        ("gunsan", "http://example.org/fixture/statistics/area-5213000000"),
        ("daejeon", "http://example.org/fixture/statistics/area-3000000000"),
    },
}
DECOYS = {
    "wikidata.ttl": {"gunpo", "gumi", "person-gunsan", "daejeon-fc", "kunsan-airport", "taejon-far"},
    "geonames.ttl": {"1", "2", "3", "4", "5"},
    "schema-places.jsonld": {
        "person-gunsan",
        "daejeon-fc",
        "kunsan-airport",
        "gunpo",
        "gumi",
        "gunsan-place",
        "daejeon-untyped",
    },
    "statistics.ttl": set(),
}
DECOY_FOLDER = {"wikidata.ttl": "wikidata", "geonames.ttl": "geonames", "schema-places.jsonld": "schema"}


def gold(name: str) -> set[tuple[URIRef, URIRef]]:
    return {(KGD[ours], URIRef(theirs)) for ours, theirs in GOLD[name]}


def decoys(name: str) -> set[URIRef]:
    return {URIRef(f"{DECOY}{DECOY_FOLDER[name]}/{local}") for local in DECOYS[name]}


def fixtures() -> list[str]:
    found = sorted(p.name for p in LINK.iterdir() if p.suffix in {".ttl", ".jsonld"})
    assert found, "no link fixtures found"
    return found


def test_every_fixture_has_a_gold_standard():
    assert fixtures() == sorted(GOLD)


def run_link(kg, tmp_path: Path, fixture: Path, *extra: str):
    out = tmp_path / "links.ttl"
    result = kg("link", str(fixture), "-o", str(out), *extra)
    return result, out


def links_of(graph: Graph, predicate=SKOS.exactMatch) -> set[tuple[URIRef, URIRef]]:
    return {(s, o) for s, o in graph.subject_objects(predicate)}


@pytest.mark.parametrize("name", sorted(GOLD))
def test_precision_and_recall(kg, tmp_path, name):
    result, out = run_link(kg, tmp_path, LINK / name, "--review", str(tmp_path / "review.csv"))
    assert result.exit_code == 0, result.output
    found = links_of(Graph().parse(out))
    true = gold(name)
    precision = len(found & true) / len(found)
    recall = len(found & true) / len(true)
    assert (precision, recall) == (1.0, 1.0)
    assert found == true
    # every decoy is rejected: never linked
    assert not {theirs for _, theirs in found} & decoys(name)


def test_decoys_are_all_in_the_fixtures():
    for name in DECOY_FOLDER:
        text = (LINK / name).read_text(encoding="utf-8")
        for decoy in decoys(name):
            local = str(decoy).rsplit("/", 1)[1]
            assert f"decoy:{local}" in text or str(decoy) in text, (name, local)


def test_higher_threshold_trades_recall_for_nothing_wrong(kg, tmp_path):
    result, out = run_link(kg, tmp_path, LINK / "schema-places.jsonld", "--threshold", "0.9")
    assert result.exit_code == 0
    found = links_of(Graph().parse(out))
    true = gold("schema-places.jsonld")
    assert found == {(KGD.daejeon, URIRef(FX + "daejeon"))}
    assert (len(found & true) / len(found), len(found & true) / len(true)) == (1.0, 0.2)


def test_linkset_void_description_and_evidence(kg, tmp_path):
    fixture = LINK / "schema-places.jsonld"
    result, out = run_link(kg, tmp_path, fixture)
    assert result.exit_code == 0
    assert result.stderr.startswith("5 links, 3 to review, 4 candidates rejected (12 entities in ")
    graph = Graph().parse(out)
    digest = hashlib.sha256(fixture.read_bytes()).hexdigest()
    linkset = KGD[f"linkset/{digest[:12]}-exactmatch"]
    assert (linkset, RDF.type, VOID.Linkset) in graph
    assert graph.value(linkset, VOID.subjectsTarget) == KGD.dataset
    assert graph.value(linkset, VOID.objectsTarget) == URIRef(f"urn:sha256:{digest}")
    assert graph.value(linkset, VOID.linkPredicate) == SKOS.exactMatch
    assert graph.value(linkset, VOID.triples) == Literal(5, datatype=XSD.integer)

    evidence = {}
    for node in graph.subjects(RDF.type, KG.LinkEvidence):
        assert (node, RDF.type, OWL.Axiom) in graph
        assert graph.value(node, OWL.annotatedProperty) == SKOS.exactMatch
        key = (graph.value(node, OWL.annotatedSource), graph.value(node, OWL.annotatedTarget))
        evidence[key] = (
            str(graph.value(node, KG.linkScore)),
            str(graph.value(node, KG.ourLabel)),
            str(graph.value(node, KG.theirLabel)),
            str(graph.value(node, KG.labelMatch)),
            str(graph.value(node, KG.matchedKind)),
            graph.value(node, KG.distanceKm),
            graph.value(node, KG.matchedIdentifier),
            graph.value(node, KG.matchedParent),
        )
    zero = Literal("0.0", datatype=XSD.decimal)
    assert evidence == {
        (KGD.daejeon, URIRef(FX + "daejeon")): (
            "0.940",
            "Daejeon",
            "Taejon Metropolitan City",
            "romanisation",
            "city",
            zero,
            Literal("3000000000"),
            KGD["south-korea"],
        ),
        (KGD.gunsan, URIRef(FX + "kunsan")): (
            "0.810",
            "Kunsan",
            "Kunsan City",
            "suffix",
            "city",
            zero,
            None,
            KGD["jeonbuk-state"],
        ),
        (KGD["jeonbuk-state"], URIRef(FX + "jeonbuk")): (
            "0.850",
            "Jeonbuk Special Self-Governing Province",
            "Jeonbuk Special Self-Governing Province",
            "exact",
            "province",
            None,
            Literal("5200000000"),
            KGD["south-korea"],
        ),
        (KGD["jeonbuk-technopark"], URIRef(FX + "jbtp")): (
            "0.600",
            "Jeonbuk Technopark",
            "Jeonbuk Technopark",
            "exact",
            "organisation",
            None,
            None,
            None,
        ),
        (KGD["south-korea"], URIRef(FX + "korea")): (
            "0.600",
            "South Korea",
            "Korea, Republic of",
            "exact",
            "country",
            None,
            None,
            None,
        ),
    }


def test_review_table(kg, tmp_path):
    review = tmp_path / "review.csv"
    result, _ = run_link(kg, tmp_path, LINK / "schema-places.jsonld", "--review", str(review))
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(review.read_text(encoding="utf-8"))))
    assert rows == [
        [
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
        ],
        ["0.500", str(KGD.gunsan), DECOY + "schema/gunsan-place", "Gunsan", "Gunsan", "exact", "city", "", "", "", ""],
        [
            "0.400",
            str(KGD.daejeon),
            DECOY + "schema/daejeon-untyped",
            "대전광역시",
            "대전광역시",
            "exact",
            "",
            "",
            "",
            "",
            f"ambiguous: {KGD['daejeon-city-government']}",
        ],
        [
            "0.400",
            str(KGD["daejeon-city-government"]),
            DECOY + "schema/daejeon-untyped",
            "대전광역시",
            "대전광역시",
            "exact",
            "",
            "",
            "",
            "",
            f"ambiguous: {KGD.daejeon}",
        ],
    ]


@pytest.mark.parametrize("name", sorted(DECOY_FOLDER))
def test_linkset_parses_with_pyoxigraph_too(kg, tmp_path, name):
    for fmt, suffix, ox_format in (
        ("ttl", ".ttl", ox.RdfFormat.TURTLE),
        ("nt", ".nt", ox.RdfFormat.N_TRIPLES),
        ("jsonld", ".jsonld", ox.RdfFormat.JSON_LD),
    ):
        out = tmp_path / f"links{suffix}"
        assert kg("link", str(LINK / name), "-o", str(out), "--format", fmt).exit_code == 0
        rdflib_graph = Graph().parse(out, format={"ttl": "turtle", "nt": "nt", "jsonld": "json-ld"}[fmt])
        triples = list(ox.parse(path=str(out), format=ox_format))
        assert len(triples) == len(rdflib_graph)
        linksets = [
            t.subject for t in triples if t.predicate.value == str(RDF.type) and t.object.value == str(VOID.Linkset)
        ]
        assert len(linksets) == 1
        links = {(t.subject.value, t.object.value) for t in triples if t.predicate.value == str(SKOS.exactMatch)}
        assert links == {(str(s), str(o)) for s, o in gold(name)}


def test_same_as_goes_to_its_own_file(kg, tmp_path):
    same = tmp_path / "sameas.ttl"
    result, out = run_link(kg, tmp_path, LINK / "geonames.ttl", "--same-as", str(same))
    assert result.exit_code == 0
    main, other = Graph().parse(out), Graph().parse(same)
    assert not links_of(main, OWL.sameAs)
    assert not links_of(other, SKOS.exactMatch)
    assert links_of(other, OWL.sameAs) == gold("geonames.ttl")
    linkset = next(other.subjects(RDF.type, VOID.Linkset))
    assert other.value(linkset, VOID.linkPredicate) == OWL.sameAs


def test_deterministic(kg, tmp_path):
    outputs = []
    for run in ("a", "b"):
        out, review = tmp_path / f"{run}.ttl", tmp_path / f"{run}.csv"
        assert kg("link", str(LINK / "schema-places.jsonld"), "-o", str(out), "--review", str(review)).exit_code == 0
        outputs.append((out.read_bytes(), review.read_bytes()))
    assert outputs[0] == outputs[1]


def test_progress_with_verbose(kg, tmp_path):
    result = kg("-v", "link", str(LINK / "geonames.ttl"), "-o", str(tmp_path / "l.ttl"))
    assert result.exit_code == 0
    assert "matching" in result.stderr


# -- normalisation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs", "level"),
    [
        ("군산시", unicodedata.normalize("NFD", "군산시"), "exact"),
        ("Gunsan", "GUNSAN", "exact"),
        ("Gunsan", "Ｇｕｎｓａｎ", "exact"),  # full-width letters (NFKC)
        ("Gunsan", "Gunsan-si", "suffix"),
        ("Gunsan", "Gunsan City", "suffix"),
        ("군산시", "군산", "suffix"),
        ("대전광역시", "대전", "suffix"),
        ("Daejeon", "Daejeon Metropolitan City", "suffix"),
        ("Gunsan", "Kunsan", "romanisation"),
        ("Daejeon", "Taejŏn", "romanisation"),
        ("Jeonbuk", "Chonbuk", "romanisation"),
        ("South Korea", "Korea, Republic of", "exact"),
    ],
)
def test_label_keys_match(ours, theirs, level):
    a, b = label_keys(ours), label_keys(theirs)
    matched = next(lvl for lvl in ("exact", "suffix", "romanisation") if a[lvl] == b[lvl])
    assert matched == level


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("Gunsan", "Gunpo"), ("Gunsan", "Gumi"), ("군산시", "군포시"), ("Daejeon", "Daejeon-dong"), ("시", "도")],
)
def test_label_keys_keep_different_names_apart(ours, theirs):
    a, b = label_keys(ours), label_keys(theirs)
    assert all(a[level] != b[level] for level in ("exact", "suffix", "romanisation"))


# -- bad input ------------------------------------------------------------------------


def test_not_rdf(kg, tmp_path, in_data_dir):
    out = tmp_path / "links.ttl"
    result = kg("link", "link/bad/not-rdf.ttl", "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: link/bad/not-rdf.ttl, line 1: ")
    assert result.stderr.count("\n") == 1
    assert not out.exists()


def test_unknown_serialisation(kg, tmp_path, in_data_dir):
    out = tmp_path / "links.ttl"
    result = kg("link", "link/bad/places.csv", "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: link/bad/places.csv: unknown serialisation '.csv'; use one of .ttl, .nt, .jsonld, .json, .rdf, "
        ".owl, .xml, .nq, .trig or name the format with --from\n"
    )
    assert not out.exists()
    result = kg("link", "link/bad/places.csv", "-o", str(out), "--from", "csv")
    assert result.stderr == "Error: unknown serialisation 'csv'; use one of ttl, nt, jsonld, xml, nq, trig\n"


def test_no_labels(kg, tmp_path, in_data_dir):
    out, review = tmp_path / "links.ttl", tmp_path / "review.csv"
    result = kg("link", "link/bad/no-labels.ttl", "-o", str(out), "--review", str(review))
    assert result.exit_code == 2
    assert result.stderr == (
        "warning: link/bad/no-labels.ttl: no entity has a label (rdfs:label, skos:prefLabel, schema:name, gn:name...)\n"
        "Error: link/bad/no-labels.ttl: nothing to link — no labels, identifiers or codes to match ours on\n"
    )
    assert not out.exists() and not review.exists()


def test_links_to_entities_we_do_not_have(kg, tmp_path, in_data_dir):
    out = tmp_path / "links.ttl"
    result = kg("link", "link/bad/dangling.ttl", "-o", str(out))
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        "warning: link/bad/dangling.ttl links to 1 entities we do not have: kgd:no-such-place"
    )
    assert links_of(Graph().parse(out)) == {(KGD.daejeon, URIRef("http://example.org/fixture/region/daejeon"))}


def test_review_threshold_above_threshold_is_refused(kg, tmp_path):
    result = kg(
        "link",
        str(LINK / "geonames.ttl"),
        "-o",
        str(tmp_path / "l.ttl"),
        "--threshold",
        "0.5",
        "--review-threshold",
        "0.7",
    )
    assert result.exit_code == 2
    assert result.stderr == "Error: --review-threshold must not be above --threshold\n"
