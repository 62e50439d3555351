"""Stable blank-node labels (kg.canonical): RDFC-1.0 for small groups, paths from named nodes for large ones."""

from __future__ import annotations

import random

import pyoxigraph as ox

from kg.canonical import anchored_labels, canonical_quads

EX = "http://example.org/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def _quads(text: str) -> list[ox.Quad]:
    return list(ox.parse(text, format=ox.RdfFormat.N_QUADS))


def _shuffled_and_relabelled(quads: list[ox.Quad], seed: int) -> list[ox.Quad]:
    """The same graph with other blank-node labels, in another order."""
    rename: dict[ox.BlankNode, ox.BlankNode] = {}

    def new(term):
        if isinstance(term, ox.BlankNode):
            return rename.setdefault(term, ox.BlankNode(f"x{seed}n{len(rename)}"))
        return term

    out = [ox.Quad(new(q.subject), q.predicate, new(q.object), q.graph_name) for q in quads]
    random.Random(seed).shuffle(out)
    return out


def _large_graph() -> list[ox.Quad]:
    chain = "".join(f"_:c{i} <{EX}p> _:c{i + 1} .\n" for i in range(300)) + f"<{EX}a> <{EX}p> _:c0 .\n"
    cycle = "".join(f"_:y{i} <{EX}q> _:y{(i + 1) % 200} .\n" for i in range(200)) + f'_:y7 <{EX}v> "seven" .\n'

    def rdf_list(name: str, items: list[str]) -> str:
        cells = [f"_:{name}{i}" for i in range(len(items))]
        text = f"<{EX}{name}> <{EX}items> {cells[0]} .\n"
        for i, item in enumerate(items):
            rest = cells[i + 1] if i + 1 < len(cells) else f"<{RDF}nil>"
            text += f'{cells[i]} <{RDF}first> "{item}" .\n{cells[i]} <{RDF}rest> {rest} .\n'
        return text

    shared = [str(i) for i in range(100)]
    return _quads(chain + cycle + rdf_list("l", [*shared, "end-1"]) + rdf_list("m", [*shared, "end-2"]))


def test_small_groups_get_rdfc_labels():
    figures = f'<{EX}a> <{EX}amount> _:f .\n_:f <{EX}value> "1" .\n<{EX}b> <{EX}amount> _:g .\n_:g <{EX}value> "2" .\n'
    quads = _quads(figures)
    expected = ox.Dataset(quads)
    expected.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    assert sorted(map(str, canonical_quads(_shuffled_and_relabelled(quads, 1)))) == sorted(map(str, expected))


def test_large_groups_get_the_same_labels_whatever_the_input_labels_and_order():
    quads = _large_graph()
    expected = sorted(map(str, canonical_quads(quads)))
    assert all(" _:b" in line or "_:b" in line.split()[0] for line in expected)  # past RDFC_LIMIT: path labels
    for seed in (1, 2, 3):
        assert sorted(map(str, canonical_quads(_shuffled_and_relabelled(quads, seed)))) == expected


def test_path_labels_are_one_to_one_and_keep_the_graph():
    quads = _large_graph()
    labels = anchored_labels(quads)
    blanks = {t for q in quads for t in (q.subject, q.object) if isinstance(t, ox.BlankNode)}
    assert set(labels) == blanks and len(set(labels.values())) == len(blanks) == 301 + 200 + 101 + 101
    relabelled = {str(ox.Quad(labels.get(q.subject, q.subject), q.predicate, labels.get(q.object, q.object)))
                  for q in quads}  # fmt: skip
    assert relabelled == set(map(str, canonical_quads(quads)))
    # anchors first, by their link to a named node: <ex:l> <ex:items> _, <ex:m> <ex:items> _, <ex:a> <ex:p> _
    assert [labels[ox.BlankNode(name)] for name in ("l0", "m0", "c0")] == [ox.BlankNode(f"b{i}") for i in range(3)]
