"""The fast engine: pyoxigraph parses, stores and queries; reasonable computes the OWL 2 RL closure.

Both are native (Rust) libraries. Queries run on an Oxigraph store, filled straight from
N-Quads (the reasoning cache, or an on-disk store from `kg load --store`), so the query
path never builds rdflib graphs. Answers come back as rdflib terms, like the reference
engine's, so everything above the engine stays engine-neutral.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kg.engine import Answer, Prepared
from kg.errors import LoadError, QueryError
from kg.namespaces import PREFIXES
from kg.paths import display

_FORMATS = {
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "json-ld": ox.RdfFormat.JSON_LD,
    "xml": ox.RdfFormat.RDF_XML,
    "nquads": ox.RdfFormat.N_QUADS,
}
_SYNTAX_NAMES = {"turtle": "Turtle", "nt": "N-Triples", "json-ld": "JSON-LD", "xml": "RDF/XML"}
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_PREFIXES = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}


class FastDataset:
    """An Oxigraph store holding kgg:ontology, kgg:data and (when reasoned) kgg:inferred.

    Offers the little of rdflib's Graph API that code above the engine uses on a dataset
    (`objects` for table labels, `len`), so callers need not know which engine made it.
    """

    def __init__(self, store: ox.Store) -> None:
        self.store = store

    def objects(self, subject: Node | None = None, predicate: Node | None = None) -> Iterator[Node]:
        seen = set()
        for quad in self.store.quads_for_pattern(_to_ox(subject), _to_ox(predicate), None, None):
            term = _to_rdflib(quad.object)
            if term not in seen:
                seen.add(term)
                yield term

    def graph_names(self) -> list[str]:
        return sorted(graph.value for graph in self.store.named_graphs() if isinstance(graph, ox.NamedNode))

    def __len__(self) -> int:
        return len(self.store)


class FastEngine:
    name = "fast"

    def __init__(self) -> None:
        self.version = f"pyoxigraph-{ox.__version__}+reasonable-{version('reasonable')}"

    # -- parsing -------------------------------------------------------------

    def parse(self, path: Path, format: str) -> Graph:
        """Parse one file with Oxigraph (much faster than rdflib); syntax errors name the file and line."""
        graph = Graph()
        graph.addN((s, p, o, graph) for s, p, o in self.parse_terms(path, format))
        return graph

    def parse_terms(self, path: Path, format: str) -> Iterator[tuple[Node, Node, Node]]:
        """The triples of one file as rdflib terms."""
        for quad in self._parse(path, format):
            yield _to_rdflib(quad.subject), _to_rdflib(quad.predicate), _to_rdflib(quad.object)

    def _parse(self, path: Path, format: str) -> list[ox.Quad]:
        """Oxigraph for Turtle and N-Triples; anything it refuses is re-read by the reference parser.

        Bad input is rare and small, so the second read costs nothing that matters, and both
        engines then report the same one-line error (file, line, what to fix).
        JSON-LD and RDF/XML go to the reference parser too: it refuses remote JSON-LD contexts.
        """
        if format not in ("turtle", "nt"):
            return self._via_reference(path, format)
        try:
            raw = path.read_bytes()
            raw.decode("utf-8")
            return list(
                ox.parse(
                    raw.removeprefix(b"\xef\xbb\xbf"),
                    format=_FORMATS[format],
                    base_iri=path.resolve().as_uri(),
                    without_named_graphs=True,
                )
            )
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as error:
            self._via_reference(path, format)  # raises the reference engine's LoadError
            name, syntax = display(path), _SYNTAX_NAMES.get(format, format)
            line = getattr(error, "lineno", None)
            where = f", line {line}" if line else ""
            message = re.sub(r"^Parser error [^:]*: ", "", str(getattr(error, "msg", error)))
            raise LoadError(f"{name}{where}: {message} — fix the {syntax} syntax there") from None

    def _via_reference(self, path: Path, format: str) -> list[ox.Quad]:
        from kg.engine import get_engine

        graph = get_engine("reference").parse(path, format)
        return [ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o)) for s, p, o in graph]

    # -- reasoning -----------------------------------------------------------

    def closure(self, graph: Graph) -> Graph:
        """`graph` plus its OWL 2 RL entailments (reasonable, completed by `_missing_rules`), as a new graph."""
        out = Graph()
        out.addN((s, p, o, out) for s, p, o in self.closure_triples(graph))
        return out

    def closure_triples(self, triples: Iterable[tuple[Node, Node, Node]]) -> set[tuple[Node, Node, Node]]:
        """reasonable's closure, completed to a fixpoint with the OWL 2 RL rules reasonable lacks.

        reasonable 0.4 implements neither property chains (prp-spo2) nor the schema rules
        scm-cls (C subClassOf owl:Thing), scm-spo, scm-dom1/2 and scm-rng1/2; `_missing_rules`
        adds them, and reasonable runs again on what they derive until nothing new appears.
        """
        import reasonable  # only reasoning needs it; cached queries never do

        reasoner = reasonable.PyReasoner()
        reasoner.from_graph(list(triples))
        closure: set[tuple[Node, Node, Node]] = set()
        while True:
            closure = {_plain(t) for t in reasoner.reason()}
            extra = _missing_rules(closure) - closure
            if not extra:
                return closure
            reasoner.from_graph(list(extra))

    # -- datasets ------------------------------------------------------------

    def dataset(self, graphs: Mapping[URIRef, Iterable[tuple[Node, Node, Node]]]) -> FastDataset:
        """A queryable in-memory store with each graph under its name; the default graph is their union."""
        store = ox.Store()
        store.bulk_extend(
            ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), ox.NamedNode(str(name)))
            for name, graph in graphs.items()
            for s, p, o in graph
        )
        return FastDataset(store)

    def load_nquads(self, data: bytes | Path) -> FastDataset:
        """A store read straight from N-Quads, with no rdflib in between."""
        store = ox.Store()
        if isinstance(data, Path):
            store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
        else:
            store.bulk_load(data, format=ox.RdfFormat.N_QUADS)
        return FastDataset(store)

    def open_store(self, directory: Path) -> FastDataset:
        """An on-disk Oxigraph store built by `kg load --store`, opened read-only."""
        return FastDataset(ox.Store.read_only(str(directory)))

    def triples(self, dataset: Any, graph: URIRef | None = None) -> Iterator[tuple[Node, Node, Node]]:
        """The triples of one named graph (or all) of a dataset, as rdflib terms."""
        store = _as_store(dataset)
        name = ox.NamedNode(str(graph)) if graph is not None else None
        for quad in store.quads_for_pattern(None, None, None, name):
            yield _to_rdflib(quad.subject), _to_rdflib(quad.predicate), _to_rdflib(quad.object)

    # -- SPARQL --------------------------------------------------------------

    def prepare(self, sparql_text: str) -> Prepared:
        """Check a read-only query by running it once on an empty store: Oxigraph parses and plans it."""
        stripped = _strip(sparql_text)
        if not stripped.strip():
            raise QueryError("empty query: the text holds no SPARQL, only comments or blanks")
        if _UPDATE.search(stripped) and not _QUERY_FORM.search(stripped):
            raise QueryError("update requests are not allowed: kg is read-only")
        if re.search(r"\bSERVICE\b", stripped, re.I):
            raise QueryError("SERVICE is not allowed: kg queries only its own graphs, offline")
        try:
            probe = ox.Store().query(sparql_text, prefixes=_PREFIXES)
        except SyntaxError as error:
            if _UPDATE.search(stripped):
                raise QueryError("update requests are not allowed: kg is read-only") from None
            # Oxigraph points at the token where parsing failed, which rdflib's parser often
            # reports as the start of the whole group; keep Oxigraph's position.
            raise QueryError(f"SPARQL syntax error {_position(error, sparql_text)}") from None
        if isinstance(probe, ox.QuerySolutions):
            kind = "SELECT"
        elif isinstance(probe, ox.QueryBoolean):
            kind = "ASK"
        else:
            kind = "DESCRIBE" if _form(stripped) == "DESCRIBE" else "CONSTRUCT"
        return Prepared(
            text=sparql_text,
            kind=kind,
            variables=frozenset(re.findall(r"[?$]([A-Za-z_0-9\u00b7-\uffff]+)", stripped)),
            ordered=_is_ordered(stripped),
            native=_dataset_clause(sparql_text, stripped),
        )

    def query(self, dataset: Any, prepared: Prepared, bindings: Mapping[str, Node], *, stream: bool = False) -> Answer:
        """Run with Oxigraph; the default graph is the union of the named graphs, as in the reference engine.

        Oxigraph evaluates lazily, so with `stream` rows are produced as they are read.
        """
        store = _as_store(dataset)
        if prepared.native:
            known = {g.value for g in store.named_graphs() if isinstance(g, ox.NamedNode)}
            for iri in prepared.native:
                if iri not in known:
                    names = ", ".join(f"<{g}>" for g in sorted(known)) or "none"
                    raise QueryError(
                        f"FROM <{iri}>: no such graph in kg's dataset (graphs: {names}); "
                        "kg never loads graphs from elsewhere"
                    )
        text, substitutions = _bind(prepared, bindings)
        try:
            result = store.query(
                text,
                prefixes=_PREFIXES,
                use_default_graph_as_union=not prepared.native,
                substitutions=substitutions or None,
            )
        except SyntaxError as error:
            raise QueryError(f"SPARQL syntax error {_position(error, text)}") from None
        except OSError as error:
            raise QueryError(f"query failed: {error}") from None
        answer = Answer(kind=prepared.kind, ordered=prepared.ordered)
        if isinstance(result, ox.QuerySolutions):
            variables = [v.value for v in result.variables]
            answer.variables = variables
            rows = _rows(result)
            answer.rows = rows if stream else list(rows)
        elif isinstance(result, ox.QueryBoolean):
            answer.boolean = bool(result)
        else:
            graph = Graph()
            graph.addN((_to_rdflib(t.subject), _to_rdflib(t.predicate), _to_rdflib(t.object), graph) for t in result)
            answer.graph = graph
        return answer


ENGINE_CLASS = FastEngine


def _rows(solutions: ox.QuerySolutions) -> Iterator[tuple[Node | None, ...]]:
    """Solutions as tuples of rdflib terms; an evaluation error met while reading is a QueryError."""
    convert = _to_rdflib_cached
    try:
        for solution in solutions:
            yield tuple(map(convert, solution))
    except OSError as error:
        raise QueryError(f"query failed: {error}") from None


# -- rules reasonable lacks ----------------------------------------------------------

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_OWL = "http://www.w3.org/2002/07/owl#"
_SUB_PROPERTY = URIRef(_RDFS + "subPropertyOf")
_SUB_CLASS = URIRef(_RDFS + "subClassOf")
_DOMAIN = URIRef(_RDFS + "domain")
_RANGE = URIRef(_RDFS + "range")
_CHAIN = URIRef(_OWL + "propertyChainAxiom")
_TYPE, _OWL_CLASS, _THING = URIRef(_RDF + "type"), URIRef(_OWL + "Class"), URIRef(_OWL + "Thing")
_FIRST, _REST, _NIL = URIRef(_RDF + "first"), URIRef(_RDF + "rest"), URIRef(_RDF + "nil")


def _plain(triple: tuple[Node, Node, Node]) -> tuple[Node, Node, Node]:
    # reasonable types plain literals as xsd:string; rdflib (and the reference engine) keep them plain.
    s, p, o = triple
    if isinstance(o, Literal) and o.datatype is not None and o.language is None and str(o.datatype) == _XSD_STRING:
        return s, p, Literal(str(o))
    return triple


def _missing_rules(closure: set[tuple[Node, Node, Node]]) -> set[tuple[Node, Node, Node]]:
    """One round of prp-spo2, scm-cls, scm-spo, scm-dom1, scm-dom2, scm-rng1 and scm-rng2 over `closure`."""
    by_predicate: dict[Node, list[tuple[Node, Node]]] = {}
    for s, p, o in closure:
        by_predicate.setdefault(p, []).append((s, o))

    def pairs(p: Node) -> list[tuple[Node, Node]]:
        return by_predicate.get(p, [])

    new: set[tuple[Node, Node, Node]] = set()
    sub_property: dict[Node, set[Node]] = {}
    for p1, p2 in pairs(_SUB_PROPERTY):
        sub_property.setdefault(p1, set()).add(p2)
    sub_class: dict[Node, set[Node]] = {}
    for c1, c2 in pairs(_SUB_CLASS):
        sub_class.setdefault(c1, set()).add(c2)
    # scm-cls (the part reasonable skips): every class is a subclass of owl:Thing.
    for c, kind in pairs(_TYPE):
        if kind == _OWL_CLASS:
            new.add((c, _SUB_CLASS, _THING))
            sub_class.setdefault(c, set()).add(_THING)
    # scm-spo: subPropertyOf is transitive.
    for p1, supers in sub_property.items():
        for p2 in supers:
            for p3 in sub_property.get(p2, ()):
                new.add((p1, _SUB_PROPERTY, p3))
    # scm-dom1/scm-rng1: widen to superclasses; scm-dom2/scm-rng2: inherit from superproperties.
    for axiom in (_DOMAIN, _RANGE):
        for p, c in pairs(axiom):
            for c2 in sub_class.get(c, ()):
                new.add((p, axiom, c2))
        declared: dict[Node, set[Node]] = {}
        for p, c in pairs(axiom):
            declared.setdefault(p, set()).add(c)
        for p1, supers in sub_property.items():
            for p2 in supers:
                for c in declared.get(p2, ()):
                    new.add((p1, axiom, c))
    # prp-spo2: x p1 y1 ... pn yn  =>  x p yn, for p owl:propertyChainAxiom (p1 ... pn).
    rest = dict(pairs(_REST))
    first = dict(pairs(_FIRST))
    for p, head in pairs(_CHAIN):
        chain, node = [], head
        while node in first and len(chain) < 50:
            chain.append(first[node])
            node = rest.get(node, _NIL)
        if node != _NIL or not chain:
            continue  # not a well-formed list: OWL 2 RL draws nothing from it
        reached: dict[Node, set[Node]] = {}
        for x, y in pairs(chain[0]):
            reached.setdefault(x, set()).add(y)
        for step in chain[1:]:
            following: dict[Node, set[Node]] = {}
            for y, z in pairs(step):
                following.setdefault(y, set()).add(z)
            reached = {x: {z for y in ys for z in following.get(y, ())} for x, ys in reached.items()}
        for x, ends in reached.items():
            for z in ends:
                new.add((x, p, z))
    return new


# -- terms ---------------------------------------------------------------------------


def _to_ox(term: Node | None) -> Any:
    if term is None:
        return None
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


_IRI_CACHE: dict[str, URIRef] = {}


def _to_rdflib(term: Any) -> Node | None:
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        value = term.value
        iri = _IRI_CACHE.get(value)
        if iri is None:
            if len(_IRI_CACHE) > 100_000:
                _IRI_CACHE.clear()
            iri = _IRI_CACHE[value] = URIRef(value)
        return iri
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == _XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype))
    raise TypeError(f"unsupported term from Oxigraph: {term!r}")


_TERM_CACHE: dict[Any, Node] = {}


def _to_rdflib_cached(term: Any) -> Node | None:
    """_to_rdflib, remembering recent terms: building an rdflib Literal costs ~10 µs, and result
    rows repeat their terms (a million-row answer often holds a few thousand distinct ones)."""
    if term is None:
        return None
    converted = _TERM_CACHE.get(term)
    if converted is None:
        if len(_TERM_CACHE) > 100_000:
            _TERM_CACHE.clear()
        converted = _TERM_CACHE[term] = _to_rdflib(term)
    return converted


def _as_store(dataset: Any) -> ox.Store:
    """The Oxigraph store behind `dataset`; rdflib graphs given by library callers are copied in."""
    if isinstance(dataset, FastDataset):
        return dataset.store
    if isinstance(dataset, ox.Store):
        return dataset
    contexts = getattr(dataset, "contexts", None)
    store = ox.Store()
    if contexts is not None:  # an rdflib Dataset: keep its named graphs
        quads = []
        for s, p, o, g in dataset.quads((None, None, None, None)):
            name = getattr(g, "identifier", g)
            graph = ox.NamedNode(str(name)) if isinstance(name, URIRef) else ox.DefaultGraph()
            quads.append(ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), graph))
        store.bulk_extend(quads)
    else:
        store.bulk_extend(ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o)) for s, p, o in dataset)
    return store


# -- query text ----------------------------------------------------------------------

# Strings, IRIs and comments blanked out, so keyword searches see only SPARQL syntax.
_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|<[^<>\"{}|^`\\\s]*>"
    r"|#[^\n]*",
    re.S,
)
_UPDATE = re.compile(r"\b(INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY)\b", re.I)
_QUERY_FORM = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.I)


def _strip(text: str) -> str:
    def blank(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("<"):
            return "<" + "_" * (len(token) - 2) + ">"
        return " " * len(token) if token.startswith("#") else '"' + " " * (len(token) - 2) + '"'

    return _TOKENS.sub(blank, text)


def _form(stripped: str) -> str:
    match = _QUERY_FORM.search(stripped)
    return match.group(1).upper() if match else ""


def _is_ordered(stripped: str) -> bool:
    """True when ORDER BY modifies the outermost query (after its last closing brace)."""
    tail = stripped[stripped.rfind("}") + 1 :]
    return re.search(r"\bORDER\s+BY\b", tail, re.I) is not None


def _bind(prepared: Prepared, bindings: Mapping[str, Node]) -> tuple[str, dict | None]:
    """Pre-bind parameters: Oxigraph's substitution (SEP-0007) for projected variables.

    Oxigraph substitutes only variables the SELECT projects; others are bound with an
    inline VALUES block opening the WHERE group, its terms written by Oxigraph's own
    N-Triples serialiser from RDF terms (so no user text ever becomes query syntax).
    """
    if not bindings:
        return prepared.text, None
    stripped = _strip(prepared.text)
    where = re.search(r"\bWHERE\s*\{|\{", stripped, re.I)
    projected = _projection(stripped)
    if projected is None or all(name in projected for name in bindings) or where is None:
        return prepared.text, {ox.Variable(name): _to_ox(term) for name, term in bindings.items()}
    names = sorted(bindings)
    values = " VALUES ({}) {{ ({}) }} ".format(
        " ".join(f"?{n}" for n in names), " ".join(str(_to_ox(bindings[n])) for n in names)
    )
    return prepared.text[: where.end()] + values + prepared.text[where.end() :], None


def _projection(stripped: str) -> set[str] | None:
    """Variables a SELECT projects (None for SELECT * and non-SELECT forms, where substitution works)."""
    match = re.search(r"\bSELECT\b(.*?)(\bWHERE\b|\{)", stripped, re.I | re.S)
    if not match or re.match(r"\s*(DISTINCT|REDUCED)?\s*\*", match.group(1), re.I):
        return None
    head = re.sub(r"\([^()]*(\([^()]*\)[^()]*)*\bAS\s+[?$](\w+)\s*\)", r" ?\2 ", match.group(1), flags=re.I)
    return set(re.findall(r"[?$](\w+)", head))


def _dataset_clause(text: str, stripped: str) -> tuple[str, ...]:
    """IRIs named by FROM / FROM NAMED before the WHERE clause (prefixed names expanded).

    `stripped` has the same length as `text`, so its match positions index the original IRIs.
    """
    head = stripped.split("{", 1)[0]
    pattern = re.compile(r"\bFROM\s+(?:NAMED\s+)?(<[^>]*>|[\w-]*:[\w.-]*)", re.I)
    return tuple(_expand(text[m.start(1) : m.end(1)]) for m in pattern.finditer(head))


def _expand(token: str) -> str:
    if token.startswith("<"):
        return token[1:-1]
    prefix, local = token.split(":", 1)
    return _PREFIXES.get(prefix, prefix + ":") + local


def _position(error: SyntaxError, text: str) -> str:
    """Oxigraph's line and column, with its expectation when that is short enough to help."""
    message = str(error.msg if hasattr(error, "msg") else error)
    match = re.match(r"error at (\d+):(\d+): (.*)", message, re.S)
    if not match:
        return f": {message}"
    line, column, expected = match.groups()
    lines = text.splitlines()
    rest = "\n".join([lines[int(line) - 1][int(column) - 1 :], *lines[int(line) :]]) if int(line) <= len(lines) else ""
    if not _strip(rest).strip():
        column += " (the end of the query)"
    if "Prefix not found" in expected:
        return f"at line {line}, column {column}: a prefix is not declared (add a PREFIX line)"
    # Oxigraph lists every token it could accept; a long list is noise, not help.
    return f"at line {line}, column {column}" + (f": {expected}" if len(expected) <= 60 else "")
