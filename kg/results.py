"""Write query answers: W3C SPARQL results (JSON, XML, CSV, TSV), a terminal table, or Turtle.

`write_answer` returns text and is deterministic: unordered answers are sorted and blank
nodes renamed b0, b1... in order of appearance. `write_rows` streams CSV, TSV, JSON and
XML to a binary file as the rows arrive, in the answer's own order, holding none of them;
the terminal table always needs every row (its column widths depend on all of them).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.plugins.serializers.longturtle import LongTurtleSerializer
from rdflib.term import Node

from kg.canonical import RDFC_LIMIT, canonical_quads, largest_blank_group
from kg.engine import Answer, Row
from kg.engine.sparql_text import ntriples_term
from kg.engine.terms import to_ox
from kg.errors import UsageError
from kg.namespaces import KG, PREFIXES, RDFS, XSD, XSD_NUMBERS, bind

RESULT_FORMATS = ("table", "csv", "tsv", "json", "xml")
STREAM_FORMATS = ("csv", "tsv", "json", "xml")  # written row by row; the table needs every row
# CONSTRUCT and DESCRIBE answers: any RDF format kg writes (kg.formats); json and xml there mean
# JSON-LD and RDF/XML, table means Turtle.
GRAPH_FORMATS = ("ttl", "nt", "jsonld", "nq", "trig")
# The file suffixes of SELECT and ASK results (SPARQL 1.1 results: .srj, .srx).
RESULT_SUFFIXES = {"table": (".txt",), "csv": (".csv",), "tsv": (".tsv",), "json": (".json", ".srj"),
                   "xml": (".xml", ".srx")}  # fmt: skip


def answer_format(kind: str, output: str, explicit: str | None = None) -> str:
    """The format of a `kind` (SELECT, ASK, CONSTRUCT, DESCRIBE) answer written to `output`:
    `explicit` when given, else what the file's suffix says (a table or Turtle on stdout).
    An unknown suffix is an error, never a silent default."""
    graph = kind in ("CONSTRUCT", "DESCRIBE")
    if explicit:
        return explicit
    if output == "-":
        return "ttl" if graph else "table"
    suffix = Path(output).suffix.lower()
    if graph:
        from kg.formats import by_suffix, suffixes

        found = by_suffix(output)
        if found is None:
            raise UsageError(
                f"{output}: cannot tell the RDF format of {kind} results from the suffix {suffix or '(none)'!r}; "
                f"use one of {', '.join(suffixes())} or give --format"
            )
        return found.name
    for name, known in RESULT_SUFFIXES.items():
        if suffix in known:
            return name
    every = " ".join(s for known in RESULT_SUFFIXES.values() for s in known)
    raise UsageError(
        f"{output}: cannot tell the format of {kind} results from the suffix {suffix or '(none)'!r}; "
        f"use one of {every} or give --format"
    )


SPARQL_RESULTS_NS = "http://www.w3.org/2005/sparql-results#"
MAX_CELL_WIDTH = 60


def write_answer(answer: Answer, format: str, labels_from: Graph | None = None) -> str:
    """Render `answer` in `format`; graph answers (CONSTRUCT/DESCRIBE) are always Turtle.

    Sorts unordered rows first (see `normalized`), so it holds every row; `write_rows`
    streams instead.
    """
    _check_format(answer, format)
    if answer.graph is not None:
        rdf_format = {"table": "ttl", "json": "jsonld"}.get(format, format)
        return graph_to_turtle(answer.graph) if rdf_format == "ttl" else serialize_graph(answer.graph, rdf_format)
    answer, originals = _normalized(answer)
    if format == "json":
        return to_json(answer)
    if format == "xml":
        return to_xml(answer)
    if format == "csv":
        return to_csv(answer)
    if format == "tsv":
        return to_tsv(answer)
    if format == "table":
        if labels_from is None:
            return to_table(answer)
        label = labeller(labels_from)
        return to_table(answer, lambda term: label(originals.get(term, term)))
    raise UsageError(f"unknown format {format!r}; use one of {', '.join(RESULT_FORMATS)}")


# -- determinism ---------------------------------------------------------------------


def normalized(answer: Answer) -> Answer:
    """Sort rows of an unordered SELECT and give blank nodes stable names."""
    return _normalized(answer)[0]


def _normalized(answer: Answer) -> tuple[Answer, dict[BNode, BNode]]:
    # The normalized answer, and each new blank node name with the node it stands for.
    rows = list(answer.rows)
    if not answer.ordered:
        rows.sort(key=lambda row: tuple(_term_key(term) for term in row))
    names: dict[BNode, BNode] = {}

    def rename(term: Node | None) -> Node | None:
        if isinstance(term, BNode):
            return names.setdefault(term, BNode(f"b{len(names)}"))
        return term

    rows = [tuple(rename(term) for term in row) for row in rows]
    renamed = Answer(answer.kind, list(answer.variables), rows, answer.boolean, answer.graph, answer.ordered)
    return renamed, {new: old for old, new in names.items()}


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
        if format not in (*GRAPH_FORMATS, "table", "json", "xml"):
            raise UsageError(
                f"{answer.kind} results are RDF: --format {format} is for SELECT and ASK; "
                f"use one of {', '.join(GRAPH_FORMATS)}, json (JSON-LD) or xml (RDF/XML)"
            )
        return
    if format in GRAPH_FORMATS:
        formats = ", ".join(RESULT_FORMATS)
        raise UsageError(f"--format {format} is for CONSTRUCT and DESCRIBE; {answer.kind} results can be {formats}")
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

    def label(iri: URIRef | BNode) -> str | None:
        if isinstance(iri, BNode):
            return _described(graph, iri)
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


_UNITS = (KG.currency, KG.unit)


def _described(graph: Graph, node: BNode) -> str | None:
    """A figure without a name of its own (an amount, a quantity) as its value and unit:
    [36,900,000,000 KRW]; None when it has no value."""
    value = next(iter(graph.objects(node, KG.value)), None)
    if value is None:
        return None
    unit = next((u for p in _UNITS for u in graph.objects(node, p)), None)
    shown = _grouped(str(value)) if _is_number(value) else str(value)
    return f"[{shown}{' ' + str(unit) if unit is not None else ''}]"


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
        return (label(term) if label else None) or f"_:{term}"
    if _is_number(term) and term.datatype != XSD.double:
        return _grouped(str(term))
    return str(term)


def _grouped(number: str) -> str:
    """A whole or decimal number of five digits or more with thousands separators (30,000,000,000);
    shorter ones, such as years, as they are."""
    try:
        value = Decimal(number)
    except ArithmeticError:
        return number
    if not value.is_finite() or abs(value) < 10_000:
        return number
    return f"{value:,}"


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
    """Sorted, canonical longturtle with our prefixes: the same graph always gives the same bytes.

    longturtle nests blank nodes and rdflib canonicalises them in time that grows fast with a
    group of linked blank nodes, so a graph with a large one is written by Oxigraph's writer
    (kg.canonical says when)."""
    links = ((s, o) for s, _, o in graph if isinstance(s, BNode) and isinstance(o, BNode))
    if largest_blank_group(links) > RDFC_LIMIT:
        return serialize_graph(graph, "ttl")
    copy = bind(Graph())
    copy += graph
    stream = io.BytesIO()
    _ExactTurtleSerializer(copy).serialize(stream, base=copy.base, encoding="utf-8", canon=True)
    return stream.getvalue().decode("utf-8")


def serialize_graph(graph: Graph, format: str) -> str:
    """A whole rdflib graph as ttl, nt, jsonld or xml (kg.results.serialize_lines); blank nodes are
    canonicalised (RDFC-1.0), so equal graphs give identical bytes on every run."""
    triples = (ox.Triple(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in graph)
    lines = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).splitlines()
    return serialize_lines(lines, format, canonical=True).decode("utf-8")


# What serialize_lines writes: one graph (triples) or graphs kept apart (quads).
TRIPLE_FORMATS = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "jsonld": ox.RdfFormat.JSON_LD,
                  "xml": ox.RdfFormat.RDF_XML}  # fmt: skip
QUAD_FORMATS = {"nq": ox.RdfFormat.N_QUADS, "trig": ox.RdfFormat.TRIG}


def serialize_lines(lines: list[bytes], format: str, *, canonical: bool) -> bytes:
    """N-Triples or N-Quads lines (quads for nq and trig) written sorted and byte-stable by
    Oxigraph's own writers: nt and nq as sorted unique lines, Turtle and TriG subject by subject
    with our prefixes, JSON-LD compacted with them as @context, RDF/XML.

    `canonical` relabels blank nodes so they depend only on the graph (kg.canonical: RDFC-1.0,
    or paths from named nodes for large blank-node structures); without it labels are kept,
    for datasets whose labels already depend only on their inputs
    (kg.engine.Engine.has_stable_labels): at 10^5 triples canonicalising costs more than all
    the rest together.
    """
    if format not in TRIPLE_FORMATS and format not in QUAD_FORMATS:
        known = ", ".join([*TRIPLE_FORMATS, *QUAD_FORMATS])
        raise UsageError(f"unknown RDF output format {format!r}; use one of {known}")
    quads = format in QUAD_FORMATS
    if canonical:
        stable = canonical_quads(ox.parse(b"\n".join(lines), format=ox.RdfFormat.N_QUADS))
        lines = ox.serialize(stable, format=ox.RdfFormat.N_QUADS).splitlines()
    text = b"".join(line + b"\n" for line in sorted(set(lines)) if line)
    if format in ("nt", "nq"):
        return text
    items = ox.parse(text, format=ox.RdfFormat.N_QUADS if quads else ox.RdfFormat.N_TRIPLES)
    target = QUAD_FORMATS[format] if quads else TRIPLE_FORMATS[format]
    prefixes = {prefix: str(namespace) for prefix, namespace in sorted(PREFIXES.items())}
    if format == "jsonld":
        return _compact_jsonld(ox.serialize(items, format=target), prefixes)
    return ox.serialize(items, format=target, prefixes=prefixes)


def _compact_jsonld(expanded: bytes, prefixes: dict[str, str]) -> bytes:
    """Oxigraph's expanded JSON-LD with our prefixes as its @context: keys, @id and @type values
    written as CURIEs (which the context expands back), one node object per subject."""
    by_length = sorted(prefixes.items(), key=lambda item: -len(item[1]))

    def short(iri: str) -> str:
        for prefix, namespace in by_length:
            if iri.startswith(namespace) and len(iri) > len(namespace):
                rest = iri[len(namespace) :]
                if _CURIE_SAFE.match(rest):
                    return f"{prefix}:{rest}"
        return iri

    def value(item):
        if isinstance(item, dict):
            out = {}
            for key, inner in item.items():
                if key in ("@id", "@type") and isinstance(inner, str) and not inner.startswith("_:"):
                    out[key] = short(inner)
                else:
                    out[key] = value(inner)
            return out
        if isinstance(item, list):
            return [value(x) for x in item]
        return item

    nodes: dict[str, dict] = {}
    for node in json.loads(expanded):
        merged = nodes.setdefault(node["@id"], {"@id": node["@id"]})
        for key, values in node.items():
            if key != "@id":
                merged.setdefault(short(key), []).extend(value(values))
    graph = [{**node, "@id": short(node["@id"])} for node in nodes.values()]
    document = {"@context": prefixes, "@graph": graph}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


# A local name a CURIE may carry here: letters, digits, - _ . (no slash, #, or trailing dot).
_CURIE_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?<!\.)$")
