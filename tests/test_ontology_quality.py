"""The ontology documents itself: bilingual labels and definitions on every term, module metadata,
and no kg: term in the data or the named queries that the ontology does not define."""

from __future__ import annotations

import re

import pytest
from rdflib import Graph, Literal, URIRef

from kg.load import load_ontology
from kg.namespaces import DCTERMS, KG, OWL, RDF, RDFS, SKOS
from kg.paths import data_dir, ontology_dir, queries_dir

ONTOLOGY_IRI = URIRef("https://w3id.org/battery-kg/ontology")
TERM_TYPES = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)
ONTOLOGY_FILES = sorted(ontology_dir().rglob("*.ttl"))


def _files_graph() -> Graph:
    """Every .ttl under ontology/, parsed directly (not through kg's import resolution)."""
    graph = Graph()
    for path in ONTOLOGY_FILES:
        graph.parse(path)
    return graph


FILES = _files_graph()
IMPORTED = load_ontology(ontology_dir()).graph
TERMS = sorted({s for kind in TERM_TYPES for s in FILES.subjects(RDF.type, kind) if str(s).startswith(str(KG))})


def test_terms_are_discovered():
    assert ONTOLOGY_FILES
    assert len(TERMS) > 100
    assert {KG.Project, KG.containedInPlace, KG.locatedIn, KG.value} <= set(TERMS)


def test_every_term_is_in_the_imported_ontology():
    """A term defined in a file that kg.ttl does not (transitively) import would be invisible to the reasoner."""
    assert [t for t in TERMS if not any((t, RDF.type, kind) in IMPORTED for kind in TERM_TYPES)] == []


def _languages(graph: Graph, term: URIRef, predicate: URIRef) -> set[str]:
    return {o.language for o in graph.objects(term, predicate) if isinstance(o, Literal) and o.language}


@pytest.mark.parametrize("term", TERMS, ids=[t.removeprefix(str(KG)) for t in TERMS])
def test_term_is_documented_in_english_and_korean(term: URIRef):
    assert _languages(IMPORTED, term, RDFS.label) >= {"en", "ko"}, "rdfs:label @en and @ko"
    assert _languages(IMPORTED, term, SKOS.definition) >= {"en", "ko"}, "skos:definition @en and @ko"
    for predicate in (RDFS.label, SKOS.definition):
        for language in ("en", "ko"):
            values = [o for o in IMPORTED.objects(term, predicate) if isinstance(o, Literal) and o.language == language]
            assert len(values) == 1, f"one {predicate} @{language}, not {len(values)}"
            assert str(values[0]).strip() == str(values[0]) and str(values[0])
    (module,) = IMPORTED.objects(term, RDFS.isDefinedBy)
    assert (module, RDF.type, OWL.Ontology) in IMPORTED, f"rdfs:isDefinedBy {module} is not one of our modules"


def test_term_names_follow_the_conventions():
    """Classes UpperCamelCase, properties lowerCamelCase (STYLE.md practice 2)."""
    for term in TERMS:
        local = term.removeprefix(str(KG))
        if (term, RDF.type, OWL.Class) in FILES:
            assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", local), term
        else:
            assert re.fullmatch(r"[a-z][A-Za-z0-9]*", local), term


def test_ontology_metadata():
    header = dict.fromkeys([OWL.versionInfo, DCTERMS.license, DCTERMS.description])
    for predicate in header:
        header[predicate] = list(IMPORTED.objects(ONTOLOGY_IRI, predicate))
        assert header[predicate], f"the ontology has no {predicate}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(header[OWL.versionInfo][0]))
    assert header[DCTERMS.license] == [URIRef("https://creativecommons.org/licenses/by/4.0/")]
    assert {d.language for d in header[DCTERMS.description]} >= {"en", "ko"}
    assert _languages(IMPORTED, ONTOLOGY_IRI, RDFS.label) >= {"en", "ko"}


def test_every_module_has_the_same_version_and_licence():
    modules = sorted(IMPORTED.subjects(RDF.type, OWL.Ontology))
    assert ONTOLOGY_IRI in modules and len(modules) >= 7
    version = IMPORTED.value(ONTOLOGY_IRI, OWL.versionInfo)
    for module in modules:
        assert IMPORTED.value(module, OWL.versionInfo) == version, module
        assert (module, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in IMPORTED, module
        assert _languages(IMPORTED, module, RDFS.label) >= {"en", "ko"}, module


def _kg_terms_in_text(text: str) -> set[URIRef]:
    return {KG[name] for name in re.findall(r"(?<![\w/#:])kg:([A-Za-z][A-Za-z0-9]*)", text)}


def test_data_and_queries_use_only_defined_terms():
    """A typo such as kg:fundedby would silently match nothing; every kg: term in use must be defined."""
    used: dict[URIRef, set[str]] = {}
    data = Graph()
    for path in sorted(data_dir().rglob("*.ttl")):
        data.parse(path)
    for triple in data:
        for term in triple:
            if isinstance(term, URIRef) and str(term).startswith(str(KG)):
                used.setdefault(term, set()).add("data/")
    query_files = sorted(queries_dir().glob("*.rq"))
    assert query_files
    for path in query_files:
        for term in _kg_terms_in_text(path.read_text(encoding="utf-8")):
            used.setdefault(term, set()).add(path.name)
    assert len(used) > 50
    undefined = {str(term): sorted(where) for term, where in used.items() if term not in set(TERMS)}
    assert undefined == {}
