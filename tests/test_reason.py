"""Reasoning: exact inferences, the noise filter, and the on-disk cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from conftest import DATA, KG_DATA, ONTOLOGY, fixture_args
from kg.engine import get_engine
from kg.engine.reference import ReferenceEngine
from kg.graph import Inputs, open_graph
from kg.load import load
from kg.namespaces import DATA_GRAPHS, DCTERMS, KG, KGC, KGD, KGG, OWL, RDF, RDFS, SCHEMA, SKOS, WD, XSD
from kg.queries import run
from kg.reason import is_noise, reason

# One triple per kind of noise the filter must drop...
NOISE = [
    (Literal("군산", lang="ko"), RDF.type, RDFS.Literal),  # literal subject
    (KGD.acme, RDF["_1"], KGD.gunsan),  # container membership, as predicate
    (RDF["_2"], RDFS.subPropertyOf, RDFS.member),  # ...as subject
    (KGD.acme, KG.related, RDF["_3"]),  # ...as object
    (KGD.acme, OWL.sameAs, KGD.acme),  # reflexive sameAs
    (KGD.acme, RDF.type, OWL.Thing),
    (KGD.acme, RDF.type, RDFS.Resource),
    (XSD.string, RDF.type, RDFS.Datatype),  # axioms about built-in terms
    (RDF.HTML, RDF.type, RDFS.Datatype),
    (OWL.Thing, RDF.type, OWL.Class),
    (OWL.Nothing, RDFS.subClassOf, KG.Company),
    (RDFS.label, RDF.type, OWL.AnnotationProperty),
    (KG.locatedIn, RDFS.subPropertyOf, KG.locatedIn),
    (KG.Company, RDFS.subClassOf, KG.Company),
    (KG.Company, OWL.equivalentClass, KG.Company),
    (KG.locatedIn, OWL.equivalentProperty, KG.locatedIn),
    (KG.Company, RDFS.subClassOf, OWL.Thing),
    (KGD.acme, OWL.sameAs, WD.Q20718),  # identity with outside IRIs
    (WD.Q20718, OWL.sameAs, KGD.acme),
    (KG.Company, OWL.sameAs, KGD.acme),  # kg: terms are ours but not instances
]
# ...and inferences that must survive it.
KEPT = [
    (KGD.acme, RDF.type, KG.Company),
    (KGD.acme, RDF.type, SCHEMA.Organization),
    (KGD.acme, RDF.type, BNode("restriction")),
    (KG.CellMaker, RDFS.subClassOf, SCHEMA.Organization),
    (KG.Company, OWL.equivalentClass, SCHEMA.Corporation),
    (KGD.acme, OWL.sameAs, KGD["acme-cells"]),
    (KGD.acme, OWL.sameAs, KGC["level-national"]),
    (KGD.acme, SKOS.prefLabel, Literal("Acme", lang="en")),
    (KGD.acme, DCTERMS.subject, KGC["stage-cell"]),
    (KGD.acme, SKOS.exactMatch, WD.Q20718),
    (KGD.acme, KG.locatedIn, KGD.jeonbuk),
]


def test_noise_filter_drops_exactly_the_noise():
    assert [t for t in NOISE if not is_noise(*t)] == []
    assert [t for t in KEPT if is_noise(*t)] == []


def test_inferred_is_exactly_the_domain_entailments():
    sources = load(ONTOLOGY, [KG_DATA])
    inference = reason(sources.ontology.graph, sources.data.graph)
    expected = Graph().parse(DATA / "reason" / "expected-inferred.ttl")
    assert isomorphic(inference.inferred, expected), sorted(inference.inferred ^ expected)
    # The anonymous class in the inferences is the ontology's own restriction node.
    restriction = next(o for o in inference.inferred.objects(KGD["acme-cells"], RDF.type) if isinstance(o, BNode))
    assert (restriction, OWL.onProperty, KG.locatedIn) in sources.ontology.graph


def test_raw_closure_really_had_noise_and_inputs_are_untouched():
    # Guards against a vacuous filter test: owlrl does produce these kinds here.
    sources = load(ONTOLOGY, [KG_DATA])
    sizes = len(sources.ontology.graph), len(sources.data.graph)
    asserted = sources.ontology.graph + sources.data.graph
    raw = get_engine().closure(asserted) - asserted
    dropped = [t for t in raw if is_noise(*t)]
    assert any(p == OWL.sameAs and s == o for s, p, o in dropped)
    assert any(str(s).startswith(str(XSD)) for s, _, _ in dropped)
    assert any(p == RDFS.subClassOf and o == OWL.Thing for s, p, o in dropped)
    reason(sources.ontology.graph, sources.data.graph)
    assert (len(sources.ontology.graph), len(sources.data.graph)) == sizes


def _open(engine=None, **options):
    return open_graph(Inputs.of(ONTOLOGY, [KG_DATA], engine, **options))


def test_reasoned_dataset_graphs_union_and_graph_clause():
    dataset = _open().rdflib
    # Each data file is a graph of its own (named by its path), kgg:data holds them all, each triple once.
    files = {URIRef(DATA_GRAPHS + name) for name in ("companies", "regions")}
    assert {g.identifier for g in dataset.graphs() if len(g)} == {KGG.ontology, KGG.data, KGG.inferred} | files
    assert set(dataset.graph(KGG.data)) == {t for name in files for t in dataset.graph(name)}
    text = "SELECT ?r WHERE { GRAPH kgg:inferred { kgd:acme-cells kg:locatedIn ?r } } ORDER BY ?r"
    assert [row[0] for row in run(text, dataset).rows] == [KGD.gunsan, KGD.jeonbuk]
    union = "SELECT ?r WHERE { kgd:acme-cells kg:locatedIn ?r } ORDER BY ?r"
    assert [row[0] for row in run(union, dataset).rows] == [KGD.gunsan, KGD.jeonbuk, KGD.saemangeum]


class _CountingEngine(ReferenceEngine):
    """The reference engine, but reasoning more than once is a test failure."""

    def __init__(self):
        super().__init__()
        self.closures = 0

    def closure(self, graph):
        self.closures += 1
        if self.closures > 1:
            raise AssertionError("closure ran again although the cache should have answered")
        return super().closure(graph)


def test_second_run_is_a_cache_hit(cache_dir: Path):
    engine = _CountingEngine()
    first = _open(engine, cache=cache_dir)
    second = _open(engine, cache=cache_dir)
    assert engine.closures == 1
    assert sorted(p.suffix for p in cache_dir.iterdir()) == [".json", ".nq"]  # one record, one closure file
    assert second.record.key == first.record.key and second.record.checksum == first.record.checksum
    assert isomorphic(second.inferred, first.inferred)
    assert isomorphic(second.asserted, first.asserted)
    # Blank nodes in cached inferences still point at the cached ontology's nodes.
    restriction = next(o for o in second.inferred.objects(KGD["acme-cells"], RDF.type) if isinstance(o, BNode))
    assert (restriction, OWL.onProperty, KG.locatedIn) in second.ontology


def test_cli_cache_hit_skips_the_reasoner(kg, monkeypatch):
    calls = []
    original = ReferenceEngine.closure

    def closure_once(self, graph):
        calls.append(1)
        if len(calls) > 1:
            raise AssertionError("owlrl ran on a cache hit")
        return original(self, graph)

    monkeypatch.setattr(ReferenceEngine, "closure", closure_once)
    first = kg(*fixture_args("-v", "--engine", "reference", "stats"))
    second = kg(*fixture_args("-v", "--engine", "reference", "stats"))
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert first.stdout == second.stdout
    assert "reasoning cache miss" in first.stderr and "reasoning with the reference engine" in first.stderr
    assert "reasoning cache hit" in second.stderr and "reference engine skipped" in second.stderr
    assert len(calls) == 1


def test_no_cache_neither_reads_nor_writes(kg, cache_dir: Path):
    assert kg(*fixture_args("--no-cache", "stats")).exit_code == 0
    assert not cache_dir.exists()


def test_key_changes_with_input_bytes_and_engine(tmp_path: Path):
    data = tmp_path / "data.ttl"
    data.write_bytes((KG_DATA / "regions.ttl").read_bytes())

    def key(engine: str) -> str:
        return open_graph(Inputs.of(ONTOLOGY, [data], engine)).record.key

    before = key("reference")
    assert key("reference") == before
    assert key("fast") != before
    data.write_bytes(data.read_bytes() + b"\n# a comment changes the bytes\n")
    assert key("reference") != before


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: b"garbage\x00\xff" + raw,
        lambda raw: raw[: len(raw) // 2],  # truncated in the middle of a line
        lambda raw: b"\n".join(raw.split(b"\n")[:-3]) + b"\n",  # whole lines lost
        lambda raw: b"",
    ],
    ids=["garbage", "truncated", "lines-lost", "empty"],
)
@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_damaged_cache_is_ignored_and_rebuilt(cache_dir: Path, damage, engine, caplog):
    expected = _open(engine, cache=cache_dir)
    (cache_file,) = cache_dir.glob("*.nq")
    cache_file.write_bytes(damage(cache_file.read_bytes()))
    rebuilt = _open(engine, cache=cache_dir)
    assert "ignoring damaged reasoning cache" in caplog.text
    assert isomorphic(rebuilt.inferred, expected.inferred)
    caplog.clear()
    _open(engine, cache=cache_dir)
    assert "damaged" not in caplog.text  # and the rewritten file is good


def test_unwritable_cache_only_warns(tmp_path: Path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    kg = _open(cache=blocker / "cache")
    assert len(kg.inferred) > 0
    assert "could not write" in caplog.text


def test_reason_command_writes_asserted_plus_inferred(kg, tmp_path: Path):
    out = tmp_path / "all.nt"
    result = kg(*fixture_args("reason", "-o", str(out)))
    assert result.exit_code == 0 and result.output == ""
    sources = load(ONTOLOGY, [KG_DATA])
    written = Graph().parse(out, format="nt")
    expected_size = len(sources.ontology.graph + sources.data.graph) + len(
        Graph().parse(DATA / "reason" / "expected-inferred.ttl")
    )
    assert len(written) == expected_size
    assert (KGD["acme-cells"], KG.suppliedBy, KGD["precursor-co"]) in written
    assert (KGD["acme-cells"], OWL.sameAs, KGD["acme-cells"]) not in written
