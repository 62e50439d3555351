"""Shared fixtures: the fixture folders, an isolated cache, and an in-process `kg` runner."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kg.cli import cli

DATA = Path(__file__).parent / "data"
ONTOLOGY = DATA / "ontology"
KG_DATA = DATA / "data"
QUERIES = DATA / "queries"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty reasoning cache, never ~/.cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("KG_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def restore_logging():
    """`kg` configures the kg/rdflib/owlrl loggers for the terminal; undo that after each test."""
    loggers = [logging.getLogger(name) for name in ("kg", "rdflib", "owlrl")]
    saved = [(logger, logger.level, logger.propagate, list(logger.handlers)) for logger in loggers]
    yield
    for logger, level, propagate, handlers in saved:
        logger.setLevel(level)
        logger.propagate = propagate
        logger.handlers = handlers


@pytest.fixture
def in_data_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from tests/data so error messages name files as `bad/malformed.ttl`."""
    monkeypatch.chdir(DATA)
    return DATA


def fixture_args(*extra: str) -> list[str]:
    """Global options pointing `kg` at the fixture ontology, data and queries."""
    return ["--ontology", str(ONTOLOGY), "--data", str(KG_DATA), "--queries", str(QUERIES), *extra]


@pytest.fixture
def kg():
    """Invoke `kg` in-process; genuine bugs raise instead of hiding in result.exception."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke
