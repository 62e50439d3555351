"""`kg export --format html`: one self-contained, offline HTML page to explore the projected graph.

The page bundles cytoscape.js (kg/vendor/, MIT licence kept in the page) and the graph as JSON,
with positions from kg.export.layout (deterministic), search by English or Korean name, filters
by class and region, and a panel with a clicked node's facts, links and sources. A strict
Content-Security-Policy (no connections, no external scripts) keeps it offline by construction.

The state lives in the URL fragment (#q=군산&class=kg:Initiative&region=kgd:daejeon&node=kgd:gunsan),
applied on load, so a view can be bookmarked and tests can drive the page without clicking.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files

import networkx as nx

from kg.export import ExportOptions, colour_of, layout, register

__all__ = ["write_html", "embed_json", "vendor_script", "vendor_licence", "CYTOSCAPE_VERSION"]

CYTOSCAPE_VERSION = "3.34.4"
_CATEGORY_NAMES = {
    "kg:Place": ("Place", "장소"),
    "kg:Agent": ("Organisation or person", "기관·사람"),
    "kg:Initiative": ("Initiative", "추진 사업"),
    "kg:Facility": ("Facility", "시설"),
    "kg:Event": ("Event", "행사"),
    "kg:FundingContribution": ("Funding contribution", "재원 분담"),
    "kg:TargetIndicator": ("Target indicator", "목표 지표"),
    "kg:Source": ("Source", "출처"),
    "kg:Statement": ("Statement", "발언"),
    "kg:InformationSystem": ("Information system", "정보시스템"),
    "kg:ValueChainStage": ("Value-chain stage", "가치사슬 단계"),
    "kg:TechnologyField": ("Technology field", "기술 분야"),
    "kg:IndustrySector": ("Industry sector", "산업 분야"),
    "kg:FundingLevel": ("Funding level", "재원 구분"),
}
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
        "facts": "사실",
    },
}


def vendor_script() -> str:
    return files("kg").joinpath("vendor/cytoscape.min.js").read_text(encoding="utf-8")


def vendor_licence() -> str:
    return files("kg").joinpath("vendor/cytoscape.LICENSE").read_text(encoding="utf-8")


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


def _page_data(graph: nx.MultiDiGraph, options: ExportOptions) -> dict:
    lang = str(graph.graph.get("lang", "en"))
    positions = layout(graph, options.seed)
    nodes = []
    for node in sorted(graph.nodes):
        data = {k: v for k, v in graph.nodes[node].items()}
        x, y = positions.get(node, (0.0, 0.0))
        nodes.append({"id": node, "x": x, "y": y, "colour": colour_of(data), "data": data})
    edges = [
        {"source": u, "target": v, "key": key, "label": str(d.get("label", key)), "inferred": bool(d.get("inferred"))}
        for u, v, key, d in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))
    ]
    categories = sorted({str(d.get("category", "")) for _, d in graph.nodes(data=True) if d.get("category")})
    types = sorted({(str(d.get("type", "")), str(d.get("type_label", ""))) for _, d in graph.nodes(data=True)})
    regions = sorted({str(d.get("region", "")) for _, d in graph.nodes(data=True) if d.get("region")})

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
                "label": _CATEGORY_NAMES.get(c, (c, c))[1 if lang == "ko" else 0],
                "colour": colour_of({"category": c}),
            }
            for c in categories
        ],
        "types": [{"id": t, "label": label or t} for t, label in types if t],
        "regions": [{"id": r, "label": label_of(r)} for r in regions],
        "ui": _UI["ko" if lang == "ko" else "en"],
    }


def write_html(graph: nx.MultiDiGraph, options: ExportOptions) -> bytes:
    """The page as UTF-8 bytes; same graph and seed, same bytes."""
    data = _page_data(graph, options)
    ui = data["ui"]
    scope = []
    if graph.graph.get("region"):
        scope.append(str(graph.graph["region"]))
    if graph.graph.get("focus"):
        scope.append(f"{graph.graph['focus']} ±{graph.graph.get('depth', 1)}")
    title = "battery-kg" + (f" — {', '.join(scope)}" if scope else "")
    licence = vendor_licence().replace("--", "- -")
    page = _TEMPLATE.format(
        lang=html.escape(data["lang"]),
        title=html.escape(title),
        search=html.escape(ui["search"], quote=True),
        hint=html.escape(ui["hint"]),
        version=CYTOSCAPE_VERSION,
        licence=licence,
        data=embed_json(data),
        style=_STYLE,
    )
    # The vendored script and the app are inserted verbatim (no str.format on JS braces).
    page = page.replace("/*@CYTOSCAPE@*/", vendor_script().replace("</script", "<\\/script"))
    page = page.replace("/*@APP@*/", _APP)
    return page.encode("utf-8")


_STYLE = """
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; font-family: "Noto Sans CJK KR", "NanumGothic", "Apple SD Gothic Neo",
  "Malgun Gothic", sans-serif; font-size: 14px; color: #222; }
body { display: grid; grid-template-rows: auto 1fr; grid-template-columns: 1fr 340px; height: 100vh; }
header { grid-column: 1 / 3; display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center;
  padding: 8px 12px; border-bottom: 1px solid #ccc; background: #f7f7f7; }
header h1 { font-size: 16px; margin: 0 8px 0 0; }
header input[type=search] { width: 260px; padding: 4px 6px; }
header select { max-width: 220px; }
#counts span { font-weight: bold; }
#cy { grid-column: 1; grid-row: 2; min-height: 300px; }
aside { grid-column: 2; grid-row: 2; overflow: auto; border-left: 1px solid #ccc; padding: 10px; background: #fcfcfc; }
aside h2 { font-size: 15px; margin: 4px 0 6px; }
aside h3 { font-size: 13px; margin: 12px 0 4px; color: #555; }
aside table { border-collapse: collapse; width: 100%; font-size: 12px; }
aside td { border-top: 1px solid #eee; padding: 2px 4px; vertical-align: top; word-break: break-word; }
aside td:first-child { color: #666; white-space: nowrap; }
#match-list { margin: 4px 0; padding-left: 18px; font-size: 12px; }
.link { color: #0645ad; cursor: pointer; text-decoration: underline; }
#legend { display: flex; flex-wrap: wrap; gap: 4px 10px; font-size: 12px; }
#legend i { display: inline-block; width: 11px; height: 11px; border: 1px solid #666; margin-right: 3px;
  vertical-align: -1px; }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="battery-kg (kg export --format html)">
<title>{title}</title>
<style>{style}</style>
</head>
<body data-ready="0">
<header>
  <h1>{title}</h1>
  <input id="search" type="search" placeholder="{search}" aria-label="{search}">
  <select id="class-filter" aria-label="class"></select>
  <select id="region-filter" aria-label="region"></select>
  <span id="counts"><span id="node-count"></span> <span id="node-word"></span> ·
    <span id="edge-count"></span> <span id="edge-word"></span> ·
    <span id="visible-count"></span> <span id="shown-word"></span> ·
    <span id="match-count"></span> <span id="match-word"></span></span>
  <div id="legend"></div>
</header>
<div id="cy"></div>
<aside>
  <div id="details"><p id="hint">{hint}</p></div>
  <h3 id="matches-heading"></h3>
  <ul id="match-list"></ul>
</aside>
<script id="kg-data" type="application/json">{data}</script>
<!--
cytoscape.js {version} is bundled below under the MIT licence:

{licence}
-->
<script>/*@CYTOSCAPE@*/</script>
<script>/*@APP@*/</script>
</body>
</html>
"""

_APP = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("kg-data").textContent);
  var UI = DATA.ui;
  var byId = {};
  DATA.nodes.forEach(function (n) { byId[n.id] = n; });
  function $(id) { return document.getElementById(id); }
  function text(id, value) { $(id).textContent = String(value); }
  function norm(s) { return String(s || "").normalize("NFC").toLowerCase(); }
  function labelOf(id) { var n = byId[id]; return n ? String(n.data.label || id) : id; }

  var elements = [];
  DATA.nodes.forEach(function (n) {
    elements.push({ group: "nodes", data: { id: n.id, label: String(n.data.label || n.id), colour: n.colour },
                    position: { x: n.x, y: n.y } });
  });
  DATA.edges.forEach(function (e, i) {
    elements.push({ group: "edges", data: { id: "e" + i, source: e.source, target: e.target, label: e.label,
                                            key: e.key, inferred: e.inferred ? 1 : 0 } });
  });
  var cy = cytoscape({
    container: $("cy"), elements: elements, layout: { name: "preset", fit: true, padding: 30 },
    wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 6,
    style: [
      { selector: "node", style: { "background-color": "data(colour)", "label": "data(label)", "font-size": 9,
        "font-family": "Noto Sans CJK KR, NanumGothic, sans-serif", "text-wrap": "wrap", "text-max-width": 110,
        "text-valign": "bottom", "text-margin-y": 2, "width": 16, "height": 16, "border-width": 1,
        "border-color": "#555" } },
      { selector: "edge", style: { "width": 1, "line-color": "#aaa", "target-arrow-color": "#aaa",
        "target-arrow-shape": "triangle", "arrow-scale": 0.7, "curve-style": "bezier", "font-size": 7,
        "color": "#444", "text-rotation": "autorotate", "label": "" } },
      { selector: "edge[inferred = 1]", style: { "line-style": "dashed" } },
      { selector: ".faded", style: { "opacity": 0.15 } },
      { selector: ".match", style: { "border-width": 4, "border-color": "#d62728", "z-index": 10 } },
      { selector: ".near", style: { "label": "data(label)", "line-color": "#333", "target-arrow-color": "#333",
        "width": 2, "z-index": 9 } },
      { selector: "node:selected", style: { "border-width": 4, "border-color": "#1f77b4" } }
    ]
  });

  // Controls: classes (kinds, then specific classes) and regions present in the graph.
  function option(select, value, label) {
    var o = document.createElement("option"); o.value = value; o.textContent = label; select.appendChild(o); return o;
  }
  var classSel = $("class-filter"), regionSel = $("region-filter");
  option(classSel, "", UI.all_classes);
  var g1 = document.createElement("optgroup"); g1.label = UI.top_classes; classSel.appendChild(g1);
  DATA.categories.forEach(function (c) { option(g1, c.id, c.label); });
  var g2 = document.createElement("optgroup"); g2.label = UI.classes; classSel.appendChild(g2);
  DATA.types.forEach(function (t) { option(g2, t.id, t.label + " (" + t.id + ")"); });
  option(regionSel, "", UI.all_regions);
  DATA.regions.forEach(function (r) { option(regionSel, r.id, r.label); });
  option(regionSel, "-", UI.no_region);
  DATA.categories.forEach(function (c) {
    var span = document.createElement("span"), box = document.createElement("i");
    box.style.background = c.colour; span.appendChild(box); span.appendChild(document.createTextNode(c.label));
    $("legend").appendChild(span);
  });

  function names(n) {
    return [n.id, n.data.label, n.data.label_en, n.data.label_ko, n.data.altLabel].map(norm);
  }
  function classOk(n, cls) { return !cls || n.data.type === cls || n.data.category === cls; }
  function regionOk(n, region) {
    if (!region) return true;
    if (region === "-") return !n.data.region;
    return n.data.region === region || n.id === region;
  }

  var state = { q: "", cls: "", region: "", node: "" };
  function apply() {
    var q = norm(state.q).trim(), visible = 0, matches = [];
    cy.batch(function () {
      cy.nodes().forEach(function (ele) {
        var n = byId[ele.id()], show = classOk(n, state.cls) && regionOk(n, state.region);
        ele.style("display", show ? "element" : "none");
        if (show) visible += 1;
        var hit = show && q !== "" && names(n).some(function (s) { return s.indexOf(q) >= 0; });
        ele.toggleClass("match", hit);
        ele.toggleClass("faded", q !== "" && !hit);
        if (hit) matches.push(n);
      });
    });
    text("visible-count", visible);
    text("match-count", matches.length);
    var list = $("match-list");
    while (list.firstChild) list.removeChild(list.firstChild);
    matches.sort(function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; });
    matches.forEach(function (n) {
      var li = document.createElement("li"); li.className = "link"; li.setAttribute("data-id", n.id);
      li.textContent = String(n.data.label || n.id);
      li.addEventListener("click", function () { select(n.id); });
      list.appendChild(li);
    });
    text("matches-heading", q ? UI.matches + ": " + matches.length : "");
    if (q && matches.length) cy.fit(cy.nodes(".match"), 60);
    else cy.fit(cy.nodes(":visible"), 30);
    writeHash();
  }

  function row(table, key, value) {
    var tr = document.createElement("tr"), a = document.createElement("td"), b = document.createElement("td");
    a.textContent = key; b.textContent = String(value); tr.appendChild(a); tr.appendChild(b); table.appendChild(tr);
    return b;
  }
  function linkTo(cell, id) {
    cell.textContent = "";
    var s = document.createElement("span"); s.className = "link"; s.textContent = labelOf(id);
    s.setAttribute("data-id", id); s.addEventListener("click", function () { select(id); }); cell.appendChild(s);
  }
  function showDetails(id) {
    var box = $("details"); while (box.firstChild) box.removeChild(box.firstChild);
    var n = byId[id]; if (!n) return;
    var h = document.createElement("h2"); h.id = "details-title"; h.textContent = String(n.data.label || id);
    box.appendChild(h);
    var h3 = document.createElement("h3"); h3.textContent = UI.facts; box.appendChild(h3);
    var facts = document.createElement("table"); facts.id = "details-facts"; box.appendChild(facts);
    row(facts, "id", id);
    Object.keys(n.data).sort().forEach(function (k) {
      var v = n.data[k];
      if (v === "" || v === null || k === "label" || k === "source") return;
      var cell = row(facts, k, v);
      if (k === "region" && byId[v]) linkTo(cell, v);
    });
    var links = document.createElement("table"); links.id = "details-links";
    var h4 = document.createElement("h3"); h4.textContent = UI.links; box.appendChild(h4); box.appendChild(links);
    DATA.edges.forEach(function (e) {
      if (e.source === id) linkTo(row(links, e.label + " →", ""), e.target);
      else if (e.target === id) linkTo(row(links, "← " + e.label, ""), e.source);
    });
    var h5 = document.createElement("h3"); h5.textContent = UI.sources; box.appendChild(h5);
    var sources = document.createElement("ul"); sources.id = "details-sources"; box.appendChild(sources);
    String(n.data.source || "").split(/\s+/).filter(Boolean).forEach(function (s) {
      var li = document.createElement("li"), src = byId[s];
      if (src) {
        linkTo(li, s);
        var bits = [src.data.headline, src.data.datePublished].filter(Boolean);
        if (bits.length) li.appendChild(document.createTextNode(" — " + bits.join(", ")));
      } else { li.textContent = s; }
      sources.appendChild(li);
    });
  }
  function select(id) {
    if (!byId[id]) return;
    state.node = id;
    cy.elements().removeClass("near").unselect();
    var ele = cy.getElementById(id); ele.select(); ele.connectedEdges().addClass("near");
    showDetails(id);
    writeHash();
  }

  function writeHash() {
    var p = new URLSearchParams();
    if (state.q) p.set("q", state.q);
    if (state.cls) p.set("class", state.cls);
    if (state.region) p.set("region", state.region);
    if (state.node) p.set("node", state.node);
    var h = p.toString();
    try { history.replaceState(null, "", h ? "#" + h : location.pathname + location.search); } catch (e) { /* file: */ }
  }
  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    state.q = p.get("q") || ""; state.cls = p.get("class") || ""; state.region = p.get("region") || "";
    state.node = p.get("node") || "";
    $("search").value = state.q; classSel.value = state.cls; regionSel.value = state.region;
    if (classSel.value !== state.cls) state.cls = classSel.value;
    if (regionSel.value !== state.region) state.region = regionSel.value;
  }

  $("search").addEventListener("input", function () { state.q = this.value; apply(); });
  classSel.addEventListener("change", function () { state.cls = this.value; apply(); });
  regionSel.addEventListener("change", function () { state.region = this.value; apply(); });
  cy.on("tap", "node", function (evt) { select(evt.target.id()); });
  window.addEventListener("hashchange", function () { readHash(); apply(); if (state.node) select(state.node); });

  text("node-count", cy.nodes().length);
  text("edge-count", cy.edges().length);
  text("node-word", UI.nodes); text("edge-word", UI.edges); text("shown-word", UI.shown);
  text("match-word", UI.matches);
  readHash();
  apply();
  if (state.node) select(state.node);
  window.kgPage = { cy: cy, data: DATA, state: state, apply: apply, select: select };
  document.body.setAttribute("data-ready", "1");
})();
"""

register("html", write_html, ".html")
