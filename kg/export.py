"""Write a projected graph (kg.project) in the formats graph tools open.

The registry ``EXPORTS`` is the one table of export formats: ``register(name, writer, suffixes)``
adds one (kg.page adds html), and `kg export --help`, the format a ``-o`` suffix implies and the
benchmark's steps all read it. A writer ``writer(graph, options) -> bytes`` takes a networkx graph
(``kg.project.project`` or ``class_hierarchy``) and an ``ExportOptions``. The formats here are
written as streams instead (``register(..., stream=...)``): ``stream(projection, options, out)``
writes a ``kg.project.Projection`` (or a networkx graph, turned into one) to a binary file bit by
bit, with no document tree or networkx graph in memory; their ``writer`` is the same stream into
bytes. ``write_export`` writes a file atomically; CSV gives two files (see ``write_export``).

Every writer is deterministic: nodes and edges sorted, no timestamps, fixed layout seed.

XML is written line by line exactly as ElementTree (indented) would write it. GEXF is written here
rather than by networkx, whose file the GEXF 1.3 schema (kg/schemas/gexf-1.3/) rejects (a
``lastmodifieddate``, untyped attributes). Colour, size and position go in the
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
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape as xml_escape

import networkx as nx
from rdflib import Graph

from kg.errors import OutputError, UsageError
from kg.paths import atomic_stream, atomic_write, display
from kg.project import Projection, rdf_of
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

    dataset: Graph | None = None  # rdflib graphs, for writers that read them (the page's class names)
    layout: bool = False  # positions (GEXF viz position, GraphML/CSV x y, Cytoscape position, D3 x y)
    seed: int = 42
    source: Any = None  # what the graph was projected from (a KnowledgeGraph), for ttl/nt/jsonld


Graphish = Projection | nx.Graph
Writer = Callable[[nx.Graph, ExportOptions], bytes]
Stream = Callable[[Projection, ExportOptions, BinaryIO], None]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    writer: Writer
    suffixes: tuple[str, ...]  # file name endings that mean this format; the first is the usual one
    stream: Stream | None = None  # writes a Projection to a binary file bit by bit, when the format can


EXPORTS: dict[str, ExportFormat] = {}


def register(
    name: str, writer: Writer | None, suffixes: tuple[str, ...] | str, *, stream: Stream | None = None
) -> None:
    """Add a format to `kg export` (its --format, its help and the suffixes that imply it) and the benchmark.

    Give `writer` (graph, options) -> bytes, or `stream` (projection, options, binary file) -> None
    (then the writer is the stream into bytes)."""
    if writer is None:
        if stream is None:
            raise ValueError(f"format {name!r} needs a writer or a stream")
        writer = _buffered(stream)
    EXPORTS[name] = ExportFormat(name, writer, (suffixes,) if isinstance(suffixes, str) else tuple(suffixes), stream)


def _buffered(stream: Stream) -> Writer:
    def write(graph: Graphish, options: ExportOptions) -> bytes:
        buffer = io.BytesIO()
        stream(Projection.of(graph), options, buffer)
        return buffer.getvalue()

    write.__name__ = getattr(stream, "__name__", "write")
    write.__doc__ = stream.__doc__
    return write


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


def _networkx(graph: Graphish) -> nx.Graph:
    return graph.to_networkx() if isinstance(graph, Projection) else graph


def export_bytes(fmt: str, graph: Graphish, options: ExportOptions | None = None) -> bytes:
    """The file contents of `graph` (a Projection or a networkx graph) in `fmt`."""
    spec = EXPORTS[format_of("", fmt)]
    options = options or ExportOptions()
    return spec.writer(graph, options) if spec.stream is not None else spec.writer(_networkx(graph), options)


def edges_path(nodes_path: Path) -> Path:
    """CSV: the edge table beside the node table, gunsan.csv -> gunsan-edges.csv."""
    return nodes_path.with_name(f"{nodes_path.stem}-edges{nodes_path.suffix or '.csv'}")


def write_export(fmt: str, graph: Graphish, options: ExportOptions | None, path: Path) -> list[Path]:
    """Write `graph` to `path` (atomically; streamed when the format can) and return the files written.

    CSV: ``-o NAME.zip`` gives one zip holding nodes.csv and edges.csv; any other name gives
    the node table at NAME and the edge table at NAME-edges.csv (two plain files, for Kumu,
    Flourish and spreadsheets). If the second file can't be written the first is removed.
    """
    spec = EXPORTS[format_of("", fmt)]
    options = options or ExportOptions()
    path = Path(path)
    if spec.stream is None:
        atomic_write(path, spec.writer(_networkx(graph), options))
        return [path]
    projected = Projection.of(graph)
    if fmt != "csv" or path.suffix.lower() == ".zip":
        with atomic_stream(path) as out:
            spec.stream(projected, options, out)
        return [path]
    second = edges_path(path)
    if second == path:
        raise OutputError(f"cannot write {display(path)}: the edge table would overwrite it")
    existed = path.exists()
    with atomic_stream(path) as out:
        _csv_nodes(projected, options, out)
    try:
        with atomic_stream(second) as out:
            _csv_edges(projected, out)
    except OutputError:
        if not existed:
            path.unlink(missing_ok=True)
        raise
    return [path, second]


# ---------------------------------------------------------------- shared helpers


class _Text:
    """Text written to a binary file as UTF-8, in chunks of about a megabyte."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.parts, self.size = out, [], 0

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        self.out.write("".join(self.parts).encode("utf-8"))
        self.parts, self.size = [], 0


def _node_keys(graph: Projection) -> list[str]:
    """Node attribute names: the projection's fixed ones first, then the rest sorted."""
    fixed = ["label", "label_en", "label_ko", "type", "type_label", "category", "region", "source", "iri"]
    seen = {name for _, data in graph.nodes for name in data}
    return [name for name in fixed if name in seen] + sorted(seen - set(fixed))


def _edge_keys(graph: Projection) -> list[str]:
    fixed = ["property", "label", "inferred"]
    seen = {name for *_, data in graph.edges for name in data}
    return [name for name in fixed if name in seen] + sorted(seen - set(fixed))


def _type_of(values: Iterable) -> type:
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


def layout(graph: Graphish, seed: int = 42, iterations: int = 200) -> dict[str, tuple[float, float]]:
    """Fruchterman–Reingold positions in [-500, 500]; same seed, same layout.

    Vectorised with numpy: the pairwise repulsion is O(n²) per iteration, which pure Python
    took minutes for for a thousand nodes.
    """
    import numpy as np

    graph = Projection.of(graph)
    nodes = sorted(node for node, _ in graph.nodes)
    if not nodes:
        return {}
    index = {n: i for i, n in enumerate(nodes)}
    rng = random.Random(seed)
    pos = np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in nodes], dtype=float)
    links = sorted({tuple(sorted((u, v))) for u, v, *_ in graph.edges if u != v})
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


def _positions(graph: Projection, options: ExportOptions) -> dict[str, tuple[float, float]]:
    return layout(graph, options.seed) if options.layout else {}


# ---------------------------------------------------------------- XML, as ElementTree writes it


# The escapes ElementTree writes: &, <, > everywhere, and in attributes also the quote and the
# whitespace characters an attribute value would otherwise lose.
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"}


def _attr(value: str) -> str:
    """An attribute value escaped as ElementTree escapes it."""
    return xml_escape(value, _ATTRIBUTE_ENTITIES)


def _cdata(value: str) -> str:
    return xml_escape(value)


def _start(tag: str, attrs: dict[str, str]) -> str:
    return "<" + tag + "".join(f' {name}="{_attr(value)}"' for name, value in attrs.items())


def _leaf(level: int, tag: str, attrs: dict[str, str], text: str | None = None) -> str:
    """An element without children, on its own indented line (empty text: the short form)."""
    if text:
        return f"{'  ' * level}{_start(tag, attrs)}>{_cdata(text)}</{tag}>\n"
    return f"{'  ' * level}{_start(tag, attrs)} />\n"


def _parent(level: int, tag: str, attrs: dict[str, str], children: list[str]) -> str:
    """An element with the (already indented) lines of its children."""
    if not children:
        return _leaf(level, tag, attrs)
    pad = "  " * level
    return f"{pad}{_start(tag, attrs)}>\n{''.join(children)}{pad}</{tag}>\n"


_XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"


# ---------------------------------------------------------------- GraphML

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_GRAPHML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


def write_graphml(graph: Projection, options: ExportOptions, out: BinaryIO) -> None:
    """GraphML (yEd, Gephi, Cytoscape, igraph): one <key> per attribute, typed, ids n_/e_/g_<name>."""
    text = _Text(out)
    positions = _positions(graph, options)
    nodes, edges = graph.nodes, graph.edges
    graph_attrs = {k: v for k, v in sorted(graph.attributes.items()) if isinstance(v, (str, int, float, bool))}
    node_keys = _node_keys(graph) + (["x", "y"] if positions else [])

    def values_of(node: str, data: dict) -> dict:
        return data | {"x": positions[node][0], "y": positions[node][1]} if positions else data

    declared = []
    for name, value in graph_attrs.items():
        declared.append(("graph", "g_" + name, name, _type_of([value])))
    for name in node_keys:
        kind = _type_of(values[name] for node, data in nodes for values in (values_of(node, data),) if name in values)
        declared.append(("node", "n_" + name, name, kind))
    edge_keys = _edge_keys(graph)
    for name in edge_keys:
        declared.append(("edge", "e_" + name, name, _type_of(d[name] for *_, d in edges if name in d)))
    types = {(scope, name): kind for scope, _, name, kind in declared}
    root = {"xmlns": GRAPHML_NS, "xmlns:xsi": _XSI, "xsi:schemaLocation": f"{GRAPHML_NS} {GRAPHML_NS}/1.0/graphml.xsd"}
    text.write(_XML_DECLARATION + _start("graphml", root) + ">\n")
    for scope, key_id, name, kind in declared:
        attrs = {"id": key_id, "for": scope, "attr.name": name, "attr.type": _GRAPHML_TYPES[kind]}
        text.write(_leaf(1, "key", attrs))
    element = {"id": "G", "edgedefault": "directed" if graph.directed else "undirected"}
    if not (graph_attrs or nodes or edges):
        text.write(_leaf(1, "graph", element))
    else:
        text.write("  " + _start("graph", element) + ">\n")
        for name, value in graph_attrs.items():
            text.write(_leaf(2, "data", {"key": "g_" + name}, _text(types["graph", name](value))))
        for node, data in nodes:
            values = values_of(node, data)
            children = [
                _leaf(3, "data", {"key": "n_" + name}, _text(types["node", name](values[name])))
                for name in node_keys
                if name in values
            ]
            text.write(_parent(2, "node", {"id": node}, children))
        for i, (u, v, _, data) in enumerate(edges):
            children = [
                _leaf(3, "data", {"key": "e_" + name}, _text(types["edge", name](data[name])))
                for name in edge_keys
                if name in data
            ]
            text.write(_parent(2, "edge", {"id": f"e{i}", "source": u, "target": v}, children))
        text.write("  </graph>\n")
    text.write("</graphml>\n")
    text.flush()


# ---------------------------------------------------------------- GEXF 1.3

GEXF_NS = "http://gexf.net/1.3"
GEXF_VIZ_NS = "http://gexf.net/1.3/viz"
_GEXF_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


def write_gexf(graph: Projection, options: ExportOptions, out: BinaryIO) -> None:
    """GEXF 1.3 (Gephi): typed attributes, edge kind = property, colour by class, positions with --layout."""
    text = _Text(out)
    # ElementTree declares a namespace only where it is used: viz: with the nodes' colours.
    viz = {"xmlns:viz": GEXF_VIZ_NS} if graph.nodes else {}
    root = {
        "xmlns": GEXF_NS,
        **viz,
        "xmlns:xsi": _XSI,
        "xsi:schemaLocation": f"{GEXF_NS} {GEXF_NS}/gexf.xsd",
        "version": "1.3",
    }
    text.write(_XML_DECLARATION + _start("gexf", root) + ">\n")
    meta = [
        _leaf(2, "creator", {}, "battery-kg"),
        _leaf(2, "description", {}, str(graph.attributes.get("name", "battery-kg"))),
    ]
    text.write(_parent(1, "meta", {}, meta))
    element = {
        "defaultedgetype": "directed" if graph.directed else "undirected",
        "mode": "static",
        "idtype": "string",
    }
    text.write("  " + _start("graph", element) + ">\n")
    nodes, edges = graph.nodes, graph.edges
    positions = _positions(graph, options)
    node_keys = [name for name in _node_keys(graph) if name != "label"]
    edge_keys = [name for name in _edge_keys(graph) if name != "label"]
    node_types = {name: _type_of(d[name] for _, d in nodes if name in d) for name in node_keys}
    edge_types = {name: _type_of(d[name] for *_, d in edges if name in d) for name in edge_keys}
    for scope, types in (("node", node_types), ("edge", edge_types)):
        children = [
            _leaf(3, "attribute", {"id": name, "title": name, "type": _GEXF_TYPES[kind]})
            for name, kind in types.items()
        ]
        text.write(_parent(2, "attributes", {"class": scope, "mode": "static"}, children))
    if not nodes:
        text.write(_leaf(2, "nodes", {"count": "0"}))
    else:
        text.write("    " + _start("nodes", {"count": str(len(nodes))}) + ">\n")
        for node, data in nodes:
            values = [
                _leaf(5, "attvalue", {"for": name, "value": _text(node_types[name](data[name]))})
                for name in node_keys
                if name in data
            ]
            hex_colour = colour_of(data)
            r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
            children = [
                _parent(4, "attvalues", {}, values),
                _leaf(4, "viz:color", {"r": str(r), "g": str(g), "b": str(b)}),
                _leaf(4, "viz:size", {"value": "10.0"}),
            ]
            if positions:
                x, y = positions[node]
                children.append(_leaf(4, "viz:position", {"x": _text(float(x)), "y": _text(float(y)), "z": "0.0"}))
            text.write(_parent(3, "node", {"id": node, "label": str(data.get("label", node))}, children))
        text.write("    </nodes>\n")
    if not edges:
        text.write(_leaf(2, "edges", {"count": "0"}))
    else:
        text.write("    " + _start("edges", {"count": str(len(edges))}) + ">\n")
        for i, (u, v, key, data) in enumerate(edges):
            attrs = {"id": f"e{i}", "source": u, "target": v, "label": str(data.get("label", key)), "kind": key}
            values = [
                _leaf(5, "attvalue", {"for": name, "value": _text(edge_types[name](data[name]))})
                for name in edge_keys
                if name in data
            ]
            text.write(_parent(3, "edge", attrs, [_parent(4, "attvalues", {}, values)]))
        text.write("    </edges>\n")
    text.write("  </graph>\n</gexf>\n")
    text.flush()


# ---------------------------------------------------------------- JSON formats


class _Items:
    """A JSON array written item by item (`count` items made by `make`)."""

    def __init__(self, count: int, make: Callable[[], Iterator]) -> None:
        self.count, self.make = count, make


def _json_stream(text: _Text, value, level: int = 0) -> None:
    """`value` as json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) writes it, arrays
    given as _Items written one item at a time."""
    pad = " " * level
    if isinstance(value, _Items):
        if not value.count:
            text.write("[]")
            return
        text.write("[")
        for i, item in enumerate(value.make()):
            text.write(("\n" if i == 0 else ",\n") + pad + " ")
            _json_stream(text, item, level + 1)
        text.write("\n" + pad + "]")
    elif isinstance(value, dict) and any(isinstance(v, (_Items, dict)) for v in value.values()) and value:
        text.write("{")
        for i, key in enumerate(sorted(value)):
            text.write(("\n" if i == 0 else ",\n") + pad + " " + json.dumps(key, ensure_ascii=False) + ": ")
            _json_stream(text, value[key], level + 1)
        text.write("\n" + pad + "}")
    else:
        dumped = json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)
        text.write(dumped.replace("\n", "\n" + pad) if level else dumped)


def _write_json(out: BinaryIO, value) -> None:
    text = _Text(out)
    _json_stream(text, value)
    text.write("\n")
    text.flush()


def write_cytoscape(graph: Projection, options: ExportOptions, out: BinaryIO) -> None:
    """Cytoscape.js JSON (elements: nodes and edges with data); Cytoscape desktop imports it too."""
    positions = _positions(graph, options)

    def nodes():
        for node, data in graph.nodes:
            entry = {"data": {**data, "id": node, "value": node, "name": str(data.get("label", node))}}
            entry["data"]["colour"] = colour_of(data)
            if positions:
                entry["position"] = {"x": positions[node][0], "y": positions[node][1]}
            yield entry

    def edges():
        for i, (u, v, key, data) in enumerate(graph.edges):
            yield {"data": {**data, "id": f"e{i}", "source": u, "target": v, "key": key, "interaction": key}}

    document = {
        "data": dict(graph.attributes),
        "directed": graph.directed,
        "multigraph": graph.multigraph,
        "elements": {"nodes": _Items(len(graph.nodes), nodes), "edges": _Items(len(graph.edges), edges)},
    }
    _write_json(out, document)


def write_d3(graph: Projection, options: ExportOptions, out: BinaryIO) -> None:
    """D3 node-link JSON: ``nodes`` with ``id``, ``links`` with ``source``/``target`` (what d3.forceLink expects)."""
    positions = _positions(graph, options)

    def nodes():
        for node, data in graph.nodes:
            entry = {**data, "id": node, "colour": colour_of(data)}
            if positions:
                entry["x"], entry["y"] = positions[node]
            yield entry

    def links():
        for u, v, key, data in graph.edges:
            yield {**data, "source": u, "target": v, "key": key}

    document = {
        "directed": graph.directed,
        "multigraph": graph.multigraph,
        "graph": dict(graph.attributes),
        "nodes": _Items(len(graph.nodes), nodes),
        "links": _Items(len(graph.edges), links),
    }
    _write_json(out, document)


# ---------------------------------------------------------------- Graphviz DOT


def dot_quote(value) -> str:
    """A DOT double-quoted string: backslash and quote escaped, newlines as \\n; Hangul stays UTF-8."""
    text = _text(value).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{text}"'


def write_dot(graph: Projection, options: ExportOptions, out: BinaryIO) -> None:
    """Graphviz DOT: nodes filled by class, edges labelled by property, every attribute kept."""
    text = _Text(out)
    arrow = "->" if graph.directed else "--"
    text.write(
        f"{'digraph' if graph.directed else 'graph'} {dot_quote(graph.attributes.get('name', 'battery-kg'))} {{\n"
        '  graph [charset="UTF-8", rankdir="LR", overlap="false"];\n'
        '  node [shape="box", style="rounded,filled", fontname="Noto Sans CJK KR"];\n'
        '  edge [fontname="Noto Sans CJK KR", fontsize="10"];\n'
    )
    for node, data in graph.nodes:
        attrs = {"label": data.get("label", node), "fillcolor": colour_of(data)}
        attrs |= {f"kg_{k}" if k in ("label", "id") else k: v for k, v in data.items() if k != "label"}
        attrs["label"] = data.get("label", node)
        body = ", ".join(f"{name}={dot_quote(value)}" for name, value in attrs.items())
        text.write(f"  {dot_quote(node)} [{body}];\n")
    for u, v, key, data in graph.edges:
        attrs = {"key": key, **{k: v2 for k, v2 in data.items()}}
        if data.get("inferred"):
            attrs["style"] = "dashed"
        body = ", ".join(f"{name}={dot_quote(value)}" for name, value in attrs.items())
        text.write(f"  {dot_quote(u)} {arrow} {dot_quote(v)} [{body}];\n")
    text.write("}\n")
    text.flush()


# ---------------------------------------------------------------- CSV


def _csv_nodes(graph: Projection, options: ExportOptions, out: BinaryIO) -> None:
    """nodes.csv: id and the node attributes, UTF-8 with a byte-order mark."""
    text = _Text(out)
    text.write("\ufeff")
    positions = _positions(graph, options)
    node_keys = _node_keys(graph) + (["x", "y"] if positions else [])
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(["id", *node_keys])
    for node, data in graph.nodes:
        row = dict(data) | ({"x": positions[node][0], "y": positions[node][1]} if positions else {})
        writer.writerow([node, *(_text(row[k]) if k in row else "" for k in node_keys)])
    text.flush()


def _csv_edges(graph: Projection, out: BinaryIO) -> None:
    """edges.csv: id, source, target and the edge attributes, UTF-8 with a byte-order mark."""
    text = _Text(out)
    text.write("\ufeff")
    edge_keys = _edge_keys(graph)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(["id", "source", "target", *edge_keys])
    for i, (u, v, _, data) in enumerate(graph.edges):
        writer.writerow([f"e{i}", u, v, *(_text(data[k]) if k in data else "" for k in edge_keys)])
    text.flush()


def write_csv(graph: Projection, options: ExportOptions, out: BinaryIO) -> None:
    """A zip of nodes.csv (id + attributes) and edges.csv (id, source, target, property, label, inferred).

    UTF-8 with a byte-order mark, so spreadsheets show Hangul; numbers unformatted.
    """
    with zipfile.ZipFile(out, "w") as bundle:
        for name, write in (
            ("nodes.csv", lambda f: _csv_nodes(graph, options, f)),
            ("edges.csv", lambda f: _csv_edges(graph, f)),
        ):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with bundle.open(info, "w") as member:
                write(member)


# ---------------------------------------------------------------- RDF


def _rdf_stream(fmt: str) -> Stream:
    def write(graph: Projection, options: ExportOptions, out: BinaryIO) -> None:
        source = options.source if options.source is not None else options.dataset
        if source is None:
            raise UsageError(f"--format {fmt} needs the RDF dataset the graph was projected from")
        out.write(serialize_graph(rdf_of(source, graph), fmt).encode("utf-8"))

    write.__name__ = f"write_{fmt}"
    write.__doc__ = f"The (sub)graph's asserted triples (plus kept inferred edges) as {fmt}."
    return write


for _name, _stream, _suffixes in (
    ("graphml", write_graphml, (".graphml",)),
    ("gexf", write_gexf, (".gexf",)),
    ("cytoscape", write_cytoscape, (".cyjs",)),
    ("d3", write_d3, (".json",)),
    ("dot", write_dot, (".dot", ".gv")),
    ("csv", write_csv, (".csv", ".zip")),
    ("ttl", _rdf_stream("ttl"), (".ttl",)),
    ("nt", _rdf_stream("nt"), (".nt",)),
    ("jsonld", _rdf_stream("jsonld"), (".jsonld",)),
):
    register(_name, None, _suffixes, stream=_stream)
