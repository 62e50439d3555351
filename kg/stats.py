"""Size of the knowledge graph: triples per graph and entities per most specific class."""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import URIRef

from kg.graph import GRAPHS, KnowledgeGraph
from kg.paths import internal_sparql_dir


@dataclass
class Stats:
    triples: dict[str, int]  # ontology / data / inferred -> triple count
    classes: list[tuple[URIRef, int]]  # most specific kg: class -> entities, largest first


def stats(kg: KnowledgeGraph) -> Stats:
    """Count with the two queries in kg/sparql/, so the numbers can be checked in any SPARQL tool."""
    sparql = internal_sparql_dir()
    per_graph = {row[0]: int(row[1]) for row in kg.run(sparql / "triples-per-graph.rq").rows}
    triples = {name: per_graph.get(iri, 0) for name, iri in GRAPHS.items()}
    classes = [(row[0], int(row[1])) for row in kg.run(sparql / "entities-per-class.rq").rows]
    return Stats(triples, classes)
