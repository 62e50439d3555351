"""OWL 2 RL reasoning on a copy of the asserted graphs, returning only the useful new triples.

The closure is expensive, so results are cached on disk, keyed by the exact input bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.term import Node

from kg.engine import Engine, get_engine
from kg.engine.rules import Interner, sorted_unique
from kg.errors import OutputError
from kg.load import (
    Loaded,
    Sources,
    build_dataset,
    changed_inputs,
    check_parsed,
    check_size,
    data_files,
    file_format,
    fingerprint,
    load,
    load_ontology,
    quiet_literal_warnings,
)
from kg.namespaces import KGG, OURS, OWL, RDF, RDFS, XSD, bind
from kg.paths import atomic_stream, atomic_write, display
from kg.paths import cache_dir as default_cache_dir

log = logging.getLogger(__name__)

# Bump whenever the closure or the noise filter changes, so stale caches are not reused.
REASONER_VERSION = "1"

_BUILTIN_NAMESPACES = (str(OWL), str(RDF), str(RDFS), str(XSD))
_CONTAINER_MEMBERSHIP = re.compile(re.escape(str(RDF)) + r"_[0-9]+$")
_REFLEXIVE_NOISE = frozenset(
    (RDFS.subClassOf, RDFS.subPropertyOf, OWL.equivalentClass, OWL.equivalentProperty, OWL.sameAs)
)
# Module constants: rdflib's namespace attribute lookups cost a Python call each.
_TYPE, _SUB_CLASS, _SAME_AS, _THING, _RESOURCE = RDF.type, RDFS.subClassOf, OWL.sameAs, OWL.Thing, RDFS.Resource
_CACHE_HEADER = re.compile(rb"# battery-kg reasoning cache: ontology=(\d+) data=(\d+) inferred=(\d+)\n")


@dataclass
class Inference:
    """Asserted graphs plus what reasoning added to them (noise removed)."""

    ontology: Graph
    data: Graph
    inferred: Graph
    engine: str = ""
    from_cache: bool = False

    @cached_property
    def asserted(self) -> Graph:
        return bind(self.ontology + self.data)

    def dataset(self) -> Dataset:
        """kgg:ontology, kgg:data and kgg:inferred as an rdflib Dataset, queried as their union by default."""
        return build_dataset({KGG.ontology: self.ontology, KGG.data: self.data, KGG.inferred: self.inferred})

    def queryable(self, engine: Engine | None = None) -> object:
        """The same three graphs as `engine`'s own dataset, for kg.queries.run with that engine."""
        graphs = {KGG.ontology: self.ontology, KGG.data: self.data, KGG.inferred: self.inferred}
        return (engine or get_engine()).dataset(graphs)


def is_noise(s: Node, p: Node, o: Node) -> bool:
    """True for entailments that say nothing about the battery domain (see STYLE.md, practice 5)."""
    if isinstance(s, Literal):
        return True  # Turtle can't even write these
    if _is_member(s) or _is_member(p) or _is_member(o):
        return True
    # str.startswith: rdflib's Identifier.startswith silently mishandles a tuple of prefixes.
    if isinstance(s, URIRef) and str.startswith(s, _BUILTIN_NAMESPACES):
        return True  # axioms about owl:Thing, xsd:string, rdfs:label...
    if p == _TYPE and (o == _THING or o == _RESOURCE):
        return True
    if p in _REFLEXIVE_NOISE and s == o:
        return True
    if p == _SUB_CLASS and o == _THING:
        return True
    if p == _SAME_AS and not (_ours(s) and _ours(o)):
        return True  # identity with outside IRIs would smush their facts into ours
    return False


def _ours(term: Node) -> bool:
    return isinstance(term, BNode) or (isinstance(term, URIRef) and str.startswith(term, OURS))


def _is_member(term: Node) -> bool:
    return isinstance(term, URIRef) and _CONTAINER_MEMBERSHIP.match(term) is not None


def noise_mask(rows: np.ndarray, terms: Interner) -> np.ndarray:
    """`is_noise` for integer-coded triples (kg.engine.rules), one flag per row: the same policy, vectorised.

    The fast engine filters millions of entailments with it, where calling is_noise on
    each would take longer than the reasoning; a test holds the two to the same answers.
    """
    size = len(terms.terms)
    literal, member, builtin, ours = (np.zeros(size, dtype=bool) for _ in range(4))
    for i in sorted_unique(rows.ravel()).tolist():
        term = terms.terms[i]
        if terms.is_literal(term):
            literal[i] = True
            continue
        text = terms.iri_text(term)
        if text is None:  # a blank node
            ours[i] = True
        else:
            member[i] = _CONTAINER_MEMBERSHIP.match(text) is not None
            builtin[i] = text.startswith(_BUILTIN_NAMESPACES)
            ours[i] = text.startswith(OURS)
    s, p, o = rows[:, 0], rows[:, 1], rows[:, 2]
    term = terms.id_of
    noise = literal[s] | member[s] | member[p] | member[o] | builtin[s]
    noise |= (p == term(str(_TYPE))) & ((o == term(str(_THING))) | (o == term(str(_RESOURCE))))
    noise |= np.isin(p, [term(str(t)) for t in _REFLEXIVE_NOISE]) & (s == o)
    noise |= (p == term(str(_SUB_CLASS))) & (o == term(str(_THING)))
    noise |= (p == term(str(_SAME_AS))) & ~(ours[s] & ours[o])
    return noise


def remove_noise(graph: Graph) -> Graph:
    """A new graph with the triples of `graph` that are not noise."""
    kept = Graph()
    kept.addN((s, p, o, kept) for s, p, o in graph if not is_noise(s, p, o))
    return kept


def reason(ontology: Graph, data: Graph, engine: Engine | None = None) -> Inference:
    """Run the engine's closure over ontology + data (never modified) and keep the new, useful triples."""
    engine = engine or get_engine()
    log.info("reasoning with the %s engine (%s)", engine.name, engine.version)
    # Plain sets, not rdflib graphs: at 10^5 triples, graph adds and lookups cost more than the
    # fast engine's closure itself.
    asserted = set(ontology)
    asserted.update(data)
    inferred = Graph()
    new = engine.entailments(asserted, noise=noise_mask) if hasattr(engine, "entailments") else None
    if new is not None:  # the fast engine filters noise on its arrays
        inferred.addN((s, p, o, inferred) for s, p, o in new)
    else:
        closure = engine.closure_triples(asserted)
        inferred.addN((s, p, o, inferred) for s, p, o in closure if (s, p, o) not in asserted and not is_noise(s, p, o))
    log.info("inferred %d triples", len(inferred))
    return Inference(ontology, data, bind(inferred), engine=engine.name)


@functools.cache
def code_fingerprint() -> str:
    """sha256 of the code that decides the closure (this module and the engines).

    Part of every cache key, so a changed rule or noise filter never reuses an old closure,
    even when nobody remembered to bump REASONER_VERSION.
    """
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for path in [Path(__file__).resolve(), *sorted((here / "engine").glob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(sources: Sources, engine: Engine) -> str:
    """sha256 over the engine, REASONER_VERSION, the code fingerprint and every input file's path and bytes."""
    digest = hashlib.sha256()
    for part in ("battery-kg reasoning", engine.name, engine.version, REASONER_VERSION, code_fingerprint()):
        digest.update(part.encode() + b"\0")
    for role, files in (("ontology", sources.ontology.files), ("data", sources.data.files)):
        for path in sorted(files):
            # The path matters too: relative IRIs resolve against it.
            digest.update(f"{role}\0{path}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def reason_sources(
    sources: Sources,
    engine: Engine | None = None,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
) -> Inference:
    """`reason` over loaded sources, reusing a cached result for identical inputs.

    The cache holds the asserted graphs too (as N-Quads), because blank nodes get new
    names at every parse: only the cached copies match the cached inferences.
    """
    engine = engine or get_engine()
    if not use_cache:
        return reason(sources.ontology.graph, sources.data.graph, engine)
    path = Path(cache_dir or default_cache_dir()) / f"{cache_key(sources, engine)}.nq"
    cached = _read_cache(path)
    if cached is not None:
        log.info("reasoning cache hit: %s (%s engine skipped)", display(path), engine.name)
        cached.engine = engine.name
        return cached
    log.info("reasoning cache miss: %s", display(path))
    inference = reason(sources.ontology.graph, sources.data.graph, engine)
    _write_cache(path, inference)
    return inference


def reasoned_dataset(
    sources: Sources,
    engine: Engine | None = None,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
) -> Dataset:
    """The Dataset queries run over: kgg:ontology, kgg:data and kgg:inferred, union by default."""
    return reason_sources(sources, engine, use_cache=use_cache, cache_dir=cache_dir).dataset()


def open_dataset(
    ontology: Path,
    data: Iterable[Path],
    engine: Engine | None = None,
    *,
    reasoning: bool = True,
    use_cache: bool = True,
    cache_dir: Path | None = None,
) -> object:
    """The engine's queryable dataset over ontology + data, reasoned unless `reasoning` is False.

    Fast path: a small record next to the cache remembers which files (and hashes) the
    last closure of these inputs came from; when none changed, the cached N-Quads go
    straight into the engine, with no parsing of the sources and no rdflib graphs.
    """
    engine = engine or get_engine()
    data = [Path(p) for p in data]
    record_path = Path(cache_dir or default_cache_dir()) / f"{_inputs_key(ontology, data, engine)}.inputs.json"
    if reasoning and use_cache:
        fast = _cached_closure(record_path, engine)
        if fast is not None:
            return fast
    if reasoning and hasattr(engine, "reason_files"):
        return reason_files(ontology, data, engine, record_path=record_path if use_cache else None).dataset
    sources = load(ontology, data, engine)
    if not reasoning:
        return engine.dataset({KGG.ontology: sources.ontology.graph, KGG.data: sources.data.graph})
    inference = reason_sources(sources, engine, use_cache=use_cache, cache_dir=cache_dir)
    if use_cache:
        record = fingerprint(sources, ontology, data)
        record["key"] = cache_key(sources, engine)
        try:
            atomic_write(record_path, json.dumps(record, indent=1).encode())
        except OutputError as error:
            log.warning("could not write %s: %s", display(record_path), error)
    return inference.queryable(engine)


@dataclass
class FilesReasoned:
    """What reason_files made: the engine's dataset, its graphs' sizes, its inputs' record, the cache file."""

    dataset: object
    triples: dict[str, int]
    record: dict
    cache: Path | None


def reason_files(
    ontology: Path,
    data: Iterable[Path],
    engine: Engine,
    *,
    record_path: Path | None = None,
    directory: Path | None = None,
) -> FilesReasoned:
    """Load and reason with an engine that goes from files to its own store (`engine.reason_files`).

    The route for large graphs: no rdflib graph but the ontology's. The same checks as
    kg.load (import resolution, size, empty files, ill-typed literals), the same noise
    filter (noise_mask). With `record_path`, the closure is also written to the reasoning
    cache (the same N-Quads, header and key as reason_sources') with its input record, so
    the next command opens it without parsing. With `directory`, the engine's store is
    built on disk there instead of in memory.
    """
    data = [Path(p) for p in data]
    ontology_loaded = load_ontology(ontology, engine)
    files = data_files(data)
    for path in files:
        check_size(path, native=True)
    with quiet_literal_warnings():
        dataset, counts = engine.reason_files(
            ontology_loaded.graph,
            [(path, file_format(path)) for path in files],
            check=check_parsed,
            noise=noise_mask,
            directory=directory,
        )
    log.info("inferred %d triples (%s engine, array reasoner)", counts["inferred"], engine.name)
    sources = Sources(ontology_loaded, Loaded(Graph(), files))  # only the file lists are read below
    key = cache_key(sources, engine)
    record = fingerprint(sources, ontology, data)
    record["key"] = key
    if record_path is None:
        return FilesReasoned(dataset, counts, record, None)
    cache = record_path.parent / f"{key}.nq"
    header = "# battery-kg reasoning cache: {}\n".format(" ".join(f"{role}={n}" for role, n in counts.items()))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_stream(cache) as out:
            out.write(header.encode())
            engine.dump_nquads(dataset, out)
        atomic_write(record_path, json.dumps(record, indent=1).encode())
    except (OSError, OutputError) as error:  # a cache that can't be written only costs time
        log.warning("could not write reasoning cache %s: %s", display(cache), error)
        return FilesReasoned(dataset, counts, record, None)
    return FilesReasoned(dataset, counts, record, cache)


def _inputs_key(ontology: Path, data: list[Path], engine: Engine) -> str:
    digest = hashlib.sha256()
    for part in (
        "battery-kg inputs",
        engine.name,
        engine.version,
        REASONER_VERSION,
        code_fingerprint(),
        str(Path(ontology).resolve()),
    ):
        digest.update(part.encode() + b"\0")
    for path in data:
        digest.update(str(path.resolve()).encode() + b"\0")
    return digest.hexdigest()


def _cached_closure(record_path: Path, engine: Engine) -> object | None:
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        cache = record_path.parent / f"{record['key']}.nq"
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if changed_inputs(record) or not cache.is_file():
        return None
    try:
        dataset = engine.load_nquads(cache)
    except Exception as error:  # a damaged cache costs a rebuild, never an error
        log.warning("ignoring unreadable reasoning cache %s (%s)", display(cache), error)
        return None
    log.info(
        "reasoning cache hit: %s (inputs unchanged; %s engine skipped, nothing parsed)", display(cache), engine.name
    )
    return dataset


def _read_cache(path: Path) -> Inference | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("ignoring unreadable reasoning cache %s: %s", display(path), error.strerror)
        return None
    header = _CACHE_HEADER.match(raw)
    try:
        if not header:
            raise ValueError("missing header")
        dataset = Dataset()
        dataset.parse(data=raw.decode("utf-8"), format="nquads")
        graphs = {}
        for name, expected in zip((KGG.ontology, KGG.data, KGG.inferred), header.groups(), strict=True):
            graph = Graph()
            graph += dataset.graph(name)
            if len(graph) != int(expected):
                raise ValueError(f"{name} has {len(graph)} triples, header says {int(expected)}")
            graphs[name] = bind(graph)
    except Exception as error:  # any damage at all: rebuild rather than trust it
        log.warning("ignoring corrupt reasoning cache %s (%s); rebuilding", display(path), error)
        return None
    return Inference(graphs[KGG.ontology], graphs[KGG.data], graphs[KGG.inferred], from_cache=True)


def _write_cache(path: Path, inference: Inference) -> None:
    header = (
        f"# battery-kg reasoning cache: ontology={len(inference.ontology)} "
        f"data={len(inference.data)} inferred={len(inference.inferred)}\n"
    ).encode()
    body = inference.dataset().serialize(format="nquads", encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, header + body)
    except (OSError, OutputError) as error:  # a cache that can't be written only costs time
        log.warning("could not write reasoning cache %s: %s", display(path), error)
