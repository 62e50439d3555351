"""One fingerprint and one record for everything kg builds from its inputs.

What a reasoned graph is built from: every file read (ontology, data, the catalog that resolved
the imports, the shapes), the listing of each data folder, the engine, the SHACL validator that
made the report (with its version) and the code. A `Record`
holds that fingerprint and what was built from it: the triples per graph of the closure, the
SHA-256 of the closure file, and the validation report. The reasoning cache, the validation
cache and on-disk stores (kg-store.json) all keep this one record format.

Checking a record re-hashes files but parses nothing, so a command can tell in milliseconds
whether a cached closure or a store still matches its inputs. A closure file is used only when
its bytes hash to what the record says; anything else is rebuilt, with a warning.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kg import __version__
from kg.errors import OutputError
from kg.paths import atomic_write, display

__all__ = ["Record", "Cache", "fingerprint", "changed_inputs", "paths_key", "code_fingerprint", "sha256_file"]

log = logging.getLogger(__name__)

# Bump when the record's meaning changes, so old records are not read.
FORMAT = "battery-kg record 1"


@dataclass
class Record:
    """A fingerprint of the inputs and what was built from them."""

    inputs: dict  # {"files": [[role, path, sha256]], "folders": {folder: [names]}}
    engine: str  # "fast (pyoxigraph-...)"
    key: str = ""  # sha256 of the fingerprint: names the closure file
    counts: dict[str, int] = field(default_factory=dict)  # triples per graph of the closure
    checksum: str = ""  # sha256 of the closure file
    report: dict | None = None  # the validation report (kg.validate.Report.to_dict)

    def __post_init__(self) -> None:
        if not self.key:
            self.key = _digest(json.dumps([self.inputs, self.engine, code_fingerprint()], sort_keys=True))

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, **asdict(self)}, ensure_ascii=False, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Record:
        data = json.loads(raw)
        if data.pop("format", None) != FORMAT:
            raise ValueError("not a battery-kg record of this version")
        return cls(**data)

    def files(self, role: str) -> list[Path]:
        return [Path(path) for file_role, path, _ in self.inputs["files"] if file_role == role]


def fingerprint(files: dict[str, list[Path]], folders: list[Path]) -> dict:
    """The inputs as a record keeps them: each file by role with its SHA-256, and each data folder's listing."""
    return {
        # Absolute paths as given (links kept), so that reports name files the way the user does.
        "files": [[role, os.path.abspath(p), sha256_file(p)] for role, paths in files.items() for p in paths],
        "folders": {os.path.abspath(f): _listing(Path(f)) for f in folders if Path(f).is_dir()},
    }


def changed_inputs(inputs: dict) -> list[str]:
    """Files of a fingerprint that changed, vanished or appeared since it was taken (empty: all current)."""
    changes = []
    try:
        for _role, path, digest in inputs["files"]:
            if not Path(path).is_file():
                changes.append(f"{display(path)} (removed)")
            elif sha256_file(path) != digest:
                changes.append(display(path))
        for folder, names in inputs["folders"].items():
            now = _listing(Path(folder)) if Path(folder).is_dir() else []
            changes += [f"{display(Path(folder) / n)} (new)" for n in sorted(set(now) - set(names))]
            changes += [f"{display(Path(folder) / n)} (removed)" for n in sorted(set(names) - set(now))]
    except (KeyError, TypeError, ValueError):
        return ["(unreadable input record)"]
    return sorted(set(changes))


def paths_key(engine: str, *paths: Path | str | None, validator: str = "") -> str:
    """Where the record of these input paths is kept: the same paths, engine and SHACL validator
    (with its version: the record keeps its validation report), the same record file."""
    parts = ["battery-kg inputs", engine, validator, __version__, code_fingerprint()]
    parts += [str(Path(p).resolve()) if p is not None else "-" for p in paths]
    return _digest("\0".join(parts))


@functools.cache
def code_fingerprint() -> str:
    """sha256 of the code that decides closures and reports (reasoning, validation, the engines).

    Part of every key, so a changed rule, noise filter or check never reuses an old result.
    """
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for path in [here / "reason.py", here / "validate.py", here / "load.py", *sorted((here / "engine").glob("*.py"))]:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Cache:
    """Records and closure files in one folder ($KG_CACHE_DIR, else ~/.cache/battery-kg)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def record_path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def closure_path(self, record: Record) -> Path:
        return self.directory / f"{record.key}.nq"

    def lookup(self, key: str) -> Record | None:
        """The record kept under `key`, if its inputs are unchanged; None otherwise (never an error)."""
        path = self.record_path(key)
        try:
            record = Record.from_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as error:
            log.warning("ignoring unreadable cache record %s (%s)", display(path), error)
            return None
        if changed_inputs(record.inputs):
            return None
        return record

    def save(self, key: str, record: Record) -> None:
        """Keep `record` under `key`; a cache that cannot be written only costs time."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(self.record_path(key), record.to_json())
        except (OSError, OutputError) as error:
            log.warning("could not write cache record %s: %s", display(self.record_path(key)), error)

    def closure_file(self, record: Record) -> Path | None:
        """The record's closure file when its bytes are those the record promises; else None, with a warning."""
        path = self.closure_path(record)
        if not record.checksum or not path.is_file():
            return None
        try:
            actual = sha256_file(path)
        except OSError as error:
            log.warning("ignoring unreadable reasoning cache %s: %s", display(path), error)
            return None
        if actual != record.checksum:
            log.warning("ignoring damaged reasoning cache %s (its checksum does not match); rebuilding", display(path))
            return None
        return path


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _listing(folder: Path) -> list[str]:
    """The files of a data folder, at any depth (a new file anywhere in it changes the inputs)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
