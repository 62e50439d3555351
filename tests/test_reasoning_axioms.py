"""Ablation tests: each key OWL axiom or alignment earns its keep in the reasoned graph.

For every case, the named entailments hold with the bundled ontology, and disappear when exactly
that axiom's triple(s) are removed from it before the closure. `kept` entailments reach the same
facts another way and must survive, which shows the removal was surgical.

Every engine (owlrl's reference engine, and the fast one where installed) runs every case.
owlrl needs seconds per closure even on a few triples (the ontology itself is most of the work).
To keep a few dozen closures affordable, they run two at a time and reason over
- a slice of the two-article fixture (tests/data/articles): the triples about the Gunsan places,
  the analysis-centre project, its funding, facility, task and funders, without literal values, and
- the bundled ontology without its literal-valued triples (labels, definitions, descriptions,
  which no OWL RL rule reads), except skos:prefLabel, which one case is about.
The same slice and ontology are reasoned without any removal too (`baseline`): a lost entailment
is lost because of the axiom, not because of the slicing. Every entailment is also checked in
the whole fixture reasoned with the untouched ontology.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import pytest
from rdflib import BNode, Graph, Literal
from rdflib.collection import Collection
from rdflib.term import Node

from kg.engine import available_engines, get_engine
from kg.graph import KnowledgeGraph
from kg.load import load_ontology
from kg.namespaces import DCTERMS, KG, KGC, KGD, KGG, OWL, PROV, RDF, RDFS, SCHEMA, SKOS
from kg.paths import ontology_dir
from kg.reason import reason

Triple = tuple[Node, Node, Node]

PROJECT = KGD["gunsan-analysis-centre-project"]
SITE = KGD["saemangeum-zone-2-research-site"]
ZONE = KGD["saemangeum-zone-2"]
COMPLEX = KGD["saemangeum-national-industrial-complex"]
TASK = KGD["gunsan-analysis-centre-realtime-infrastructure"]
CENTRE = KGD["gunsan-analysis-centre"]
NATIONAL = KGD["gunsan-analysis-centre-project-national"]
ARTICLE = KGD["article-newsstep-2025-10-01-gunsan"]

SLICE_SUBJECTS = [
    KGD["south-korea"],
    KGD["jeonbuk-state"],
    KGD.gunsan,
    COMPLEX,
    ZONE,
    SITE,
    KGD.motie,
    KGD["gunsan-city-government"],
    PROJECT,
    NATIONAL,
    KGD["gunsan-analysis-centre-project-municipal"],
    CENTRE,
    TASK,
]


def _chain(property_: Node) -> Callable[[Graph], list[Triple]]:
    def find(ontology: Graph) -> list[Triple]:
        return [
            (property_, OWL.propertyChainAxiom, chain) for chain in ontology.objects(property_, OWL.propertyChainAxiom)
        ]

    return find


def _exactly(*triples: Triple) -> Callable[[Graph], list[Triple]]:
    return lambda ontology: list(triples)


@dataclass
class Case:
    name: str
    removed: Callable[[Graph], list[Triple]]
    lost: list[Triple]
    kept: list[Triple] = field(default_factory=list)


CASES = [
    Case(
        # Both are needed: kg:containsPlace is the inverse of kg:containedInPlace, and the inverse
        # of a transitive property is transitive, so either declaration alone gives the closure.
        "containment-transitivity",
        _exactly(
            (KG.containedInPlace, RDF.type, OWL.TransitiveProperty),
            (KG.containsPlace, RDF.type, OWL.TransitiveProperty),
        ),
        lost=[
            (SITE, KG.containedInPlace, KGD["south-korea"]),
            (SITE, KG.containedInPlace, KGD.gunsan),
            (SITE, SCHEMA.containedInPlace, KGD["south-korea"]),
            (KGD["south-korea"], KG.containsPlace, SITE),
        ],
        kept=[(SITE, KG.containedInPlace, ZONE), (ZONE, KG.containedInPlace, KGD.gunsan)],
    ),
    Case(
        "located-in-chain",
        _chain(KG.locatedIn),
        lost=[
            (PROJECT, KG.locatedIn, KGD.gunsan),
            (PROJECT, KG.locatedIn, KGD["jeonbuk-state"]),
            (PROJECT, KG.locatedIn, KGD["south-korea"]),
            (CENTRE, KG.locatedIn, KGD.gunsan),
        ],
        kept=[(PROJECT, KG.locatedIn, SITE)],  # kg:location is a subproperty of kg:locatedIn
    ),
    Case(
        "funded-by-chain",
        _chain(KG.fundedBy),
        lost=[
            (PROJECT, KG.fundedBy, KGD.motie),
            (KGD.motie, KG.funds, PROJECT),
            (PROJECT, SCHEMA.funder, KGD.motie),
            (PROJECT, KG.fundedBy, KGD["gunsan-city-government"]),
        ],
        kept=[(NATIONAL, SCHEMA.funder, KGD.motie)],
    ),
    Case(
        "containment-inverse",
        _exactly((KG.containedInPlace, OWL.inverseOf, KG.containsPlace)),
        lost=[(KGD.gunsan, KG.containsPlace, ZONE), (KGD["south-korea"], KG.containsPlace, SITE)],
        kept=[(KGD.gunsan, SCHEMA.containsPlace, ZONE)],  # schema.org's own inverse pair
    ),
    Case(
        "part-inverse",
        _exactly((KG.partOf, OWL.inverseOf, KG.hasPart)),
        lost=[(PROJECT, KG.hasPart, TASK), (PROJECT, DCTERMS.hasPart, TASK)],
        kept=[(PROJECT, KG.hasPart, CENTRE), (TASK, DCTERMS.isPartOf, PROJECT)],
    ),
    Case(
        "schema-project",
        _exactly((KG.Initiative, RDFS.subClassOf, SCHEMA.Project)),
        lost=[(PROJECT, RDF.type, SCHEMA.Project), (TASK, RDF.type, SCHEMA.Project)],
        kept=[(CENTRE, RDF.type, SCHEMA.Project)],  # a facility being built is a project too
    ),
    Case(
        "schema-place",
        _exactly((KG.Place, RDFS.subClassOf, SCHEMA.Place)),
        lost=[(SITE, RDF.type, SCHEMA.Place), (ZONE, RDF.type, SCHEMA.Place), (COMPLEX, RDF.type, SCHEMA.Place)],
        kept=[(KGD.gunsan, RDF.type, SCHEMA.Place), (SITE, RDF.type, PROV.Location)],
    ),
    Case(
        "schema-government-organization",
        _exactly((KG.GovernmentOrganisation, RDFS.subClassOf, SCHEMA.GovernmentOrganization)),
        lost=[
            (KGD.motie, RDF.type, SCHEMA.GovernmentOrganization),
            (KGD["gunsan-city-government"], RDF.type, SCHEMA.GovernmentOrganization),
        ],
        kept=[(KGD.motie, RDF.type, SCHEMA.Organization)],
    ),
    Case(
        "dcterms-source",
        _exactly((KG.source, RDFS.subPropertyOf, DCTERMS.source)),
        lost=[(PROJECT, DCTERMS.source, ARTICLE), (KGD.gunsan, DCTERMS.source, ARTICLE)],
        kept=[(PROJECT, PROV.hadPrimarySource, ARTICLE)],
    ),
    Case(
        "dcterms-subject",
        _exactly((KG.valueChainStage, RDFS.subPropertyOf, DCTERMS.subject)),
        lost=[
            (PROJECT, DCTERMS.subject, KGC["stage-precursor"]),
            (PROJECT, DCTERMS.subject, KGC["stage-cathode-material"]),
            (PROJECT, DCTERMS.subject, KGC["stage-cell"]),
        ],
    ),
    Case(
        "dcterms-type",
        _exactly((KG.fundingLevel, RDFS.subPropertyOf, DCTERMS.type)),
        lost=[(NATIONAL, DCTERMS.type, KGC["level-national"])],
    ),
    Case(
        "skos-preflabel",
        _exactly((SKOS.prefLabel, RDFS.subPropertyOf, RDFS.label)),
        lost=[
            (KGC["stage-precursor"], RDFS.label, Literal("Precursor", lang="en")),
            (KGC["stage-precursor"], RDFS.label, Literal("전구체", lang="ko")),
            (KGC["level-national"], RDFS.label, Literal("국비", lang="ko")),
        ],
    ),
]


@pytest.fixture(scope="module")
def bundled_ontology() -> Graph:
    return load_ontology(ontology_dir()).graph


@pytest.fixture(scope="module")
def ontology(bundled_ontology: Graph) -> Graph:
    """The bundled ontology without literal-valued triples, except skos:prefLabel."""
    logical = Graph()
    logical += ((s, p, o) for s, p, o in bundled_ontology if not isinstance(o, Literal) or p == SKOS.prefLabel)
    assert len(logical) < len(bundled_ontology)
    return logical


@pytest.fixture(scope="module")
def data_slice(articles_kg: KnowledgeGraph) -> Graph:
    """The triples about SLICE_SUBJECTS (and their blank-node values), without literal objects."""
    data = articles_kg.data
    sliced, todo, seen = Graph(), list(SLICE_SUBJECTS), set()
    while todo:
        subject = todo.pop()
        if subject in seen:
            continue
        seen.add(subject)
        for predicate, value in data.predicate_objects(subject):
            if isinstance(value, Literal):
                continue
            sliced.add((subject, predicate, value))
            if isinstance(value, BNode):
                todo.append(value)
    assert len(sliced) > 40 and all((s, None, None) in sliced for s in SLICE_SUBJECTS)
    return sliced


def test_cases_are_distinct():
    assert len({case.name for case in CASES}) == len(CASES) >= 10


def test_property_chains_are_the_documented_ones(bundled_ontology: Graph):
    (located,) = bundled_ontology.objects(KG.locatedIn, OWL.propertyChainAxiom)
    assert list(Collection(bundled_ontology, located)) == [KG.location, KG.containedInPlace]
    (funded,) = bundled_ontology.objects(KG.fundedBy, OWL.propertyChainAxiom)
    assert list(Collection(bundled_ontology, funded)) == [KG.funding, KG.funder]


ENGINES = available_engines()
BASELINE = "baseline"  # the job that removes nothing


def _entailed(engine: str, ontology_nt: str, data_nt: str, triples: list[Triple]) -> list[bool]:
    """In a worker process: reason over the two graphs and say which of `triples` are entailed."""
    ontology, data = Graph().parse(data=ontology_nt, format="nt"), Graph().parse(data=data_nt, format="nt")
    inference = reason(ontology, data, get_engine(engine))
    closure = inference.ontology + inference.data + inference.inferred
    return [triple in closure for triple in triples]


def _without(ontology: Graph, removed: list[Triple]) -> Graph:
    ablated = Graph()
    ablated += ontology
    for triple in removed:
        ablated.remove(triple)
    assert len(ablated) == len(ontology) - len(removed)
    return ablated


@pytest.fixture(scope="module")
def closures(ontology: Graph, data_slice: Graph) -> dict[tuple[str, str], dict[Triple, bool]]:
    """(engine, case name or BASELINE) -> {lost or kept triple: entailed?}; closures run two at a time."""
    data_nt = data_slice.serialize(format="nt")
    every_triple = sorted({t for case in CASES for t in case.lost + case.kept})
    ontologies = {BASELINE: (ontology.serialize(format="nt"), every_triple)}
    for case in CASES:
        ontologies[case.name] = (
            _without(ontology, case.removed(ontology)).serialize(format="nt"),
            case.lost + case.kept,
        )
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {
            (engine, name): pool.submit(_entailed, engine, nt, data_nt, triples)
            for engine in ENGINES
            for name, (nt, triples) in ontologies.items()
        }
        return {key: dict(zip(ontologies[key[1]][1], f.result(), strict=True)) for key, f in futures.items()}


def test_engines_are_discovered():
    assert "reference" in ENGINES


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_entailment_needs_its_axiom(case: Case, engine: str, ontology: Graph, articles_dataset, closures):
    removed = case.removed(ontology)
    assert removed, f"{case.name}: nothing to remove"
    for triple in removed:
        assert triple in ontology, f"{case.name}: the ontology lacks {triple}"
    baseline = closures[engine, BASELINE]
    for triple in case.lost:
        # Inferred (never asserted) from the bundled ontology and data, and from the slice.
        assert triple in articles_dataset.graph(KGG.inferred), f"not inferred from the bundled graph: {triple}"
        assert triple not in articles_dataset.graph(KGG.data)
        assert baseline[triple], f"not entailed from the slice: {triple}"
    for triple in case.kept:
        assert triple in articles_dataset and baseline[triple], triple

    entailed = closures[engine, case.name]
    assert [t for t in case.lost if entailed[t]] == [], f"{case.name}: still entailed without the axiom"
    assert [t for t in case.kept if not entailed[t]] == [], f"{case.name}: the removal broke more than it should"
