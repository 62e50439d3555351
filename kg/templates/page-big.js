(function () {
  "use strict";
  // The large page: sigma.js (WebGL) over a graphology graph that holds the current view, in which
  // each closed group is one node and each open group shows its members. An uncaught error is
  // written on the body's data-error attribute, where a headless browser can see it.
  window.addEventListener("error", function (e) { document.body.setAttribute("data-error", String(e.message)); });
  var DATA = JSON.parse(document.getElementById("kg-data").textContent);
  var UI = DATA.ui;
  var byId = {}, linksOf = {};
  DATA.nodes.forEach(function (n) { byId[n.id] = n; linksOf[n.id] = []; });
  DATA.edges.forEach(function (e) {
    if (linksOf[e.source]) linksOf[e.source].push(e);
    if (e.target !== e.source && linksOf[e.target]) linksOf[e.target].push(e);
  });
  var groupOf = {};  // grouping ("region" or "class") -> group id -> group
  Object.keys(DATA.groups).forEach(function (by) {
    groupOf[by] = {};
    DATA.groups[by].forEach(function (g) { groupOf[by][g.id] = g; });
  });
  function $(id) { return document.getElementById(id); }
  function text(id, value) { $(id).textContent = String(value); }
  function norm(s) { return String(s || "").normalize("NFC").toLowerCase(); }
  var GROUP = "group:";

  // Controls: classes (kinds, then specific classes), regions, the grouping.
  function option(select, value, label) {
    var o = document.createElement("option"); o.value = value; o.textContent = label; select.appendChild(o); return o;
  }
  var classSel = $("class-filter"), regionSel = $("region-filter"), bySel = $("group-by");
  option(classSel, "", UI.all_classes);
  var g1 = document.createElement("optgroup"); g1.label = UI.top_classes; classSel.appendChild(g1);
  DATA.categories.forEach(function (c) { option(g1, c.id, c.label); });
  var g2 = document.createElement("optgroup"); g2.label = UI.classes; classSel.appendChild(g2);
  DATA.types.forEach(function (t) { option(g2, t.id, t.label + " (" + t.id + ")"); });
  option(regionSel, "", UI.all_regions);
  DATA.regions.forEach(function (r) {
    option(regionSel, r.id, r.label + " (" + r.sources + " " + (r.sources === 1 ? UI.source_one : UI.sources_count) + ")");
  });
  option(regionSel, "-", UI.no_region);
  option(bySel, "region", UI.by_region); option(bySel, "class", UI.by_class);
  text("group-by-word", UI.group_by); text("expand-all", UI.expand_all); text("collapse-all", UI.collapse_all);
  DATA.categories.forEach(function (c) {
    var span = document.createElement("span"), box = document.createElement("i");
    box.style.background = c.colour; span.appendChild(box); span.appendChild(document.createTextNode(c.label));
    $("legend").appendChild(span);
  });

  function names(n) { return [n.id, n.data.label, n.data.label_en, n.data.label_ko, n.data.altLabel].map(norm); }
  function classOk(n, cls) { return !cls || n.data.type === cls || n.data.category === cls; }
  function regionOk(n, region) {
    if (!region) return true;
    if (region === "-") return !n.data.region;
    return n.data.region === region || n.id === region;
  }

  var state = { q: "", cls: "", region: "", node: "", by: "region", open: {} };
  var graph = new graphology.Graph({ type: "directed", multi: false, allowSelfLoops: false });
  var matched = {}, near = {};
  var renderer = new Sigma(graph, $("cy"), {
    renderEdgeLabels: false,
    defaultEdgeType: "arrow",
    zIndex: true,
    // Labels by zoom level: a node's label shows once it is drawn at least this many pixels wide,
    // and at most labelDensity labels per grid cell, the largest nodes first (groups before members).
    labelRenderedSizeThreshold: 7,
    labelDensity: 0.4,
    labelGridCellSize: 90,
    labelFont: "Noto Sans CJK KR, NanumGothic, sans-serif",
    labelSize: 12,
    minCameraRatio: 0.005,
    maxCameraRatio: 4,
    nodeReducer: function (id, attrs) {
      var out = Object.assign({}, attrs), q = state.q !== "";
      if (matched[id]) { out.color = "#d62728"; out.forceLabel = true; out.zIndex = 2; out.highlighted = true; }
      else if (id === state.node) { out.highlighted = true; out.forceLabel = true; out.zIndex = 2; }
      else if (near[id]) { out.forceLabel = true; out.zIndex = 1; }
      else if (q || state.node) { out.color = "#ddd"; out.label = attrs.group ? attrs.label : ""; }
      return out;
    },
    edgeReducer: function (id, attrs) {
      if (!state.node) return attrs;
      var ends = graph.extremities(id);
      if (ends[0] === state.node || ends[1] === state.node) return Object.assign({}, attrs, { color: "#333", size: 2, zIndex: 1 });
      return Object.assign({}, attrs, { hidden: true });
    }
  });

  // Positions: the groups' centres come from a ForceAtlas2 run over the overview; a member starts on
  // a spiral around its group's centre, then ForceAtlas2 moves the members just placed (all else
  // stays put, so opening a group leaves the rest of the picture where it was) in short steps.
  var pos = {}, centres = {}, fresh = {};
  function fa2Settings(g) {
    var s = forceAtlas2.inferSettings(g);
    s.barnesHutOptimize = g.order > 1000;
    return s;
  }
  function centresOf(by) {
    if (centres[by]) return centres[by];
    var overview = new graphology.Graph({ type: "undirected", multi: false });
    var ids = DATA.groups[by].map(function (g) { return g.id; });
    ids.forEach(function (id, i) {
      var a = 2 * Math.PI * i / ids.length;
      overview.addNode(id, { x: 100 * Math.cos(a), y: 100 * Math.sin(a), size: 1 });
    });
    DATA.edges.forEach(function (e) {
      var a = byId[e.source], b = byId[e.target];
      if (!a || !b) return;
      var ga = a.groups[by], gb = b.groups[by];
      if (ga === gb) return;
      if (overview.hasEdge(ga, gb)) overview.updateEdgeAttribute(ga, gb, "links", function (k) { return k + 1; });
      else overview.addEdge(ga, gb, { links: 1 });
    });
    overview.forEachEdge(function (edge, a) { overview.setEdgeAttribute(edge, "weight", 1 + Math.log2(a.links)); });
    // LinLog without strong gravity: groups that share many links sit together, the rest apart.
    var settings = fa2Settings(overview);
    settings.linLogMode = true; settings.strongGravityMode = false; settings.gravity = 1; settings.scalingRatio = 20;
    forceAtlas2.assign(overview, { iterations: 300, settings: settings });
    var out = {};
    overview.forEachNode(function (id, a) { out[id] = { x: a.x, y: a.y }; });
    centres[by] = out;
    return out;
  }
  function spread(by) {  // a typical distance between two groups' centres
    var c = centresOf(by), xs = [], ys = [];
    Object.keys(c).forEach(function (id) { xs.push(c[id].x); ys.push(c[id].y); });
    var w = Math.max.apply(null, xs) - Math.min.apply(null, xs), h = Math.max.apply(null, ys) - Math.min.apply(null, ys);
    return Math.max(w, h, 1) / Math.max(Math.sqrt(xs.length), 1);
  }
  function placeMembers(gid, members) {
    var c = centresOf(state.by)[gid] || { x: 0, y: 0 }, radius = 0.45 * spread(state.by), golden = Math.PI * (3 - Math.sqrt(5));
    members.forEach(function (id, i) {
      if (pos[id]) return;
      fresh[id] = true;
      var r = radius * Math.sqrt((i + 0.5) / members.length), a = i * golden;
      pos[id] = { x: c.x + r * Math.cos(a), y: c.y + r * Math.sin(a) };
    });
  }

  var visible = [], layoutRun = 0;
  function viewOf(n) { var g = n.groups[state.by]; return state.open[g] ? n.id : GROUP + g; }
  function rebuild() {
    visible = DATA.nodes.filter(function (n) { return classOk(n, state.cls) && regionOk(n, state.region); });
    var members = {}, counts = {}, c = centresOf(state.by);
    visible.forEach(function (n) {
      var g = n.groups[state.by];
      if (state.open[g]) (members[g] = members[g] || []).push(n.id);
      else counts[g] = (counts[g] || 0) + 1;
    });
    fresh = {};
    Object.keys(members).forEach(function (g) { placeMembers(g, members[g]); });
    graph.clear();
    Object.keys(counts).sort().forEach(function (g) {
      var group = groupOf[state.by][g], p = pos[GROUP + g] || c[g];
      graph.addNode(GROUP + g, { x: p.x, y: p.y, size: 4 + 1.5 * Math.log2(1 + counts[g]), color: group.colour,
                                 label: group.label + " (" + counts[g] + ")", group: g, count: counts[g], fixed: true });
    });
    visible.forEach(function (n) {
      if (!state.open[n.groups[state.by]]) return;
      graph.addNode(n.id, { x: pos[n.id].x, y: pos[n.id].y, size: 3, color: n.colour,
                            label: String(n.data.label || n.id), fixed: !fresh[n.id] });
    });
    DATA.edges.forEach(function (e) {
      var a = byId[e.source], b = byId[e.target];
      if (!a || !b) return;
      var va = viewOf(a), vb = viewOf(b);
      if (va === vb || !graph.hasNode(va) || !graph.hasNode(vb)) return;
      if (graph.hasEdge(va, vb)) {
        var w = graph.getEdgeAttribute(va, vb, "weight") + 1;
        graph.setEdgeAttribute(va, vb, "weight", w);
        graph.setEdgeAttribute(va, vb, "size", Math.min(0.5 + Math.log2(w) / 2, 3));
      } else {
        graph.addEdge(va, vb, { weight: 1, size: 0.5, color: e.inferred ? "#ddd" : "#ccc" });
      }
    });
    var groups = Object.keys(counts).length;
    text("visible-count", visible.length);
    text("group-count", groups);
    document.body.setAttribute("data-view-nodes", String(graph.order - groups));
    document.body.setAttribute("data-view-groups", String(groups));
    document.body.setAttribute("data-view-edges", String(graph.size));
    document.body.setAttribute("data-open", Object.keys(state.open).sort().join(" "));
    search();
    relayout();
  }
  // ForceAtlas2 over the view in steps of a few iterations, so the page stays responsive.
  function relayout() {
    var run = ++layoutRun, left = Object.keys(fresh).length && graph.order > 1 ? (graph.order > 3000 ? 40 : 80) : 0;
    var settings = fa2Settings(graph);
    document.body.setAttribute("data-layout", "running");
    function step() {
      if (run !== layoutRun) return;
      if (left > 0) {
        forceAtlas2.assign(graph, { iterations: Math.min(left, 5), settings: settings });
        left -= 5;
        graph.forEachNode(function (id, a) { pos[id] = { x: a.x, y: a.y }; });
      }
      if (left > 0) { setTimeout(step, 0); return; }
      document.body.setAttribute("data-layout", "done");
      if (replay) { var g = replay; replay = ""; renderer.refresh(); clickAt(GROUP + g); }
    }
    setTimeout(step, 0);
  }

  function search() {
    var q = norm(state.q).trim(), list = $("match-list"), hits = [];
    matched = {};
    if (q) {
      visible.forEach(function (n) {
        if (names(n).some(function (s) { return s.indexOf(q) >= 0; })) { hits.push(n); matched[viewOf(n)] = true; }
      });
    }
    while (list.firstChild) list.removeChild(list.firstChild);
    hits.sort(function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; });
    hits.slice(0, 500).forEach(function (n) {
      var li = document.createElement("li"); li.className = "link"; li.setAttribute("data-id", n.id);
      li.textContent = String(n.data.label || n.id);
      li.addEventListener("click", function () { select(n.id); });
      list.appendChild(li);
    });
    text("match-count", hits.length);
    text("matches-heading", q ? UI.matches + ": " + hits.length : "");
    renderer.refresh();
    writeHash();
  }

  var showDetails = kgDetails({ data: DATA, byId: byId, select: function (id) { select(id); },
                                edgesOf: function (id) { return linksOf[id]; } });
  function open(g) {
    if (!groupOf[state.by][g] || state.open[g]) return;
    state.open[g] = true;
    rebuild();
  }
  function select(id) {
    var n = byId[id];
    if (!n) return;
    state.node = id;
    if (!state.open[n.groups[state.by]]) open(n.groups[state.by]);
    near = {};
    if (graph.hasNode(id)) graph.forEachNeighbor(id, function (m) { near[m] = true; });
    showDetails(id);
    renderer.refresh();
    writeHash();
  }

  function writeHash() {
    kgWriteHash(state, [["by", state.by === "region" ? "" : state.by], ["open", Object.keys(state.open).sort().join(",")]]);
  }
  var replay = "";
  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    state.q = p.get("q") || ""; state.cls = p.get("class") || ""; state.region = p.get("region") || "";
    state.node = p.get("node") || "";
    state.by = p.get("by") === "class" ? "class" : "region";
    state.open = {};
    (p.get("open") || "").split(",").forEach(function (g) { if (groupOf[state.by][g]) state.open[g] = true; });
    replay = p.get("click") || "";
    $("search").value = state.q; classSel.value = state.cls; regionSel.value = state.region; bySel.value = state.by;
    if (classSel.value !== state.cls) state.cls = classSel.value;
    if (regionSel.value !== state.region) state.region = regionSel.value;
  }
  // #click=GROUP replays a person's click on that group's node once the layout has settled: mouse
  // events on sigma's canvas at the point where the node is drawn, so sigma's own picking decides
  // what was clicked.
  function clickAt(viewId) {
    if (!graph.hasNode(viewId)) return;
    var target = renderer.getContainer().querySelector(".sigma-mouse") || renderer.getContainer();
    var a = graph.getNodeAttributes(viewId), p = renderer.graphToViewport({ x: a.x, y: a.y }), box = target.getBoundingClientRect();
    var at = { clientX: box.left + p.x, clientY: box.top + p.y, bubbles: true, cancelable: true, button: 0 };
    target.dispatchEvent(new MouseEvent("mousemove", at));
    target.dispatchEvent(new MouseEvent("mousedown", at));
    target.dispatchEvent(new MouseEvent("mouseup", at));
    target.dispatchEvent(new MouseEvent("click", at));
  }

  renderer.on("clickNode", function (e) {
    var g = graph.getNodeAttribute(e.node, "group");
    if (g) open(g); else select(e.node);
  });
  renderer.on("clickStage", function () {
    if (!state.node) return;
    state.node = ""; near = {}; renderer.refresh(); writeHash();
  });
  $("search").addEventListener("input", function () { state.q = this.value; search(); });
  classSel.addEventListener("change", function () { state.cls = this.value; rebuild(); });
  regionSel.addEventListener("change", function () { state.region = this.value; rebuild(); });
  bySel.addEventListener("change", function () { state.by = this.value; state.open = {}; pos = {}; rebuild(); writeHash(); });
  $("expand-all").addEventListener("click", function () {
    DATA.groups[state.by].forEach(function (g) { state.open[g.id] = true; }); rebuild();
  });
  $("collapse-all").addEventListener("click", function () { state.open = {}; rebuild(); });
  window.addEventListener("hashchange", function () {
    readHash(); pos = {}; rebuild(); if (state.node) select(state.node);
  });

  text("node-count", DATA.nodes.length);
  text("edge-count", DATA.edges.length);
  text("node-word", UI.nodes); text("edge-word", UI.edges); text("shown-word", UI.shown);
  text("group-word", UI.groups); text("match-word", UI.matches);
  readHash();
  rebuild();
  if (state.node) select(state.node);
  window.kgPage = { graph: graph, renderer: renderer, data: DATA, state: state, rebuild: rebuild, select: select, open: open };
  document.body.setAttribute("data-ready", "1");
})();
