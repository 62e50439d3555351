"""Pictures with Graphviz: the projected (sub)graph styled by class, and a region's value-chain ring.

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

from kg.analyze import Coverage, gap_runs
from kg.errors import RenderError, UsageError
from kg.styles import OTHER, STYLES, style_of

__all__ = [
    "FORMATS",
    "FONT",
    "graph_dot",
    "value_chain_dot",
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

# Supporter counts -> fill, font colour; 0 is a gap and stands out in red.
_COVERAGE_COLOURS = ((0, "#f8d0cb", "black"), (1, "#c7e9c0", "black"), (2, "#74c476", "black"), (3, "#238b45", "white"))


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
    many initiatives and facilities located in the region support it, the count in the label."""
    import math

    stages = cov.stages
    n = len(stages)
    radius = 4.4  # inches
    ko = lang == "ko"
    unit = "개 지원" if ko else "supporting"
    lines = [
        "digraph value_chain {",
        f'  graph [{_font_attrs()}, layout=neato, splines=true, sep="+12", outputorder=edgesfirst, pad=0.3];',
        f'  node [{_font_attrs()}, shape=box, style="filled,rounded", width=2.0, height=0.95, fixedsize=true,'
        " penwidth=1.4];",
        '  edge [color="#4d4d4d", penwidth=1.3, arrowsize=0.8];',
    ]
    ids = {s.curie: f"s{s.order}" for s in stages}
    for i, stage in enumerate(stages):
        count = cov.supporters[i]
        angle = math.pi / 2 - 2 * math.pi * i / n  # clockwise from the top
        x, y = radius * math.cos(angle), radius * math.sin(angle)
        fill, font = _coverage_colour(count)
        primary, secondary = (stage.label_ko, stage.label_en) if ko else (stage.label_en, stage.label_ko)
        label = f"{stage.order}. {_wrap(primary, 18)}"
        if secondary:
            label += f"\n{_wrap(secondary, 22)}"
        label += f"\n{count}{unit}" if ko else f"\n{count} {unit}"
        border = ', color="#c0392b", penwidth=2.4, style="filled,rounded,dashed"' if count == 0 else ""
        lines.append(
            f'  {ids[stage.curie]} [label={_quote(label)}, pos="{x:.3f},{y:.3f}!", fillcolor={_quote(fill)},'
            f" fontcolor={_quote(font)}{border}];"
        )
    for stage in stages:
        for nxt in stage.feeds_into:
            if nxt in ids:
                lines.append(f"  {ids[stage.curie]} -> {ids[nxt]};")
    covered = sum(1 for c in cov.supporters if c)
    if ko:
        centre = f"{cov.region.label_ko or cov.region.label_en}\n이차전지 가치사슬\n{n}개 단계 중 {covered}개 지원"
    else:
        centre = f"{cov.region.label_en}\n{cov.region.label_ko}\nBattery value chain\n{covered} of {n} stages supported"
    lines.append(
        f'  centre [label={_quote(centre)}, pos="0,0!", shape=plaintext, style="", width=2.6, height=1.2, fontsize=14];'
    )
    lines.append(
        f'  legend [label=<{_coverage_legend(ko)}>, pos="{radius + 0.9:.2f},{-radius - 0.4:.2f}!",'
        ' shape=plaintext, style="", width=2.4, height=1.3];'
    )
    runs = gap_runs(cov)
    if runs:
        names = {s.curie: (s.label_ko if ko else s.label_en) for s in stages}
        title = "빈 구간" if ko else "Gaps"
        text = title + ": " + "; ".join(" → ".join(names[c] for c in run["stages"]) for run in runs)
        lines.append(f"  graph [label={_quote(_wrap(text, 110))}, labelloc=b, fontsize=11];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _coverage_colour(count: int) -> tuple[str, str]:
    fill, font = _COVERAGE_COLOURS[0][1:]
    for threshold, colour, text in _COVERAGE_COLOURS:
        if count >= threshold:
            fill, font = colour, text
    return fill, font


def _coverage_legend(ko: bool) -> str:
    names = ("0 (빈 단계)", "1", "2", "3 이상") if ko else ("0 (gap)", "1", "2", "3 or more")
    head = "지원 사업·시설 수" if ko else "Initiatives and facilities"
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
