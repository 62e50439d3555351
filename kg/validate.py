"""Check data before anything reasons over it: SHACL shapes, then OWL 2 RL consistency.

`validate()` returns a `Report` and never raises because the data is wrong; only inputs
that can't be read at all raise (LoadError...). Every finding is placed: the entity it is
about, the file and line where that entity's subject starts, and the fact rows (`# A5`)
its comments cite.

The shapes (ontology/shapes.ttl) run over the asserted ontology + data, so they point at what
someone wrote. Two SHACL validators run them (kg.engine.VALIDATORS): pyshacl, the reference
engine's, over an rdflib graph; pyshacl-turbo (native code), the fast engine's, over an Oxigraph
store copied from the engine's own, with no rdflib graph on the way. Both give the same findings
(tests/test_shacl_parity.py); `validator` picks one, and the report says which ran.
Then the checks (ontology/checks/*-violation.rq) run over the closure, where
inconsistencies become visible. Both run on the one reasoned graph a command opened
(kg.graph); the report is kept in that graph's cache record, so the check in front of
`kg query` costs nothing when nothing changed.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from rdflib import XSD, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kg.engine import VALIDATORS as VALIDATOR_MODULES
from kg.engine import get_engine, shacl_validator, validator_label
from kg.errors import LoadError
from kg.formats import by_name, by_suffix
from kg.graph import KnowledgeGraph
from kg.namespaces import DCTERMS, KG, KGG, RDF
from kg.paths import display
from kg.results import curie

log = logging.getLogger(__name__)

SEVERITIES = ("violation", "warning", "info")

_SH = "http://www.w3.org/ns/shacl#"
_SEVERITY = {URIRef(_SH + "Violation"): "violation", URIRef(_SH + "Warning"): "warning", URIRef(_SH + "Info"): "info"}


@dataclass(frozen=True)
class Finding:
    """One problem: what (check, message), about what (focus, path, value), where (file, line, rows)."""

    entity: str  # IRI of the entity the finding is grouped under (a value node's owner)
    check: str  # the shape or SPARQL constraint (kgsh:...), or the violation query's name
    constraint: str  # SHACL constraint component (MinCount, SPARQL...) or "OWL 2 RL"
    severity: str  # violation, warning or info
    message: str
    focus: str = ""  # the focus node: an IRI, or "[]" for a value node of `entity`
    path: str = ""  # the property involved, as a CURIE or SHACL path
    value: str = ""  # the offending value, in Turtle-like form
    file: str = ""  # absolute path of the file holding the line below
    line: int = 0  # best line: the property inside the entity's block, else the subject's first line
    rows: tuple[str, ...] = ()  # fact rows cited by comments there (# A5)


@dataclass(frozen=True)
class Place:
    """Where an entity's subject starts, and what it rests on."""

    file: str = ""
    line: int = 0
    rows: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # its kg:source / dcterms:source, as CURIEs


@dataclass
class Report:
    """The outcome of a validation: findings plus where each entity is."""

    findings: list[Finding] = field(default_factory=list)
    entities: dict[str, Place] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    shapes: str = ""
    engine: str = ""
    data_files: int = 0  # files[:data_files] are data, the rest ontology
    validator: str = ""  # the SHACL validator that ran, with its version: "pyshacl-turbo 0.6.5"

    @property
    def conforms(self) -> bool:
        """True when nothing is a violation (warnings and infos do not fail validation)."""
        return not any(f.severity == "violation" for f in self.findings)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def by_entity(self) -> list[tuple[str, list[Finding]]]:
        """Findings grouped by entity: entities with violations first, then by file, line and IRI."""
        groups: dict[str, list[Finding]] = {}
        for finding in sorted(self.findings, key=_finding_order):
            groups.setdefault(finding.entity, []).append(finding)

        def order(item: tuple[str, list[Finding]]):
            entity, findings = item
            place = self.entities.get(entity, Place())
            worst = min(SEVERITIES.index(f.severity) for f in findings)
            return (worst, place.file or "~", place.line, entity)

        return sorted(groups.items(), key=order)

    def to_dict(self) -> dict:
        return {
            "findings": [asdict(f) for f in self.findings],
            "entities": {k: asdict(v) for k, v in self.entities.items()},
            "files": list(self.files),
            "shapes": self.shapes,
            "engine": self.engine,
            "data_files": self.data_files,
            "validator": self.validator,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        findings = [Finding(**{**f, "rows": tuple(f["rows"])}) for f in data["findings"]]
        entities = {
            k: Place(**{**v, "rows": tuple(v["rows"]), "sources": tuple(v["sources"])})
            for k, v in data["entities"].items()
        }
        return cls(
            findings,
            entities,
            list(data["files"]),
            data["shapes"],
            data["engine"],
            data["data_files"],
            data.get("validator", ""),
        )

    @property
    def validator_name(self) -> str:
        """The validator without its version: pyshacl-turbo."""
        return self.validator.split(" ", 1)[0]


def _finding_order(f: Finding):
    return (SEVERITIES.index(f.severity), f.line, f.check, f.path, f.value, f.focus, f.message)


# -- entry points ----------------------------------------------------------------------


def check(kg: KnowledgeGraph, shapes: Path, validator: str | None = None) -> Report:
    """The report of `kg` against `shapes`: kept in its cache record, made (and kept) when missing
    or made by another SHACL validator (or version) than `validator` (None: the engine's own)."""
    label = validator_label(shacl_validator(kg.engine, validator))
    if kg.record.report is not None and kg.record.report.get("validator") == label:
        log.info("validation report from the cache record (SHACL by %s)", label)
        return Report.from_dict(kg.record.report)
    report = validate(kg, shapes, validator)
    kg.remember(replace(kg.record, report=report.to_dict()))
    return report


def validate(kg: KnowledgeGraph, shapes: Path, validator: str | None = None) -> Report:
    """Shapes over what was written (ontology + data, no inferences), then the checks over the closure.

    `validator`: pyshacl or pyshacl-turbo (None: the engine's own, kg.engine.shacl_validator).
    pyshacl-turbo on an engine with an Oxigraph store reads a copy of the store's ontology and
    data graphs, and findings are placed by looking things up there: no rdflib graph is made.
    """
    shapes = Path(shapes)
    name = shacl_validator(kg.engine, validator)
    asserted = shapes_input(kg, name)
    log.info("SHACL by %s", validator_label(name))
    raw = check_shapes(asserted, read_shapes(shapes), display(shapes), validator=name)
    raw += check_consistency(kg, kg.record.files("checks"))
    files = [*kg.data_files, *kg.ontology_files]
    placer = _Placer(_GraphLookup(asserted) if isinstance(asserted, Graph) else _StoreLookup(asserted), files)
    findings = sorted({placer.place(f) for f in raw}, key=lambda f: (f.entity, *_finding_order(f)))
    entities = {f.entity: placer.entity_place(f.entity) for f in findings}
    return Report(
        findings,
        entities,
        [str(p) for p in files],
        str(shapes),
        kg.engine.name,
        len(kg.data_files),
        validator_label(name),
    )


def shapes_input(kg: KnowledgeGraph, validator: str) -> Any:
    """What the shapes run over, ontology + data, in the form `validator` reads best: for
    pyshacl-turbo on an engine with an Oxigraph store, a copy of that store's two graphs (no rdflib
    graph is made: at 10^5 triples making one takes longer than validating); else an rdflib Graph."""
    if validator == "pyshacl-turbo":
        store = kg.engine.merged_store(kg.dataset, [KGG.ontology, KGG.data])
        if store is not None:
            return store
    return kg.asserted


def read_shapes(path: Path) -> Graph:
    """The shapes graph; a missing or broken shapes file means validation can't run (LoadError)."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"{display(path)}: no such shapes file")
    return get_engine().parse(path, by_suffix(path) or by_name("ttl"))


# -- SHACL -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    """A finding before placement: terms, not text."""

    focus: Node
    check: str
    constraint: str
    severity: str
    message: str
    path: str = ""
    value: Node | None = None
    path_iri: URIRef | None = None


def check_shapes(data: Any, shapes: Graph, name: str = "the shapes", validator: str = "pyshacl") -> list[_Raw]:
    """Run a SHACL validator (SHACL-SPARQL and SPARQL targets on) and read its report graph back as findings.

    `data`: an rdflib Graph; pyshacl-turbo also reads a pyoxigraph Store (blank nodes keep their
    labels, so the report's focus nodes are the store's own)."""
    # Both are slow to import; only needed when a report is not cached. pyshacl-turbo's
    # validate() takes pyshacl's arguments and gives a report graph of the same vocabulary.
    module = importlib.import_module(VALIDATOR_MODULES[validator])
    try:
        _conforms, results, _text = module.validate(
            data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True, allow_infos=True
        )
    except Exception as error:  # ShapeLoadError, ReportableRuntimeError...: the shapes are broken
        raise LoadError(f"{name}: not usable as SHACL shapes: {error} — fix the shapes file") from None
    sh = _SH
    found = []
    for result in results.subjects(RDF.type, URIRef(sh + "ValidationResult")):
        focus = results.value(result, URIRef(sh + "focusNode"))
        severity = _SEVERITY.get(results.value(result, URIRef(sh + "resultSeverity")), "violation")
        shape = results.value(result, URIRef(sh + "sourceConstraint")) or results.value(
            result, URIRef(sh + "sourceShape")
        )
        component = results.value(result, URIRef(sh + "sourceConstraintComponent"))
        path_node = results.value(result, URIRef(sh + "resultPath"))
        value = results.value(result, URIRef(sh + "value"))
        messages = sorted(str(m) for m in results.objects(result, URIRef(sh + "resultMessage")))
        message = messages[0] if messages else "does not conform"
        message = message.replace("{$value}", _term(value)).replace("{?value}", _term(value))
        found.append(
            _Raw(
                focus=focus,
                check=_term(shape) if isinstance(shape, URIRef) else "(anonymous shape)",
                constraint=str(component).removeprefix(sh).removesuffix("ConstraintComponent"),
                severity=severity,
                message=_compact(message),
                path=_path_text(results, path_node) if path_node is not None else "",
                value=value,
                path_iri=path_node if isinstance(path_node, URIRef) else None,
            )
        )
    return found


def _path_text(graph: Graph, node: Node) -> str:
    """A SHACL property path as SPARQL-like text: kg:source|dcterms:source, ^kg:funding."""
    if isinstance(node, URIRef):
        return curie(node)
    sh = _SH
    for key, fmt in (
        ("inversePath", "^{}"),
        ("zeroOrMorePath", "{}*"),
        ("oneOrMorePath", "{}+"),
        ("zeroOrOnePath", "{}?"),
    ):
        inner = graph.value(node, URIRef(sh + key))
        if inner is not None:
            return fmt.format(_path_text(graph, inner))
    alternatives = graph.value(node, URIRef(sh + "alternativePath"))
    if alternatives is not None:
        return "|".join(_path_text(graph, item) for item in Collection(graph, alternatives))
    if graph.value(node, RDF.first) is not None:
        return "/".join(_path_text(graph, item) for item in Collection(graph, node))
    return "(path)"


# -- OWL 2 RL consistency ------------------------------------------------------------------


def check_consistency(kg: KnowledgeGraph, checks: list[Path]) -> list[_Raw]:
    """Run every check (*-violation.rq) over the reasoned graph; rows carry ?focus ?message and maybe ?path ?value."""
    found = []
    for query in checks:
        answer = kg.run(query)
        for row in answer.rows:
            values = dict(zip(answer.variables, row, strict=True))
            path = values.get("path")
            found.append(
                _Raw(
                    focus=values.get("focus"),
                    check=query.stem.removesuffix("-violation"),
                    constraint="OWL 2 RL",
                    severity="violation",
                    message=_compact(str(values.get("message") or "is inconsistent")),
                    path=curie(path) if isinstance(path, URIRef) else "",
                    value=values.get("value"),
                    path_iri=path if isinstance(path, URIRef) else None,
                )
            )
    return found


# -- placing findings in files ---------------------------------------------------------------

_PREFIX_LINE = re.compile(r"^\s*(?:@prefix|PREFIX)\s+([\w.-]*):\s*<([^>]*)>", re.I)
_ROW = re.compile(r"(?<![\w:/#-])([A-Z])(\d{1,3})(?:\s*[–-]\s*\1?(\d{1,3}))?(?!\w)")


class _SourceFile:
    """One Turtle file's lines and prefixes, for finding where a subject is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            text = ""
        self.lines = text.removeprefix("\ufeff").splitlines()
        self.prefixes = [m.groups() for line in self.lines if (m := _PREFIX_LINE.match(line))]

    def spellings(self, iri: str) -> list[str]:
        forms = [f"<{iri}>"]
        forms += [
            f"{p}:{iri[len(ns) :]}" for p, ns in self.prefixes if ns and iri.startswith(ns) and len(iri) > len(ns)
        ]
        return forms

    @cached_property
    def first_tokens(self) -> tuple[dict[str, int], dict[str, int]]:
        """Each line's first token (less one trailing ; or ,) -> its first line, at column 0 and
        indented: one pass over the file, however many entities are looked up in it."""
        at_start: dict[str, int] = {}
        indented: dict[str, int] = {}
        for number, line in enumerate(self.lines, start=1):
            if not line.strip():
                continue
            token = line.split(None, 1)[0]
            token = token[:-1] if token[-1] in ";," else token
            (indented if line[:1].isspace() else at_start).setdefault(token, number)
        return at_start, indented

    def subject_line(self, iri: str) -> int:
        """1-based line where `iri` starts a statement (first token at column 0, else first token), or 0."""
        forms = self.spellings(iri)
        for lines in self.first_tokens:
            found = [lines[form] for form in forms if form in lines]
            if found:
                return min(found)
        return 0

    def block_end(self, start: int) -> int:
        """Last line of the statement starting at `start` (the line ending in ' .')."""
        for number in range(start, len(self.lines) + 1):
            code = self.lines[number - 1].split(" #", 1)[0].rstrip()
            if code.endswith(".") and not code.lstrip().startswith("#"):
                return number
        return len(self.lines)

    def property_line(self, start: int, iri: str) -> int:
        """Line inside the statement at `start` where property `iri` appears, or 0."""
        forms = self.spellings(iri)
        for number in range(start, self.block_end(start) + 1):
            code = (
                self.lines[number - 1].split("#", 1)[0] if not self.lines[number - 1].lstrip().startswith("#") else ""
            )
            if any(re.search(rf"(?<![\w:]){re.escape(f)}(?![\w-])", code) for f in forms):
                return number
        return 0

    def rows_above(self, line: int) -> tuple[str, ...]:
        """Fact rows cited by the comment lines directly above `line` (or on it)."""
        comments = []
        own = self.lines[line - 1]
        if "#" in own and not own.lstrip().startswith("#"):
            comments.append(own.split("#", 1)[1])
        number = line - 1
        while number >= 1 and self.lines[number - 1].lstrip().startswith("#"):
            comments.append(self.lines[number - 1].lstrip()[1:])
            number -= 1
        rows: list[str] = []
        for comment in comments:
            for letter, first, last in _ROW.findall(comment):
                numbers = range(int(first), int(last) + 1) if last and int(last) > int(first) else [int(first)]
                rows += [f"{letter}{n}" for n in numbers]
        return tuple(sorted(set(rows), key=lambda r: (r[0], int(r[1:]))))


class _GraphLookup:
    """What placing findings asks of the asserted graph, from an rdflib Graph."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def parents(self, node: Node) -> list[tuple[Node, Node]]:
        return list(self.graph.subject_predicates(node))

    def objects(self, subject: Node, predicate: URIRef) -> list[Node]:
        return list(self.graph.objects(subject, predicate))


class _StoreLookup:
    """The same from a pyoxigraph Store (terms cross as rdflib terms)."""

    def __init__(self, store: Any) -> None:
        from kg.engine.terms import to_ox, to_rdflib  # needs pyoxigraph: only here

        self.store, self.to_ox, self.to_rdflib = store, to_ox, to_rdflib

    def parents(self, node: Node) -> list[tuple[Node, Node]]:
        found = self.store.quads_for_pattern(None, None, self.to_ox(node))
        return [(self.to_rdflib(q.subject), self.to_rdflib(q.predicate)) for q in found]

    def objects(self, subject: Node, predicate: URIRef) -> list[Node]:
        found = self.store.quads_for_pattern(self.to_ox(subject), self.to_ox(predicate), None)
        return [self.to_rdflib(q.object) for q in found]


class _Placer:
    """Turns raw findings into placed ones: owner entity, file, line, fact rows, sources."""

    def __init__(self, graph: _GraphLookup | _StoreLookup, files: list[Path]) -> None:
        self.graph = graph
        self.paths = files
        self._places: dict[str, Place] = {}

    @cached_property
    def files(self) -> list[_SourceFile]:
        return [_SourceFile(Path(p)) for p in self.paths]

    def owner(self, node: Node) -> tuple[Node, URIRef | None]:
        """A blank node's nearest IRI ancestor and the property leading to the blank node."""
        via = None
        seen = set()
        while isinstance(node, BNode) and node not in seen:
            seen.add(node)
            parents = sorted(self.graph.parents(node), key=lambda sp: (isinstance(sp[0], BNode), str(sp)))
            if not parents:
                break
            node, via = parents[0]
        return node, via

    def locate(self, iri: str) -> tuple[_SourceFile | None, int]:
        """The file and line where `iri` starts a statement; a line where it only continues a list
        (an indented object) counts only when no file has it as a subject."""
        fallback: tuple[_SourceFile | None, int] = (None, 0)
        for source in self.files:
            line = source.subject_line(iri)
            if line and not source.lines[line - 1][:1].isspace():
                return source, line
            if line and fallback[0] is None:
                fallback = (source, line)
        return fallback

    def entity_place(self, entity: str) -> Place:
        if entity not in self._places:
            source, line = self.locate(entity) if entity.startswith(("http:", "https:", "urn:")) else (None, 0)
            cited = sorted(
                curie(o)
                for p in (KG.source, DCTERMS.source)
                for o in self.graph.objects(URIRef(entity), p)
                if isinstance(o, URIRef)
            )
            self._places[entity] = Place(
                file=str(source.path) if source else "",
                line=line,
                rows=source.rows_above(line) if source else (),
                sources=tuple(cited),
            )
        return self._places[entity]

    def place(self, raw: _Raw) -> Finding:
        owner, via = self.owner(raw.focus) if raw.focus is not None else (None, None)
        entity = str(owner) if isinstance(owner, URIRef) else "(graph)"
        place = self.entity_place(entity)
        line, rows = place.line, place.rows
        source = next((s for s in self.files if str(s.path) == place.file), None)
        prop = via or raw.path_iri
        if source is not None and place.line and prop is not None:
            inner = source.property_line(place.line, str(prop))
            if inner:
                line, rows = inner, source.rows_above(inner) or place.rows
        focus = str(raw.focus) if isinstance(raw.focus, URIRef) else ("[]" if raw.focus is not None else "")
        path = raw.path
        if isinstance(raw.focus, BNode) and via is not None:
            path = f"{curie(via)}/{path}" if path else curie(via)
        return Finding(
            entity=entity,
            check=raw.check,
            constraint=raw.constraint,
            severity=raw.severity,
            message=raw.message,
            focus=focus,
            path=path,
            value=_term(raw.value) if raw.value is not None and raw.value != raw.focus else "",
            file=place.file,
            line=line,
            rows=rows,
        )


# -- text helpers ----------------------------------------------------------------------------


def _term(term: Node | None) -> str:
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return curie(term)
    if isinstance(term, BNode):
        return "[]"
    if isinstance(term, Literal):
        text = json.dumps(str(term), ensure_ascii=False)
        if term.language:
            return f"{text}@{term.language}"
        # A simple literal and one typed xsd:string are one term in RDF 1.1; Oxigraph (so
        # pyshacl-turbo reading a store) writes the type out, rdflib leaves it off: write neither.
        if term.datatype and term.datatype != XSD.string:
            return f"{text}^^{curie(term.datatype)}"
        return text
    return str(term)


def _compact(message: str) -> str:
    """<https://w3id.org/battery-kg/ontology#Place> -> kg:Place inside messages."""
    message = re.sub(r"<(https?://[^>\s]+)>", lambda m: curie(URIRef(m.group(1))), message)
    return " ".join(message.split())


# -- reports as text -----------------------------------------------------------------------------


def render_text(report: Report) -> str:
    """A report for people: one block per entity (where it is, what it rests on), then a summary line."""
    out = []
    for entity, findings in report.by_entity():
        place = report.entities.get(entity, Place())
        head = curie(URIRef(entity)) if entity.startswith(("http:", "https:")) else entity
        where = []
        if place.file:
            where.append(
                f"{display(place.file)}, line {place.line}" + (f" ({', '.join(place.rows)})" if place.rows else "")
            )
        if place.sources:
            where.append("source " + ", ".join(place.sources))
        out.append(head + (f"  —  {'; '.join(where)}" if where else ""))
        for f in findings:
            subject = " ".join(part for part in (f.path, f.value) if part)
            out.append(f"  {f.severity:<9}  " + (f"{subject}: " if subject else "") + f.message)
            detail = [f.check, f.constraint]
            if f.line and (f.line != place.line or f.file != place.file):
                detail.append(f"line {f.line}" + (f" ({', '.join(f.rows)})" if f.rows else ""))
            out.append(f"  {'':<9}  [{' · '.join(detail)}]")
        out.append("")
    out.append(summary(report))
    return "\n".join(out) + "\n"


def summary(report: Report) -> str:
    counts = ", ".join(_plural(report.count(s), s) for s in SEVERITIES)
    data, ontology = report.data_files, len(report.files) - report.data_files
    what = f"{_plural(data, 'data file')} and {_plural(ontology, 'ontology file')}"
    verdict = "conforms" if report.conforms else "does not conform"
    return (
        f"{counts} — {what} checked against {display(report.shapes)} and OWL 2 RL "
        f"({report.engine} engine, SHACL by {report.validator_name}): {verdict}"
    )


def _plural(n: int, word: str) -> str:
    if word == "info":
        return f"{n} info"
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_json(report: Report) -> str:
    """The same report for machines: entities with their place and findings, plus counts."""
    entities = []
    for entity, findings in report.by_entity():
        place = report.entities.get(entity, Place())
        entities.append(
            {
                "entity": entity,
                "file": display(place.file) if place.file else None,
                "line": place.line or None,
                "rows": list(place.rows),
                "sources": list(place.sources),
                "findings": [
                    {
                        "severity": f.severity,
                        "check": f.check,
                        "constraint": f.constraint,
                        "focus": f.focus,
                        "path": f.path or None,
                        "value": f.value or None,
                        "message": f.message,
                        "file": display(f.file) if f.file else None,
                        "line": f.line or None,
                        "rows": list(f.rows),
                    }
                    for f in findings
                ],
            }
        )
    document = {
        "conforms": report.conforms,
        "counts": {s: report.count(s) for s in SEVERITIES},
        "shapes": display(report.shapes),
        "engine": report.engine,
        "validator": report.validator_name,
        "files": [display(f) for f in report.files],
        "entities": entities,
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def refusal(report: Report) -> str:
    """One line for commands that refuse to reason over data with violations."""
    violations = [f for f in sorted(report.findings, key=_finding_order) if f.severity == "violation"]
    first = violations[0]
    where = f"{display(first.file)}, line {first.line}: " if first.file else ""
    more = f" (and {_plural(len(violations) - 1, 'more violation')})" if len(violations) > 1 else ""
    entity = curie(URIRef(first.entity)) if first.entity.startswith(("http:", "https:")) else first.entity
    return (
        f"{where}{entity} {first.message}{more} — run `kg validate` to see every problem, "
        "or pass --no-validate to go ahead anyway"
    )
