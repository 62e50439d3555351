"""SPARQL as text: one tokeniser for what kg reads from a query before or besides an engine's parser.

Used by the fast engine (query form, ORDER BY, projection, FROM, SERVICE, pre-binding) and by the
remote client (pre-binding with a VALUES block). Strings, IRIs, comments, variables and prefixed
names are whole tokens, so `?service`, `schema:Service` or a `#` inside an IRI are never mistaken
for syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kg.errors import QueryError

__all__ = [
    "unknown_graph",
    "tokens",
    "strip",
    "has_content",
    "query_form",
    "is_update",
    "has_update_keyword",
    "is_ordered",
    "projection",
    "variables",
    "prefixes",
    "dataset_clause",
    "service_endpoints",
    "bind_values",
    "ntriples_term",
    "IRI_SAFE",
]

_TOKENS = re.compile(
    r"""
    (?P<comment>\#[^\n\r]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
             |"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00b7-\uffff]+)
  | (?P<pname>(?:[A-Za-z\u00c0-\uffff][\w.\u00b7-\uffff-]*)?:[\w.\u00b7-\uffff%:-]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.X | re.S,
)
_UPDATE = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY"}
_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}


def tokens(text: str) -> Iterator[re.Match[str]]:
    """Every token of `text`; `match.lastgroup` is its kind (comment, string, iri, var, pname, word, space, other)."""
    return _TOKENS.finditer(text)


def _significant(text: str) -> Iterator[re.Match[str]]:
    return (m for m in tokens(text) if m.lastgroup not in ("space", "comment"))


def strip(text: str) -> str:
    """`text` with strings, IRIs and comments blanked (same length, so offsets still match)."""

    def blank(match: re.Match[str]) -> str:
        token, kind = match.group(), match.lastgroup
        if kind == "iri":
            return "<" + "_" * (len(token) - 2) + ">"
        if kind == "string":
            return '"' + " " * (len(token) - 2) + '"'
        if kind == "comment":
            return " " * len(token)
        return token

    return _TOKENS.sub(blank, text)


def has_content(text: str) -> bool:
    """Whether `text` holds any SPARQL, not only comments and blanks."""
    return next(_significant(text), None) is not None


def _keywords(text: str) -> Iterator[str]:
    return (m.group().upper() for m in _significant(text) if m.lastgroup == "word")


def query_form(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE (the first form keyword), or ""."""
    return next((word for word in _keywords(text) if word in _FORMS), "")


def is_update(text: str) -> bool:
    """An update request: an update keyword and no query form."""
    words = set(_keywords(text))
    return bool(words & _UPDATE) and not words & _FORMS


def has_update_keyword(text: str) -> bool:
    """Whether any update keyword appears as a keyword (not in a string, IRI, name or comment)."""
    return bool(set(_keywords(text)) & _UPDATE)


def is_ordered(text: str) -> bool:
    """True when ORDER BY modifies the outermost query (after its last closing brace)."""
    significant = list(_significant(text))
    last = max((i for i, m in enumerate(significant) if m.group() == "}"), default=-1)
    tail = [m.group().upper() for m in significant[last + 1 :] if m.lastgroup == "word"]
    return any(a == "ORDER" and b == "BY" for a, b in zip(tail, tail[1:], strict=False))


def variables(text: str) -> set[str]:
    """Every variable the query mentions, without ? or $."""
    return {m.group()[1:] for m in tokens(text) if m.lastgroup == "var"}


def projection(text: str) -> set[str] | None:
    """Variables a SELECT projects; None for SELECT * and the other forms."""
    significant = list(_significant(text))
    words = [m.group().upper() if m.lastgroup == "word" else m.group() for m in significant]
    if "SELECT" not in words:
        return None
    i = words.index("SELECT") + 1
    while i < len(words) and words[i] in ("DISTINCT", "REDUCED"):
        i += 1
    if i < len(words) and words[i] == "*":
        return None
    found: set[str] = set()
    depth = 0
    while i < len(words):
        match, word = significant[i], words[i]
        if depth == 0 and word in ("WHERE", "{", "FROM"):
            break
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif match.lastgroup == "var" and (depth == 0 or words[i - 1] == "AS"):
            found.add(match.group()[1:])
        i += 1
    return found


def prefixes(text: str) -> dict[str, str]:
    """The query's own PREFIX declarations, label -> namespace."""
    found: dict[str, str] = {}
    significant = list(_significant(text))
    for i, match in enumerate(significant[:-2]):
        if match.lastgroup == "word" and match.group().upper() == "PREFIX":
            label, iri = significant[i + 1], significant[i + 2]
            if label.lastgroup == "pname" and iri.lastgroup == "iri":
                found[label.group()[:-1]] = iri.group()[1:-1]
    return found


def with_prefixes(text: str, defaults: Mapping[str, str]) -> str:
    """`text` with a PREFIX declaration for each of `defaults` it uses without declaring, so that
    another engine (a remote endpoint) reads the CURIEs our engines accept."""
    declared = prefixes(text)
    used = {
        match.group().split(":", 1)[0]
        for match in _significant(text)
        if match.lastgroup == "pname" and ":" in match.group()
    }
    missing = sorted(label for label in used - set(declared) if label in defaults)
    head = "".join(f"PREFIX {label}: <{defaults[label]}>\n" for label in missing)
    return head + text


def _expand(token: re.Match[str], declared: Mapping[str, str], defaults: Mapping[str, str]) -> str:
    if token.lastgroup == "iri":
        return token.group()[1:-1]
    prefix, local = token.group().split(":", 1)
    namespace = declared.get(prefix, defaults.get(prefix))
    return namespace + local if namespace is not None else token.group()


def dataset_clause(text: str, defaults: Mapping[str, str]) -> tuple[str, ...]:
    """IRIs named by FROM / FROM NAMED before the WHERE clause; prefixed names are expanded with the
    query's own PREFIX lines first, then `defaults`."""
    declared = prefixes(text)
    significant = list(_significant(text))
    found = []
    for i, match in enumerate(significant):
        if match.group() == "{":
            break
        if match.lastgroup == "word" and match.group().upper() == "FROM":
            j = i + 1
            if j < len(significant) and significant[j].group().upper() == "NAMED":
                j += 1
            if j < len(significant) and significant[j].lastgroup in ("iri", "pname"):
                found.append(_expand(significant[j], declared, defaults))
    return tuple(found)


def service_endpoints(text: str, defaults: Mapping[str, str]) -> list[str]:
    """The endpoint of every SERVICE clause (an IRI, or `?var` for SERVICE ?var)."""
    declared = prefixes(text)
    significant = list(_significant(text))
    found = []
    for i, match in enumerate(significant):
        if match.lastgroup == "word" and match.group().upper() == "SERVICE":
            j = i + 1
            if j < len(significant) and significant[j].group().upper() == "SILENT":
                j += 1
            if j < len(significant):
                target = significant[j]
                expandable = target.lastgroup in ("iri", "pname")
                found.append(_expand(target, declared, defaults) if expandable else target.group())
    return found


# -- pre-binding parameters with a VALUES block ----------------------------------------

IRI_SAFE = re.compile(r'^[^<>"{}|^`\\\x00-\x20]*$')
_NT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def ntriples_term(term: Node) -> str:
    """A term in N-Triples syntax, escaping tabs and newlines so it stays on one line."""
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, BNode):
        return f"_:{term}"
    assert isinstance(term, Literal)
    quoted = '"' + "".join(_NT_ESCAPES.get(char, char) for char in str(term)) + '"'
    if term.language:
        return f"{quoted}@{term.language}"
    if term.datatype:
        return f"{quoted}^^<{term.datatype}>"
    return quoted


def bind_values(sparql_text: str, bindings: Mapping[str, Node | Sequence[Node]]) -> str:
    """The query with a `VALUES (?a ?b) { (...) }` block opening its WHERE group.

    Joining an inline VALUES block at the top of the group restricts the query exactly
    like pre-binding (rdflib initBindings) for the patterns and FILTERs of that group.
    Terms are written in N-Triples syntax after checking them, so no user text can end
    the block early. A value may be a list of terms: one row each (used for labels).
    """
    if not bindings:
        return sparql_text
    names = sorted(bindings)
    columns = [bindings[n] if isinstance(bindings[n], (list, tuple)) else [bindings[n]] for n in names]
    if len({len(c) for c in columns}) != 1:
        raise QueryError("parameters bound to lists must all have the same length")
    rows = [" ".join(_sparql_term(n, column[i]) for n, column in zip(names, columns, strict=True))
            for i in range(len(columns[0]))]  # fmt: skip
    block = f"VALUES ({' '.join('?' + n for n in names)}) {{ {' '.join(f'({row})' for row in rows)} }}"
    start, end, sub_select = _where_group(sparql_text)
    if sub_select:  # `{ SELECT ... }` must stay the only thing in its group: wrap it
        return f"{sparql_text[: start + 1]} {block} {{{sparql_text[start + 1 : end]}}} {sparql_text[end:]}"
    return f"{sparql_text[: start + 1]} {block}\n{sparql_text[start + 1 :]}"


def _sparql_term(name: str, term: Node) -> str:
    if isinstance(term, URIRef):
        if not IRI_SAFE.match(term):
            raise QueryError(f"--param {name}: <{term}> is not a valid IRI (no spaces, quotes or <>{{}}|^`\\)")
        return f"<{term}>"
    if isinstance(term, Literal):
        if term.datatype is not None and not IRI_SAFE.match(term.datatype):
            raise QueryError(f"--param {name}: invalid datatype IRI <{term.datatype}>")
        if term.language is not None and not re.fullmatch(r"[A-Za-z]+(-[A-Za-z0-9]+)*", term.language):
            raise QueryError(f"--param {name}: invalid language tag {term.language!r}")
        return ntriples_term(term)
    raise QueryError(f"--param {name}: only IRIs and literals can be bound")


def _where_group(text: str) -> tuple[int, int, bool]:
    """Offsets of the outermost WHERE group's `{` and matching `}`, and whether it holds a sub-SELECT."""
    depth, parens, start = 0, 0, -1
    after_construct = False  # the next `{` opens CONSTRUCT's template, not the WHERE group
    sub_select = False
    previous = ""
    for match in _significant(text):
        kind, token = match.lastgroup, match.group()
        if start >= 0 and depth == 1 and previous == "{" and kind == "word" and token.upper() == "SELECT":
            sub_select = True
        previous = token
        if kind == "word" and depth == 0 and token.upper() == "CONSTRUCT":
            after_construct = True
            continue
        if token == "(":
            parens += 1
        elif token == ")":
            parens -= 1
        elif token == "{":
            if depth == 0 and parens == 0 and start < 0:
                if after_construct:
                    depth += 1
                    after_construct = False
                    continue
                start = match.start()
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0 and start >= 0:
                return start, match.start(), sub_select
        elif after_construct and depth == 0 and kind == "word":
            raise QueryError("parameters cannot be bound in the short form CONSTRUCT WHERE; write a CONSTRUCT template")
    raise QueryError("cannot find the query's WHERE group to bind parameters to")


def unknown_graph(iri: str, known: Sequence[str]) -> QueryError:
    """The error for FROM <iri> naming a graph the dataset does not hold: the graphs it does hold,
    the data files' own (kgg:data/...) counted rather than listed."""
    from kg.namespaces import DATA_GRAPHS

    files = [g for g in known if g.startswith(DATA_GRAPHS)]
    names = [f"<{g}>" for g in sorted(set(known) - set(files))]
    if files:
        names.append(f"{len(files)} data file graph{'s' if len(files) != 1 else ''} <{DATA_GRAPHS}...>")
    return QueryError(
        f"FROM <{iri}>: no such graph in kg's dataset (graphs: {', '.join(names) or 'none'}); "
        "kg never loads graphs from elsewhere"
    )
