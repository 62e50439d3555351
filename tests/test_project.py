"""kg.project: the RDF → property-graph projection, checked against the two-article fixture's files."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pyoxigraph as ox
import pytest
from rdflib import URIRef

from conftest import ARTICLES
from kg.errors import UsageError
from kg.namespaces import KGD
from kg.paths import ontology_dir
from kg.project import Projection, class_hierarchy, project, projection
from kg.regions import resolve_entity, resolve_place

KG = "https://w3id.org/battery-kg/ontology#"
PREFIXES = {
    "kg:": KG,
    "kgd:": "https://w3id.org/battery-kg/id/",
    "kgc:": "https://w3id.org/battery-kg/concept/",
    "skos:": "http://www.w3.org/2004/02/skos/core#",
}
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

# Gunsan (FACTS.md A1–A18): what lies in Gunsan, then what those entities link to
# (the province and complex that contain its places, the co-running province government,
# MOTIE, the technopark unit, the information system, and the value-chain concepts).
GUNSAN_MEMBERS = {
    "kgd:gunsan",
    "kgd:saemangeum-zone-2",
    "kgd:saemangeum-zone-2-research-site",
    "kgd:gunsan-city-government",
    "kgd:analysis-centre-participants",
    "kgd:gunsan-conference-partner-agencies",
    "kgd:gunsan-analysis-centre-project",
    "kgd:gunsan-analysis-centre-project-national",
    "kgd:gunsan-analysis-centre-project-provincial",
    "kgd:gunsan-analysis-centre-project-municipal",
    "kgd:gunsan-analysis-centre-project-private",
    "kgd:gunsan-analysis-centre",
    "kgd:gunsan-analysis-centre-realtime-infrastructure",
    "kgd:gunsan-analysis-centre-evaluation-support",
    "kgd:gunsan-analysis-centre-company-support",
    "kgd:gunsan-capability-programme",
    "kgd:gunsan-battery-conference-2025",
}
GUNSAN_LINKED = {
    "kgd:jeonbuk-state",
    "kgd:saemangeum-national-industrial-complex",
    "kgd:jeonbuk-state-government",
    "kgd:motie",
    "kgd:jeonbuk-technopark-battery-unit",
    "kgd:jeonbuk-rnd-information-system",
    "kgc:stage-precursor",
    "kgc:stage-cathode-material",
    "kgc:stage-cell",
    "kgc:stage-raw-materials",
    "kgc:stage-used-battery",
    "kgc:tech-leading-battery-technology",
    "kgc:tech-materials-and-minerals",
    "kgc:tech-used-batteries",
    "kgc:level-national",
    "kgc:level-provincial",
    "kgc:level-municipal",
    "kgc:level-private",
}


def _curie(iri: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace):
            return prefix + iri[len(namespace) :]
    return f"<{iri}>"


@pytest.fixture(scope="module")
def asserted_store() -> ox.Store:
    """The bundled ontology modules and the fixture's data files parsed by pyoxigraph, an independent parser."""
    store = ox.Store()
    files = sorted(Path(ontology_dir()).rglob("*.ttl")) + sorted(ARTICLES.glob("*.ttl"))
    assert files
    for path in files:
        store.load(path=str(path), format=ox.RdfFormat.TURTLE)
    return store


def _edge_properties(store: ox.Store) -> set[str]:
    declared = {
        q.subject.value
        for q in store.quads_for_pattern(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(OWL_OBJECT_PROPERTY))
        if q.subject.value.startswith(KG)
    }
    return (declared - {KG + "source"}) | {PREFIXES["skos:"] + "broader", PREFIXES["skos:"] + "related"}


OWL_OBJECT_PROPERTY = "http://www.w3.org/2002/07/owl#ObjectProperty"


def _asserted_edges(store: ox.Store, nodes: set[str]) -> set[tuple[str, str, str]]:
    """Every asserted object-property triple between two of `nodes`, as (source, target, property)."""
    found = set()
    for prop in _edge_properties(store):
        for q in store.quads_for_pattern(None, ox.NamedNode(prop), None):
            s, o = _curie(q.subject.value), _curie(q.object.value)
            if isinstance(q.object, ox.NamedNode) and s in nodes and o in nodes:
                found.add((s, o, _curie(prop)))
    return found


def test_nodes_are_the_typed_entities(articles_dataset, asserted_store):
    graph = project(articles_dataset)
    expected = {
        _curie(q.subject.value)
        for q in asserted_store.quads_for_pattern(None, ox.NamedNode(RDF_TYPE), None)
        if isinstance(q.subject, ox.NamedNode)
        and q.object.value.startswith(KG)
        and _curie(q.subject.value).split(":")[0] in ("kgd", "kgc")
    }
    # The fixture's entities and the ontology's concepts (stages incl. equipment and the battery-materials
    # group, trust levels, funding levels, sectors, fields).
    assert len(expected) == 89
    assert set(graph.nodes) == expected
    # No value nodes: amounts and floor areas are attributes of their owners.
    assert all(not n.startswith("_:") for n in graph.nodes)
    for _, data in graph.nodes(data=True):
        assert all(isinstance(v, (str, int, float)) and v is not None for v in data.values())
    assert set(graph.edges(keys=True)) == _asserted_edges(asserted_store, expected)


def test_node_attributes(articles_dataset):
    graph = project(articles_dataset)
    centre_project = graph.nodes["kgd:gunsan-analysis-centre-project"]
    assert {k: centre_project[k] for k in ("type", "category", "region", "source", "label", "label_ko")} == {
        "type": "kg:Project",
        "category": "kg:Initiative",
        "region": "kgd:jeonbuk-state",
        "source": "kgd:article-newsstep-2025-10-01-gunsan",
        "label": "Secondary Battery Real-time Advanced Analysis Centre infrastructure project",
        "label_ko": "이차전지 실시간 고도분석센터 기반구축 사업",
    }
    assert centre_project["iri"] == "https://w3id.org/battery-kg/id/gunsan-analysis-centre-project"
    assert (centre_project["totalBudget"], centre_project["totalBudgetCurrency"]) == (36900000000, "KRW")
    assert (centre_project["endDate"], centre_project["selectionDate"]) == ("2028", "2024-05")
    shares = {
        n: graph.nodes[n]["amount"]
        for n in graph.successors("kgd:gunsan-analysis-centre-project")
        if graph.nodes[n]["type"] == "kg:FundingContribution"
    }
    assert shares == {
        "kgd:gunsan-analysis-centre-project-national": 15000000000,
        "kgd:gunsan-analysis-centre-project-provincial": 10700000000,
        "kgd:gunsan-analysis-centre-project-municipal": 10700000000,
        "kgd:gunsan-analysis-centre-project-private": 500000000,
    }
    assert sum(shares.values()) == centre_project["totalBudget"]
    centre = graph.nodes["kgd:gunsan-analysis-centre"]
    assert (centre["grossFloorArea"], centre["grossFloorAreaUnit"], centre["floorsAboveGround"]) == (1919, "m²", 2)
    assert (centre["startDate"], centre["equipmentCount"]) == ("2025-11", 20)
    assert graph.nodes["kgd:daejeon"]["type"] == "kg:MetropolitanCity"
    assert graph.nodes["kgd:daejeon"]["region"] == "kgd:daejeon"
    assert graph.nodes["kgd:motie"]["region"] == ""
    assert graph.nodes["kgc:stage-cell"]["label_ko"] == "셀"
    edge = graph.edges["kgd:gunsan-analysis-centre-project", "kgd:saemangeum-zone-2-research-site", "kg:location"]
    assert edge == {
        "property": "kg:location",
        "label": "location",
        "inferred": False,
        "sources": "kgd:article-newsstep-2025-10-01-gunsan",  # the statement is in gunsan.ttl (A7)
    }


def test_korean_labels(articles_dataset):
    graph = project(articles_dataset, lang="ko")
    assert graph.nodes["kgd:gunsan"]["label"] == "군산시"
    assert graph.nodes["kgd:gunsan"]["label_en"] == "Gunsan"
    assert graph.nodes["kgd:gunsan"]["type_label"] == "시"
    assert graph.edges["kgd:gunsan", "kgd:jeonbuk-state", "kg:containedInPlace"]["label"] == "상위 장소"


@pytest.mark.parametrize("region", ["Gunsan", "gunsan", "군산", "군산시", "kgd:gunsan"])
def test_region_subgraph_is_exact(articles_kg, articles_dataset, asserted_store, region):
    graph = project(articles_dataset, region=URIRef(resolve_place(articles_kg, region).iri))
    assert set(graph.nodes) == GUNSAN_MEMBERS | GUNSAN_LINKED
    assert set(graph.edges(keys=True)) == _asserted_edges(asserted_store, GUNSAN_MEMBERS | GUNSAN_LINKED)
    assert graph.number_of_edges() == 61
    assert graph.graph["region"] == "kgd:gunsan"


def test_regions_do_not_mix(articles_dataset):
    daejeon = project(articles_dataset, region=KGD.daejeon)
    assert not GUNSAN_MEMBERS & set(daejeon.nodes)
    assert {d["region"] for n, d in daejeon.nodes(data=True) if n.startswith("kgd:daejeon-")} == {"kgd:daejeon"}
    jeonbuk = project(articles_dataset, region=KGD["jeonbuk-state"])
    assert GUNSAN_MEMBERS | {"kgd:jeonbuk-technopark", "kgd:jeonbuk-technopark-battery-unit"} <= set(jeonbuk.nodes)


def test_classes_include_subclasses(articles_dataset):
    graph = project(articles_dataset, classes=["kg:Organisation"])
    assert {d["type"] for _, d in graph.nodes(data=True)} == {
        "kg:CityGovernment",
        "kg:ProvincialGovernment",
        "kg:Ministry",
        "kg:Technopark",
        "kg:OrganisationalUnit",
        "kg:OrganisationGroup",
        "kg:MediaOrganisation",
    }
    assert set(graph.edges(keys=True)) == {
        ("kgd:jeonbuk-technopark-battery-unit", "kgd:jeonbuk-technopark", "kg:unitOf")
    }


def test_inferred_edges_are_only_the_most_specific(articles_dataset):
    # On the whole graph every inferred kg: edge is implied by kept edges (inverse, super-property, chain).
    full = project(articles_dataset, inferred=True)
    assert [e for e in full.edges(keys=True, data="inferred") if e[3]] == []
    assert full.number_of_edges() == project(articles_dataset).number_of_edges()
    # Without the funding contributions and sites, what they imply shows up, once, most specific.
    graph = project(articles_dataset, inferred=True, classes=["kg:Project", "kg:AdministrativeArea", "kg:Ministry"])
    inferred = {(u, v, k) for u, v, k, flag in graph.edges(keys=True, data="inferred") if flag}
    assert inferred == {
        ("kgd:gunsan-analysis-centre-project", "kgd:motie", "kg:fundedBy"),
        ("kgd:gunsan-analysis-centre-project", "kgd:gunsan", "kg:locatedIn"),
    }
    # Not the shortcuts to Jeonbuk State and South Korea, nor the inverse kg:funds.
    assert graph.has_edge("kgd:gunsan", "kgd:jeonbuk-state", "kg:containedInPlace")
    assert not graph.has_edge("kgd:gunsan", "kgd:south-korea")
    assert graph.edges["kgd:gunsan-analysis-centre-project", "kgd:motie", "kg:fundedBy"]["label"] == "funded by"


def test_focus_neighbourhood(articles_kg, articles_dataset):
    graph = project(articles_dataset, focus=KGD["gunsan-analysis-centre"], depth=1)
    assert set(graph.nodes) == {
        "kgd:gunsan-analysis-centre",
        "kgd:gunsan-analysis-centre-project",
        "kgd:saemangeum-zone-2-research-site",
        "kgc:stage-precursor",
        "kgc:stage-cathode-material",
    }
    assert graph.graph["focus"] == "kgd:gunsan-analysis-centre"
    by_label = project(articles_dataset, focus=resolve_entity(articles_kg, "이차전지 실시간 고도분석센터"), depth=0)
    assert list(by_label.nodes) == ["kgd:gunsan-analysis-centre"]
    wider = project(articles_dataset, focus=KGD["gunsan-analysis-centre"], depth=2)
    assert set(graph.nodes) < set(wider.nodes)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"classes": ["kg:Spaceship"]}, "unknown class 'kg:Spaceship'; use one of kg:AdministrativeArea"),
        ({"lang": "fr"}, "unknown language 'fr'"),
        ({"region": KGD.daejeon, "focus": KGD.gunsan}, "kgd:gunsan is not in the selected subgraph"),
        ({"focus": KGD.nowhere}, "kgd:nowhere is not an entity of the graph"),
    ],
)
def test_unknown_names_are_usage_errors(articles_dataset, options, message):
    with pytest.raises(UsageError) as caught:
        project(articles_dataset, **options)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("resolve", "name", "message"),
    [
        (resolve_place, "Seoul", "unknown region 'Seoul'; use one of Daejeon (kgd:daejeon), Gunsan (kgd:gunsan)"),
        (resolve_entity, "kgd:nowhere", "unknown entity 'kgd:nowhere'"),
    ],
)
def test_unknown_names_do_not_resolve(articles_kg, resolve, name, message):
    with pytest.raises(UsageError) as caught:
        resolve(articles_kg, name)
    assert str(caught.value).startswith(message)


def test_class_hierarchy(articles_dataset, asserted_store):
    tree = class_hierarchy(articles_dataset)
    expected = {
        (_curie(q.subject.value), _curie(q.object.value))
        for q in asserted_store.quads_for_pattern(
            None, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf"), None
        )
        if q.subject.value.startswith(KG) and q.object.value.startswith(KG)
    }
    assert set(tree.edges) == expected
    assert set(tree.successors("kg:MetropolitanCity")) == {"kg:City", "kg:ProvinceLevelArea"}
    assert tree.nodes["kg:City"]["label_ko"] == "시"
    assert tree.nodes["kg:Project"]["instances"] == 2  # the analysis-centre project and Daejeon's global network
    assert nx.is_directed_acyclic_graph(tree)


def test_projection_is_deterministic(articles_dataset):
    one, two = project(articles_dataset, inferred=True), project(articles_dataset, inferred=True)
    assert list(one.nodes(data=True)) == list(two.nodes(data=True))
    assert list(one.edges(keys=True, data=True)) == list(two.edges(keys=True, data=True))


@pytest.mark.parametrize(
    "options", [{}, {"inferred": True}, {"region": KGD.gunsan, "lang": "ko"}], ids=["all", "inferred", "gunsan-ko"]
)
def test_both_engines_and_the_rdflib_view_project_the_same_graph(articles_kg, articles_reference_kg, options):
    from_store = projection(articles_kg, **options)
    assert from_store.number_of_nodes() > 30 and from_store.number_of_edges() > 50
    assert projection(articles_reference_kg, **options) == from_store
    assert projection(articles_kg.rdflib, **options) == from_store
    assert Projection.of(from_store.to_networkx()) == from_store
