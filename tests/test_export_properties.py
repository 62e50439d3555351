"""Property tests: every export writer survives arbitrary labels and keeps them intact.

Labels come from users' data: quotes, backslashes, angle brackets, newlines, Hangul, emoji,
right-to-left text. Each format must still be valid for its reader and give the label back.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from functools import cache
from pathlib import Path

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from kg.export import ExportOptions, export_bytes
from kg.page import write_html

SCHEMAS = Path(__file__).parent / "schemas"

# Text XML 1.0 can carry (no other control characters, no surrogates), plus the awkward bits.
LABEL = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"),
        st.sampled_from(
            ['"', "'", "\\", "<", ">", "&", "\n", "\t", "{", "}", ";", "#", "군", "산", "🔋", "م", "ر", "\u200f"]
        ),
    ),
    min_size=0,
    max_size=30,
)


@cache
def _schema(name: str) -> etree.XMLSchema:
    path = SCHEMAS / name
    return etree.XMLSchema(etree.parse(str(path)))


def _graph(labels: list[str]) -> nx.MultiDiGraph:
    """A small projection-shaped graph: a chain of nodes carrying the labels."""
    graph = nx.MultiDiGraph()
    for index, label in enumerate(labels):
        graph.add_node(
            f"kgd:n{index}",
            iri=f"https://w3id.org/battery-kg/id/n{index}",
            type="kg:Project",
            category="kg:Initiative",
            label=label,
            label_en=label,
            label_ko=label,
            region="",
            source="kgd:article",
        )
    for index in range(1, len(labels)):
        graph.add_edge(
            f"kgd:n{index - 1}",
            f"kgd:n{index}",
            key="kg:partOf",
            property="kg:partOf",
            label=labels[index],
            inferred=False,
        )
    return graph


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LABEL, min_size=1, max_size=4))
def test_every_writer_keeps_arbitrary_labels(labels):
    graph = _graph(labels)
    options = ExportOptions()
    expected = {f"kgd:n{i}": label for i, label in enumerate(labels)}

    graphml = export_bytes("graphml", graph, options)
    _schema("graphml/graphml.xsd").assertValid(etree.fromstring(graphml))
    back = nx.read_graphml(io.BytesIO(graphml))
    assert {n: d.get("label", "") for n, d in back.nodes(data=True)} == expected

    gexf = export_bytes("gexf", graph, options)
    document = etree.fromstring(gexf)
    for element in document.findall(".//{http://gexf.net/1.3/viz}*"):  # viz: not declared by the schema
        element.getparent().remove(element)
    _schema("gexf-1.3/gexf.xsd").assertValid(document)
    back = nx.read_gexf(io.BytesIO(gexf))
    assert sorted(back.nodes) == sorted(expected)

    cytoscape = json.loads(export_bytes("cytoscape", graph, options))
    nodes = cytoscape["elements"]["nodes"]
    assert {n["data"]["id"]: n["data"]["label"] for n in nodes} == expected

    d3 = json.loads(export_bytes("d3", graph, options))
    assert {n["id"]: n["label"] for n in d3["nodes"]} == expected
    assert len(d3["links"]) == len(labels) - 1

    with zipfile.ZipFile(io.BytesIO(export_bytes("csv", graph, options))) as bundle:
        nodes_table = bundle.read("nodes.csv").decode("utf-8-sig")
        edges_table = bundle.read("edges.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(nodes_table, newline="")))
    assert {row["id"]: row["label"] for row in rows} == expected
    assert len(list(csv.DictReader(io.StringIO(edges_table, newline="")))) == len(labels) - 1

    dot = export_bytes("dot", graph, options).decode("utf-8")
    assert dot.startswith(("digraph", "strict digraph"))
    assert dot.count("->") == len(labels) - 1

    page = write_html(graph, options).decode("utf-8")
    # Whatever the labels, the page's data block is one script element that JSON can read.
    start = page.index('<script id="kg-data" type="application/json">') + len(
        '<script id="kg-data" type="application/json">'
    )
    data = json.loads(page[start : page.index("</script>", start)])
    assert len(data["nodes"]) == len(labels)
