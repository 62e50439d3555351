"""The reference engine: rdflib for parsing and SPARQL, owlrl for the OWL 2 RL closure.

Slow but simple and well understood; other engines are checked against it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax import SAXParseException

import owlrl
from pyparsing import ParseException
from rdflib import Dataset, Graph, URIRef, Variable
from rdflib.exceptions import ParserError
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parser import parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import AlreadyBound
from rdflib.term import Node

from kg.engine import Answer, Capability, Engine, Noise, Prepared, Triple, distribution_version, services
from kg.engine import sparql_text as sparql_text_helpers
from kg.errors import LoadError, QueryError
from kg.formats import RdfFormat
from kg.namespaces import PREFIXES, bind
from kg.paths import display, read_input, refuse_xml_entities

_KINDS = {
    "SelectQuery": "SELECT",
    "AskQuery": "ASK",
    "ConstructQuery": "CONSTRUCT",
    "DescribeQuery": "DESCRIBE",
}


class ReferenceEngine(Engine):
    name = "reference"
    capabilities = frozenset({Capability.SERVICE, Capability.DISK_STORE})

    def __init__(self) -> None:
        self.version = f"rdflib-{distribution_version('rdflib')}+owlrl-{distribution_version('owlrl')}"

    # -- parsing -------------------------------------------------------------

    def parse(self, path: Path, rdf_format: RdfFormat) -> Graph:
        """Parse one file with rdflib, turning every parser failure into a LoadError with file and line."""
        name = display(path)
        syntax, format = rdf_format.label, rdf_format.rdflib
        raw = read_input(path)  # a regular file within the size limit

        source: str | bytes
        if format == "xml":
            refuse_xml_entities(path, raw)
            source = raw  # RDF/XML declares its own encoding
        else:
            source = _decode_utf8(raw, name)
            if format == "json-ld":
                _refuse_remote_contexts(source, name)

        graph = Graph()
        text = source if isinstance(source, str) else None
        try:
            with _quiet_invalid_iri_warnings():  # _refuse_invalid_iris reports them properly
                graph.parse(data=source, format=format, publicID=path.resolve().as_uri())
        except BadSyntax as error:
            line = _bad_syntax_line(error)
            raise LoadError(f"{name}, line {line}: {error._why} — fix the {syntax} syntax there") from None
        except json.JSONDecodeError as error:
            raise LoadError(f"{name}, line {error.lineno}: {error.msg} — fix the {syntax} syntax there") from None
        except SAXParseException as error:
            line = error.getLineNumber()
            raise LoadError(f"{name}, line {line}: {error.getMessage()} — fix the {syntax} syntax there") from None
        except RecursionError:
            raise LoadError(f"{name}: {_too_deep(format)}") from None
        except ParserError as error:
            if format == "nt":
                line, message = _first_bad_ntriples_line(source)
                raise LoadError(f"{name}, line {line}: {message} — fix the {syntax} syntax there") from None
            raise LoadError(f"{name}: {error} — fix the {syntax} there") from None
        except Exception as error:  # rdflib's parsers also raise ValueError, KeyError... on bad input
            quoted = re.search(r"'([^']+)'", str(error))
            where = _where(text, quoted.group(1)) if quoted else ""
            raise LoadError(f"{name}{where}: {error} — fix the {syntax} there") from None
        _refuse_invalid_iris(graph, text, name, syntax)
        return graph

    # -- reasoning -----------------------------------------------------------

    def closure(self, graph: Graph) -> Graph:
        """OWL 2 RL closure of a copy of `graph`, without axiomatic or datatype triples (they are noise)."""
        copy = Graph()
        copy += graph
        owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(copy)
        return copy

    def entailments(self, triples: set[Triple] | list[Triple], noise: Noise) -> list[Triple]:
        """What owlrl's closure adds to `triples`, less noise, triple by triple."""
        graph = Graph()
        graph.addN((s, p, o, graph) for s, p, o in triples)
        known = triples if isinstance(triples, set) else set(triples)
        return [t for t in self.closure(graph) if t not in known and not noise.is_noise(*t)]

    # -- datasets ------------------------------------------------------------

    def dataset(self, graphs: Mapping[URIRef, Iterable[tuple[Node, Node, Node]]]) -> Dataset:
        """An rdflib Dataset with each graph under its name, queried as their union by default."""
        dataset = bind(Dataset(default_union=True))
        for name, graph in graphs.items():
            context = dataset.graph(name)
            dataset.addN((s, p, o, context) for s, p, o in graph)
        return dataset

    def load_nquads(self, path: Path) -> Dataset:
        """N-Quads into an rdflib Dataset (union default graph)."""
        parsed = Dataset()
        parsed.parse(data=Path(path).read_bytes().decode("utf-8"), format="nquads")
        graphs = {g.identifier: g for g in parsed.graphs() if isinstance(g.identifier, URIRef) and len(g)}
        return self.dataset(graphs)

    def dump_nquads(self, dataset: Graph, out: BinaryIO) -> None:
        out.write(dataset.serialize(format="nquads", encoding="utf-8"))

    def open_store(self, directory: Path) -> Dataset:
        """An on-disk Oxigraph store (kg load --store) copied into rdflib via N-Quads."""
        import tempfile

        import pyoxigraph

        store = pyoxigraph.Store.read_only(str(directory))
        with tempfile.NamedTemporaryFile(suffix=".nq") as handle:
            store.dump(handle, format=pyoxigraph.RdfFormat.N_QUADS, from_graph=None)
            handle.flush()
            return self.load_nquads(Path(handle.name))

    def graph_names(self, dataset: Graph) -> list[URIRef]:
        if not isinstance(dataset, Dataset):
            return []
        return sorted(
            g.identifier
            for g in dataset.graphs()
            if isinstance(g.identifier, URIRef) and g.identifier != DATASET_DEFAULT_GRAPH_ID and len(g)
        )

    def triples(self, dataset: Graph, graph: URIRef | None = None) -> Iterator[Triple]:
        if graph is not None and isinstance(dataset, Dataset):
            yield from dataset.graph(graph)
        else:
            yield from ((s, p, o) for s, p, o, *_ in dataset)

    # -- SPARQL --------------------------------------------------------------

    def prepare(self, sparql_text: str) -> Prepared:
        """Parse a read-only query; updates, SERVICE and syntax errors become QueryError."""
        if not sparql_text_helpers.has_content(sparql_text):
            raise QueryError("empty query: the text holds no SPARQL, only comments or blanks")
        try:
            query = prepareQuery(sparql_text, initNs=dict(PREFIXES))
        except ParseException as error:
            if _is_update(sparql_text):
                raise QueryError("update requests are not allowed: kg is read-only") from None
            at_end = " (the end of the query)" if not sparql_text[error.loc :].strip() else ""
            raise QueryError(
                f"SPARQL syntax error at line {error.lineno}, column {error.col}{at_end}: {error.msg}"
            ) from None
        except Exception as error:  # rdflib raises bare Exceptions, e.g. for an unknown prefix
            raise QueryError(f"invalid SPARQL: {error}") from None
        algebra = query.algebra
        services.check(_service_endpoints(algebra))  # refused unless `kg query --allow-service` names them
        return Prepared(
            text=sparql_text,
            kind=_KINDS[algebra.name],
            variables=frozenset(str(v) for v in _variables(algebra)),
            ordered=_is_ordered(algebra),
            native=query,
        )

    def query(
        self, dataset: Graph, prepared: Prepared, bindings: Mapping[str, Node], *, stream: bool = False
    ) -> Answer:
        """Run with rdflib; FROM/FROM NAMED may only name graphs the dataset already has.

        rdflib evaluates SELECT lazily; with `stream` its solutions are read one at a time
        (queries calling SERVICE endpoints are always read whole).
        """
        _check_dataset_clause(prepared.native.algebra, dataset)
        endpoints = _service_endpoints(prepared.native.algebra)
        services.check(endpoints)  # again: a prepared query may outlive the permission it was made under
        try:
            if endpoints:
                return self._query_with_service(dataset, prepared, bindings)
            result = dataset.query(prepared.native, initBindings=dict(bindings))
            answer = _answer(result, prepared, _rows(result, [str(v) for v in result.vars or []]), stream)
        except AlreadyBound as error:
            raise QueryError(f"a parameter clashes with a variable the query binds itself ({error})") from None
        return answer

    def _query_with_service(self, dataset: Graph, prepared: Prepared, bindings: Mapping[str, Node]) -> Answer:
        """Run a query that calls allowed SERVICE endpoints; their failures become one-line QueryErrors."""
        from urllib.error import HTTPError, URLError

        try:
            result = dataset.query(prepared.native, initBindings=dict(bindings))
            answer = _answer(result, prepared, (tuple(row) for row in result), stream=False)
        except HTTPError as error:
            raise QueryError(f"SERVICE call failed: HTTP {error.code} {error.reason}") from None
        except (URLError, OSError, ValueError, KeyError) as error:
            raise QueryError(f"SERVICE call failed: {getattr(error, 'reason', None) or error}") from None
        return answer


def _answer(result, prepared: Prepared, rows, stream: bool) -> Answer:
    """An rdflib query result as an Answer; SELECT rows stay lazy when `stream`."""
    answer = Answer(kind=prepared.kind, ordered=prepared.ordered)
    if prepared.kind == "SELECT":
        answer.variables = [str(v) for v in result.vars or []]
        answer.rows = rows if stream else list(rows)
    elif prepared.kind == "ASK":
        answer.boolean = bool(result.askAnswer)
    else:
        answer.graph = result.graph
    return answer


def _rows(result: Any, variables: list[str]) -> Iterator[tuple[Node | None, ...]]:
    """A SELECT result's rows, without the copy rdflib's own iteration keeps of every row read."""
    # rdflib's Result.__iter__ appends each solution to a list it holds; its `_genbindings`
    # is the lazy evaluation itself. Empty solutions are skipped, as rdflib does.
    solutions = getattr(result, "_genbindings", None)
    if solutions is None:  # already evaluated (or a future rdflib): its rows, as rdflib gives them
        yield from (tuple(row) for row in result)
        return
    result._genbindings = None
    names = [Variable(v) for v in variables]
    try:
        for solution in solutions:
            if solution:
                yield tuple(solution.get(name) for name in names)
    except AlreadyBound as error:
        raise QueryError(f"a parameter clashes with a variable the query binds itself ({error})") from None


def _service_endpoints(algebra: CompValue) -> list[Node]:
    """The endpoint of every SERVICE clause in a query (IRIs, or variables for SERVICE ?x)."""
    return [node.get("term") for node in _walk(algebra) if node.name == "ServiceGraphPattern"]


ENGINE_CLASS = ReferenceEngine

# rdflib's Turtle and JSON-LD readers recurse once per level of nesting; Python's stack holds
# about this many (measured: Turtle blank nodes fail near 150, lists near 250, JSON-LD near 500).
MAX_NESTING = 100


def _too_deep(format: str) -> str:
    if format == "json-ld":
        remedy = "give the inner node objects an @id and list them at the top level instead"
    else:
        remedy = "label the inner nodes (_:b1 ex:p _:b2 .) instead of nesting [ ] or ( )"
        remedy += ", or use --engine fast (Oxigraph reads Turtle at any depth)" if format == "turtle" else ""
    return f"nested deeper than kg reads with rdflib (more than about {MAX_NESTING} levels) — {remedy}"


def _decode_utf8(raw: bytes, name: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise LoadError(
            f"{name}, line {line}: not valid UTF-8 (byte 0x{raw[error.start]:02x}) — save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


_NOT_IN_IRIS = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def _refuse_invalid_iris(graph: Graph, text: str | None, name: str, syntax: str) -> None:
    """rdflib accepts IRIs with spaces or quotes (and only warns); they break every serializer later."""
    invalid = sorted({t for triple in graph for t in triple if isinstance(t, URIRef) and _NOT_IN_IRIS.search(t)})
    if invalid:
        iri = str(invalid[0])
        # The IRI may be written as prefix:name; then its namespace part is what the text holds.
        where = next(
            (
                w
                for w in (
                    _where(text, iri),
                    _where(text, iri.rsplit("/", 1)[0] + "/"),
                    _where(text, iri.rsplit("#", 1)[0] + "#"),
                )
                if w
            ),
            "",
        )
        raise LoadError(
            f"{name}{where}: invalid IRI <{iri}> (no spaces, quotes or <>{{}}|^`\\ allowed) — fix the {syntax} there"
        )


def _where(text: str | None, needle: str) -> str:
    """ ", line N" for the first line of `text` containing `needle`, else ""."""
    if text is None or not needle or needle not in text:
        return ""
    return f", line {text[: text.index(needle)].count(chr(10)) + 1}"


class _DropInvalidIriWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "does not look like a valid URI" not in record.getMessage()


@contextlib.contextmanager
def _quiet_invalid_iri_warnings() -> Iterator[None]:
    logger, quiet = logging.getLogger("rdflib.term"), _DropInvalidIriWarnings()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _bad_syntax_line(error: BadSyntax) -> int:
    # `_i` indexes the decoded text; `lines` can lag behind it, so count newlines ourselves.
    try:
        text = error._str.decode("utf-8")
        return text[: error._i].count("\n") + 1
    except (AttributeError, UnicodeDecodeError, TypeError):
        return error.lines + 1


def _first_bad_ntriples_line(text: str) -> tuple[int, str]:
    # rdflib's N-Triples errors carry no line number; N-Triples is line-based, so find it.
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            with _quiet_invalid_iri_warnings():
                Graph().parse(data=line + "\n", format="nt")
        except ParserError as error:
            return number, str(error)
    return 1, "invalid N-Triples"


def _refuse_remote_contexts(text: str, name: str) -> None:
    """rdflib would fetch a remote @context over the network; kg never does."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise LoadError(f"{name}, line {error.lineno}: {error.msg} — fix the JSON-LD syntax there") from None
    except RecursionError:
        raise LoadError(f"{name}: {_too_deep('json-ld')}") from None

    def remote(value: Any) -> Iterator[str]:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict) and isinstance(item.get("@import"), str):
                yield item["@import"]

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "@context":
                    yield from remote(value)
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    for reference in walk(document):
        raise LoadError(
            f"{name}: refers to the remote JSON-LD context {reference}; kg works offline — inline the context"
        )


def _is_update(sparql_text: str) -> bool:
    # Parse only: translating would fail on prefixes the text leaves to initNs.
    try:
        parsed = parseUpdate(sparql_text)
    except ParseException:  # not an update either; the query's syntax error is the one to report
        return False
    return bool(dict.get(parsed, "request"))


def _walk(node: Any) -> Iterator[CompValue]:
    """Every algebra node below `node`, depth first."""
    if isinstance(node, CompValue):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, (list, tuple, set, frozenset)):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)


def _variables(node: Any) -> Iterator[Variable]:
    if isinstance(node, Variable):
        yield node
    elif isinstance(node, dict):  # CompValue is an OrderedDict; its `_vars` are values too
        for value in node.values():
            yield from _variables(value)
    elif isinstance(node, (list, tuple, set, frozenset)):
        for item in node:
            yield from _variables(item)


def _is_ordered(algebra: CompValue) -> bool:
    # Follow the solution-modifier spine (Slice, Project, Distinct...) down to an OrderBy.
    node = dict.get(algebra, "p")
    while isinstance(node, CompValue):
        if node.name == "OrderBy":
            return True
        if node.name not in {"Slice", "Project", "Distinct", "Reduced", "ToMultiSet", "Extend"}:
            return False
        node = dict.get(node, "p")
    return False


def _check_dataset_clause(algebra: CompValue, dataset: Graph) -> None:
    # rdflib would fetch an unknown FROM graph from the network; only allow graphs we hold.
    # (On a plain Graph rdflib ignores FROM, so there is nothing to check.)
    clause = dict.get(algebra, "datasetClause") or []
    if not clause or not isinstance(dataset, Dataset):
        return
    known = {g.identifier for g in dataset.graphs() if len(g)}
    for item in clause:
        iri = dict.get(item, "default") or dict.get(item, "named")
        if isinstance(iri, URIRef) and iri not in known:
            raise sparql_text_helpers.unknown_graph(str(iri), sorted(str(g) for g in known))
