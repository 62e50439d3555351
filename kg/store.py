"""An on-disk Oxigraph store of the reasoned graph, built once by `kg load --store DIR`.

The store holds the reasoned dataset (kg.graph: each data file's graph, kgg:data, kgg:ontology,
kgg:inferred and the provenance in the default graph); beside it, kg-store.json keeps the
record of what it was built from (kg.cache), so later commands open it in milliseconds without
parsing anything and can still tell when it has gone stale (kg.graph opens it).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kg.engine import Capability
from kg.errors import OutputError
from kg.graph import STORE_RECORD, Inputs, reason_into
from kg.paths import atomic_write, display

__all__ = ["StoreInfo", "build_store"]


@dataclass
class StoreInfo:
    directory: Path
    triples: dict[str, int]
    engine: str


def build_store(directory: Path, inputs: Inputs) -> StoreInfo:
    """Load, reason once and write the graphs into a fresh Oxigraph store at `directory`.

    An engine that reasons from files into its own store fills the store on disk directly;
    for the others the closure goes through N-Quads into a new Oxigraph store.
    """
    import pyoxigraph as ox

    engine = inputs.engine
    directory = Path(directory)
    if directory.exists() and not (directory / STORE_RECORD).is_file() and any(directory.iterdir()):
        raise OutputError(f"{display(directory)} exists and is not a kg store; give an empty or new folder")
    # Build beside the target, then swap it in: a failed build never leaves half a store.
    temporary = directory.with_name(f".{directory.name}.building")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        if Capability.FILES_TO_STORE in engine.capabilities:  # files straight into the store on disk
            dataset, record = reason_into(inputs, directory=temporary)
            engine.close(dataset)
            del dataset
        else:
            dataset, record = reason_into(inputs)
            with tempfile.NamedTemporaryFile(suffix=".nq", dir=directory.parent) as nquads:
                engine.dump_nquads(dataset, nquads)
                nquads.flush()
                del dataset
                store = ox.Store(str(temporary))
                store.bulk_load(path=nquads.name, format=ox.RdfFormat.N_QUADS)
                store.optimize()
                store.flush()
                del store
        atomic_write(temporary / STORE_RECORD, record.to_json())
        if directory.exists():
            shutil.rmtree(directory)
        temporary.rename(directory)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise OutputError(f"cannot build the store in {display(directory)}: {error}") from None
    except BaseException:  # bad input, Ctrl-C: no half-built store left behind
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return StoreInfo(directory, record.counts, engine.name)
