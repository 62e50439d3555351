"""Workspaces: which folders kg reads, and making a new workspace from the bundled copy.

A workspace is a folder holding a .kg-workspace file and data/, ontology/ and queries/ (any of
them missing is taken from the bundled copy): a checkout of this project, or a folder made by
`kg init`. Run inside one, kg reads its folders (kg.paths);
`setup` says what a command would use, for `kg info` and `-v`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kg.errors import KgError, OutputError
from kg.graph import Inputs
from kg.paths import WORKSPACE_MARKER, WORKSPACE_NOTE, bundled_root, config_path, display, read_config, workspace

__all__ = ["FOLDERS", "Created", "init", "setup"]

FOLDERS = ("ontology", "data", "queries")


@dataclass(frozen=True)
class Created:
    """A new workspace: its folder and how many files each of its folders got."""

    path: Path
    files: dict[str, int]


def init(target: Path, *, data: bool = True) -> Created:
    """Copy the bundled ontology/, queries/ and (unless `data` is False: an empty data/) data/ into
    `target`, which must not exist or be empty; built beside and renamed into place."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OutputError(f"{display(target)} already exists and is not an empty folder; give a new folder name")
    parent = target.resolve().parent
    if not parent.is_dir():
        raise OutputError(f"cannot create {display(target)}: {display(parent)} is not a folder")
    source = bundled_root()
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        files: dict[str, int] = {}
        for name in FOLDERS:
            if name == "data" and not data:
                (building / name).mkdir()
            else:
                shutil.copytree(source / name, building / name, ignore=shutil.ignore_patterns(".*", "__pycache__"))
            files[name] = sum(1 for p in (building / name).rglob("*") if p.is_file())
        (building / WORKSPACE_MARKER).write_text(WORKSPACE_NOTE, encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return Created(target, files)


def setup(inputs: Inputs, queries: Path) -> list[tuple[str, str]]:
    """What a command given `inputs` uses, as (what, where) pairs in reading order."""
    from kg.load import data_files
    from kg.queries import list_queries

    here = workspace()
    try:
        count = f"{len(data_files(inputs.data))} files"
    except KgError as error:  # a missing or broken folder: the commands that read it say more
        count = f"not readable: {error.message}"
    config = config_path()
    settings = read_config(config)
    rows = [
        ("workspace", str(here) if here else f"none: the bundled copy in {bundled_root()}"),
        ("data", f"{', '.join(display(p) for p in inputs.data)} ({count})"),
        ("ontology", display(inputs.ontology)),
        ("shapes", display(inputs.shapes) if inputs.shapes else "none"),
        ("queries", f"{display(queries)} ({len(list_queries(queries))} named)"),
        ("engine", f"{inputs.engine.name} ({inputs.engine.version})"),
        ("store", display(inputs.store) if inputs.store else "none"),
        ("cache", display(inputs.cache) if inputs.cache else "off (--no-cache)"),
        (
            "config",
            f"{display(config)} ({', '.join(f'{k} = {v}' for k, v in sorted(settings.items())) or 'empty'})"
            if config.is_file()
            else f"{display(config)} (none)",
        ),
    ]
    return rows
