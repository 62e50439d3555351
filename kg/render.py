"""Pictures with Graphviz: the projected (sub)graph styled by class, a region's value-chain ring, and
the national matrix of evidence (region x stage) as a heat map.

Graphviz does the layout and drawing (the `dot`/`neato` binaries, run as subprocesses): it is a
system package, so a missing binary is a one-line RenderError, never a traceback. Labels are set
in a font with Hangul (Noto Sans CJK KR from Debian's fonts-noto-cjk; NanumGothic also works),
found through fontconfig.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import textwrap
from collections.abc import Sequence
from pathlib import PurePath

import networkx as nx

from kg.analyze import Coverage, Matrix, no_evidence_runs
from kg.errors import RenderError, UsageError
from kg.styles import OTHER, STYLES, style_of

__all__ = [
    "FORMATS",
    "FONT",
    "graph_dot",
    "value_chain_dot",
    "matrix_dot",
    "run_graphviz",
    "require_graphviz",
    "title_of",
    "hangul_fonts",
    "format_of",
]

log = logging.getLogger(__name__)

FORMATS = ("svg", "png")
# Noto Sans CJK KR (Debian's fonts-noto-cjk) covers Hangul; fontconfig substitutes another Hangul font if missing.
FONT = "Noto Sans CJK KR"
INSTALL_HINT = "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"

# Evidence counts -> fill, font colour; 0 (no evidence in the sources) is pale grey, not an alarm:
# the sources may simply not mention the stage.
_COVERAGE_COLOURS = (
    (0, "#f2f2f2", "#555555"),
    (1, "#c7e9c0", "black"),
    (2, "#74c476", "black"),
    (3, "#238b45", "white"),
)


def format_of(path: str, fmt: str | None = None) -> str:
    """svg or png, from --format or the file suffix."""
    chosen = (fmt or PurePath(path).suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        raise UsageError(f"cannot tell the picture format of {path!r}; use a .svg or .png file name (or --format)")
    return chosen


# ---------------------------------------------------------------- DOT text


def _quote(text: str) -> str:
    """A DOT double-quoted string; backslashes doubled so \\N or \\l in labels stay literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _wrap(text: str, width: int = 24) -> str:
    # Korean has no spaces inside long compounds; textwrap then breaks words at `width`.
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False)) or text


def _font_attrs() -> str:
    return f"fontname={_quote(FONT)}, fontsize=11"


def graph_dot(
    graph: nx.MultiDiGraph, *, lang: str = "en", title: str = "", labels: dict[str, tuple[str, str]] | None = None
) -> str:
    """DOT for the projected graph: one node per entity shaped and coloured by its top class
    (kg.styles), one labelled arrow per edge (inferred ones dashed), and a legend of the classes
    drawn, named by `labels` (category -> English, Korean: kg.styles.category_labels)."""
    lines = [
        "digraph kg {",
        f"  graph [{_font_attrs()}, rankdir=LR, overlap=false, splines=true, nodesep=0.25, ranksep=0.6,"
        f" labelloc=t, fontsize=16, label={_quote(title)}];",
        f"  node [{_font_attrs()}, style=filled, penwidth=1.0];",
        f'  edge [{_font_attrs()}, fontsize=8, color="#555555", fontcolor="#333333", arrowsize=0.6];',
    ]
    ids = {node: f"n{i}" for i, node in enumerate(sorted(graph.nodes))}
    used: set[str] = set()
    for node in sorted(graph.nodes):
        data = graph.nodes[node]
        category = str(data.get("category") or data.get("type", ""))
        used.add(category if category in STYLES else "")
        style = style_of(data)
        label = data.get("label") or data.get("label_en") or node
        tooltip = f"{node} ({data.get('type', '')})"
        lines.append(
            f"  {ids[node]} [label={_quote(_wrap(str(label)))}, shape={style.shape}, fillcolor={_quote(style.colour)},"
            f" style={_quote(_filled(style))}, tooltip={_quote(tooltip)}];"
        )
    for s, o, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        label = data.get("label") or key
        dashed = ", style=dashed" if data.get("inferred") else ""
        lines.append(f"  {ids[s]} -> {ids[o]} [label={_quote(str(label))}{dashed}];")
    order = list(STYLES)
    lines += _legend(sorted(used, key=lambda c: order.index(c) if c in STYLES else len(order)), lang, labels or {})
    lines.append("}")
    return "\n".join(lines) + "\n"


def _filled(style) -> str:
    return "filled,rounded" if style.rounded else "filled"


def _legend(categories: Sequence[str], lang: str, labels: dict[str, tuple[str, str]]) -> list[str]:
    if not categories:
        return []
    title = "범례" if lang == "ko" else "Legend"
    lines = [
        "  subgraph cluster_legend {",
        f'    label={_quote(title)}; style=rounded; color="#999999"; fontsize=12;',
    ]
    previous = None
    for i, category in enumerate(categories):
        style = STYLES.get(category, OTHER)
        en, ko = labels.get(category, ("Other", "기타") if not category else (category, category))
        name = ko if lang == "ko" else en
        lines.append(
            f"    legend{i} [label={_quote(name)}, shape={style.shape}, fillcolor={_quote(style.colour)},"
            f" style={_quote(_filled(style))}, fontsize=10];"
        )
        if previous is not None:
            lines.append(f"    {previous} -> legend{i} [style=invis];")
        previous = f"legend{i}"
    lines.append("  }")
    return lines


def value_chain_dot(cov: Coverage, *, lang: str = "en") -> str:
    """DOT for the value-chain ring of one region: the main stages on a circle in kg:stageOrder,
    feeds-into arrows (recycling back to precursor and raw materials), each stage filled by how
    many things in the region the sources tie to it, the count in the label; the centre says how
    many sources cover the region."""
    import math

    ring = cov.ring
    n = len(ring)
    radius = 4.4  # inches
    ko = lang == "ko"
    lines = [
        "digraph value_chain {",
        f'  graph [{_font_attrs()}, layout=neato, splines=true, sep="+12", outputorder=edgesfirst, pad=0.3];',
        f'  node [{_font_attrs()}, shape=box, style="filled,rounded", width=2.0, height=0.95, fixedsize=true,'
        " penwidth=1.4];",
        '  edge [color="#4d4d4d", penwidth=1.3, arrowsize=0.8];',
    ]
    ids = {s.curie: f"s{s.order}" for s, _ in ring}
    for i, (stage, count) in enumerate(ring):
        angle = math.pi / 2 - 2 * math.pi * i / n  # clockwise from the top
        x, y = radius * math.cos(angle), radius * math.sin(angle)
        fill, font = _coverage_colour(count)
        primary, secondary = (stage.label_ko, stage.label_en) if ko else (stage.label_en, stage.label_ko)
        label = f"{stage.order}. {_wrap(primary, 18)}"
        if secondary:
            label += f"\n{_wrap(secondary, 22)}"
        if count:
            label += f"\n근거 {count}건" if ko else f"\n{count} with evidence"
        else:
            label += "\n출처에 근거 없음" if ko else "\nno evidence in the sources"
        border = ', color="#999999", style="filled,rounded,dashed"' if count == 0 else ""
        lines.append(
            f'  {ids[stage.curie]} [label={_quote(label)}, pos="{x:.3f},{y:.3f}!", fillcolor={_quote(fill)},'
            f" fontcolor={_quote(font)}{border}];"
        )
    for stage, _ in ring:
        for nxt in stage.feeds_into:
            if nxt in ids:
                lines.append(f"  {ids[stage.curie]} -> {ids[nxt]};")
    evidenced = sum(1 for _, c in ring if c)
    if ko:
        centre = (
            f"{cov.region.label_ko or cov.region.label_en}\n이차전지 가치사슬\n"
            f"{n}개 단계 중 {evidenced}개 근거 있음\n출처 {cov.sources}건"
        )
    else:
        plural = "s" if cov.sources != 1 else ""
        centre = (
            f"{cov.region.label_en}\n{cov.region.label_ko}\nBattery value chain\n"
            f"{evidenced} of {n} stages with evidence\n{cov.sources} source{plural}"
        )
    lines.append(
        f'  centre [label={_quote(centre)}, pos="0,0!", shape=plaintext, style="", width=2.6, height=1.4, fontsize=14];'
    )
    lines.append(
        f'  legend [label=<{_coverage_legend(ko)}>, pos="{radius + 0.9:.2f},{-radius - 0.4:.2f}!",'
        ' shape=plaintext, style="", width=2.4, height=1.3];'
    )
    runs = no_evidence_runs(cov)
    if runs:
        names = {s.curie: (s.label_ko if ko else s.label_en) for s, _ in ring}
        title = "출처에 근거 없는 구간" if ko else "No evidence in the sources"
        text = title + ": " + "; ".join(" → ".join(names[c] for c in run["stages"]) for run in runs)
        lines.append(f"  graph [label={_quote(_wrap(text, 110))}, labelloc=b, fontsize=11];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def matrix_dot(matrix: Matrix, *, lang: str = "en") -> str:
    """DOT for the national heat map: one row per province-level region (with how many sources
    cover it), one column per stage and group of stages, each cell coloured and numbered by how
    many things in the region the sources tie to the stage; empty cells: no evidence in the sources."""
    ko = lang == "ko"
    chain = matrix.stages

    def stage_name(stage) -> str:
        name = stage.label(lang)
        return f"{name} (전체)" if stage.members and ko else f"{name} (any)" if stage.members else name

    head = [
        '<TD ALIGN="LEFT" VALIGN="BOTTOM"><B>' + _html("지역" if ko else "Region") + "</B></TD>",
        '<TD VALIGN="BOTTOM"><B>' + _html("출처" if ko else "Sources") + "</B></TD>",
    ]
    for stage in chain:
        text = "<BR/>".join(_html(part) for part in _wrap(stage_name(stage), 11).split("\n"))
        head.append(f'<TD VALIGN="BOTTOM" WIDTH="64"><FONT POINT-SIZE="9">{text}</FONT></TD>')
    rows = ["<TR>" + "".join(head) + "</TR>"]
    for row in matrix.rows:
        name = (row.region.label_ko or row.region.label_en) if ko else row.region.label_en
        cells = [f'<TD ALIGN="LEFT">{_html(name)}</TD>', f'<TD ALIGN="RIGHT">{row.sources}</TD>']
        for count in row.evidence:
            fill, font = _coverage_colour(count)
            text = f'<FONT COLOR="{font}">{count}</FONT>' if count else " "  # Graphviz refuses an empty FONT
            cells.append(f'<TD BGCOLOR="{fill}">{text}</TD>')
        rows.append("<TR>" + "".join(cells) + "</TR>")
    table = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="5">' + "".join(rows) + "</TABLE>"
    if ko:
        title = "이차전지 가치사슬: 지역·단계별 출처의 근거 (빈 칸: 출처에 근거 없음)"
    else:
        title = "Battery value chain: evidence in the sources by region and stage (blank: no evidence in the sources)"
    return (
        "\n".join(
            [
                "digraph coverage_matrix {",
                f"  graph [{_font_attrs()}, labelloc=t, fontsize=15, label={_quote(title)}, pad=0.3];",
                f"  node [{_font_attrs()}, shape=plaintext];",
                f"  matrix [label=<{table}>];",
                f"  legend [label=<{_coverage_legend(ko)}>];",
                "  matrix -> legend [style=invis];",
                "}",
            ]
        )
        + "\n"
    )


def _coverage_colour(count: int) -> tuple[str, str]:
    fill, font = _COVERAGE_COLOURS[0][1:]
    for threshold, colour, text in _COVERAGE_COLOURS:
        if count >= threshold:
            fill, font = colour, text
    return fill, font


def _coverage_legend(ko: bool) -> str:
    names = (
        ("0 (출처에 근거 없음)", "1", "2", "3 이상")
        if ko
        else ("0 (no evidence in the sources)", "1", "2", "3 or more")
    )
    head = "근거가 있는 주체·사업·시설 수" if ko else "Actors, initiatives, facilities with evidence"
    rows = [f'<TR><TD COLSPAN="2"><B>{_html(head)}</B></TD></TR>']
    for (_, colour, _), name in zip(_COVERAGE_COLOURS, names, strict=True):
        rows.append(f'<TR><TD BGCOLOR="{colour}" WIDTH="22"> </TD><TD ALIGN="LEFT">{_html(name)}</TD></TR>')
    return '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2" CELLPADDING="3">' + "".join(rows) + "</TABLE>"


# ---------------------------------------------------------------- running Graphviz


def require_graphviz(program: str = "dot") -> str:
    """The path of a Graphviz program, or a RenderError telling the user to install Graphviz."""
    binary = shutil.which(program)
    if binary is None:
        raise RenderError(f"Graphviz `{program}` not found on PATH; {INSTALL_HINT}")
    return binary


def title_of(graph: nx.MultiDiGraph, lang: str = "en") -> str:
    """A picture title naming what was selected: region, classes, focus."""
    parts = []
    for key, name in (("region", "region"), ("classes", "classes"), ("focus", "focus")):
        value = graph.graph.get(key)
        if value:
            label = graph.nodes[value].get("label", value) if value in graph.nodes else value
            parts.append(f"{name} {label}" + (f" ±{graph.graph.get('depth', 1)}" if key == "focus" else ""))
    return "battery-kg" + (f" — {', '.join(parts)}" if parts else "")


def run_graphviz(source: str, fmt: str, program: str = "dot") -> bytes:
    """Lay out and draw DOT text with a Graphviz program; RenderError if it is missing or fails."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown picture format {fmt!r}; use one of {', '.join(FORMATS)}")
    binary = require_graphviz(program)
    if not hangul_fonts():
        log.warning(
            "no font with Hangul found by fontconfig; Korean labels may show as boxes "
            "(install fonts-noto-cjk or fonts-nanum)"
        )
    try:
        done = subprocess.run(
            [binary, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RenderError(f"Graphviz `{program}` failed to run: {error}") from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"Graphviz `{program}` failed: {message[-1] if message else f'exit {done.returncode}'}")
    return done.stdout


def hangul_fonts() -> list[str]:
    """Font families fontconfig knows that cover Korean; [] when none (or no fc-list to ask)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        done = subprocess.run([fc_list, ":lang=ko", "family"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    families = {f.strip() for line in done.stdout.decode("utf-8", "replace").splitlines() for f in line.split(",")}
    return sorted(f for f in families if f)
