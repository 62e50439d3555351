"""`kg export --format html`: one self-contained, offline HTML page to explore the projected graph.

The page is kg/templates/page.html with its page.css and page.js (and details.js, the details
panel both pages share); it bundles cytoscape.js
(kg/vendor/, MIT licence kept in the page) and the graph as JSON,
with positions from kg.export.layout (deterministic), search by English or Korean name, filters
by class and region, and a panel with a clicked node's facts, links and sources. A strict
Content-Security-Policy (no connections, no external scripts) keeps it offline by construction.

The state lives in the URL fragment (#q=군산&class=kg:Initiative&region=kgd:daejeon&node=kgd:gunsan),
applied on load, so a view can be bookmarked and tests can drive the page without clicking.

A graph of more than BIG_PAGE_NODES nodes gets the large page instead (page-big.html, .css, .js):
sigma.js draws it with WebGL (graphology holds it; sigma, graphology and graphology-layout-forceatlas2
bundled in kg/vendor/sigma-bundle.min.js, their MIT licences kept in the page), it opens on an
overview of one node per group (region, or class), a click on a group expands it into its members,
labels appear by zoom level (sigma's label density and size threshold), and the layout is computed
in the browser (ForceAtlas2) rather than here, where the O(n²) layout took minutes at 10^4 nodes.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files

import networkx as nx

from kg.export import ExportOptions, layout, register
from kg.styles import category_labels, colour_of

__all__ = [
    "write_html",
    "embed_json",
    "vendor_script",
    "vendor_licence",
    "is_big",
    "BIG_PAGE_NODES",
    "CYTOSCAPE_VERSION",
    "SIGMA_VERSION",
]

CYTOSCAPE_VERSION = "3.34.4"
SIGMA_VERSION = "3.0.2"
# Past this many nodes a page is drawn by sigma.js (WebGL) and opens on an overview of groups:
# cytoscape.js's canvas and the layout here grow too slow, and all labels at once are unreadable.
BIG_PAGE_NODES = 3000
_UI = {
    "en": {
        "search": "Search by name (English or 한국어)",
        "all_classes": "All classes",
        "all_regions": "All regions",
        "no_region": "(no region)",
        "top_classes": "Kinds",
        "classes": "Classes",
        "nodes": "nodes",
        "edges": "edges",
        "shown": "shown",
        "matches": "matches",
        "hint": "Click a node to see its facts and sources.",
        "links": "Links",
        "sources": "Sources",
        "sources_count": "sources",
        "source_one": "source",
        "facts": "Facts",
    },
    "ko": {
        "search": "이름 검색 (한국어 또는 English)",
        "all_classes": "모든 클래스",
        "all_regions": "모든 지역",
        "no_region": "(지역 없음)",
        "top_classes": "종류",
        "classes": "클래스",
        "nodes": "노드",
        "edges": "엣지",
        "shown": "표시",
        "matches": "검색 결과",
        "hint": "노드를 누르면 사실과 출처가 보입니다.",
        "links": "연결",
        "sources": "출처",
        "sources_count": "개 출처",
        "source_one": "개 출처",
        "facts": "사실",
    },
}

# The large page's words besides those above.
_BIG_UI = {
    "en": {
        "group_by": "Group by",
        "by_region": "region",
        "by_class": "class",
        "groups": "groups",
        "expand_all": "Expand all",
        "collapse_all": "Collapse all",
        "big_hint": "Too many nodes to read at once: click a group to open it, zoom in for more labels.",
        "no_region_of": "no region",
    },
    "ko": {
        "group_by": "묶음 기준",
        "by_region": "지역",
        "by_class": "클래스",
        "groups": "묶음",
        "expand_all": "모두 펼치기",
        "collapse_all": "모두 접기",
        "big_hint": "노드가 너무 많아 한눈에 읽을 수 없습니다. 묶음을 누르면 펼쳐지고, 확대하면 이름이 더 보입니다.",
        "no_region_of": "지역 없음",
    },
}


def _template(name: str) -> str:
    """A file of the page (kg/templates/): page.html, page.css, page.js."""
    return files("kg").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def vendor_script() -> str:
    return files("kg").joinpath("vendor/cytoscape.min.js").read_text(encoding="utf-8")


def vendor_licence() -> str:
    return files("kg").joinpath("vendor/cytoscape.LICENSE").read_text(encoding="utf-8")


def sigma_script() -> str:
    """sigma.js, graphology and graphology-layout-forceatlas2 in one script (kg/vendor/sigma/build.sh)."""
    return files("kg").joinpath("vendor/sigma-bundle.min.js").read_text(encoding="utf-8")


def sigma_licence() -> str:
    """The licence of every package in the sigma bundle."""
    return files("kg").joinpath("vendor/sigma-bundle.LICENSE").read_text(encoding="utf-8")


def is_big(graph: nx.Graph) -> bool:
    """Whether the page for `graph` is the large one (sigma.js, overview of groups)."""
    return graph.number_of_nodes() > BIG_PAGE_NODES


def embed_json(data) -> str:
    """JSON safe inside <script>: no `</script>`, `<!--` or line separators can end or confuse it."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _page_data(graph: nx.MultiDiGraph, options: ExportOptions, positions: dict | None) -> dict:
    """The page's JSON; nodes have x and y when `positions` are given (the large page lays out itself)."""
    lang = str(graph.graph.get("lang", "en"))
    nodes = []
    for node in sorted(graph.nodes):
        data = {k: v for k, v in graph.nodes[node].items()}
        if positions is None:
            nodes.append({"id": node, "colour": colour_of(data), "data": data})
        else:
            x, y = positions.get(node, (0.0, 0.0))
            nodes.append({"id": node, "x": x, "y": y, "colour": colour_of(data), "data": data})
    edges = [
        {
            "source": u,
            "target": v,
            "key": key,
            "label": str(d.get("label", key)),
            "inferred": bool(d.get("inferred")),
            "sources": str(d.get("sources", "")).split(),
        }
        for u, v, key, d in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))
    ]
    categories = sorted({str(d.get("category", "")) for _, d in graph.nodes(data=True) if d.get("category")})
    types = sorted({(str(d.get("type", "")), str(d.get("type_label", ""))) for _, d in graph.nodes(data=True)})
    regions = sorted({str(d.get("region", "")) for _, d in graph.nodes(data=True) if d.get("region")})

    names = category_labels(options.dataset) if options.dataset is not None else {}
    # How many sources cover each region: those of the region and of everything in it.
    covering: dict[str, set[str]] = {r: set() for r in regions}
    for node, d in graph.nodes(data=True):
        for region in {str(d.get("region", "")), node} & covering.keys():
            covering[region].update(str(d.get("source", "")).split())

    def label_of(curie: str) -> str:
        if curie in graph.nodes:
            return str(graph.nodes[curie].get("label") or curie)
        return curie

    return {
        "lang": lang,
        "graph": {k: v for k, v in graph.graph.items()},
        "nodes": nodes,
        "edges": edges,
        "categories": [
            {
                "id": c,
                "label": names.get(c, (c, c))[1 if lang == "ko" else 0],
                "colour": colour_of({"category": c}),
            }
            for c in categories
        ],
        "types": [{"id": t, "label": label or t} for t, label in types if t],
        "regions": [{"id": r, "label": label_of(r), "sources": len(covering[r])} for r in regions],
        "ui": _UI["ko" if lang == "ko" else "en"],
    }


def _groups(graph: nx.MultiDiGraph, data: dict) -> dict:
    """The overview's groups: by region (a node without one goes to "no region" of its kind) and by class.

    Each node gets {"region": group id, "class": group id}; each grouping lists its groups in order.
    """
    ui = data["ui"]
    regions = {r["id"]: r["label"] for r in data["regions"]}
    kinds = {c["id"]: c for c in data["categories"]}
    counts: dict[str, dict[str, int]] = {"region": {}, "class": {}}
    for node in data["nodes"]:
        d = node["data"]
        category = str(d.get("category", ""))
        region = str(d.get("region", "")) or (node["id"] if node["id"] in regions else "")
        keys = {"region": f"r:{region}" if region else f"k:{category}", "class": f"c:{category}"}
        node["groups"] = keys
        for by, key in keys.items():
            counts[by][key] = counts[by].get(key, 0) + 1

    def describe(key: str) -> dict:
        kind, _, value = key.partition(":")
        if kind == "r":
            return {"id": key, "label": regions.get(value, value), "colour": colour_of({"category": "kg:Place"})}
        category = kinds.get(value, {"label": value or "-", "colour": colour_of({})})
        label = category["label"] if kind == "c" else f"{category['label']} ({ui['no_region_of']})"
        return {"id": key, "label": label, "colour": category["colour"]}

    return {
        by: [{**describe(key), "count": count} for key, count in sorted(found.items())] for by, found in counts.items()
    }


def write_html(graph: nx.MultiDiGraph, options: ExportOptions) -> bytes:
    """The page as UTF-8 bytes; same graph and seed, same bytes."""
    scope = []
    if graph.graph.get("region"):
        scope.append(str(graph.graph["region"]))
    if graph.graph.get("focus"):
        scope.append(f"{graph.graph['focus']} ±{graph.graph.get('depth', 1)}")
    title = "battery-kg" + (f" — {', '.join(scope)}" if scope else "")
    if is_big(graph):
        return _write_big(graph, options, title)
    data = _page_data(graph, options, layout(graph, options.seed))
    licence = vendor_licence()
    return _assemble("page", data, title, data["ui"]["hint"], CYTOSCAPE_VERSION, licence, "CYTOSCAPE", vendor_script())


def _write_big(graph: nx.MultiDiGraph, options: ExportOptions, title: str) -> bytes:
    """The large page: sigma.js (WebGL), an overview of groups, the layout run in the browser."""
    data = _page_data(graph, options, None)
    data["ui"] = {**data["ui"], **_BIG_UI["ko" if data["lang"] == "ko" else "en"]}
    data["groups"] = _groups(graph, data)
    return _assemble(
        "page-big", data, title, data["ui"]["big_hint"], SIGMA_VERSION, sigma_licence(), "SIGMA", sigma_script()
    )


def _assemble(
    name: str, data: dict, title: str, hint: str, version: str, licence: str, marker: str, vendor: str
) -> bytes:
    """The page from kg/templates/NAME.html, .css and .js, the vendored script and the data.

    The vendored script and the app are inserted verbatim (no str.format on JS braces), and the JSON
    (megabytes at 10^4 nodes) goes between the parts as it is, copied once.
    """
    style = _template("page.css") + ("" if name == "page" else _template(f"{name}.css"))
    page = _template(f"{name}.html").format(
        lang=html.escape(data["lang"]),
        title=html.escape(title),
        search=html.escape(data["ui"]["search"], quote=True),
        hint=html.escape(hint),
        version=version,
        licence=licence.replace("--", "- -"),
        data="/*@DATA@*/",
        style=style,
    )
    page = page.replace(f"/*@{marker}@*/", vendor.replace("</script", "<\\/script"))
    page = page.replace("/*@APP@*/", _template("details.js") + _template(f"{name}.js"))
    head, tail = page.split("/*@DATA@*/")
    return b"".join((head.encode("utf-8"), embed_json(data).encode("utf-8"), tail.encode("utf-8")))


register("html", write_html, (".html",))
