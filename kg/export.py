"""Write a projected graph (kg.project) in the formats graph tools open.

The registry ``EXPORTS`` is the one table of export formats: ``register(name, writer, suffixes)``
adds one (kg.page adds html), and `kg export --help`, the format a ``-o`` suffix implies and the
benchmark's steps all read it. A writer ``writer(graph, options) -> bytes`` takes the networkx graph from
``kg.project.project`` or ``class_hierarchy`` and an ``ExportOptions`` (``dataset`` is needed
only by the RDF formats). ``write_export`` writes the bytes atomically; CSV gives two files
(see ``write_export``).

Every writer is deterministic: nodes and edges sorted, no timestamps, fixed layout seed.

GEXF is written here rather than by networkx, whose file the GEXF 1.3 schema (kg/schemas/gexf-1.3/)
rejects (a ``lastmodifieddate``, untyped attributes). Colour, size and position go in the
``http://gexf.net/1.3/viz`` namespace, as the GEXF primer, Gephi and networkx write and read
them; everything else validates against the schema. GraphML is also written here so that
multi-edges get unique ids and whole won (over 2^31) is declared ``long``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from rdflib import Graph

from kg.errors import OutputError, UsageError
from kg.paths import atomic_write, display
from kg.project import rdf_of
from kg.results import serialize_graph
from kg.styles import colour_of

__all__ = [
    "ExportOptions",
    "ExportFormat",
    "EXPORTS",
    "register",
    "format_of",
    "export_bytes",
    "write_export",
    "layout",
    "edges_path",
]


@dataclass(frozen=True)
class ExportOptions:
    """What a writer may need besides the graph."""

    dataset: Graph | None = None  # the reasoned dataset, for ttl/nt/jsonld
    layout: bool = False  # positions (GEXF viz position, GraphML/CSV x y, Cytoscape position, D3 x y)
    seed: int = 42


Writer = Callable[[nx.Graph, ExportOptions], bytes]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    writer: Writer
    suffixes: tuple[str, ...]  # file name endings that mean this format; the first is the usual one


EXPORTS: dict[str, ExportFormat] = {}


def register(name: str, writer: Writer, suffixes: tuple[str, ...] | str) -> None:
    """Add a format to `kg export` (its --format, its help and the suffixes that imply it) and the benchmark."""
    EXPORTS[name] = ExportFormat(name, writer, (suffixes,) if isinstance(suffixes, str) else tuple(suffixes))


def format_of(path: str | Path, explicit: str | None = None) -> str:
    """The export format: `explicit`, else the one `path`'s suffix implies; a UsageError otherwise."""
    if explicit is None:
        suffix = Path(path).suffix.lower()
        explicit = next((f.name for f in EXPORTS.values() if suffix in f.suffixes), None)
        if explicit is None:
            raise UsageError(f"can't tell the format from {str(path)!r}; give --format ({', '.join(sorted(EXPORTS))})")
    if explicit not in EXPORTS:
        raise UsageError(f"unknown export format {explicit!r}; use one of {', '.join(sorted(EXPORTS))}")
    return explicit


def export_bytes(fmt: str, graph: nx.Graph, options: ExportOptions | None = None) -> bytes:
    """The file contents of `graph` in `fmt`."""
    return EXPORTS[format_of("", fmt)].writer(graph, options or ExportOptions())


def edges_path(nodes_path: Path) -> Path:
    """CSV: the edge table beside the node table, gunsan.csv -> gunsan-edges.csv."""
    return nodes_path.with_name(f"{nodes_path.stem}-edges{nodes_path.suffix or '.csv'}")


def write_export(fmt: str, graph: nx.Graph, options: ExportOptions | None, path: Path) -> list[Path]:
    """Write `graph` to `path` (atomically) and return the files written.

    CSV: ``-o NAME.zip`` gives one zip holding nodes.csv and edges.csv; any other name gives
    the node table at NAME and the edge table at NAME-edges.csv (two plain files, for Kumu,
    Flourish and spreadsheets). If the second file can't be written the first is removed.
    """
    data = export_bytes(fmt, graph, options)
    path = Path(path)
    if fmt != "csv" or path.suffix.lower() == ".zip":
        atomic_write(path, data)
        return [path]
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        nodes, edges = bundle.read("nodes.csv"), bundle.read("edges.csv")
    second = edges_path(path)
    if second == path:
        raise OutputError(f"cannot write {display(path)}: the edge table would overwrite it")
    existed = path.exists()
    atomic_write(path, nodes)
    try:
        atomic_write(second, edges)
    except OutputError:
        if not existed:
            path.unlink(missing_ok=True)
        raise
    return [path, second]


# ---------------------------------------------------------------- shared helpers


def _edges(graph: nx.Graph) -> list[tuple[str, str, str, dict]]:
    """(source, target, key, data), sorted; a DiGraph's key is its edge's property."""
    if graph.is_multigraph():
        found = [(u, v, str(k), d) for u, v, k, d in graph.edges(keys=True, data=True)]
    else:
        found = [(u, v, str(d.get("property", "")), d) for u, v, d in graph.edges(data=True)]
    return sorted(found, key=lambda e: (e[0], e[1], e[2]))


def _nodes(graph: nx.Graph) -> list[tuple[str, dict]]:
    return sorted(graph.nodes(data=True), key=lambda item: item[0])


def _node_keys(graph: nx.Graph) -> list[str]:
    """Node attribute names: the projection's fixed ones first, then the rest sorted."""
    fixed = ["label", "label_en", "label_ko", "type", "type_label", "category", "region", "source", "iri"]
    seen = {name for _, data in graph.nodes(data=True) for name in data}
    return [name for name in fixed if name in seen] + sorted(seen - set(fixed))


def _edge_keys(graph: nx.Graph) -> list[str]:
    fixed = ["property", "label", "inferred"]
    seen = {name for *_, data in _edges(graph) for name in data}
    return [name for name in fixed if name in seen] + sorted(seen - set(fixed))


def _type_of(values: list) -> type:
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return bool
    if kinds <= {int}:
        return int
    if kinds <= {int, float}:
        return float
    return str


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def layout(graph: nx.Graph, seed: int = 42, iterations: int = 200) -> dict[str, tuple[float, float]]:
    """Fruchterman–Reingold positions in [-500, 500]; same seed, same layout.

    Vectorised with numpy: the pairwise repulsion is O(n²) per iteration, which pure Python
    took minutes for for a thousand nodes.
    """
    import numpy as np

    nodes = sorted(graph.nodes)
    if not nodes:
        return {}
    index = {n: i for i, n in enumerate(nodes)}
    rng = random.Random(seed)
    pos = np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in nodes], dtype=float)
    links = sorted({tuple(sorted((u, v))) for u, v, *_ in _edges(graph) if u != v})
    heads = np.array([index[a] for a, _ in links], dtype=int)
    tails = np.array([index[b] for _, b in links], dtype=int)
    k = math.sqrt(4.0 / len(nodes))
    temperature = 0.1
    # Large graphs get fewer rounds (each is O(n²)); they settle well before 200 at this cooling.
    iterations = min(iterations, max(50, int(iterations * (400 / len(nodes)) ** 2)))
    for _ in range(iterations):
        dx = np.subtract.outer(pos[:, 0], pos[:, 0])  # dx[i, j] = x[i] - x[j]
        dy = np.subtract.outer(pos[:, 1], pos[:, 1])
        squared = np.maximum(dx * dx + dy * dy, 1e-12)
        np.fill_diagonal(squared, np.inf)  # no force of a node on itself
        repulsion = (k * k) / squared
        shift = np.column_stack(((dx * repulsion).sum(axis=1), (dy * repulsion).sum(axis=1)))
        if len(links):
            d = pos[heads] - pos[tails]
            length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)
            pull = d * (length / k)[:, None]
            np.subtract.at(shift, heads, pull)
            np.add.at(shift, tails, pull)
        length = np.maximum(np.hypot(shift[:, 0], shift[:, 1]), 1e-6)
        pos += shift / length[:, None] * np.minimum(length, temperature)[:, None]
        temperature = max(temperature * 0.98, 0.002)
    low, high = pos.min(axis=0), pos.max(axis=0)
    centre = (high + low) / 2
    scale = max(float((high - low).max()), 1e-6) / 1000
    return {
        n: (round(float((pos[i, 0] - centre[0]) / scale), 2), round(float((pos[i, 1] - centre[1]) / scale), 2))
        for i, n in enumerate(nodes)
    }


def _positions(graph: nx.Graph, options: ExportOptions) -> dict[str, tuple[float, float]]:
    return layout(graph, options.seed) if options.layout else {}


def _xml(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


# ---------------------------------------------------------------- GraphML

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_GRAPHML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


def write_graphml(graph: nx.Graph, options: ExportOptions) -> bytes:
    """GraphML (yEd, Gephi, Cytoscape, igraph): one <key> per attribute, typed, ids n_/e_/g_<name>."""
    ET.register_namespace("", GRAPHML_NS)
    ET.register_namespace("xsi", _XSI)
    q = f"{{{GRAPHML_NS}}}"
    root = ET.Element(
        q + "graphml",
        {f"{{{_XSI}}}schemaLocation": f"{GRAPHML_NS} http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd"},
    )
    positions = _positions(graph, options)
    nodes, edges = _nodes(graph), _edges(graph)
    graph_attrs = {k: v for k, v in sorted(graph.graph.items()) if isinstance(v, (str, int, float, bool))}
    node_keys = _node_keys(graph) + (["x", "y"] if positions else [])
    node_values = {n: dict(d) | ({"x": positions[n][0], "y": positions[n][1]} if positions else {}) for n, d in nodes}
    declared = []
    for name, value in graph_attrs.items():
        declared.append(("graph", "g_" + name, name, _type_of([value])))
    for name in node_keys:
        declared.append(("node", "n_" + name, name, _type_of([d[name] for d in node_values.values() if name in d])))
    edge_keys = _edge_keys(graph)
    for name in edge_keys:
        declared.append(("edge", "e_" + name, name, _type_of([d[name] for *_, d in edges if name in d])))
    for scope, key_id, name, kind in declared:
        ET.SubElement(
            root, q + "key", {"id": key_id, "for": scope, "attr.name": name, "attr.type": _GRAPHML_TYPES[kind]}
        )
    types = {(scope, name): kind for scope, _, name, kind in declared}
    element = ET.SubElement(
        root, q + "graph", {"id": "G", "edgedefault": "directed" if graph.is_directed() else "undirected"}
    )
    for name, value in graph_attrs.items():
        ET.SubElement(element, q + "data", {"key": "g_" + name}).text = _text(types["graph", name](value))
    for node, _ in nodes:
        child = ET.SubElement(element, q + "node", {"id": node})
        for name in node_keys:
            if name in node_values[node]:
                value = types["node", name](node_values[node][name])
                ET.SubElement(child, q + "data", {"key": "n_" + name}).text = _text(value)
    for i, (u, v, _, data) in enumerate(edges):
        child = ET.SubElement(element, q + "edge", {"id": f"e{i}", "source": u, "target": v})
        for name in edge_keys:
            if name in data:
                ET.SubElement(child, q + "data", {"key": "e_" + name}).text = _text(types["edge", name](data[name]))
    return _xml(root)


# ---------------------------------------------------------------- GEXF 1.3

GEXF_NS = "http://gexf.net/1.3"
GEXF_VIZ_NS = "http://gexf.net/1.3/viz"
_GEXF_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


def write_gexf(graph: nx.Graph, options: ExportOptions) -> bytes:
    """GEXF 1.3 (Gephi): typed attributes, edge kind = property, colour by class, positions with --layout."""
    ET.register_namespace("", GEXF_NS)
    ET.register_namespace("viz", GEXF_VIZ_NS)
    ET.register_namespace("xsi", _XSI)
    q, viz = f"{{{GEXF_NS}}}", f"{{{GEXF_VIZ_NS}}}"
    root = ET.Element(
        q + "gexf", {f"{{{_XSI}}}schemaLocation": f"{GEXF_NS} http://gexf.net/1.3/gexf.xsd", "version": "1.3"}
    )
    meta = ET.SubElement(root, q + "meta")
    ET.SubElement(meta, q + "creator").text = "battery-kg"
    ET.SubElement(meta, q + "description").text = str(graph.graph.get("name", "battery-kg"))
    element = ET.SubElement(
        root,
        q + "graph",
        {"defaultedgetype": "directed" if graph.is_directed() else "undirected", "mode": "static", "idtype": "string"},
    )
    nodes, edges = _nodes(graph), _edges(graph)
    positions = _positions(graph, options)
    node_keys = [name for name in _node_keys(graph) if name != "label"]
    edge_keys = [name for name in _edge_keys(graph) if name != "label"]
    node_types = {name: _type_of([d[name] for _, d in nodes if name in d]) for name in node_keys}
    edge_types = {name: _type_of([d[name] for *_, d in edges if name in d]) for name in edge_keys}
    for scope, types in (("node", node_types), ("edge", edge_types)):
        block = ET.SubElement(element, q + "attributes", {"class": scope, "mode": "static"})
        for name, kind in types.items():
            ET.SubElement(block, q + "attribute", {"id": name, "title": name, "type": _GEXF_TYPES[kind]})
    node_block = ET.SubElement(element, q + "nodes", {"count": str(len(nodes))})
    for node, data in nodes:
        child = ET.SubElement(node_block, q + "node", {"id": node, "label": str(data.get("label", node))})
        values = ET.SubElement(child, q + "attvalues")
        for name in node_keys:
            if name in data:
                ET.SubElement(values, q + "attvalue", {"for": name, "value": _text(node_types[name](data[name]))})
        hex_colour = colour_of(data)
        r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        ET.SubElement(child, viz + "color", {"r": str(r), "g": str(g), "b": str(b)})
        ET.SubElement(child, viz + "size", {"value": "10.0"})
        if positions:
            x, y = positions[node]
            ET.SubElement(child, viz + "position", {"x": _text(float(x)), "y": _text(float(y)), "z": "0.0"})
    edge_block = ET.SubElement(element, q + "edges", {"count": str(len(edges))})
    for i, (u, v, key, data) in enumerate(edges):
        attrs = {"id": f"e{i}", "source": u, "target": v, "label": str(data.get("label", key)), "kind": key}
        child = ET.SubElement(edge_block, q + "edge", attrs)
        values = ET.SubElement(child, q + "attvalues")
        for name in edge_keys:
            if name in data:
                ET.SubElement(values, q + "attvalue", {"for": name, "value": _text(edge_types[name](data[name]))})
    return _xml(root)


# ---------------------------------------------------------------- JSON formats


def _json(data) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")


def write_cytoscape(graph: nx.Graph, options: ExportOptions) -> bytes:
    """Cytoscape.js JSON (elements: nodes and edges with data); Cytoscape desktop imports it too."""
    positions = _positions(graph, options)
    nodes = []
    for node, data in _nodes(graph):
        entry = {"data": {**data, "id": node, "value": node, "name": str(data.get("label", node))}}
        entry["data"]["colour"] = colour_of(data)
        if positions:
            entry["position"] = {"x": positions[node][0], "y": positions[node][1]}
        nodes.append(entry)
    edges = [
        {"data": {**data, "id": f"e{i}", "source": u, "target": v, "key": key, "interaction": key}}
        for i, (u, v, key, data) in enumerate(_edges(graph))
    ]
    return _json(
        {
            "data": dict(graph.graph),
            "directed": graph.is_directed(),
            "multigraph": graph.is_multigraph(),
            "elements": {"nodes": nodes, "edges": edges},
        }
    )


def write_d3(graph: nx.Graph, options: ExportOptions) -> bytes:
    """D3 node-link JSON: ``nodes`` with ``id``, ``links`` with ``source``/``target`` (what d3.forceLink expects)."""
    positions = _positions(graph, options)
    nodes = []
    for node, data in _nodes(graph):
        entry = {**data, "id": node, "colour": colour_of(data)}
        if positions:
            entry["x"], entry["y"] = positions[node]
        nodes.append(entry)
    links = [{**data, "source": u, "target": v, "key": key} for u, v, key, data in _edges(graph)]
    return _json(
        {
            "directed": graph.is_directed(),
            "multigraph": graph.is_multigraph(),
            "graph": dict(graph.graph),
            "nodes": nodes,
            "links": links,
        }
    )


# ---------------------------------------------------------------- Graphviz DOT


def dot_quote(value) -> str:
    """A DOT double-quoted string: backslash and quote escaped, newlines as \\n; Hangul stays UTF-8."""
    text = _text(value).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{text}"'


def write_dot(graph: nx.Graph, options: ExportOptions) -> bytes:
    """Graphviz DOT: nodes filled by class, edges labelled by property, every attribute kept."""
    arrow = "->" if graph.is_directed() else "--"
    lines = [
        f"{'digraph' if graph.is_directed() else 'graph'} {dot_quote(graph.graph.get('name', 'battery-kg'))} {{",
        '  graph [charset="UTF-8", rankdir="LR", overlap="false"];',
        '  node [shape="box", style="rounded,filled", fontname="Noto Sans CJK KR"];',
        '  edge [fontname="Noto Sans CJK KR", fontsize="10"];',
    ]
    for node, data in _nodes(graph):
        attrs = {"label": data.get("label", node), "fillcolor": colour_of(data)}
        attrs |= {f"kg_{k}" if k in ("label", "id") else k: v for k, v in data.items() if k != "label"}
        attrs["label"] = data.get("label", node)
        body = ", ".join(f"{name}={dot_quote(value)}" for name, value in attrs.items())
        lines.append(f"  {dot_quote(node)} [{body}];")
    for u, v, key, data in _edges(graph):
        attrs = {"key": key, **{k: v2 for k, v2 in data.items()}}
        if data.get("inferred"):
            attrs["style"] = "dashed"
        body = ", ".join(f"{name}={dot_quote(value)}" for name, value in attrs.items())
        lines.append(f"  {dot_quote(u)} {arrow} {dot_quote(v)} [{body}];")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


# ---------------------------------------------------------------- CSV


def write_csv(graph: nx.Graph, options: ExportOptions) -> bytes:
    """A zip of nodes.csv (id + attributes) and edges.csv (id, source, target, property, label, inferred).

    UTF-8 with a byte-order mark, so spreadsheets show Hangul; numbers unformatted.
    """
    positions = _positions(graph, options)
    node_keys = _node_keys(graph) + (["x", "y"] if positions else [])
    nodes_text = io.StringIO()
    writer = csv.writer(nodes_text, lineterminator="\r\n")
    writer.writerow(["id", *node_keys])
    for node, data in _nodes(graph):
        row = dict(data) | ({"x": positions[node][0], "y": positions[node][1]} if positions else {})
        writer.writerow([node, *(_text(row[k]) if k in row else "" for k in node_keys)])
    edge_keys = _edge_keys(graph)
    edges_text = io.StringIO()
    writer = csv.writer(edges_text, lineterminator="\r\n")
    writer.writerow(["id", "source", "target", *edge_keys])
    for i, (u, v, _, data) in enumerate(_edges(graph)):
        writer.writerow([f"e{i}", u, v, *(_text(data[k]) if k in data else "" for k in edge_keys)])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, text in (("nodes.csv", nodes_text.getvalue()), ("edges.csv", edges_text.getvalue())):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            bundle.writestr(info, text.encode("utf-8-sig"))
    return buffer.getvalue()


# ---------------------------------------------------------------- RDF


def _rdf_writer(fmt: str) -> Writer:
    def write(graph: nx.Graph, options: ExportOptions) -> bytes:
        if options.dataset is None:
            raise UsageError(f"--format {fmt} needs the RDF dataset the graph was projected from")
        return serialize_graph(rdf_of(options.dataset, graph), fmt).encode("utf-8")

    write.__name__ = f"write_{fmt}"
    write.__doc__ = f"The (sub)graph's asserted triples (plus kept inferred edges) as {fmt}."
    return write


for _name, _writer, _suffixes in (
    ("graphml", write_graphml, (".graphml",)),
    ("gexf", write_gexf, (".gexf",)),
    ("cytoscape", write_cytoscape, (".cyjs",)),
    ("d3", write_d3, (".json",)),
    ("dot", write_dot, (".dot", ".gv")),
    ("csv", write_csv, (".csv", ".zip")),
    ("ttl", _rdf_writer("ttl"), (".ttl",)),
    ("nt", _rdf_writer("nt"), (".nt",)),
    ("jsonld", _rdf_writer("jsonld"), (".jsonld",)),
):
    register(_name, _writer, _suffixes)
