"""kg publish: a byte-identical, self-checking release that an independent parser reads back (issue 4)."""

from __future__ import annotations

import hashlib
import os
from html.parser import HTMLParser
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef

from conftest import ARTICLES
from kg.namespaces import DCAT, DCTERMS, KG, KGD, OWL, RDF, VOID, XSD
from kg.paths import ontology_dir, queries_dir

OX_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".jsonld": ox.RdfFormat.JSON_LD}
WD = "http://www.wikidata.org/entity/"
GN = "https://sws.geonames.org/"


# Releases of the two-article fixture, reasoned once per session (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("articles_cache")


@pytest.fixture(scope="module")
def release(tmp_path_factory, articles_cache_dir, articles_kg) -> Path:
    """One release of the two-article fixture, built once for the module."""
    from click.testing import CliRunner

    from kg.cli import cli

    folder = tmp_path_factory.mktemp("release") / "r1"
    mp = pytest.MonkeyPatch()
    mp.setenv("KG_CACHE_DIR", str(articles_cache_dir))
    mp.setenv("KG_DATA", str(ARTICLES))
    try:
        result = CliRunner().invoke(cli, ["publish", "-o", str(folder)], catch_exceptions=False)
    finally:
        mp.undo()
    assert result.exit_code == 0, result.output
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_release_layout(release):
    names = set(files_of(release))
    queries = {f"queries/{p.name}" for p in queries_dir().glob("*.rq")}
    assert queries
    assert names == {
        "SHA256SUMS",
        "void.ttl",
        "ontology/index.html",
        *(
            f"{stem}.{suffix}"
            for stem in ("data/asserted", "data/reasoned", "ontology/kg")
            for suffix in ("ttl", "nt", "jsonld")
        ),
        *(f"linksets/{target}-{kind}.ttl" for target in ("wikidata", "geonames") for kind in ("exactmatch", "sameas")),
        *queries,
    }


def test_two_runs_are_byte_identical(kg, release, tmp_path):
    again = tmp_path / "r2"
    result = kg("publish", "-o", str(again))
    assert result.exit_code == 0
    assert result.stderr == f"wrote {len(files_of(release))} files to {again}\n"
    assert files_of(again) == files_of(release)


def test_checksums_cover_every_file(release):
    lines = (release / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    assert set(listed) == set(files_of(release)) - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256((release / name).read_bytes()).hexdigest() == digest


def test_release_passes_its_own_check(kg, release):
    result = kg("publish", "--check", "-o", str(release))
    assert result.exit_code == 0
    assert result.stderr == f"{release}: release is sound\n"


def test_check_finds_tampering(kg, release, tmp_path):
    copy = tmp_path / "copy"
    for name, data in files_of(release).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    with (copy / "data/asserted.nt").open("ab") as handle:
        handle.write(b'<https://w3id.org/battery-kg/id/x> <https://w3id.org/battery-kg/id/y> "z" .\n')
    (copy / "stray.txt").write_text("not part of the release")
    result = kg("publish", "--check", "-o", str(copy))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{copy}/stray.txt: not listed in SHA256SUMS",
        f"{copy}/data/asserted.nt: checksum mismatch",
        # The fixture's 502 asserted triples (tests/data/articles), and the one written in.
        f"{copy}/data/asserted.nt: 503 triples, void.ttl says 502",
    ]


@pytest.mark.parametrize("suffix", sorted(OX_FORMATS))
def test_every_graph_round_trips_through_pyoxigraph(release, suffix):
    void = Graph().parse(release / "void.ttl")
    files = sorted(p for p in release.rglob(f"*{suffix}"))
    assert files
    for path in files:
        name = path.relative_to(release).as_posix()
        triples = list(ox.parse(path=str(path), format=OX_FORMATS[suffix]))
        if name == "void.ttl":
            assert len(set(triples)) == len(void)
            continue
        node = next(void.subjects(DCTERMS.identifier, Literal(name)))
        assert len(set(triples)) == int(void.value(node, VOID.triples)), name
        assert len(Graph().parse(path, format={".ttl": "turtle", ".nt": "nt", ".jsonld": "json-ld"}[suffix])) == len(
            set(triples)
        ), name


def test_void_and_dcat_description(release):
    void = Graph().parse(release / "void.ttl")
    dataset = KGD.dataset
    assert {o for o in void.objects(dataset, RDF.type)} == {VOID.Dataset, DCAT.Dataset}
    assert set(void.objects(dataset, DCTERMS.title)) == {
        Literal("Regional battery industry ecosystem ontology — data release 0.1.0", lang="en"),
        Literal("지역 이차전지 산업 생태계 온톨로지 — 데이터 배포판 0.1.0", lang="ko"),
    }
    assert void.value(dataset, DCTERMS.license) == URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert void.value(dataset, DCAT.version) == Literal("0.1.0")
    reasoned = Graph().parse(release / "data/reasoned.nt")
    assert void.value(dataset, VOID.triples) == Literal(len(reasoned), datatype=XSD.integer)
    vocabularies = {str(v) for v in void.objects(dataset, VOID.vocabulary)}
    assert {
        "https://schema.org/",
        "http://www.w3.org/2004/02/skos/core#",
        "http://purl.org/dc/terms/",
        str(KG),
    } <= vocabularies
    assert set(void.objects(dataset, VOID.exampleResource)) == {
        KGD.daejeon,
        KGD.gunsan,
        KGD["jeonbuk-state"],
        KGD["south-korea"],
        KGD["daejeon-global-network"],
        KGD["gunsan-analysis-centre-project"],
    }
    queries = {str(void.value(q, DCTERMS.identifier)) for q in void.objects(dataset, DCTERMS.hasPart)}
    assert queries == {f"queries/{p.name}" for p in queries_dir().glob("*.rq")}
    linksets = set(void.objects(dataset, VOID.subset))
    assert linksets == {
        KGD[f"dataset/linkset/{t}-{k}"] for t in ("wikidata", "geonames") for k in ("exactmatch", "sameas")
    }
    assert {(void.value(s, VOID.linkPredicate), int(void.value(s, VOID.triples))) for s in linksets} == {
        (URIRef("http://www.w3.org/2004/02/skos/core#exactMatch"), 3),
        (URIRef("http://www.w3.org/2004/02/skos/core#exactMatch"), 4),
        (OWL.sameAs, 3),
        (OWL.sameAs, 2),
    }


def test_same_as_is_kept_apart_and_only_verified(release):
    reasoned = Graph().parse(release / "data/reasoned.nt")
    outside = [(s, o) for s, o in reasoned.subject_objects(OWL.sameAs) if not str(o).startswith(str(KGD))]
    assert outside == []
    same = Graph().parse(release / "linksets/geonames-sameas.ttl")
    # 1845789 (Jeonbuk State) and 1842025 (Gunsan) are "likely" in EXTERNAL-IDS.md: no owl:sameAs for them
    assert set(same.subject_objects(OWL.sameAs)) == {
        (KGD.daejeon, URIRef(GN + "1835224/")),
        (KGD["south-korea"], URIRef(GN + "1835841/")),
    }
    exact = Graph().parse(release / "linksets/geonames-exactmatch.ttl")
    likely = {
        (exact.value(a, OWL.annotatedSource), exact.value(a, OWL.annotatedTarget))
        for a in exact.subjects(KG.confidence, Literal("likely"))
    }
    assert likely == {(KGD.gunsan, URIRef(GN + "1842025/")), (KGD["jeonbuk-state"], URIRef(GN + "1845789/"))}


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])


def test_ontology_page_documents_every_term_in_both_languages(release):
    page = (release / "ontology/index.html").read_text(encoding="utf-8")
    parser = _Anchors()
    parser.feed(page)
    assert len(parser.ids) == len(set(parser.ids))
    assert set(parser.links) <= set(parser.ids)
    ontology = Graph()
    for path in ontology_dir().rglob("*.ttl"):
        if path.name != "shapes.ttl":
            ontology.parse(path)
    terms = {
        str(t)[len(str(KG)) :]
        for cls in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
        for t in ontology.subjects(RDF.type, cls)
        if str(t).startswith(str(KG))
    }
    assert terms and terms <= set(parser.ids)
    assert '<section class="term" id="LinkEvidence">' in page
    assert '<h3>Link evidence · <span lang="ko">연결 근거</span></h3>' in page
    assert '<h3>City · <span lang="ko">시</span></h3>' in page


# -- writing safely ---------------------------------------------------------------


def test_refuses_a_folder_that_is_not_a_release(kg, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    result = kg("publish", "-o", str(folder))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {folder} is not empty and holds no previous release; choose another folder or pass --force\n"
    )
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_force_replaces_atomically(tmp_path):
    """The writing step alone, with a two-file release: --force replaces a foreign folder whole."""
    from kg.publish import Release, checksums, write_release

    files = {"void.ttl": b"<https://w3id.org/battery-kg/id/dataset> a <http://rdfs.org/ns/void#Dataset> .\n"}
    release = Release({**files, "SHA256SUMS": checksums(files).encode()})
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("gone")
    write_release(release, folder, force=True)
    assert files_of(folder) == release.files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]  # no temp or backup folder left


def test_a_release_replaced_is_never_missing(tmp_path, monkeypatch):
    """Replacing a release exchanges the folders in one step: at every removal the folder holds a whole release."""
    import shutil

    from kg.publish import Release, checksums, write_release

    def release_of(text: str) -> Release:
        files = {"void.ttl": f'<https://w3id.org/battery-kg/id/dataset> <urn:x:p> "{text}" .\n'.encode()}
        return Release({**files, "SHA256SUMS": checksums(files).encode()})

    folder = tmp_path / "release"
    write_release(release_of("first"), folder)
    seen = []
    remove = shutil.rmtree

    def watched(path, *args, **kwargs):
        remove(path, *args, **kwargs)
        seen.append(files_of(folder) if folder.is_dir() else None)

    def renamed(move):
        def run(source, target, *args, **kwargs):
            move(source, target, *args, **kwargs)
            seen.append(files_of(folder) if folder.is_dir() else None)

        return run

    monkeypatch.setattr(shutil, "rmtree", watched)
    monkeypatch.setattr(os, "rename", renamed(os.rename))
    monkeypatch.setattr(os, "replace", renamed(os.replace))
    write_release(release_of("second"), folder)
    assert seen and None not in seen  # after every rename and removal a whole release is there
    assert seen[-1] == release_of("second").files
    assert files_of(folder) == release_of("second").files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_missing_parent_folder(kg, tmp_path):
    result = kg("publish", "-o", str(tmp_path / "no" / "such" / "dir"))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot write ")
    assert not (tmp_path / "no").exists()


def test_publishes_linksets_made_by_kg_link(kg, release, tmp_path):
    from conftest import DATA

    links = tmp_path / "geonames-links.ttl"
    assert kg("link", str(DATA / "link" / "geonames.ttl"), "-o", str(links)).exit_code == 0
    out = tmp_path / "release"
    for name, data in files_of(release).items():  # a previous release there: replaced without --force
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    assert kg("publish", "-o", str(out), "--linkset", str(links)).exit_code == 0
    assert set(files_of(out)) == set(files_of(release)) | {"linksets/geonames-links.ttl"}
    assert (out / "linksets/geonames-links.ttl").read_bytes() == links.read_bytes()
    void = Graph().parse(out / "void.ttl")
    assert any(str(s).startswith(str(KGD["linkset/"])) for s in void.objects(KGD.dataset, VOID.subset))
    assert kg("publish", "--check", "-o", str(out)).exit_code == 0
