"""Named SPARQL queries: find queries/*.rq, read their headers, bind parameters, run them.

This is the only module that reads SPARQL text. Parameters are bound with the engine's
pre-binding (rdflib initBindings), never by formatting strings into the query.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from kg.engine import Answer, Engine, Prepared, get_engine
from kg.errors import QueryError
from kg.namespaces import PREFIXES, XSD
from kg.paths import display
from kg.paths import queries_dir as default_queries_dir

QUERY_SUFFIX = ".rq"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Param:
    """One `# Params:` entry, e.g. `?project (IRI, optional) the project to restrict to`."""

    name: str
    kind: str = ""
    optional: bool = False
    description: str = ""


@dataclass(frozen=True)
class QueryInfo:
    """What a query's header comment says about it."""

    name: str
    title: str = ""
    purpose: str = ""
    # None when the header has no Params line: then any variable of the query may be bound.
    params: tuple[Param, ...] | None = None
    path: Path | None = None


# -- discovery and headers ---------------------------------------------------------


def list_queries(directory: Path | None = None) -> list[QueryInfo]:
    """Every queries/*.rq with its header, sorted by name."""
    directory = Path(directory or default_queries_dir())
    if not directory.is_dir():
        raise QueryError(f"{display(directory)}: no such queries folder")
    return [read_header(_read(path), path.stem, path) for path in sorted(directory.glob(f"*{QUERY_SUFFIX}"))]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QueryError(f"{display(path)}: no such query file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise QueryError(f"{display(path)}: cannot read: {error}") from None


def find_query(name: str, directory: Path | None = None) -> QueryInfo:
    """The named query, or a QueryError suggesting close names."""
    infos = {info.name: info for info in list_queries(directory)}
    if name in infos:
        return infos[name]
    close = difflib.get_close_matches(name, list(infos), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise QueryError(f"unknown query {name!r}{hint} — see kg query --list")


_HEADER_KEY = re.compile(r"^#\s*([A-Za-z][\w -]*?)\s*:\s*(.*)$")
_KNOWN_KEYS = {"title", "purpose", "params"}


def read_header(text: str, name: str, path: Path | None = None) -> QueryInfo:
    """Parse the leading `# Title:` / `# Purpose:` / `# Params:` comment block.

    A comment line without a key continues the previous key; a bare `#` or another key ends it.
    """
    values: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            current = None
            continue
        if not stripped.startswith("#"):
            break  # the header is over once the SPARQL starts
        match = _HEADER_KEY.match(stripped)
        if match and match.group(1).lower() in _KNOWN_KEYS:
            current = match.group(1).lower()
            values.setdefault(current, []).append(match.group(2).strip())
        elif match or stripped == "#":
            current = None
        elif current is not None:
            continuation = stripped.lstrip("#").strip()
            if current == "params" and continuation.startswith("?"):
                values[current].append(continuation)  # a new parameter on its own line
            else:
                values[current][-1] += " " + continuation

    params = None
    if "params" in values:
        params = tuple(p for entry in values["params"] for p in _parse_params(entry))
    return QueryInfo(
        name=name,
        title=" ".join(values.get("title", [])),
        purpose=" ".join(values.get("purpose", [])),
        params=params,
        path=path,
    )


_PARAM = re.compile(r"^\?([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*[-:]?\s*(.*)$", re.S)


def _parse_params(entry: str) -> list[Param]:
    if entry.strip().lower() in {"", "none", "-", "(none)"}:
        return []
    params = []
    for chunk in _split_params(entry):
        match = _PARAM.match(chunk.strip())
        if not match:
            continue  # prose that is not a parameter
        name, inside, description = match.groups()
        flags = [f.strip() for f in (inside or "").split(",") if f.strip()]
        optional = any(f.lower() == "optional" for f in flags)
        kind = ", ".join(f for f in flags if f.lower() not in {"optional", "required"})
        params.append(Param(name, kind, optional, description.strip().rstrip(",").strip()))
    return params


def _split_params(entry: str) -> list[str]:
    # Split "?a (IRI, optional) x, ?b y" at commas outside parentheses that start a new ?param.
    chunks, depth, start = [], 0, 0
    for i, char in enumerate(entry):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0 and entry[i + 1 :].lstrip().startswith("?"):
            chunks.append(entry[start:i])
            start = i + 1
    chunks.append(entry[start:])
    return chunks


# -- parameter values ---------------------------------------------------------------

_IRI = re.compile(r'^<([^<>"{}|^`\\\s]*)>$')
_LITERAL = re.compile(r'^"((?:[^"\\]|\\.)*)"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^(\S+))?$', re.S)
_CURIE = re.compile(r"^([A-Za-z][\w.-]*):(\S*)$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?[0-9]*\.[0-9]+$")
_DOUBLE = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+$")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)


def parse_term(value: str) -> Node:
    """A command-line value as an RDF term, in Turtle-like syntax.

    kgd:gunsan and <https://...> are IRIs; "군산"@ko and "12"^^xsd:integer are literals;
    bare numbers are typed literals; any other bare text is a plain string.
    """
    if match := _IRI.match(value):
        return URIRef(match.group(1))
    if match := _LITERAL.match(value):
        lexical, language, datatype = match.groups()
        lexical = _ESCAPE.sub(_unescape, lexical)
        if datatype is None:
            return Literal(lexical, lang=language)
        datatype_iri = parse_term(datatype)
        if not isinstance(datatype_iri, URIRef):
            raise QueryError(f"{value!r}: the datatype after ^^ must be an IRI such as xsd:integer")
        literal = Literal(lexical, datatype=datatype_iri)
        if literal.ill_typed:
            raise QueryError(f"{value!r}: {lexical!r} is not a valid {datatype}")
        return literal
    if _INTEGER.match(value):
        return Literal(value, datatype=XSD.integer)
    if _DECIMAL.match(value):
        return Literal(value, datatype=XSD.decimal)
    if _DOUBLE.match(value):
        return Literal(value, datatype=XSD.double)
    if match := _CURIE.match(value):
        prefix, local = match.groups()
        if prefix not in PREFIXES:
            known = ", ".join(f"{p}:" for p in PREFIXES)
            raise QueryError(
                f"unknown prefix {prefix}: in {value!r} (known: {known}); "
                f"write a full IRI as <...> or a string in double quotes"
            )
        return PREFIXES[prefix][local]
    return Literal(value)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "uU" and len(code) > 1:
        return chr(int(code[1:], 16))
    if code in _ESCAPES:
        return _ESCAPES[code]
    raise QueryError(f"unknown escape \\{code} in a quoted value")


def parse_assignment(assignment: str) -> tuple[str, Node]:
    """`name=value` (as given to --param) -> (name, RDF term). A leading ? on the name is allowed."""
    name, sep, value = assignment.partition("=")
    name = name.strip().lstrip("?$")
    if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise QueryError(f"--param {assignment!r}: expected NAME=VALUE, e.g. region=kgd:gunsan")
    return name, parse_term(value)


# -- running -------------------------------------------------------------------------


# One-line SPARQL without braces (`DESCRIBE kgd:gunsan`, `LOAD <http://...>`) is text too, not a path.
_STARTS_LIKE_SPARQL = re.compile(
    r"^\s*(PREFIX|BASE|SELECT|ASK|CONSTRUCT|DESCRIBE|INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY|WITH)\s",
    re.IGNORECASE,
)


def resolve(query: str | Path, queries_dir: Path | None = None) -> tuple[QueryInfo, str]:
    """A query name, a path to a .rq file, or SPARQL text -> (header info, SPARQL text)."""
    if isinstance(query, str) and ("\n" in query or "{" in query or _STARTS_LIKE_SPARQL.match(query)):
        return read_header(query, "query text"), query
    if isinstance(query, Path) or query.endswith(QUERY_SUFFIX) or "/" in query or os.sep in query:
        path = Path(query)
        text = _read(path)
        return read_header(text, path.stem, path), text
    info = find_query(query, queries_dir)
    assert info.path is not None
    return info, _read(info.path)


def prepare(text: str, engine: Engine | None = None) -> Prepared:
    """Parse a query once per process and engine."""
    return _prepare_cached(engine or get_engine(), text)


@functools.lru_cache(maxsize=256)
def _prepare_cached(engine: Engine, text: str) -> Prepared:
    return engine.prepare(text)


@dataclass(frozen=True)
class BoundQuery:
    """A prepared query with its checked parameter bindings, ready to run on any dataset."""

    info: QueryInfo
    prepared: Prepared
    bindings: dict[str, Node]


def bind_query(
    query: str | Path,
    /,
    *,
    queries_dir: Path | None = None,
    engine: Engine | None = None,
    **bindings: Node | str | int | float | bool,
) -> BoundQuery:
    """Find, prepare and check a query and its bindings, before any data is loaded.

    Python values that are not RDF terms become literals (a str is a plain string,
    never parsed as an IRI).
    """
    engine = engine or get_engine()
    info, text = resolve(query, queries_dir)
    where = display(info.path) if info.path else info.name
    try:
        prepared = prepare(text, engine)
    except QueryError as error:
        raise QueryError(f"{where}: {error.message}") from None
    terms = {name: value if isinstance(value, Node) else Literal(value) for name, value in bindings.items()}
    check_bindings(info, prepared, terms)
    return BoundQuery(info, prepared, terms)


def execute(bound: BoundQuery, dataset: Graph, engine: Engine | None = None, *, stream: bool = False) -> Answer:
    """Run a bound query over `dataset`; parameters are pre-bound by the engine, never formatted in.

    With `stream`, SELECT rows are an iterator read as the engine produces them (Answer.iter_rows).
    """
    engine = engine or get_engine()
    log.info("running %s with the %s engine (%s)", bound.info.name, engine.name, engine.version)
    if stream:
        return engine.query(dataset, bound.prepared, bound.bindings, stream=True)
    return engine.query(dataset, bound.prepared, bound.bindings)


def run(
    query: str | Path,
    dataset: Graph,
    /,
    *,
    queries_dir: Path | None = None,
    engine: Engine | None = None,
    **bindings: Node | str | int | float | bool,
) -> Answer:
    """Run a named query (or .rq path, or SPARQL text) over `dataset` with parameters pre-bound.

    `run("funding-by-project", ds, project=KGD["gunsan-analysis-centre-project"])`
    """
    bound = bind_query(query, queries_dir=queries_dir, engine=engine, **bindings)
    return execute(bound, dataset, engine)


def check_bindings(info: QueryInfo, prepared: Prepared, bindings: dict[str, Node]) -> None:
    """Refuse parameters the query does not declare, and missing required ones."""
    if info.params is None:
        allowed = set(prepared.variables)
        valid = ", ".join(f"?{v}" for v in sorted(allowed)) or "none"
    else:
        allowed = {p.name for p in info.params}
        valid = ", ".join(f"?{p.name}" for p in info.params) or "none (it takes no params)"
    for name in bindings:
        if name not in allowed:
            raise QueryError(f"query {info.name} has no param ?{name}; valid params: {valid}")
        if name not in prepared.variables:
            raise QueryError(f"query {info.name} declares ?{name} but never uses it")
    for param in info.params or ():
        if not param.optional and param.name not in bindings:
            what = f" ({param.description})" if param.description else ""
            raise QueryError(f"query {info.name} needs --param {param.name}=VALUE{what}")
