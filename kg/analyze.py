"""Network analysis of the projected graph, and the value-chain and funding figures behind it.

Centrality and components come from the networkx projection (kg.project). Value-chain coverage
and funding come from SPARQL in kg/sparql/ over the reasoned dataset: they need kg:locatedIn,
the inferred containment closure that the projection deliberately leaves out as redundant edges,
and they can be checked in any SPARQL tool.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field

import networkx as nx
from rdflib import Literal, URIRef

from kg.errors import UsageError
from kg.graph import KnowledgeGraph
from kg.namespaces import KG
from kg.paths import internal_sparql_dir, queries_dir
from kg.regions import Region, names
from kg.results import curie, render_table

__all__ = [
    "FORMATS",
    "Stage",
    "StageFunding",
    "LevelFunding",
    "Coverage",
    "Analysis",
    "Matrix",
    "MatrixRow",
    "value_chain",
    "ring",
    "coverage",
    "coverage_matrix",
    "no_evidence_runs",
    "funding_by_stage",
    "funding_by_level",
    "central_organisations",
    "components",
    "analyze",
    "write_analysis",
]

FORMATS = ("table", "csv", "json")
# Components up to this size list their members' labels; bigger ones only their size.
SMALL_COMPONENT = 5


def _sparql(name: str) -> str:
    return str(internal_sparql_dir() / f"{name}.rq")


def _named(name: str) -> str:
    """A bundled named query (queries/), the same file `kg query NAME` runs."""
    return str(queries_dir() / f"{name}.rq")


def _int(term) -> int:
    return int(term.toPython()) if isinstance(term, Literal) else 0


def _text(term) -> str:
    return str(term) if term is not None else ""


# ---------------------------------------------------------------- value chain


@dataclass(frozen=True)
class Stage:
    """A stage of the value chain (CURIE), with the main stages it feeds into; a group of stages
    (battery materials) has members instead and no place on the ring."""

    curie: str
    order: int
    label_en: str
    label_ko: str
    feeds_into: tuple[str, ...]
    members: tuple[str, ...] = ()

    def label(self, lang: str = "en") -> str:
        return (self.label_ko if lang == "ko" else self.label_en) or self.label_en or self.curie


def value_chain(kg: KnowledgeGraph) -> list[Stage]:
    """Every stage and group of stages in matrix order: kg:stageOrder, a group before its first
    member (kg/sparql/value-chain-stages.rq)."""
    stages: dict[str, dict] = {}
    for stage, order, label_en, label_ko, nxt, member, _ in kg.run(_sparql("value-chain-stages")).rows:
        entry = stages.setdefault(
            curie(stage),
            {"order": _int(order), "label_en": _text(label_en), "label_ko": _text(label_ko), "next": [], "members": []},
        )
        for value, key in ((nxt, "next"), (member, "members")):
            if value is not None and curie(value) not in entry[key]:
                entry[key].append(curie(value))
    chain = [
        Stage(c, e["order"], e["label_en"], e["label_ko"], tuple(e["next"]), tuple(e["members"]))
        for c, e in sorted(stages.items(), key=lambda item: (item[1]["order"], item[0]))
    ]
    if not chain:
        raise UsageError("the graph has no value-chain stages (nothing with kg:stageOrder)")
    return chain


def ring(stages: list[Stage] | tuple[Stage, ...]) -> list[Stage]:
    """The main stages only, in ring order (groups left out)."""
    return [s for s in stages if not s.members]


@dataclass(frozen=True)
class Coverage:
    """A region's evidence on the value chain: per stage (matrix order), what the sources tie to it
    in the region and which sources do; `sources`: how many sources cover the region at all."""

    region: Region
    sources: int
    stages: tuple[Stage, ...]
    evidence: tuple[tuple[Region, ...], ...]
    citing: tuple[tuple[str, ...], ...]

    def count(self, stage: Stage) -> int:
        return len(self.evidence[self.stages.index(stage)])

    @property
    def ring(self) -> list[tuple[Stage, int]]:
        """The main stages with how many things have evidence for each."""
        return [(s, len(e)) for s, e in zip(self.stages, self.evidence, strict=True) if not s.members]

    @property
    def without_evidence(self) -> list[Stage]:
        """Main stages no source ties to anything in the region."""
        return [s for s, n in self.ring if n == 0]


def coverage(kg: KnowledgeGraph, region: Region) -> Coverage:
    """What the sources say `region` has on each stage (queries/value-chain-evidence.rq), and how
    many sources cover it (kg/sparql/region-sources.rq)."""
    chain = value_chain(kg)
    known = names(kg)
    found: dict[str, tuple[set[URIRef], set[str]]] = {s.curie: (set(), set()) for s in chain}
    for _, _, stage, thing, source in kg.run(_named("value-chain-evidence"), region=URIRef(region.iri)).rows:
        things, sources = found.setdefault(curie(stage), (set(), set()))
        if isinstance(thing, URIRef):
            things.add(thing)
        if source is not None:
            sources.add(curie(source))
    (row,) = kg.run(_sparql("region-sources"), region=URIRef(region.iri)).rows or [(None, None)]

    def shown(thing: URIRef) -> Region:
        return known[thing].region if thing in known else Region(str(thing), curie(thing), curie(thing), "")

    return Coverage(
        region,
        _int(row[1]),
        tuple(chain),
        tuple(tuple(sorted((shown(t) for t in found[s.curie][0]), key=lambda r: r.curie)) for s in chain),
        tuple(tuple(sorted(found[s.curie][1])) for s in chain),
    )


def no_evidence_runs(cov: Coverage) -> list[dict]:
    """Main stages without evidence grouped into runs along the ring (wrapping from recycling to
    raw materials), each with the stages with evidence that feed into it and that it feeds. Only
    the stages of the feeds-into cycle: equipment serves the chain without feeding it."""
    fed = {t for s, _ in cov.ring for t in s.feeds_into}
    cycle = [(s, c) for s, c in cov.ring if s.feeds_into or s.curie in fed]
    stages = [s for s, _ in cycle]
    n = len(stages)
    covered = [c > 0 for _, c in cycle]
    if not any(covered) or all(covered):
        runs = [] if all(covered) else [list(range(n))]
    else:
        start = next(i for i in range(n) if covered[i])  # walk the ring from a stage with evidence
        runs, current = [], []
        for step in range(1, n + 1):
            i = (start + step) % n
            if not covered[i]:
                current.append(i)
            elif current:
                runs.append(current)
                current = []
        runs.sort(key=lambda r: stages[r[0]].order)
    by_curie = {s.curie: i for i, s in enumerate(stages)}
    result = []
    for run_ in runs:
        members = {stages[i].curie for i in run_}
        fed_by = sorted(
            {s.curie for i, s in enumerate(stages) if covered[i] and members & set(s.feeds_into)},
            key=lambda c: by_curie[c],
        )
        feeds = sorted(
            {t for i in run_ for t in stages[i].feeds_into if t in by_curie and covered[by_curie[t]]},
            key=lambda c: by_curie[c],
        )
        result.append(
            {
                "stages": [stages[i].curie for i in run_],
                "labels_en": [stages[i].label_en for i in run_],
                "labels_ko": [stages[i].label_ko for i in run_],
                "fed_by_evidenced": fed_by,
                "feeds_evidenced": feeds,
            }
        )
    return result


@dataclass(frozen=True)
class MatrixRow:
    """One province-level region of the national matrix: sources covering it, and per stage (the
    matrix's order) how many things the sources tie to the stage and how many sources do."""

    region: Region
    sources: int
    evidence: tuple[int, ...]
    citing: tuple[int, ...]


@dataclass(frozen=True)
class Matrix:
    stages: tuple[Stage, ...]
    rows: tuple[MatrixRow, ...]


def coverage_matrix(kg: KnowledgeGraph) -> Matrix:
    """Region x stage evidence counts for every province-level region (queries/coverage-matrix.rq)."""
    chain = value_chain(kg)
    known = names(kg)
    cells: dict[URIRef, dict] = {}
    for region, region_sources, _, stage, evidence, sources in kg.run(_named("coverage-matrix")).rows:
        entry = cells.setdefault(region, {"sources": _int(region_sources), "cells": {}})
        entry["cells"][curie(stage)] = (_int(evidence), _int(sources))
    rows = []
    for region, entry in cells.items():
        place = known[region].region if region in known else Region(str(region), curie(region), curie(region), "")
        counts = [entry["cells"].get(s.curie, (0, 0)) for s in chain]
        rows.append(MatrixRow(place, entry["sources"], tuple(c[0] for c in counts), tuple(c[1] for c in counts)))
    rows.sort(key=lambda r: (r.region.label_en.casefold(), r.region.curie))
    return Matrix(tuple(chain), tuple(rows))


# ---------------------------------------------------------------- funding


@dataclass(frozen=True)
class StageFunding:
    stage: Stage
    won: int
    initiatives: int


@dataclass(frozen=True)
class LevelFunding:
    level: str  # CURIE, or "" where the source states no level
    label_en: str
    label_ko: str
    won: int
    initiatives: int


def funding_by_stage(kg: KnowledgeGraph, region: Region | None = None) -> list[StageFunding]:
    """Grant money of the initiatives supporting each stage (whole graph, or located in `region`)."""
    chain = {s.curie: s for s in ring(value_chain(kg))}
    if region is None:
        rows = [(stage, won, n) for stage, _, won, n in kg.run(_sparql("total-funding-by-stage")).rows]
    else:
        answer = kg.run(_sparql("place-funding-by-stage"), region=URIRef(region.iri))
        rows = [(stage, won, n) for _, stage, _, won, n in answer.rows]
    found = {curie(stage): (_int(won), _int(n)) for stage, won, n in rows}
    return [StageFunding(s, *found.get(c, (0, 0))) for c, s in sorted(chain.items(), key=lambda i: i[1].order)]


def funding_by_level(kg: KnowledgeGraph, region: Region | None = None) -> list[LevelFunding]:
    """Grant money per funding level, largest first (whole graph, or located in `region`)."""
    if region is None:
        rows = kg.run(_sparql("total-funding-by-level")).rows
    else:
        rows = [r[1:] for r in kg.run(_sparql("place-funding-by-level"), region=URIRef(region.iri)).rows]
    levels = [
        LevelFunding(curie(level) if level is not None else "", _text(en), _text(ko), _int(won), _int(n))
        for level, en, ko, won, n in rows
    ]
    return sorted(levels, key=lambda f: (-f.won, f.level == "", f.level))


# ---------------------------------------------------------------- the projected graph


def _is_organisation(graph: nx.MultiDiGraph, hierarchy: nx.DiGraph, node: str) -> bool:
    cls = graph.nodes[node].get("type", "")
    agent = curie(KG.Agent)
    return cls == agent or (cls in hierarchy and agent in nx.descendants(hierarchy, cls))


def central_organisations(graph: nx.MultiDiGraph, hierarchy: nx.DiGraph, top: int = 10) -> list[dict]:
    """Organisations (kg:Agent and its subclasses) by degree, then betweenness, then id.

    Degree counts every edge in or out (parallel edges of different properties too);
    betweenness is normalised, on the undirected simple graph of all entities, exact.
    """
    simple = nx.Graph(graph.to_undirected(as_view=True))
    betweenness = nx.betweenness_centrality(simple, normalized=True)
    rows = [
        {
            "id": node,
            "label": graph.nodes[node].get("label", node),
            "label_en": graph.nodes[node].get("label_en", node),
            "label_ko": graph.nodes[node].get("label_ko", ""),
            "type": graph.nodes[node].get("type", ""),
            "degree": graph.degree(node),
            "betweenness": round(betweenness.get(node, 0.0), 6),
        }
        for node in graph.nodes
        if _is_organisation(graph, hierarchy, node)
    ]
    rows.sort(key=lambda r: (-r["degree"], -r["betweenness"], r["id"]))
    return rows[:top] if top else rows


def components(graph: nx.MultiDiGraph) -> list[dict]:
    """Weakly connected components, largest first (ties by smallest member id); small ones list members."""
    found = [sorted(c) for c in nx.weakly_connected_components(graph)]
    found.sort(key=lambda c: (-len(c), c[0]))
    return [
        {
            "size": len(members),
            "members": members if len(members) <= SMALL_COMPONENT else [],
            "labels": [graph.nodes[m].get("label", m) for m in members] if len(members) <= SMALL_COMPONENT else [],
        }
        for members in found
    ]


# ---------------------------------------------------------------- the report


@dataclass
class Analysis:
    region: Region | None
    nodes: int
    edges: int
    organisations: list[dict]
    components: list[dict]
    matrix: Matrix | None = None
    coverage: list[Coverage] = field(default_factory=list)
    funding_stages: list[StageFunding] = field(default_factory=list)
    funding_levels: list[LevelFunding] = field(default_factory=list)


def analyze(
    kg: KnowledgeGraph,
    graph: nx.MultiDiGraph,
    hierarchy: nx.DiGraph,
    region: Region | None = None,
    top: int = 10,
) -> Analysis:
    """Everything `kg analyze` reports; `graph` is the projection (already cut to `region`).

    The whole graph gets the national matrix (region x stage); a region, its evidence per stage.
    """
    return Analysis(
        region=region,
        nodes=graph.number_of_nodes(),
        edges=graph.number_of_edges(),
        organisations=central_organisations(graph, hierarchy, top),
        components=components(graph),
        matrix=coverage_matrix(kg) if region is None else None,
        coverage=[coverage(kg, region)] if region is not None else [],
        funding_stages=funding_by_stage(kg, region),
        funding_levels=funding_by_level(kg, region),
    )


def _stage_dict(stage: Stage) -> dict:
    entry = {"stage": stage.curie, "order": stage.order, "label_en": stage.label_en, "label_ko": stage.label_ko}
    if stage.members:
        entry["members"] = list(stage.members)
    return entry


def _coverage_dict(cov: Coverage) -> dict:
    return {
        "region": cov.region.curie,
        "label_en": cov.region.label_en,
        "label_ko": cov.region.label_ko,
        "sources": cov.sources,
        "stages": [
            {
                **_stage_dict(s),
                "evidence": [{"id": e.curie, "label_en": e.label_en, "label_ko": e.label_ko} for e in evidence],
                "sources": list(citing),
            }
            for s, evidence, citing in zip(cov.stages, cov.evidence, cov.citing, strict=True)
        ],
        "stages_with_evidence": sum(1 for _, n in cov.ring if n),
        "main_stages": len(cov.ring),
        "without_evidence": [s.curie for s in cov.without_evidence],
        "runs_without_evidence": no_evidence_runs(cov),
    }


def _matrix_dict(matrix: Matrix) -> dict:
    return {
        "stages": [_stage_dict(s) for s in matrix.stages],
        "regions": [
            {
                "region": row.region.curie,
                "label_en": row.region.label_en,
                "label_ko": row.region.label_ko,
                "sources": row.sources,
                "evidence": list(row.evidence),
                "evidence_sources": list(row.citing),
            }
            for row in matrix.rows
        ],
    }


def as_dict(analysis: Analysis) -> dict:
    """The analysis as plain JSON-ready data, keys in a fixed order."""
    return {
        "region": asdict(analysis.region) if analysis.region else None,
        "graph": {"nodes": analysis.nodes, "edges": analysis.edges},
        "central_organisations": analysis.organisations,
        "components": {
            "count": len(analysis.components),
            "sizes": [c["size"] for c in analysis.components],
            "small": [c for c in analysis.components if c["members"]],
        },
        "coverage_matrix": _matrix_dict(analysis.matrix) if analysis.matrix else None,
        "value_chain_evidence": [_coverage_dict(c) for c in analysis.coverage],
        "funding_by_stage": [
            {
                "stage": f.stage.curie,
                "order": f.stage.order,
                "label_en": f.stage.label_en,
                "label_ko": f.stage.label_ko,
                "won": f.won,
                "initiatives": f.initiatives,
            }
            for f in analysis.funding_stages
        ],
        "funding_by_level": [asdict(f) for f in analysis.funding_levels],
    }


def write_analysis(analysis: Analysis, fmt: str, lang: str = "en") -> str:
    """The report as a text table, CSV (one measurement a row) or JSON."""
    if fmt == "json":
        return json.dumps(as_dict(analysis), ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return _csv(analysis)
    if fmt == "table":
        return _tables(analysis, lang)
    raise UsageError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


_CSV_HEADER = ["section", "region", "item", "label_en", "label_ko", "metric", "value"]


def _csv(analysis: Analysis) -> str:
    data = as_dict(analysis)
    scope = analysis.region.curie if analysis.region else ""
    rows: list[list] = [
        ["graph", scope, "", "", "", "nodes", analysis.nodes],
        ["graph", scope, "", "", "", "edges", analysis.edges],
    ]
    for org in analysis.organisations:
        for metric in ("degree", "betweenness"):
            rows.append(
                ["central_organisations", scope, org["id"], org["label_en"], org["label_ko"], metric, org[metric]]
            )
    rows.append(["components", scope, "", "", "", "count", len(analysis.components)])
    for i, comp in enumerate(analysis.components, 1):
        rows.append(["components", scope, str(i), " | ".join(comp["labels"]), "", "size", comp["size"]])
    if analysis.matrix is not None:
        for row in analysis.matrix.rows:
            region = row.region.curie
            rows.append(
                ["coverage_matrix", region, "", row.region.label_en, row.region.label_ko, "sources", row.sources]
            )
            for stage, evidence, citing in zip(analysis.matrix.stages, row.evidence, row.citing, strict=True):
                for metric, value in (("evidence", evidence), ("evidence_sources", citing)):
                    rows.append(["coverage_matrix", region, stage.curie, stage.label_en, stage.label_ko, metric, value])
    for cov in analysis.coverage:
        region = cov.region.curie
        rows.append(
            ["value_chain_evidence", region, "", cov.region.label_en, cov.region.label_ko, "sources", cov.sources]
        )
        for stage, evidence, citing in zip(cov.stages, cov.evidence, cov.citing, strict=True):
            rows.append(
                ["value_chain_evidence", region, stage.curie, stage.label_en, stage.label_ko, "evidence", len(evidence)]
            )
            rows.append(
                [
                    "value_chain_evidence",
                    region,
                    stage.curie,
                    stage.label_en,
                    stage.label_ko,
                    "evidence_sources",
                    len(citing),
                ]
            )
        for i, run_ in enumerate(no_evidence_runs(cov), 1):
            rows.append(
                [
                    "value_chain_no_evidence",
                    region,
                    " ".join(run_["stages"]),
                    " | ".join(run_["labels_en"]),
                    " | ".join(run_["labels_ko"]),
                    "run",
                    i,
                ]
            )
    for f in data["funding_by_stage"]:
        rows.append(["funding_by_stage", scope, f["stage"], f["label_en"], f["label_ko"], "won", f["won"]])
        rows.append(
            ["funding_by_stage", scope, f["stage"], f["label_en"], f["label_ko"], "initiatives", f["initiatives"]]
        )
    for f in data["funding_by_level"]:
        rows.append(["funding_by_level", scope, f["level"], f["label_en"], f["label_ko"], "won", f["won"]])
        rows.append(
            ["funding_by_level", scope, f["level"], f["label_en"], f["label_ko"], "initiatives", f["initiatives"]]
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_HEADER)
    writer.writerows(rows)
    return out.getvalue()


def _won(amount: int) -> str:
    return f"{amount:,}"


def _tables(analysis: Analysis, lang: str) -> str:
    def name(en: str, ko: str) -> str:
        return (ko or en) if lang == "ko" else (en or ko)

    scope = analysis.region.title if analysis.region else "whole graph"
    parts = [f"Projected graph ({scope}): {analysis.nodes} nodes, {analysis.edges} edges\n"]

    parts.append("\nMost central organisations\n")
    parts.append(
        render_table(
            ["organisation", "type", "degree", "betweenness"],
            [
                [name(o["label_en"], o["label_ko"]), o["type"], str(o["degree"]), f"{o['betweenness']:.4f}"]
                for o in analysis.organisations
            ],
            right_align=[False, False, True, True],
        )
    )

    sizes = [c["size"] for c in analysis.components]
    parts.append(f"\nConnected components: {len(sizes)} (sizes {', '.join(map(str, sizes))})\n")
    small = [c for c in analysis.components if c["members"]]
    if small:
        parts.append(
            render_table(
                ["size", "members"],
                [[str(c["size"]), "; ".join(c["labels"])] for c in small],
                right_align=[True, False],
            )
        )

    if analysis.matrix is not None:
        parts.append(_matrix_table(analysis.matrix, lang))
    for cov in analysis.coverage:
        parts.append(_evidence_table(cov, lang))

    parts.append(f"\nFunding per value-chain stage, KRW ({scope}; an initiative counts for each stage it supports)\n")
    parts.append(
        render_table(
            ["order", "stage", "won", "initiatives"],
            [
                [str(f.stage.order), f.stage.label(lang), _won(f.won), str(f.initiatives)]
                for f in analysis.funding_stages
            ],
            right_align=[True, False, True, True],
        )
    )
    parts.append(f"\nFunding per funding level, KRW ({scope})\n")
    parts.append(
        render_table(
            ["level", "won", "initiatives"],
            [
                [name(f.label_en, f.label_ko) or "(not stated)", _won(f.won), str(f.initiatives)]
                for f in analysis.funding_levels
            ],
            right_align=[False, True, True],
        )
    )
    return "".join(parts)


NO_EVIDENCE = "no evidence in the sources"


def _column(stage: Stage, chain: tuple[Stage, ...]) -> str:
    """A stage's column head: its order, or the span of orders a group covers (3-6)."""
    if not stage.members:
        return str(stage.order)
    orders = sorted(s.order for s in chain if s.curie in stage.members)
    return f"{orders[0]}-{orders[-1]}" if orders else str(stage.order)


def _matrix_table(matrix: Matrix, lang: str) -> str:
    columns = [_column(s, matrix.stages) for s in matrix.stages]
    head = (
        "\nNational map: evidence in the sources, region x value-chain stage\n"
        "(things the sources tie to each stage in the region; . = no evidence in the sources;"
        " sources = sources that cover the region at all)\n"
    )
    table = render_table(
        ["region", "sources", *columns],
        [
            [_name(row.region, lang), str(row.sources)] + [str(n) if n else "." for n in row.evidence]
            for row in matrix.rows
        ],
        right_align=[False] + [True] * (len(columns) + 1),
    )
    key = "; ".join(
        f"{col} {s.label(lang)}" + (" (any of them)" if s.members else "")
        for col, s in zip(columns, matrix.stages, strict=True)
    )
    return head + table + f"Stages: {key}\n"


def _name(region: Region, lang: str) -> str:
    return (region.label_ko or region.label_en) if lang == "ko" else (region.label_en or region.label_ko)


def _evidence_table(cov: Coverage, lang: str) -> str:
    with_evidence = sum(1 for _, n in cov.ring if n)
    parts = [
        f"\nValue-chain evidence, {cov.region.title}: {with_evidence} of {len(cov.ring)} stages with evidence;"
        f" {cov.sources} source{'s' if cov.sources != 1 else ''} cover the region\n"
    ]
    parts.append(
        render_table(
            ["order", "stage", "evidence", "sources", "what the sources tie to the stage"],
            [
                [
                    _column(s, cov.stages),
                    s.label(lang),
                    str(len(evidence)),
                    str(len(citing)),
                    "; ".join(_name(e, lang) for e in evidence) or NO_EVIDENCE,
                ]
                for s, evidence, citing in zip(cov.stages, cov.evidence, cov.citing, strict=True)
            ],
            right_align=[True, False, True, True, False],
        )
    )
    runs = no_evidence_runs(cov)
    if runs:
        labels = {s.curie: s.label(lang) for s in cov.stages}
        parts.append("Runs of stages with no evidence in the sources, along the feeds-into cycle:\n")
        for run_ in runs:
            line = " → ".join(labels[c] for c in run_["stages"])
            fed = ", ".join(labels[c] for c in run_["fed_by_evidenced"]) or "nothing with evidence"
            feeds = ", ".join(labels[c] for c in run_["feeds_evidenced"]) or "nothing with evidence"
            parts.append(f"  {line}  (fed by: {fed}; feeds: {feeds})\n")
    return "".join(parts)
