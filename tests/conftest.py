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
# The two seed articles as first modelled (Gunsan, Daejeon), frozen: the fixture that tests of
# named queries, exports, analysis and pictures compute their exact answers on, so that adding
# sources to data/ changes none of them.
ARTICLES = DATA / "articles"
# Two fixture sources whose figures conflict, and the conflict record tying them.
CONFLICT = DATA / "conflict"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty reasoning cache, never ~/.cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("KG_CACHE_DIR", str(folder))
    # Nor the developer's own config file or engine choice.
    monkeypatch.setenv("KG_CONFIG", str(tmp_path / "no-config.ini"))
    monkeypatch.delenv("KG_ENGINE", raising=False)
    monkeypatch.delenv("KG_DATA", raising=False)
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


# -- the bundled ontology and data, reasoned once per session ------------------------------


@pytest.fixture(scope="session")
def bundled_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reasoning cache shared by the session; `bundled_inference` fills it for the bundled files."""
    return tmp_path_factory.mktemp("bundled-cache")


def open_bundled(engine_name: str, cache: Path, data: Path | None = None):
    """The bundled ontology + data/ (or `data`) opened as users open it, by the named engine, cached in `cache`."""
    from kg.engine import get_engine
    from kg.graph import Inputs, open_graph
    from kg.paths import data_dir, default_shapes, ontology_dir

    folder = data if data is not None else data_dir()
    inputs = Inputs(ontology_dir(), (folder,), get_engine(engine_name), shapes=default_shapes(), cache=cache)
    return open_graph(inputs)


@pytest.fixture(scope="session")
def bundled_kg(bundled_cache_dir: Path):
    """The bundled graph reasoned once by the engine `kg` uses by default, as users see it, and cached
    so the CLI tests never reason again."""
    from kg.engine import DEFAULT_ENGINE

    return open_bundled(DEFAULT_ENGINE, bundled_cache_dir)


@pytest.fixture(scope="session")
def bundled_reference_kg(bundled_cache_dir: Path):
    """The bundled graph reasoned once by the reference engine (owlrl), shared by every test that needs it."""
    return open_bundled("reference", bundled_cache_dir)


@pytest.fixture(scope="session")
def bundled_dataset(bundled_kg):
    """kgg:ontology, kgg:data and kgg:inferred of the bundled graph as an rdflib Dataset; read-only."""
    return bundled_kg.rdflib


@pytest.fixture
def bundled_cache(bundled_kg, bundled_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point `kg` at the session's filled cache, so CLI tests on the bundled data skip owlrl."""
    monkeypatch.setenv("KG_CACHE_DIR", str(bundled_cache_dir))
    return bundled_cache_dir


# -- the two-article fixture with the bundled ontology, reasoned once per session -------------


def articles_args(*extra: str) -> list[str]:
    """Global options pointing `kg` at the two-article fixture (with the bundled ontology and queries)."""
    return ["--data", str(ARTICLES), *extra]


@pytest.fixture(scope="session")
def articles_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("articles-cache")


@pytest.fixture(scope="session")
def articles_kg(articles_cache_dir: Path):
    """The two-article fixture reasoned once by the default engine, and cached for CLI tests."""
    from kg.engine import DEFAULT_ENGINE

    return open_bundled(DEFAULT_ENGINE, articles_cache_dir, ARTICLES)


@pytest.fixture(scope="session")
def articles_reference_kg(articles_cache_dir: Path):
    """The two-article fixture reasoned by the reference engine (owlrl)."""
    return open_bundled("reference", articles_cache_dir, ARTICLES)


@pytest.fixture(scope="session")
def articles_dataset(articles_kg):
    """The two-article fixture's graphs as an rdflib Dataset; read-only."""
    return articles_kg.rdflib


@pytest.fixture
def articles_cache(articles_kg, articles_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point `kg` at the two-article fixture ($KG_DATA) and the session's filled cache of it."""
    monkeypatch.setenv("KG_CACHE_DIR", str(articles_cache_dir))
    monkeypatch.setenv("KG_DATA", str(ARTICLES))
    return articles_cache_dir
