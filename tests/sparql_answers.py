"""Compare SPARQL answers from kg (rdflib) and pyoxigraph with expected CSV files written by hand.

Expected CSV: a header of variable names, one line per solution. Cells are written as a
person reads them: CURIEs (kgd:gunsan) or full IRIs for IRIs, the lexical form for literals
(language tags and datatypes dropped), numbers compared by value (36900000000 equals
36900000000.0), and an empty cell for an unbound variable.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kg.namespaces import DATA_GRAPHS, PREFIXES, XSD

NUMERIC = {
    str(t)
    for t in (
        XSD.integer,
        XSD.decimal,
        XSD.double,
        XSD.float,
        XSD.int,
        XSD.long,
        XSD.short,
        XSD.byte,
        XSD.nonNegativeInteger,
        XSD.positiveInteger,
        XSD.negativeInteger,
        XSD.nonPositiveInteger,
        XSD.unsignedInt,
        XSD.unsignedLong,
        XSD.unsignedShort,
        XSD.unsignedByte,
    )
}
_CURIE = re.compile(r"^([A-Za-z][\w.-]*):([^\s/][^\s]*|)$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def number(text: str) -> str:
    """A number's canonical text: 36900000000.0 -> 36900000000, 1.50 -> 1.5."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def expand(cell: str) -> str:
    """kgd:gunsan -> its full IRI when the prefix is one of ours; anything else unchanged."""
    match = _CURIE.match(cell)
    if match and match.group(1) in PREFIXES:
        return str(PREFIXES[match.group(1)][match.group(2)])
    return cell


def expected_cell(cell: str) -> str:
    if _NUMBER.match(cell):
        return number(cell)
    return expand(cell)


def rdflib_cell(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, BNode):
        return "_:"
    if isinstance(term, Literal) and term.datatype is not None and str(term.datatype) in NUMERIC:
        return number(str(term))
    return str(term)


def oxigraph_cell(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return "_:"
    if isinstance(term, ox.Literal) and term.datatype.value in NUMERIC:
        return number(term.value)
    return term.value


def read_expected(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    """(variables, rows) of an expected-answer CSV, cells made comparable with `rdflib_cell`."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [tuple(expected_cell(cell) for cell in row) for row in reader]
    for row in rows:
        assert len(row) == len(header), f"{path.name}: row {row} does not match the header {header}"
    return header, rows


def has_order_by(sparql: str) -> bool:
    """True when the query text (comments stripped) fixes its row order."""
    text = "\n".join(line.split("#", 1)[0] if line.lstrip().startswith("#") else line for line in sparql.splitlines())
    return re.search(r"\bORDER\s+BY\b", text, re.IGNORECASE) is not None


def rdflib_rows(rows) -> list[tuple[str, ...]]:
    return [tuple(rdflib_cell(term) for term in row) for row in rows]


def oxigraph_answer(store: ox.Store, sparql: str, **bindings: URIRef) -> tuple[list[str], list[tuple[str, ...]]]:
    """Run `sparql` in pyoxigraph over the merge of the store's graphs, as (variables, rows).

    Oxigraph's union of graphs repeats a triple once per graph holding it, so the merge is taken
    over the graphs that do not overlap: every graph but the data files' own, whose triples
    kgg:data holds once.
    """
    merged = [ox.DefaultGraph()] + [
        g for g in store.named_graphs() if isinstance(g, ox.NamedNode) and not g.value.startswith(DATA_GRAPHS)
    ]
    solutions = store.query(
        sparql,
        default_graph=merged,
        substitutions={ox.Variable(name): ox.NamedNode(str(iri)) for name, iri in bindings.items()},
    )
    variables = [v.value for v in solutions.variables]
    return variables, [tuple(oxigraph_cell(s[v]) for v in variables) for s in solutions]


def oxigraph_store(dataset) -> ox.Store:
    """A pyoxigraph store holding the dataset's named graphs, loaded from N-Quads."""
    store = ox.Store()
    store.load(dataset.serialize(format="nquads", encoding="utf-8"), format=ox.RdfFormat.N_QUADS)
    return store
