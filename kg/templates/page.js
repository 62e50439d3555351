
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("kg-data").textContent);
  var UI = DATA.ui;
  var byId = {};
  DATA.nodes.forEach(function (n) { byId[n.id] = n; });
  function $(id) { return document.getElementById(id); }
  function text(id, value) { $(id).textContent = String(value); }
  function norm(s) { return String(s || "").normalize("NFC").toLowerCase(); }

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
    container: $("cy"), elements: elements,
    // The written positions are the start; cose spreads the clusters over the whole view
    // (randomize off: the same page always draws the same picture).
    layout: elements.length <= 4000
      ? { name: "cose", randomize: false, animate: false, fit: true, padding: 30, nodeRepulsion: function () { return 8000; },
          idealEdgeLength: function () { return 60; }, numIter: 1500 }
      : { name: "preset", fit: true, padding: 30 },
    wheelSensitivity: 0.3, minZoom: 0.05, maxZoom: 6,
    style: [
      { selector: "node", style: { "background-color": "data(colour)", "label": "data(label)", "font-size": 9, "min-zoomed-font-size": 7,
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
  DATA.regions.forEach(function (r) {  // with how many sources cover the region
    option(regionSel, r.id, r.label + " (" + r.sources + " " + (r.sources === 1 ? UI.source_one : UI.sources_count) + ")");
  });
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
    $("match-part").hidden = !q;  // no count of matches before there is a search
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

  var showDetails = kgDetails({ data: DATA, byId: byId, select: function (id) { select(id); },
                                edgesOf: function () { return DATA.edges; } });
  function select(id) {
    if (!byId[id]) return;
    state.node = id;
    cy.elements().removeClass("near").unselect();
    var ele = cy.getElementById(id); ele.select(); ele.connectedEdges().addClass("near");
    showDetails(id);
    writeHash();
  }

  function writeHash() { kgWriteHash(state); }
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
