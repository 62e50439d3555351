"""An on-disk Oxigraph store of the reasoned graph, built once by `kg load --store DIR`.

The store holds the reasoned dataset (kg.graph: each data file's graph, kgg:data, kgg:ontology,
kgg:inferred and the provenance in the default graph); beside it, kg-store.json keeps the
record of what it was built from (kg.cache), so later commands open it in milliseconds without
parsing anything and can still tell when it has gone stale (kg.graph opens it).

A build is atomic and exclusive: the new store is built beside the target (.DIR.building) under
a lock (.DIR.lock, so a second `kg load --store DIR` says the store is busy instead of racing),
then swapped in with one atomic exchange of the two folders (Linux renameat2), so at every
moment DIR holds either the old store or the new one; the old one is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kg.engine import Capability
from kg.errors import OutputError
from kg.graph import STORE_RECORD, Inputs, reason_into
from kg.paths import atomic_write, display, replace_folder

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
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot build the store in {display(directory)}: {error.strerror or error}") from None
    # Build beside the target, then swap it in: a failed build never leaves half a store.
    temporary = directory.with_name(f".{directory.name}.building")
    with _exclusive(directory):
        shutil.rmtree(temporary, ignore_errors=True)
        try:
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
            replace_folder(temporary, directory)
        except OSError as error:
            shutil.rmtree(temporary, ignore_errors=True)
            raise OutputError(f"cannot build the store in {display(directory)}: {error}") from None
        except BaseException:  # bad input, Ctrl-C: no half-built store left behind
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    return StoreInfo(directory, record.counts, engine.name)


@contextlib.contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    """Hold the store's lock file (.DIR.lock beside it) while building; refuse at once if another build holds it.

    The lock file is removed when the build ends, while still locked; a build that locked a
    file just removed that way (the path no longer names it) opens the new one instead.
    """
    lock = directory.with_name(f".{directory.name}.lock")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks; builds are not guarded
        yield
        return
    while True:
        try:
            handle = open(lock, "a+b")  # noqa: SIM115 - held for the whole block
        except OSError as error:
            raise OutputError(f"cannot build the store in {display(directory)}: {error.strerror or error}") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise OutputError(
                f"the store {display(directory)} is busy: another kg load --store is building it; "
                "wait for it to finish, then run this again"
            ) from None
        try:
            current = os.stat(lock).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # locked a lock file another build had just removed: take the new one
    with handle:
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(lock)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
