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
from kg.paths import internal_sparql_dir
from kg.regions import Region, names
from kg.results import curie, render_table

__all__ = [
    "FORMATS",
    "Stage",
    "StageFunding",
    "LevelFunding",
    "Coverage",
    "Analysis",
    "cities",
    "value_chain",
    "coverage",
    "gap_runs",
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


def _int(term) -> int:
    return int(term.toPython()) if isinstance(term, Literal) else 0


def _text(term) -> str:
    return str(term) if term is not None else ""


# ---------------------------------------------------------------- regions


def cities(kg: KnowledgeGraph) -> list[Region]:
    """Every city, the default regions of `kg analyze`."""
    known = names(kg)
    return [known[row[0]].region for row in kg.run(_sparql("cities")).rows if row[0] in known]


# ---------------------------------------------------------------- value chain


@dataclass(frozen=True)
class Stage:
    """A main stage of the value chain, with the main stages it feeds into (CURIEs)."""

    curie: str
    order: int
    label_en: str
    label_ko: str
    feeds_into: tuple[str, ...]

    def label(self, lang: str = "en") -> str:
        return (self.label_ko if lang == "ko" else self.label_en) or self.label_en or self.curie


def value_chain(kg: KnowledgeGraph) -> list[Stage]:
    """The main stages in ring order (kg:stageOrder), from kg/sparql/value-chain-stages.rq."""
    stages: dict[str, dict] = {}
    for stage, order, label_en, label_ko, nxt, _ in kg.run(_sparql("value-chain-stages")).rows:
        entry = stages.setdefault(
            curie(stage),
            {"order": _int(order), "label_en": _text(label_en), "label_ko": _text(label_ko), "next": []},
        )
        if nxt is not None and curie(nxt) not in entry["next"]:
            entry["next"].append(curie(nxt))
    chain = [
        Stage(c, e["order"], e["label_en"], e["label_ko"], tuple(e["next"]))
        for c, e in sorted(stages.items(), key=lambda item: (item[1]["order"], item[0]))
    ]
    if not chain:
        raise UsageError("the graph has no value-chain stages (nothing with kg:stageOrder)")
    return chain


@dataclass(frozen=True)
class Coverage:
    """How many initiatives and facilities in a region support each stage, in ring order."""

    region: Region
    stages: tuple[Stage, ...]
    supporters: tuple[int, ...]

    @property
    def gaps(self) -> list[Stage]:
        return [s for s, n in zip(self.stages, self.supporters, strict=True) if n == 0]

    def count(self, stage: Stage) -> int:
        return self.supporters[self.stages.index(stage)]


def coverage(kg: KnowledgeGraph, region: Region) -> Coverage:
    """Supporters per stage located in `region` (kg/sparql/value-chain-coverage.rq)."""
    chain = value_chain(kg)
    counts = {
        curie(stage): _int(n)
        for _, stage, _, n in kg.run(_sparql("value-chain-coverage"), region=URIRef(region.iri)).rows
    }
    return Coverage(region, tuple(chain), tuple(counts.get(s.curie, 0) for s in chain))


def gap_runs(cov: Coverage) -> list[dict]:
    """Uncovered stages grouped into runs along the ring (wrapping from recycling to raw materials),
    each with the covered stages that feed into it and that it feeds - where the loop breaks."""
    stages, n = cov.stages, len(cov.stages)
    covered = [c > 0 for c in cov.supporters]
    if not any(covered) or all(covered):
        runs = [] if all(covered) else [list(range(n))]
    else:
        start = next(i for i in range(n) if covered[i])  # walk the ring from a covered stage
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
                "fed_by_covered": fed_by,
                "feeds_covered": feeds,
            }
        )
    return result


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
    chain = {s.curie: s for s in value_chain(kg)}
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
    """Everything `kg analyze` reports; `graph` is the projection (already cut to `region`)."""
    regions = [region] if region is not None else cities(kg)
    return Analysis(
        region=region,
        nodes=graph.number_of_nodes(),
        edges=graph.number_of_edges(),
        organisations=central_organisations(graph, hierarchy, top),
        components=components(graph),
        coverage=[coverage(kg, r) for r in regions],
        funding_stages=funding_by_stage(kg, region),
        funding_levels=funding_by_level(kg, region),
    )


def _coverage_dict(cov: Coverage) -> dict:
    return {
        "region": cov.region.curie,
        "label_en": cov.region.label_en,
        "label_ko": cov.region.label_ko,
        "stages": [
            {"stage": s.curie, "order": s.order, "label_en": s.label_en, "label_ko": s.label_ko, "supporters": n}
            for s, n in zip(cov.stages, cov.supporters, strict=True)
        ],
        "covered": sum(1 for n in cov.supporters if n),
        "gaps": [s.curie for s in cov.gaps],
        "gap_runs": gap_runs(cov),
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
        "value_chain_coverage": [_coverage_dict(c) for c in analysis.coverage],
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
    for cov in data["value_chain_coverage"]:
        for s in cov["stages"]:
            rows.append(
                [
                    "value_chain_coverage",
                    cov["region"],
                    s["stage"],
                    s["label_en"],
                    s["label_ko"],
                    "supporters",
                    s["supporters"],
                ]
            )
        for i, gap in enumerate(cov["gap_runs"], 1):
            rows.append(
                [
                    "value_chain_gaps",
                    cov["region"],
                    " ".join(gap["stages"]),
                    " | ".join(gap["labels_en"]),
                    " | ".join(gap["labels_ko"]),
                    "gap_run",
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

    for cov in analysis.coverage:
        covered = sum(1 for n in cov.supporters if n)
        parts.append(f"\nValue-chain coverage, {cov.region.title}: {covered} of {len(cov.stages)} stages\n")
        parts.append(
            render_table(
                ["order", "stage", "supporters"],
                [
                    [str(s.order), s.label(lang), str(n) if n else "0  (gap)"]
                    for s, n in zip(cov.stages, cov.supporters, strict=True)
                ],
                right_align=[True, False, True],
            )
        )
        runs = gap_runs(cov)
        if runs:
            labels = {s.curie: s.label(lang) for s in cov.stages}
            parts.append("Gaps along the feeds-into cycle:\n")
            for gap in runs:
                line = " → ".join(labels[c] for c in gap["stages"])
                fed = ", ".join(labels[c] for c in gap["fed_by_covered"]) or "nothing covered"
                feeds = ", ".join(labels[c] for c in gap["feeds_covered"]) or "nothing covered"
                parts.append(f"  {line}  (fed by: {fed}; feeds: {feeds})\n")

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
