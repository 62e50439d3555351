"""Blank-node labels that depend only on the graph, in bounded time, so equal graphs give equal bytes.

Small blank-node structures (the usual case: a figure node, a list of a few items) are labelled
by the W3C RDF Dataset Canonicalization (RDFC-1.0, Oxigraph's implementation). RDFC-1.0 costs
about the cube of a connected group of blank nodes that look alike (a chain or cycle of 400
took 5 s, of 1,000 took 94 s, of 10,000 crashed the process), so past RDFC_LIMIT blank nodes
linked to one another the graph is labelled by `anchored_labels` instead: each blank node is
named by its shortest path from a named node (IRI or literal), in time about linear in the
graph. Both give the same labels whatever labels the input had, except between blank nodes
that nothing in the graph tells apart, where input order decides.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import pyoxigraph as ox

__all__ = ["RDFC_LIMIT", "anchored_labels", "canonical_quads", "largest_blank_group"]

RDFC_LIMIT = 64  # blank nodes linked to one another that RDFC-1.0 may label (0.03 s for a chain of 64)


def canonical_quads(quads: Iterable[ox.Quad]) -> list[ox.Quad]:
    """`quads` with stable blank-node labels: RDFC-1.0 when every group of linked blank nodes is
    at most RDFC_LIMIT, else `anchored_labels` for the whole dataset."""
    quads = list(quads)
    links = ((q.subject, q.object) for q in quads if isinstance(q.subject, ox.BlankNode))
    if largest_blank_group((s, o) for s, o in links if isinstance(o, ox.BlankNode)) <= RDFC_LIMIT:
        dataset = ox.Dataset(quads)
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        return list(dataset)
    labels = anchored_labels(quads)

    def relabel(term):
        return labels[term] if isinstance(term, ox.BlankNode) else term

    return [ox.Quad(relabel(q.subject), q.predicate, relabel(q.object), relabel(q.graph_name)) for q in quads]


def largest_blank_group(links: Iterable[tuple[Hashable, Hashable]]) -> int:
    """The number of blank nodes in the largest group linked by `links` (pairs of blank nodes
    in one statement), by union-find; 1 when there are no links."""
    parent: dict[Hashable, Hashable] = {}

    def root(node: Hashable) -> Hashable:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for s, o in links:
        a, b = root(s), root(o)
        if a != b:
            parent[a] = b
    sizes: dict[Hashable, int] = {}
    for node in list(parent):
        top = root(node)
        sizes[top] = sizes.get(top, 0) + 1
    return max(sizes.values(), default=1)


def anchored_labels(quads: list[ox.Quad]) -> dict[ox.BlankNode, ox.BlankNode]:
    """A label for every blank node, from its shortest path to an anchor.

    Anchors are the blank nodes told apart from all others by their smallest link to a named
    node (that node, the predicate, the direction) and their colour (`_refined_colours`);
    they come first, in that order. Then breadth first, level by level: a node is keyed by
    the rank of its neighbour already labelled, the predicate and the direction; ties go to
    colour, then to input order. What no anchor reaches starts from its smallest node.
    Labels are b0, b1 ... in that order. Input order decides only between nodes that nothing
    within REFINEMENT_ROUNDS links of them tells apart.
    """
    signature: dict[ox.BlankNode, list[str]] = {}
    edges: dict[ox.BlankNode, list[tuple[str, str, ox.BlankNode]]] = {}
    anchor_keys: dict[ox.BlankNode, str] = {}

    def text(term, me) -> str:
        if isinstance(term, ox.BlankNode):
            return "_:a" if term == me else "_:z"
        return str(term)

    for q in quads:
        s, p, o, g = q.subject, q.predicate, q.object, q.graph_name
        for node in (s, o, g):
            if isinstance(node, ox.BlankNode):
                signature.setdefault(node, []).append(f"{text(s, node)} {p} {text(o, node)} {text(g, node)}")
        if isinstance(s, ox.BlankNode) and isinstance(o, ox.BlankNode):
            edges.setdefault(s, []).append(("out", str(p), o))
            edges.setdefault(o, []).append(("in", str(p), s))
        elif isinstance(s, ox.BlankNode):
            _keep_smallest(anchor_keys, s, f"out {p} {o}")
        elif isinstance(o, ox.BlankNode):
            _keep_smallest(anchor_keys, o, f"in {p} {s}")
    order = {node: i for i, node in enumerate(signature)}
    colour = _refined_colours({node: "\n".join(sorted(lines)) for node, lines in signature.items()}, edges)
    own = {node: (anchor_keys.get(node, "~"), colour[node]) for node in signature}  # "~": after every link
    count: dict[tuple[str, int], int] = {}
    for key in own.values():
        count[key] = count.get(key, 0) + 1
    rank: dict[ox.BlankNode, int] = {}

    def label(level: list[tuple[tuple, ox.BlankNode]]) -> list[ox.BlankNode]:
        level.sort(key=lambda item: (item[0], colour[item[1]], order[item[1]]))
        placed = []
        for _key, node in level:
            if node not in rank:
                rank[node] = len(rank)
                placed.append(node)
        return placed

    # Anchors: the nodes nothing else looks like (their link to a named node and colour are theirs only).
    frontier = label([(key, node) for node, key in own.items() if key[0] != "~" and count[key] == 1])
    waiting = sorted(signature, key=lambda node: (own[node], order[node]))
    cursor = 0
    while len(rank) < len(signature):
        while frontier:
            keys: dict[ox.BlankNode, tuple] = {}
            for node in frontier:
                for direction, predicate, other in edges.get(node, ()):
                    if other not in rank:
                        key = (rank[node], direction, predicate)
                        if other not in keys or key < keys[other]:
                            keys[other] = key
            frontier = label([(key, node) for node, key in keys.items()])
        while cursor < len(waiting) and waiting[cursor] in rank:
            cursor += 1
        if cursor < len(waiting):  # no anchor reaches it: start from the smallest of what is left
            frontier = label([((), waiting[cursor])])
    return {node: ox.BlankNode(f"b{i}") for node, i in rank.items()}


REFINEMENT_ROUNDS = 8  # enough to tell lists and nested nodes apart by their first items


def _refined_colours(
    first_degree: dict[ox.BlankNode, str], edges: dict[ox.BlankNode, list[tuple[str, str, ox.BlankNode]]]
) -> dict[ox.BlankNode, int]:
    """Colour refinement (1-dimensional Weisfeiler-Leman): each blank node starts with its own
    statements with named terms (its first-degree signature, as in RDFC-1.0) and, round after
    round, adds the colours of the blank nodes it is linked to, until no class splits or after
    REFINEMENT_ROUNDS rounds. Colours are ranks of sorted keys, so they do not depend on labels."""
    colour = _ranks(first_degree)
    classes = len(set(colour.values()))
    for _ in range(REFINEMENT_ROUNDS):
        keys = {
            node: (colour[node], tuple(sorted((d, p, colour[o]) for d, p, o in edges.get(node, ())))) for node in colour
        }
        colour = _ranks(keys)
        grown = len(set(colour.values()))
        if grown == classes:
            break
        classes = grown
    return colour


def _ranks(keys: dict) -> dict:
    order = {key: i for i, key in enumerate(sorted(set(keys.values())))}
    return {node: order[key] for node, key in keys.items()}


def _keep_smallest(keys: dict[ox.BlankNode, str], node: ox.BlankNode, key: str) -> None:
    if node not in keys or key < keys[node]:
        keys[node] = key
