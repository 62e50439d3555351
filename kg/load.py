"""Read the ontology (following owl:imports through the local catalog) and the data files.

Nothing here touches the network: an import without a local file is an error.
"""

from __future__ import annotations

import logging
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from kg.engine import Engine, get_engine
from kg.errors import LoadError
from kg.formats import RdfFormat, by_suffix, suffixes
from kg.namespaces import DATA_GRAPHS, DCTERMS, KG, OWL, PREFIXES, PROV, bind
from kg.paths import check_input, display

_SOURCE_PROPERTIES = (KG.source, DCTERMS.source)

log = logging.getLogger(__name__)

ENTRY_FILE = "kg.ttl"
CATALOG_FILE = "catalog-v001.xml"


@dataclass
class Loaded:
    """A merged graph and the files it came from, in the order they were read; each file's own graph by name."""

    graph: Graph
    files: list[Path] = field(default_factory=list)
    graphs: dict[URIRef, Graph] = field(default_factory=dict)


@dataclass
class Sources:
    """Everything reasoning starts from: the ontology and the data, kept apart."""

    ontology: Loaded
    data: Loaded


def load(ontology: Path, data: Iterable[Path], engine: Engine | None = None) -> Sources:
    """Load the ontology entry point (a folder holding kg.ttl, or a file) and data files or folders."""
    engine = engine or get_engine()
    return Sources(ontology=load_ontology(ontology, engine), data=load_data(data, engine))


def load_ontology(directory: Path, engine: Engine | None = None) -> Loaded:
    """Parse ontology/kg.ttl and, recursively, everything it owl:imports, resolved via catalog-v001.xml."""
    engine = engine or get_engine()
    directory = Path(directory)
    entry = directory if directory.is_file() else directory / ENTRY_FILE
    if not directory.exists():
        raise LoadError(f"{display(directory)}: no such folder")
    if not entry.is_file():
        raise LoadError(f"{display(directory)}: no {ENTRY_FILE} in this folder")
    catalog_path = entry.parent / CATALOG_FILE
    catalog: dict[str, Path] | None = None  # read only if something is imported

    merged = Graph()
    files: list[Path] = []
    queue = [entry.resolve()]
    seen: set[Path] = set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        graph = _parse(engine, path)
        files.append(path)
        merged += graph
        for iri in sorted(set(graph.objects(None, OWL.imports))):
            if catalog is None:
                catalog = read_catalog(catalog_path, importer=path, iri=iri)
            target = catalog.get(str(iri))
            if target is None:
                raise LoadError(
                    f"{display(path)} imports <{iri}>, which {display(catalog_path)} does not map to a local file "
                    f'(kg never fetches imports) — add <uri name="{iri}" uri="..."/> to the catalog'
                )
            if not target.is_file():
                raise LoadError(f"{display(catalog_path)} maps <{iri}> to {display(target)}, which does not exist")
            queue.append(target.resolve())
    log.info("loaded ontology: %d file(s), %d triples", len(files), len(merged))
    return Loaded(bind(merged), files)


def read_catalog(path: Path, importer: Path | None = None, iri: URIRef | None = None) -> dict[str, Path]:
    """Import IRI -> local file, from an OASIS XML catalog as written by Protégé and ROBOT."""
    if not path.is_file():
        because = f" ({display(importer)} imports <{iri}>)" if importer is not None else ""
        raise LoadError(f"{display(path)}: no such file{because}; kg resolves owl:imports only through this catalog")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        line = error.position[0]
        raise LoadError(f"{display(path)}, line {line}: {_xml_message(error)} — fix the XML there") from None
    mapping: dict[str, Path] = {}
    _collect_uris(root, path.parent, mapping)
    return mapping


def _collect_uris(element: ET.Element, base: Path, mapping: dict[str, Path]) -> None:
    # <group xml:base="..."> shifts the base for the entries inside it.
    xml_base = element.get("{http://www.w3.org/XML/1998/namespace}base")
    if xml_base:
        base = base / xml_base
    for child in element:
        if _local_name(child.tag) == "uri" and child.get("name") and child.get("uri"):
            mapping.setdefault(child.get("name"), base / child.get("uri"))
        else:
            _collect_uris(child, base, mapping)


def load_data(paths: Iterable[Path], engine: Engine | None = None) -> Loaded:
    """Parse data files, and every RDF file inside data folders (recursively, sorted), each into its own graph."""
    engine = engine or get_engine()
    names = data_graphs(paths)
    merged = Graph()
    graphs: dict[URIRef, Graph] = {}
    for path, name in names.items():
        graph = _parse(engine, path)
        graphs[name] = graph
        merged += graph
    log.info("loaded data: %d file(s), %d triples", len(names), len(merged))
    return Loaded(bind(merged), list(names), graphs)


def data_files(paths: Iterable[Path]) -> list[Path]:
    """The files `load_data` reads: each file given, and the RDF files (sorted) inside each folder, at any depth."""
    return list(data_graphs(paths))


def data_graphs(paths: Iterable[Path]) -> dict[Path, URIRef]:
    """Each data file with the named graph it is read into: kgg:data/<path in its folder, without suffix>
    (kgg:data/<name> for a file given alone). A folder's other files are reported, never silently skipped."""
    known = suffixes()
    found: dict[Path, URIRef] = {}
    origin: dict[URIRef, Path] = {}
    for given in map(Path, paths):
        if given.is_dir():
            # Hidden files and folders (.git, .DS_Store) are not part of the data.
            inside = sorted(p for p in given.rglob("*") if p.is_file() and not _hidden(p, given))
            rdf = [p for p in inside if p.suffix.lower() in known]
            skipped = sorted(set(inside) - set(rdf))
            if not rdf:
                others = f"{len(skipped)} other file{'s' if len(skipped) != 1 else ''} and " if skipped else ""
                raise LoadError(f"{display(given)}: {others}no RDF files in this folder (kg reads {', '.join(known)})")
            for path in skipped:
                log.warning("skipped %s: not an RDF data file (kg reads %s)", display(path), ", ".join(known))
            pairs = [(p, p.relative_to(given).with_suffix("")) for p in rdf]
        elif given.exists():
            pairs = [(given, Path(given.stem))]
        else:
            raise LoadError(f"{display(given)}: no such file or folder")
        for path, relative in pairs:
            path = Path(os.path.abspath(path))  # links kept, so messages name the path the user gave
            if path in found:
                continue  # a file named twice is read once
            name = URIRef(DATA_GRAPHS + "/".join(quote(part, safe="-._~") for part in relative.parts))
            if name in origin:
                raise LoadError(
                    f"{display(path)} and {display(origin[name])} would share the graph <{name}>; rename one of them"
                )
            found[path], origin[name] = name, path
    if not found:
        raise LoadError("no data given")
    return found


def _hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def provenance(graphs: Mapping[URIRef, Iterable[tuple[Node, Node, Node]]]) -> list[tuple[Node, Node, Node]]:
    """Each data graph `prov:wasDerivedFrom` every source its statements cite (kg:source, dcterms:source).

    A source's file cites that one source, so its graph is derived from exactly that page.
    """
    found = set()
    for name, triples in graphs.items():
        found.update((name, PROV.wasDerivedFrom, o) for _, p, o in triples if p in _SOURCE_PROPERTIES)
    return sorted(found)


# -- guards on every input file ------------------------------------------------------------
#
# The size limit and the regular-file check are kg.paths.check_input's. Parsers
# accept literals that are not valid for their datatype ("abc"^^xsd:decimal) with only a
# warning; every later sum or comparison would then silently go wrong, so they are errors.


def check_size(path: Path, native: bool = False) -> None:
    """Refuse a file over the size limit, or not a regular file, before anything reads it (kg.paths.check_input)."""
    check_input(path, native)


def check_parsed(path: Path, triples: int, literals: Iterable[Literal], graph: Graph | None = None) -> None:
    """Refuse a file that held no triples, or a literal that is not valid for its datatype."""
    if triples == 0:
        raise LoadError(f"{display(path)}: holds no triples (an empty file?) — add data or leave the file out")
    _refuse_ill_typed(literals, path, graph)


def _parse(engine: Engine, path: Path) -> Graph:
    check_size(path)
    with quiet_literal_warnings():
        graph = engine.parse(path, file_format(path))
    check_parsed(path, len(graph), graph.objects(), graph)
    return graph


@contextmanager
def quiet_literal_warnings() -> Iterator[None]:
    """Silence rdflib's warning for each ill-typed literal: check_parsed reports the first as an error."""
    quiet = _DropIllTypedWarnings()
    logging.getLogger("rdflib.term").addFilter(quiet)
    try:
        yield
    finally:
        logging.getLogger("rdflib.term").removeFilter(quiet)


class _DropIllTypedWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to convert Literal lexical form" not in record.getMessage()


def _refuse_ill_typed(literals: Iterable[Literal], path: Path, graph: Graph | None) -> None:
    bad = sorted({o for o in literals if getattr(o, "ill_typed", False)}, key=lambda o: (str(o), str(o.datatype)))
    if not bad:
        return
    literal = bad[0]
    datatype = str(literal.datatype)
    namespaces = graph.namespaces() if graph is not None else PREFIXES.items()
    short = next(
        (f"{p}:{datatype[len(str(ns)) :]}" for p, ns in namespaces if datatype.startswith(str(ns)) and p),
        f"<{datatype}>",
    )
    line = ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        match = re.search(r'(["\'])' + re.escape(str(literal)) + r"\1\^\^", text)
        if match:
            line = f", line {text[: match.start()].count(chr(10)) + 1}"
    except OSError:
        pass
    raise LoadError(
        f'{display(path)}{line}: "{literal}" is not a valid {short} value — fix the literal or its datatype'
    )


def file_format(path: Path) -> RdfFormat:
    """The format a data file's suffix says; a LoadError for a suffix kg does not read."""
    found = by_suffix(path)
    if found is None:
        suffix = path.suffix or "(none)"
        raise LoadError(f"{display(path)}: unknown RDF file type {suffix!r}; use one of {', '.join(suffixes())}")
    return found


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_message(error: ET.ParseError) -> str:
    # "mismatched tag: line 3, column 2" -> "mismatched tag"
    return str(error).split(":", 1)[0]
