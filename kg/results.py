"""Write query answers: W3C SPARQL results (JSON, XML, CSV, TSV), a terminal table, or Turtle.

`write_answer` returns text and is deterministic: unordered answers are sorted and blank
nodes renamed b0, b1... in order of appearance. `write_rows` streams CSV, TSV, JSON and
XML to a binary file as the rows arrive, in the answer's own order, holding none of them;
the terminal table always needs every row (its column widths depend on all of them).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import BinaryIO

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.plugins.serializers.longturtle import LongTurtleSerializer
from rdflib.term import Node

from kg.engine import Answer, Row
from kg.engine.sparql_text import ntriples_term
from kg.errors import UsageError
from kg.namespaces import PREFIXES, RDFS, XSD_NUMBERS, bind

RESULT_FORMATS = ("table", "csv", "tsv", "json", "xml")
STREAM_FORMATS = ("csv", "tsv", "json", "xml")  # written row by row; the table needs every row
GRAPH_FORMATS = ("ttl",)
SPARQL_RESULTS_NS = "http://www.w3.org/2005/sparql-results#"
MAX_CELL_WIDTH = 60


def write_answer(answer: Answer, format: str, labels_from: Graph | None = None) -> str:
    """Render `answer` in `format`; graph answers (CONSTRUCT/DESCRIBE) are always Turtle.

    Sorts unordered rows first (see `normalized`), so it holds every row; `write_rows`
    streams instead.
    """
    _check_format(answer, format)
    if answer.graph is not None:
        return graph_to_turtle(answer.graph)
    answer = normalized(answer)
    if format == "json":
        return to_json(answer)
    if format == "xml":
        return to_xml(answer)
    if format == "csv":
        return to_csv(answer)
    if format == "tsv":
        return to_tsv(answer)
    if format == "table":
        return to_table(answer, labeller(labels_from) if labels_from is not None else None)
    raise UsageError(f"unknown format {format!r}; use one of {', '.join(RESULT_FORMATS)}")


# -- determinism ---------------------------------------------------------------------


def normalized(answer: Answer) -> Answer:
    """Sort rows of an unordered SELECT and give blank nodes stable names."""
    rows = list(answer.rows)
    if not answer.ordered:
        rows.sort(key=lambda row: tuple(_term_key(term) for term in row))
    names: dict[BNode, BNode] = {}

    def rename(term: Node | None) -> Node | None:
        if isinstance(term, BNode):
            return names.setdefault(term, BNode(f"b{len(names)}"))
        return term

    rows = [tuple(rename(term) for term in row) for row in rows]
    return Answer(answer.kind, list(answer.variables), rows, answer.boolean, answer.graph, answer.ordered)


def _term_key(term: Node | None) -> tuple:
    if term is None:
        return (0,)
    if isinstance(term, BNode):
        return (1,)  # labels are random; rows keep their relative order
    if isinstance(term, URIRef):
        return (2, str(term))
    if isinstance(term, Literal):
        if term.datatype in XSD_NUMBERS and not term.ill_typed:
            try:
                return (3, 0, Decimal(str(term.toPython())), str(term))
            except ArithmeticError:
                pass
        return (3, 1, str(term), str(term.datatype or ""), term.language or "")
    return (4, str(term))


# -- W3C formats -----------------------------------------------------------------------
#
# Each format has one writer that puts rows on a binary stream as they come; the text
# functions (to_json...) run it into memory. `write_rows` is the streaming entry point.


def write_rows(answer: Answer, format: str, out: BinaryIO) -> int:
    """Write `answer` in csv, tsv, json or xml to `out` row by row, in the answer's order.

    Holds no rows, so a streamed answer (Answer.iter_rows) of any size needs flat memory;
    only the blank nodes seen so far are remembered, to rename them b0, b1... in order of
    appearance as `normalized` does. Unlike write_answer it does not sort: the caller
    decides whether the engine's order is good enough (it is when the query has ORDER BY).
    Returns the number of rows written.
    """
    if format not in STREAM_FORMATS:
        raise UsageError(f"--format {format} cannot be streamed; use one of {', '.join(STREAM_FORMATS)}")
    _check_format(answer, format)
    return _WRITERS[format](answer, _renamed(answer.iter_rows()), out)


def _check_format(answer: Answer, format: str) -> None:
    if answer.graph is not None:
        if format not in (*GRAPH_FORMATS, "table"):
            raise UsageError(f"{answer.kind} results are written as Turtle; --format {format} is for SELECT and ASK")
        return
    if format == "ttl":
        formats = ", ".join(RESULT_FORMATS)
        raise UsageError(f"--format ttl is for CONSTRUCT and DESCRIBE; {answer.kind} results can be {formats}")
    if answer.kind == "ASK" and format in ("csv", "tsv"):
        raise UsageError(f"ASK results have no {format.upper()} form; use json, xml or table")


def _renamed(rows: Iterable[Row]) -> Iterator[Row]:
    names: dict[BNode, BNode] = {}
    for row in rows:
        if any(isinstance(term, BNode) for term in row):
            row = tuple(names.setdefault(t, BNode(f"b{len(names)}")) if isinstance(t, BNode) else t for t in row)
        yield row


def _as_text(writer: Callable[[Answer, Iterable[Row], BinaryIO], int], answer: Answer) -> str:
    buffer = io.BytesIO()
    writer(answer, answer.iter_rows(), buffer)
    return buffer.getvalue().decode("utf-8")


def to_json(answer: Answer) -> str:
    """SPARQL 1.1 Query Results JSON Format."""
    return _as_text(_write_json, answer)


def _write_json(answer: Answer, rows: Iterable[Row], out: BinaryIO) -> int:
    # The same bytes json.dumps(document, indent=2) gives for the whole document, one binding at a time.
    if answer.kind == "ASK":
        document = {"head": {}, "boolean": bool(answer.boolean)}
        out.write((json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        return 0
    head = json.dumps({"vars": list(answer.variables)}, ensure_ascii=False, indent=2).replace("\n", "\n  ")
    out.write(f'{{\n  "head": {head},\n  "results": {{\n    "bindings": ['.encode())
    count = 0
    for row in rows:
        binding = {var: _json_term(term) for var, term in zip(answer.variables, row, strict=True) if term is not None}
        text = json.dumps(binding, ensure_ascii=False, indent=2).replace("\n", "\n      ")
        out.write(((",\n      " if count else "\n      ") + text).encode("utf-8"))
        count += 1
    out.write(("\n    ]" if count else "]").encode() + b"\n  }\n}\n")
    return count


def _json_term(term: Node) -> dict[str, str]:
    if isinstance(term, URIRef):
        return {"type": "uri", "value": str(term)}
    if isinstance(term, BNode):
        return {"type": "bnode", "value": str(term)}
    assert isinstance(term, Literal)
    value = {"type": "literal", "value": str(term)}
    if term.language:
        value["xml:lang"] = term.language
    elif term.datatype:
        value["datatype"] = str(term.datatype)
    return value


def to_xml(answer: Answer) -> str:
    """SPARQL Query Results XML Format."""
    return _as_text(_write_xml, answer)


def _write_xml(answer: Answer, rows: Iterable[Row], out: BinaryIO) -> int:
    # The same bytes ET.indent + ET.tostring give for the whole tree, one <result> at a time.
    def element(node: ET.Element, level: int) -> bytes:
        ET.indent(node, level=level)
        return ("  " * level + ET.tostring(node, encoding="unicode") + "\n").encode("utf-8")

    out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<sparql xmlns="{SPARQL_RESULTS_NS}">\n'.encode())
    head = ET.Element("head")
    if answer.kind == "ASK":
        out.write(element(head, 1))
        out.write(f"  <boolean>{'true' if answer.boolean else 'false'}</boolean>\n</sparql>\n".encode())
        return 0
    for var in answer.variables:
        ET.SubElement(head, "variable", {"name": var})
    out.write(element(head, 1))
    count = 0
    for row in rows:
        if not count:
            out.write(b"  <results>\n")
        count += 1
        result = ET.Element("result")
        for var, term in zip(answer.variables, row, strict=True):
            if term is None:
                continue
            binding = ET.SubElement(result, "binding", {"name": var})
            if isinstance(term, URIRef):
                ET.SubElement(binding, "uri").text = str(term)
            elif isinstance(term, BNode):
                ET.SubElement(binding, "bnode").text = str(term)
            else:
                attributes = {}
                if term.language:
                    attributes["xml:lang"] = term.language
                elif term.datatype:
                    attributes["datatype"] = str(term.datatype)
                ET.SubElement(binding, "literal", attributes).text = str(term)
        out.write(element(result, 2))
    out.write(b"  </results>\n</sparql>\n" if count else b"  <results />\n</sparql>\n")
    return count


def to_csv(answer: Answer) -> str:
    """SPARQL 1.1 CSV: plain strings, RFC 4180 quoting, CRLF line ends."""
    return _as_text(_write_csv, answer)


def _write_csv(answer: Answer, rows: Iterable[Row], out: BinaryIO) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(answer.variables)
        count = 0
        for row in rows:
            writer.writerow([_csv_value(term) for term in row])
            count += 1
        text.flush()
    finally:
        text.detach()  # leave `out` open for the caller
    return count


def _csv_value(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


def to_tsv(answer: Answer) -> str:
    """SPARQL 1.1 TSV: ?var header, terms in N-Triples syntax, LF line ends."""
    return _as_text(_write_tsv, answer)


def _write_tsv(answer: Answer, rows: Iterable[Row], out: BinaryIO) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        text.write("\t".join(f"?{var}" for var in answer.variables) + "\n")
        count = 0
        for row in rows:
            text.write("\t".join("" if term is None else ntriples_term(term) for term in row) + "\n")
            count += 1
        text.flush()
    finally:
        text.detach()
    return count


_WRITERS = {"csv": _write_csv, "tsv": _write_tsv, "json": _write_json, "xml": _write_xml}


# -- terminal table ------------------------------------------------------------------


def labeller(graph: Graph) -> Callable[[URIRef], str | None]:
    """iri -> "English label / 한국어 label" from rdfs:label, or None when it has no label."""
    cache: dict[URIRef, str | None] = {}

    def label(iri: URIRef) -> str | None:
        if iri not in cache:
            by_language: dict[str, list[str]] = {}
            for value in graph.objects(iri, RDFS.label):
                if isinstance(value, Literal):
                    language = (value.language or "").lower().split("-")[0]
                    by_language.setdefault(language, []).append(str(value))
            chosen = [min(by_language[lang]) for lang in ("en", "ko") if lang in by_language]
            if not chosen and by_language:
                chosen = [min(min(values) for values in by_language.values())]
            cache[iri] = " / ".join(chosen) or None
        return cache[iri]

    return label


def curie(iri: URIRef) -> str:
    """kgd:gunsan for IRIs in our prefixes, <iri> otherwise."""
    best = ""
    for prefix, namespace in PREFIXES.items():
        ns = str(namespace)
        if str.startswith(iri, ns) and len(ns) > len(best):
            best, label = ns, prefix
    if best:
        local = iri[len(best) :]
        if all(char.isalnum() or char in "_-." for char in local) and not local.endswith("."):
            return f"{label}:{local}"
    return f"<{iri}>"


def to_table(answer: Answer, label: Callable[[URIRef], str | None] | None = None) -> str:
    """A fixed-width table for terminals; IRIs as labels when known, else CURIEs."""
    if answer.kind == "ASK":
        return ("true" if answer.boolean else "false") + "\n"
    numeric = [
        all(_is_number(row[i]) for row in answer.rows if row[i] is not None)
        and any(row[i] is not None for row in answer.rows)
        for i in range(len(answer.variables))
    ]
    cells = [[_cell(term, label) for term in row] for row in answer.rows]
    count = len(answer.rows)
    footer = f"({count} row{'s' if count != 1 else ''})"
    return render_table(answer.variables, cells, right_align=numeric, footer=footer)


def _is_number(term: Node | None) -> bool:
    return isinstance(term, Literal) and term.datatype in XSD_NUMBERS


def _cell(term: Node | None, label: Callable[[URIRef], str | None] | None) -> str:
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return (label(term) if label else None) or curie(term)
    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


def display_width(text: str) -> int:
    """Terminal columns: East Asian wide/fullwidth characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _fit(text: str, limit: int = MAX_CELL_WIDTH) -> str:
    text = " ".join(text.split())  # newlines and tabs would break the grid
    if display_width(text) <= limit:
        return text
    out, width = "", 0
    for char in text:
        char_width = display_width(char)
        if width + char_width > limit - 1:
            break
        out, width = out + char, width + char_width
    return out + "…"


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right_align: Sequence[bool] | None = None,
    footer: str | None = None,
) -> str:
    """Columns padded to equal display width, a dashed rule under the headers."""
    headers = [_fit(h) for h in headers]
    rows = [[_fit(cell) for cell in row] for row in rows]
    right_align = list(right_align or [False] * len(headers))
    widths = [max([display_width(h)] + [display_width(row[i]) for row in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for cell, width, right in zip(cells, widths, right_align, strict=True):
            padding = " " * (width - display_width(cell))
            parts.append(padding + cell if right else cell + padding)
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    if footer:
        out.append(footer)
    return "\n".join(out) + "\n"


# -- graphs --------------------------------------------------------------------------


class _ExactTurtleSerializer(LongTurtleSerializer):
    """longturtle that never changes a literal: rdflib's shorthand writes "36900000000"^^xsd:decimal
    as 36900000000.0 (and "1e3"^^xsd:double as 1e+03), which reads back as a different RDF term."""

    def label(self, node, position):
        text = super().label(node, position)
        if isinstance(node, Literal) and node.datatype is not None and not text.startswith('"') and text != str(node):
            return node._literal_n3(use_plain=False, qname_callback=lambda datatype: self.get_pname(datatype, False))
        return text


def graph_to_turtle(graph: Graph) -> str:
    """Sorted, canonical longturtle with our prefixes: the same graph always gives the same bytes."""
    copy = bind(Graph())
    copy += graph
    stream = io.BytesIO()
    _ExactTurtleSerializer(copy).serialize(stream, base=copy.base, encoding="utf-8", canon=True)
    return stream.getvalue().decode("utf-8")


def serialize_graph(graph: Graph, format: str) -> str:
    """A whole graph as ttl (longturtle), nt (sorted lines) or jsonld (our prefixes as @context).

    Blank nodes are canonicalised first, so equal graphs give identical bytes on every run.
    """
    if format == "ttl":
        return graph_to_turtle(graph)
    canonical = bind(Graph())
    canonical += to_canonical_graph(graph)
    if format == "nt":
        lines = canonical.serialize(format="nt", encoding="utf-8").decode("utf-8").splitlines()
        return "".join(f"{line}\n" for line in sorted(set(lines)) if line.strip())
    if format == "jsonld":
        context = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
        text = canonical.serialize(format="json-ld", context=context, auto_compact=True)
        return json.dumps(_sorted_jsonld(json.loads(text)), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    raise UsageError(f"unknown graph format {format!r}; use ttl, nt or jsonld")


def _sorted_jsonld(node, in_list: bool = False):
    # rdflib emits nodes and values in store order; sort them, but never reorder an @list.
    if isinstance(node, dict):
        return {
            key: _sorted_jsonld(_type_as_string(value) if key == "@type" else value, key == "@list")
            for key, value in node.items()
        }
    if isinstance(node, list):
        items = [_sorted_jsonld(item) for item in node]
        if in_list:
            return items
        return sorted(items, key=lambda item: json.dumps(item, ensure_ascii=False, sort_keys=True))
    return node


def _type_as_string(value):
    # rdflib writes a blank-node type as {"@id": "_:b"}; JSON-LD requires the string "_:b".
    if isinstance(value, list):
        return [_type_as_string(item) for item in value]
    if isinstance(value, dict) and set(value) == {"@id"}:
        return value["@id"]
    return value


def stable_bnode_names(triples: Iterable[tuple[Node, Node, Node]]) -> dict[BNode, str]:
    """A name for each blank node from a hash of its surroundings: the same graph gives the same names."""
    around: dict[BNode, set[tuple[str, ...]]] = {}
    edges: list[tuple[Node, Node, Node]] = []
    for s, p, o in triples:
        edges.append((s, p, o))
        if isinstance(s, BNode):
            around.setdefault(s, set())
        if isinstance(o, BNode):
            around.setdefault(o, set())
    colour = {b: "" for b in around}
    for _round in range(3):  # neighbours' colours refine each node's own (Weisfeiler-Lehman)
        for b in around:
            around[b] = set()
        for s, p, o in edges:
            if isinstance(s, BNode):
                around[s].add(("out", p.n3(), colour[o] if isinstance(o, BNode) else o.n3()))
            if isinstance(o, BNode):
                around[o].add(("in", p.n3(), colour[s] if isinstance(s, BNode) else s.n3()))
        colour = {b: hashlib.sha256(repr(sorted(around[b])).encode()).hexdigest()[:24] for b in around}
    names: dict[BNode, str] = {}
    seen: dict[str, int] = {}
    for b in sorted(around, key=lambda b: (colour[b], str(b))):
        n = seen.get(colour[b], 0)
        seen[colour[b]] = n + 1
        names[b] = colour[b] if n == 0 else f"{colour[b]}-{n}"  # indistinguishable twins
    return names


# -- datasets: graphs kept apart ------------------------------------------------------------

DATASET_FORMATS = ("nq", "trig")


def serialize_dataset(graphs: Mapping[URIRef | None, Iterable[tuple[Node, Node, Node]]], format: str) -> str:
    """Named graphs (None: the default graph) as N-Quads (sorted lines) or TriG (one block per graph,
    graphs in name order, the default graph first).

    Blank nodes are named from their surroundings across all graphs (a blank node two graphs
    share keeps one name), so equal datasets give identical bytes on every run.
    """
    if format not in DATASET_FORMATS:
        raise UsageError(f"unknown dataset format {format!r}; use {' or '.join(DATASET_FORMATS)}")
    triples = {name: list(graph) for name, graph in graphs.items()}
    names = stable_bnode_names(t for graph in triples.values() for t in graph)

    def term(node: Node) -> Node:
        return BNode(f"b{names[node]}") if isinstance(node, BNode) else node

    order = sorted(triples, key=lambda name: (name is not None, str(name or "")))
    if format == "nq":
        lines = set()
        for name in order:
            suffix = f" {ntriples_term(name)}" if name is not None else ""
            for s, p, o in triples[name]:
                lines.add(f"{ntriples_term(term(s))} {ntriples_term(p)} {ntriples_term(term(o))}{suffix} .\n")
        return "".join(sorted(lines))
    declared: dict[str, str] = {}
    blocks = []
    for name in order:
        graph = bind(Graph())
        for s, p, o in triples[name]:
            graph.add((term(s), p, term(o)))
        body = []
        for line in graph_to_turtle(graph).splitlines():
            if line.startswith(("@prefix ", "PREFIX ")):
                prefix, namespace = line.split()[1:3]
                declared[prefix] = namespace
            elif line:
                body.append(f"    {line}\n")
        head = "{" if name is None else f"{ntriples_term(name)} {{"
        blocks.append(f"\n{head}\n" + "".join(body) + "}\n")
    parts = ["".join(f"@prefix {prefix} {namespace} .\n" for prefix, namespace in sorted(declared.items())), *blocks]
    return "".join(parts)
