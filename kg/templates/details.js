// The details panel, shared by the page and the large page: an entity's facts, its links each with
// the sources that make it, and its sources. `page` gives what differs: the DATA, the nodes by id,
// the edges to look at for an id, and what a click on a linked entity does.
// The view in the address's #fragment, so a bookmark reopens it: the filters both pages share, then
// the page's own `extra` [name, value] pairs (empty values left out), then the selected node.
function kgWriteHash(state, extra) {
  "use strict";
  var p = new URLSearchParams();
  if (state.q) p.set("q", state.q);
  if (state.cls) p.set("class", state.cls);
  if (state.region) p.set("region", state.region);
  (extra || []).forEach(function (pair) { if (pair[1]) p.set(pair[0], pair[1]); });
  if (state.node) p.set("node", state.node);
  var h = p.toString();
  try { history.replaceState(null, "", h ? "#" + h : location.pathname + location.search); } catch (e) { /* file: */ }
}

function kgDetails(page) {
  "use strict";
  var DATA = page.data, UI = DATA.ui, byId = page.byId;
  function $(id) { return document.getElementById(id); }
  function labelOf(id) { var n = byId[id]; return n ? String(n.data.label || id) : id; }
  // Whole numbers and decimals of five digits or more with thousands separators (36,900,000,000),
  // as kg's tables write them; years and short numbers as they are.
  function grouped(v) {
    var m = /^(-?)(\d{5,})(\.\d+)?$/.exec(String(v));
    return m ? m[1] + m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (m[3] || "") : v;
  }
  function row(table, key, value) {
    var tr = document.createElement("tr"), a = document.createElement("td"), b = document.createElement("td");
    a.textContent = key; b.textContent = String(value); tr.appendChild(a); tr.appendChild(b); table.appendChild(tr);
    return b;
  }
  function linkTo(cell, id) {
    cell.textContent = "";
    var s = document.createElement("span"); s.className = "link"; s.textContent = labelOf(id);
    s.setAttribute("data-id", id); s.addEventListener("click", function () { page.select(id); }); cell.appendChild(s);
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
      var cell = row(facts, k, grouped(v));
      if (k === "region" && byId[v]) linkTo(cell, v);
    });
    var links = document.createElement("table"); links.id = "details-links";
    var h4 = document.createElement("h3"); h4.textContent = UI.links; box.appendChild(h4); box.appendChild(links);
    function said(cell, e) {  // the pages whose statements make the link
      if (!e.sources.length) return;
      var s = document.createElement("span"); s.className = "said-by";
      s.textContent = " — " + e.sources.map(labelOf).join("; "); cell.appendChild(s);
    }
    page.edgesOf(id).forEach(function (e) {
      var cell;
      if (e.source === id) { cell = row(links, e.label + " →", ""); linkTo(cell, e.target); said(cell, e); }
      else if (e.target === id) { cell = row(links, "← " + e.label, ""); linkTo(cell, e.source); said(cell, e); }
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
  return showDetails;
}
