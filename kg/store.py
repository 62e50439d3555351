"""An on-disk Oxigraph store of the reasoned graph, built once by `kg load --store DIR`.

The store holds kgg:ontology, kgg:data and kgg:inferred; beside it, kg-store.json records
what it was built from (file hashes, engine, triple counts), so later commands open it in
milliseconds without parsing anything and can still tell when it has gone stale.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kg import __version__
from kg.engine import Engine, get_engine
from kg.errors import LoadError, OutputError
from kg.load import changed_inputs, fingerprint, load
from kg.namespaces import KGG
from kg.paths import atomic_write, display
from kg.reason import reason_files, reason_sources

log = logging.getLogger(__name__)

RECORD_FILE = "kg-store.json"
GRAPHS = {"ontology": KGG.ontology, "data": KGG.data, "inferred": KGG.inferred}


@dataclass
class StoreInfo:
    directory: Path
    triples: dict[str, int]
    engine: str
    stale: list[str]  # input files changed since the store was built (empty: current)


def build_store(
    directory: Path, ontology: Path, data: list[Path], engine: Engine | None = None, *, use_cache: bool = True
) -> StoreInfo:
    """Load, reason once and write the three graphs into a fresh Oxigraph store at `directory`."""
    engine = engine or get_engine()
    directory = Path(directory)
    if directory.exists() and not (directory / RECORD_FILE).is_file() and any(directory.iterdir()):
        raise OutputError(f"{display(directory)} exists and is not a kg store; give an empty or new folder")
    # Build beside the target, then swap it in: a failed build never leaves half a store.
    temporary = directory.with_name(f".{directory.name}.building")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(engine, "reason_files"):  # files straight into the store on disk: no copy in memory
            reasoned = reason_files(ontology, data, engine, directory=temporary)
            record, triples = reasoned.record, reasoned.triples
            del record["key"]
            store = reasoned.dataset.store
            del reasoned  # the store is closed below only once nothing refers to it
        else:
            sources = load(ontology, data, engine)
            inference = reason_sources(sources, engine, use_cache=use_cache)
            graphs = {"ontology": inference.ontology, "data": inference.data, "inferred": inference.inferred}
            record = fingerprint(sources, ontology, data)
            triples = {role: len(graph) for role, graph in graphs.items()}
            store = ox.Store(str(temporary))
            for role, graph in graphs.items():
                name = ox.NamedNode(str(GRAPHS[role]))
                store.bulk_extend(ox.Quad(_ox(s), _ox(p), _ox(o), name) for s, p, o in graph)
            del graphs, inference
        store.optimize()
        store.flush()
        del store
        record.update({"kg": __version__, "engine": f"{engine.name} ({engine.version})", "triples": triples})
        atomic_write(temporary / RECORD_FILE, json.dumps(record, indent=1).encode())
        if directory.exists():
            shutil.rmtree(directory)
        temporary.rename(directory)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise OutputError(f"cannot build the store in {display(directory)}: {error}") from None
    except BaseException:  # bad input, Ctrl-C: no half-built store left behind
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return StoreInfo(directory, record["triples"], engine.name, [])


def store_info(directory: Path) -> StoreInfo:
    """What kg-store.json says about the store, and which inputs changed since."""
    directory = Path(directory)
    try:
        record = json.loads((directory / RECORD_FILE).read_text(encoding="utf-8"))
        return StoreInfo(directory, dict(record["triples"]), str(record["engine"]), changed_inputs(record))
    except FileNotFoundError:
        raise LoadError(
            f"{display(directory)}: not a kg store (no {RECORD_FILE}); build it with kg load --store"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LoadError(
            f"{display(directory / RECORD_FILE)}: unreadable ({error}); rebuild with kg load --store"
        ) from None


def open_store(directory: Path, engine: Engine | None = None) -> object:
    """The store as `engine`'s queryable dataset; warns (once) when its inputs changed since it was built."""
    engine = engine or get_engine()
    info = store_info(directory)
    if info.stale:
        shown = ", ".join(info.stale[:3]) + (f" and {len(info.stale) - 3} more" if len(info.stale) > 3 else "")
        log.warning(
            "store %s is stale: %s changed since it was built; run kg load --store %s again",
            display(directory),
            shown,
            display(directory),
        )
    log.info(
        "opened store %s (%s triples, built by the %s engine)",
        display(directory),
        sum(info.triples.values()),
        info.engine,
    )
    try:
        return engine.open_store(Path(directory))
    except OSError as error:
        raise LoadError(f"{display(directory)}: cannot open the store: {error}") from None


def _ox(term):
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    assert isinstance(term, Literal)
    if term.language:
        return ox.Literal(str(term), language=term.language)
    if term.datatype is not None:
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
    return ox.Literal(str(term))
