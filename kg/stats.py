"""Size of the knowledge graph: triples per graph and entities per most specific class."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from rdflib import URIRef

from kg.graph import GRAPHS, KnowledgeGraph
from kg.namespaces import DATA_GRAPHS, DEFAULT_GRAPH
from kg.paths import internal_sparql_dir
from kg.results import curie, render_table


@dataclass
class Stats:
    triples: dict[str, int]  # ontology / data / provenance / inferred -> triple count
    data_graphs: int  # how many data files (each a named graph of its own) the data holds
    classes: list[tuple[URIRef, int]]  # most specific kg: class -> entities, largest first


def stats(kg: KnowledgeGraph) -> Stats:
    """Count with the two queries in kg/sparql/, so the numbers can be checked in any SPARQL tool.

    The data count is kgg:data's: a statement two sources make counts once.
    """
    sparql = internal_sparql_dir()
    per_graph = {row[0]: int(row[1]) for row in kg.run(sparql / "triples-per-graph.rq").rows}
    data = [n for name, n in per_graph.items() if str(name).startswith(DATA_GRAPHS)]
    triples = {
        "ontology": per_graph.get(GRAPHS["ontology"], 0),
        "data": per_graph.get(GRAPHS["data"], 0),
        "provenance": sum(1 for _ in kg.engine.triples(kg.dataset, DEFAULT_GRAPH)),
        "inferred": per_graph.get(GRAPHS["inferred"], 0),
    }
    classes = [(row[0], int(row[1])) for row in kg.run(sparql / "entities-per-class.rq").rows]
    return Stats(triples, len(data), classes)


def write_stats(result: Stats, fmt: str) -> str:
    """The counts as a table for reading, or csv / tsv (what, name, count rows) or json for tools."""
    if fmt == "json":
        document = {
            "graphs": result.triples,
            "data_files": result.data_graphs,
            "classes": {curie(c): n for c, n in result.classes},
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if fmt in ("csv", "tsv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(["what", "name", "count"])
        writer.writerows(["graph triples", name, n] for name, n in result.triples.items())
        writer.writerow(["data files", "", result.data_graphs])
        writer.writerows(["class entities", curie(c), n] for c, n in result.classes)
        return buffer.getvalue()
    text = render_table(
        ["graph", "triples"], [[name, str(n)] for name, n in result.triples.items()], right_align=[False, True]
    )
    files = result.data_graphs
    text += f"{files} data file{'s' if files != 1 else ''}, each a named graph of its own (kgg:data/...)\n"
    text += "\n" + render_table(
        ["class", "entities"], [[curie(c), str(n)] for c, n in result.classes], right_align=[False, True]
    )
    return text
