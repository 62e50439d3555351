"""The one handle on the reasoned graph (kg.graph): one store per command, rdflib only where needed."""

from __future__ import annotations

import pyoxigraph
import pytest

import kg.graph as graph_module
from kg.engine import fast, get_engine
from kg.namespaces import KGG


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every Oxigraph store built while a test runs (the fast engine's query parser keeps one empty
    store of its own per process, made here beforehand), except the copy of the ontology and data
    graphs pyshacl-turbo validates (kg.validate.shapes_input), counted in `copies`."""
    get_engine("fast").prepare("ASK {}")
    built: list = []
    copies.clear()
    real_copy = fast.FastEngine.merged_store

    def merged_store(self, dataset, graphs):
        before = len(built)
        store = real_copy(self, dataset, graphs)
        del built[before:]
        copies.append(graphs)
        return store

    monkeypatch.setattr(fast.FastEngine, "merged_store", merged_store)

    class Oxigraph:  # pyoxigraph as the fast engine sees it, with Store() counted
        def __getattr__(self, name):
            return getattr(pyoxigraph, name)

        def Store(self, *args, **kwargs):  # noqa: N802 - stands in for pyoxigraph.Store
            built.append(args)
            return pyoxigraph.Store(*args, **kwargs)

    monkeypatch.setattr(fast, "ox", Oxigraph())
    return built


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "uncached"])
@pytest.mark.parametrize(
    "command",
    [
        ["analyze"],
        ["analyze", "--region", "군산"],
        ["validate"],
        ["stats"],
        ["export", "--format", "d3", "-o", "{out}"],
    ],
    ids=["analyze", "analyze-region", "validate", "stats", "export"],
)
def test_one_store_per_command(kg, articles_cache, stores, tmp_path, command, cached):
    args = [arg.format(out=tmp_path / "out.json") for arg in command]
    if not cached:
        args = ["--no-cache", *args]
    result = kg(*args)
    assert result.exit_code == 0, result.output
    assert len(stores) == 1
    # Validation (every one of these commands validates first) copies the asserted graphs for
    # pyshacl-turbo once; with a cache, only when the cache holds no report yet.
    if cached:
        assert copies in ([], [[KGG.ontology, KGG.data]])
    else:
        assert copies == [[KGG.ontology, KGG.data]]


copies: list = []


def test_a_cached_query_builds_no_rdflib_view(kg, articles_cache, monkeypatch):
    assert kg("query", "funding-by-project").exit_code == 0  # the first run keeps the validation report
    made = []
    real = graph_module.KnowledgeGraph.rdflib.func

    def counted(self):
        made.append(self)
        return real(self)

    monkeypatch.setattr(graph_module.KnowledgeGraph, "rdflib", property(counted))
    result = kg("query", "funding-by-project", "--format", "csv")
    assert result.exit_code == 0 and "36900000000" in result.stdout
    assert made == []
