"""A dataset release: data, reasoned graph, ontology, linksets, VoID + DCAT, checksums and ontology docs.

Everything is rendered to bytes first (deterministically: canonical serialisations, sorted
listings, no wall-clock time), then written into a temporary folder beside the target and
renamed into place, so a reader never sees half a release.
"""

from __future__ import annotations

import hashlib
import html
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kg import progress
from kg.errors import OutputError, PublishError
from kg.formats import by_name
from kg.graph import KnowledgeGraph
from kg.namespaces import (
    DCAT,
    DCTERMS,
    KG,
    KGD,
    OURS,
    OWL,
    PREFIXES,
    RDF,
    RDFS,
    SCHEMA,
    SKOS,
    VOID,
    WD,
    XSD,
    bind,
)
from kg.paths import display, replace_folder, scratch_folder
from kg.queries import list_queries
from kg.results import serialize_graph

CHECKSUMS = "SHA256SUMS"
VOID_FILE = "void.ttl"
ONTOLOGY_IRI = URIRef("https://w3id.org/battery-kg/ontology")
DATASET = KGD["dataset"]
# The serialisations each graph of a release is written in (kg.formats names).
RELEASE_FORMATS = ("ttl", "nt", "jsonld")
GEONAMES = "https://sws.geonames.org/"

# Outside datasets our curated identity links point into: (slug, title, IRI space).
TARGETS = (("wikidata", "Wikidata", str(WD)), ("geonames", "GeoNames", GEONAMES))


@dataclass
class Release:
    """The files of a release, path (relative, with /) -> bytes."""

    files: dict[str, bytes]


def build_release(kg: KnowledgeGraph, queries_dir: Path, linksets: Iterable[tuple[str, Graph]] = ()) -> Release:
    """Render every file of a release from reasoned sources, named queries and extra linksets."""
    files: dict[str, bytes] = {}
    reasoned = bind(kg.ontology + kg.data + kg.inferred)
    graphs = {"data/asserted": kg.data, "data/reasoned": reasoned, "ontology/kg": kg.ontology}
    counts: dict[str, int] = {}
    with progress.step("writing the release's graphs", total=len(graphs) * len(RELEASE_FORMATS)) as bar:
        for stem, graph in graphs.items():
            for suffix in RELEASE_FORMATS:
                files[f"{stem}.{suffix}"] = serialize_graph(graph, suffix).encode("utf-8")
                counts[f"{stem}.{suffix}"] = len(graph)
                bar.advance()

    # Curated identity links from the data: skos:exactMatch, and owl:sameAs (verified only) kept apart.
    linkset_descriptions = bind(Graph())
    for slug, title, space in TARGETS:
        exact, same = curated_linksets(kg.data, slug, title, space)
        for name, graph in ((f"linksets/{slug}-exactmatch.ttl", exact), (f"linksets/{slug}-sameas.ttl", same)):
            files[name] = serialize_graph(graph, "ttl").encode("utf-8")
            counts[name] = len(graph)
            linkset_descriptions += void_descriptions(graph)
    for name, graph in linksets:
        exact, same = split_sameas(graph)
        stem = Path(name).stem
        for file_name, part in ((f"linksets/{stem}.ttl", exact), (f"linksets/{stem}-sameas.ttl", same)):
            if len(part):
                files[file_name] = serialize_graph(part, "ttl").encode("utf-8")
                counts[file_name] = len(part)
        linkset_descriptions += void_descriptions(graph)

    infos = list_queries(queries_dir)
    for info in infos:
        assert info.path is not None
        files[f"queries/{info.path.name}"] = info.path.read_bytes()

    files["ontology/index.html"] = ontology_html(kg.ontology).encode("utf-8")
    void = describe(kg, reasoned, counts, infos) + void_descriptions(linkset_descriptions)
    for linkset in sorted(linkset_descriptions.subjects(RDF.type, VOID.Linkset)):
        void.add((DATASET, VOID.subset, linkset))
    files[VOID_FILE] = serialize_graph(bind(void), "ttl").encode("utf-8")
    files[CHECKSUMS] = checksums(files).encode("utf-8")
    return Release(files)


def curated_linksets(data: Graph, slug: str, title: str, space: str) -> tuple[Graph, Graph]:
    """Our skos:exactMatch links into one outside IRI space, and their owl:sameAs twins (verified ones only)."""
    likely = {
        (data.value(axiom, OWL.annotatedSource), data.value(axiom, OWL.annotatedTarget))
        for axiom in data.subjects(KG.confidence, Literal("likely"))
        if data.value(axiom, OWL.annotatedProperty) == SKOS.exactMatch
    }
    links = sorted((s, o) for s, o in data.subject_objects(SKOS.exactMatch) if str(o).startswith(space))
    exact, same = bind(Graph()), bind(Graph())
    for predicate, graph, chosen in (
        (SKOS.exactMatch, exact, links),
        (OWL.sameAs, same, [pair for pair in links if pair not in likely]),
    ):
        kind = "sameas" if predicate == OWL.sameAs else "exactmatch"
        linkset = KGD[f"dataset/linkset/{slug}-{kind}"]
        target = KGD[f"dataset/target/{slug}"]
        graph.add((linkset, RDF.type, VOID.Linkset))
        graph.add((linkset, VOID.subjectsTarget, DATASET))
        graph.add((linkset, VOID.objectsTarget, target))
        graph.add((linkset, VOID.linkPredicate, predicate))
        graph.add((linkset, VOID.triples, Literal(len(chosen), datatype=XSD.integer)))
        graph.add((target, RDF.type, VOID.Dataset))
        graph.add((target, DCTERMS.title, Literal(title)))
        graph.add((target, VOID.uriSpace, Literal(space)))
        for s, o in chosen:
            graph.add((s, predicate, o))
            if (s, o) in likely:
                axiom = BNode()
                for triple in (
                    (RDF.type, OWL.Axiom),
                    (OWL.annotatedSource, s),
                    (OWL.annotatedProperty, predicate),
                    (OWL.annotatedTarget, o),
                    (KG.confidence, Literal("likely")),
                ):
                    graph.add((axiom, *triple))
        if predicate == OWL.sameAs:
            graph.add(
                (
                    linkset,
                    DCTERMS.description,
                    Literal("owl:sameAs twins of the verified links only; kept out of the reasoned graph.", lang="en"),
                )
            )
    return exact, same


def void_descriptions(graph: Graph) -> Graph:
    """The VoID statements of a linkset file: its void:Linkset and void:Dataset nodes."""
    described = bind(Graph())
    for cls in (VOID.Linkset, VOID.Dataset):
        for node in graph.subjects(RDF.type, cls):
            described += graph.triples((node, None, None))
    return described


def split_sameas(graph: Graph) -> tuple[Graph, Graph]:
    """A linkset without its owl:sameAs triples, and those triples on their own."""
    rest, same = bind(Graph()), bind(Graph())
    for triple in graph:
        (same if triple[1] == OWL.sameAs else rest).add(triple)
    return rest, same


def describe(kg: KnowledgeGraph, reasoned: Graph, counts: dict[str, int], infos: list) -> Graph:
    """VoID + DCAT description: title, licence and version from the ontology header, counts, vocabularies."""
    ontology = kg.ontology
    graph = bind(Graph())
    version = ontology.value(ONTOLOGY_IRI, OWL.versionInfo) or Literal("unversioned")
    graph.add((DATASET, RDF.type, VOID.Dataset))
    graph.add((DATASET, RDF.type, DCAT.Dataset))
    for title in ontology.objects(ONTOLOGY_IRI, DCTERMS.title):
        suffix = " — 데이터 배포판" if title.language == "ko" else " — data release"
        graph.add((DATASET, DCTERMS.title, Literal(f"{title}{suffix} {version}", lang=title.language)))
    for description in ontology.objects(ONTOLOGY_IRI, DCTERMS.description):
        graph.add((DATASET, DCTERMS.description, description))
    for licence in ontology.objects(ONTOLOGY_IRI, DCTERMS.license):
        graph.add((DATASET, DCTERMS.license, licence))
    graph.add((DATASET, OWL.versionInfo, Literal(str(version))))
    graph.add((DATASET, DCAT.version, Literal(str(version))))
    graph.add((DATASET, DCTERMS.conformsTo, ONTOLOGY_IRI))
    graph.add((DATASET, VOID.uriSpace, Literal(str(KGD))))
    graph.add((DATASET, VOID.triples, Literal(len(reasoned), datatype=XSD.integer)))
    graph.add(
        (
            DATASET,
            VOID.entities,
            Literal(len({s for s in kg.data.subjects(RDF.type) if isinstance(s, URIRef)}), datatype=XSD.integer),
        )
    )
    for vocabulary in vocabularies(reasoned):
        graph.add((DATASET, VOID.vocabulary, URIRef(vocabulary)))
    for example in example_resources(kg.data):
        graph.add((DATASET, VOID.exampleResource, example))

    for path in sorted(counts):
        node = KGD[f"dataset/file/{path}"]
        graph.add((DATASET, DCAT.distribution, node))
        graph.add((node, RDF.type, DCAT.Distribution))
        graph.add((node, DCTERMS.identifier, Literal(path)))
        graph.add((node, DCAT.mediaType, Literal(by_name(path.rsplit(".", 1)[1]).media_type)))
        graph.add((node, VOID.triples, Literal(counts[path], datatype=XSD.integer)))
    for info in infos:
        node = KGD[f"dataset/query/{info.name}"]
        graph.add((DATASET, DCTERMS.hasPart, node))
        graph.add((node, RDF.type, SCHEMA.SoftwareSourceCode))
        graph.add((node, SCHEMA.programmingLanguage, Literal("SPARQL")))
        graph.add((node, DCTERMS.identifier, Literal(f"queries/{info.name}.rq")))
        if info.title:
            graph.add((node, DCTERMS.title, Literal(info.title, lang="en")))
        if info.purpose:
            graph.add((node, DCTERMS.description, Literal(info.purpose, lang="en")))
    for name in ("ontology/index.html",):
        node = KGD[f"dataset/file/{name}"]
        graph.add((DATASET, DCAT.distribution, node))
        graph.add((node, RDF.type, DCAT.Distribution))
        graph.add((node, DCTERMS.identifier, Literal(name)))
        graph.add((node, DCAT.mediaType, Literal("text/html")))
    return graph


def vocabularies(graph: Graph) -> list[str]:
    """Namespaces of the predicates and classes used, outside our instance namespaces."""
    terms = {p for p in graph.predicates()} | {o for o in graph.objects(None, RDF.type) if isinstance(o, URIRef)}
    spaces = {_namespace(str(t)) for t in terms}
    return sorted(s for s in spaces if s and not s.startswith(OURS))


def _namespace(iri: str) -> str:
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1] if cut > 0 else ""


def example_resources(data: Graph) -> list[URIRef]:
    """Places with identity links, and the projects: a reader's first look at the data."""
    linked = {s for s in data.subjects(SKOS.exactMatch) if isinstance(s, URIRef)}
    projects = {s for s in data.subjects(RDF.type, KG.Project) if isinstance(s, URIRef)}
    return sorted(linked | projects)


def checksums(files: dict[str, bytes]) -> str:
    """`sha256sum -c` compatible lines for every file, sorted by path."""
    return "".join(f"{hashlib.sha256(files[path]).hexdigest()}  {path}\n" for path in sorted(files))


# ---------------------------------------------------------------- ontology documentation


def ontology_html(ontology: Graph) -> str:
    """One HTML page documenting every kg: term, in English and Korean, with anchors per term."""

    def text(node: Node, predicate: URIRef, lang: str) -> str:
        values = sorted(str(v) for v in ontology.objects(node, predicate) if getattr(v, "language", None) == lang)
        return values[0] if values else ""

    def ref(node: Node) -> str:
        if isinstance(node, URIRef) and str(node).startswith(str(KG)):
            local = str(node)[len(str(KG)) :]
            return f'<a href="#{html.escape(local)}"><code>kg:{html.escape(local)}</code></a>'
        for prefix, namespace in PREFIXES.items():
            if isinstance(node, URIRef) and str(node).startswith(str(namespace)):
                return f"<code>{prefix}:{html.escape(str(node)[len(str(namespace)) :])}</code>"
        return f"<code>{html.escape(str(node))}</code>" if isinstance(node, URIRef) else "<em>(anonymous)</em>"

    title_en, title_ko = text(ONTOLOGY_IRI, DCTERMS.title, "en"), text(ONTOLOGY_IRI, DCTERMS.title, "ko")
    version = ontology.value(ONTOLOGY_IRI, OWL.versionInfo) or ""
    licence = ontology.value(ONTOLOGY_IRI, DCTERMS.license)
    sections = (
        ("classes", "Classes", "클래스", OWL.Class),
        ("object-properties", "Object properties", "객체 속성", OWL.ObjectProperty),
        ("datatype-properties", "Datatype properties", "데이터 속성", OWL.DatatypeProperty),
        ("annotation-properties", "Annotation properties", "주석 속성", OWL.AnnotationProperty),
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title_en)} {html.escape(str(version))}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}"
        "section.term{border-top:1px solid #ccc;padding:.5em 0}dt{font-weight:bold}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title_en)}</h1>",
        f'<p lang="ko">{html.escape(title_ko)}</p>',
        f"<p>IRI: <code>{html.escape(str(ONTOLOGY_IRI))}</code> · version {html.escape(str(version))}"
        + (f' · licence <a href="{html.escape(str(licence))}">{html.escape(str(licence))}</a>' if licence else "")
        + "</p>",
        f"<p>{html.escape(text(ONTOLOGY_IRI, DCTERMS.description, 'en'))}</p>",
        f'<p lang="ko">{html.escape(text(ONTOLOGY_IRI, DCTERMS.description, "ko"))}</p>',
        "<nav><ul>" + "".join(f'<li><a href="#{a}">{e} · {k}</a></li>' for a, e, k, _ in sections) + "</ul></nav>",
    ]
    for anchor, heading_en, heading_ko, owl_type in sections:
        terms = sorted(t for t in ontology.subjects(RDF.type, owl_type) if str(t).startswith(str(KG)))
        out.append(f'<h2 id="{anchor}">{heading_en} · <span lang="ko">{heading_ko}</span> ({len(terms)})</h2>')
        for term in terms:
            local = str(term)[len(str(KG)) :]
            out.append(f'<section class="term" id="{html.escape(local)}">')
            out.append(
                f"<h3>{html.escape(text(term, RDFS.label, 'en'))} · "
                f'<span lang="ko">{html.escape(text(term, RDFS.label, "ko"))}</span></h3>'
            )
            out.append(f"<p><code>kg:{html.escape(local)}</code> — <code>{html.escape(str(term))}</code></p>")
            out.append(f"<p>{html.escape(text(term, SKOS.definition, 'en'))}</p>")
            out.append(f'<p lang="ko">{html.escape(text(term, SKOS.definition, "ko"))}</p>')
            rows = []
            for label, predicate in (
                ("Subclass of", RDFS.subClassOf),
                ("Subproperty of", RDFS.subPropertyOf),
                ("Equivalent to", OWL.equivalentClass),
                ("Domain", RDFS.domain),
                ("Range", RDFS.range),
                ("Defined by", RDFS.isDefinedBy),
            ):
                values = sorted(ontology.objects(term, predicate), key=str)
                if values:
                    rows.append(f"<dt>{label}</dt><dd>{', '.join(ref(v) for v in values)}</dd>")
            if rows:
                out.append("<dl>" + "".join(rows) + "</dl>")
            out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- writing and checking


def is_release(directory: Path) -> bool:
    """True when `directory` holds only what a previous release listed in its checksums."""
    sums = directory / CHECKSUMS
    if not sums.is_file() or not (directory / VOID_FILE).is_file():
        return False
    try:
        listed = {line.split("  ", 1)[1] for line in sums.read_text(encoding="utf-8").splitlines() if "  " in line}
    except (OSError, UnicodeDecodeError):
        return False
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    return present <= listed | {CHECKSUMS}


def check_target(directory: Path, *, force: bool = False) -> None:
    """Refuse, before any work, a target that is a file, lacks a parent, or holds something not ours."""
    directory = Path(directory)
    parent = directory.resolve().parent
    if directory.exists() and not directory.is_dir():
        raise PublishError(f"{display(directory)} is a file, not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force and not is_release(directory):
        raise PublishError(
            f"{display(directory)} is not empty and holds no previous release; choose another folder or pass --force"
        )
    if not parent.is_dir():
        raise OutputError(f"cannot write {display(directory)}: {display(parent)} does not exist")


def write_release(release: Release, directory: Path, *, force: bool = False) -> None:
    """Build the release in a temporary folder beside `directory`, then rename it into place."""
    directory = Path(directory)
    parent = directory.resolve().parent
    check_target(directory, force=force)
    try:
        staging = scratch_folder(f".{directory.name}.kg-", parent, suffix=".tmp")
    except OSError as error:
        raise OutputError(f"cannot write {display(directory)}: {error.strerror or error}") from None
    try:
        for name, data in sorted(release.files.items()):
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o644)
        os.chmod(staging, 0o755)
        replace_folder(staging, directory)  # never a moment without a release at `directory`
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write {display(directory)}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_release(directory: Path) -> list[str]:
    """Problems with a release folder: checksum mismatches, missing or unlisted files, unparsable RDF,
    triple counts that disagree with void.ttl. Empty when the release is sound."""
    directory = Path(directory)
    problems: list[str] = []
    sums = directory / CHECKSUMS
    if not sums.is_file():
        return [f"{display(sums)}: missing"]
    listed: dict[str, str] = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - {CHECKSUMS}
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: not listed in {CHECKSUMS}")
    for name, digest in sorted(listed.items()):
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: listed in {CHECKSUMS} but missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: checksum mismatch")
    void = Graph()
    try:
        void.parse(directory / VOID_FILE, format="turtle")
    except Exception as error:  # any parser failure is a problem to report, not a crash
        return [*problems, f"{VOID_FILE}: does not parse: {error}"]
    formats = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld"}
    for node, name in sorted(void.subject_objects(DCTERMS.identifier)):
        suffix = str(name).rsplit(".", 1)[-1]
        expected = void.value(node, VOID.triples)
        if suffix not in formats or expected is None or not (directory / str(name)).is_file():
            continue
        graph = Graph()
        try:
            graph.parse(directory / str(name), format=formats[suffix])
        except Exception as error:
            problems.append(f"{name}: does not parse as {formats[suffix]}: {error}")
            continue
        if len(graph) != int(expected):
            problems.append(f"{name}: {len(graph)} triples, void.ttl says {expected}")
    return problems


__all__ = ["Release", "build_release", "check_target", "write_release", "check_release", "is_release", "ontology_html"]
