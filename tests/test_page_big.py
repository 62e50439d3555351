"""kg export --format html for a graph too big to read at once: sigma.js (WebGL), an overview of groups.

The graph is synthetic and built here (regions of members linked in a chain), so every expected
count is known; Chromium checks that the page draws on sigma's canvases without a JS error and that
a click on a group opens it.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import networkx as nx
import pytest
from systools import chromium, colours, read_png

import kg.page as page_module
from kg.export import ExportOptions, export_bytes
from kg.page import BIG_PAGE_NODES, is_big

REGIONS, MEMBERS, CONCEPTS = 30, 110, 50
KINDS = ("kg:Agent", "kg:Initiative", "kg:Event")
# Software WebGL in headless Chromium is an opt-in (--disable-gpu leaves no GPU).
WEBGL = "--enable-unsafe-swiftshader"


def region(r: int) -> str:
    return f"kgd:region-{r:02d}"


def member(r: int, i: int) -> str:
    return f"kgd:region-{r:02d}-thing-{i:03d}"


def big_graph() -> nx.MultiDiGraph:
    """REGIONS provinces of MEMBERS members each (a chain, each located in its province) and
    CONCEPTS concepts with no region."""
    graph = nx.MultiDiGraph(lang="en")
    for r in range(REGIONS):
        graph.add_node(region(r), label=f"Region {r:02d}", category="kg:Place", type="kg:Province", region="")
        for i in range(MEMBERS):
            kind = KINDS[i % 3]
            label = f"Thing {r}-{i}" + (" 군산" if i == 7 else "")
            graph.add_node(member(r, i), label=label, category=kind, type=kind, region=region(r), source="")
            graph.add_edge(member(r, i), region(r), key="kg:locatedIn", label="located in", inferred=False)
            if i:
                graph.add_edge(member(r, i), member(r, i - 1), key="kg:partOf", label="part of", inferred=False)
        graph.add_edge(region(r), region((r + 1) % REGIONS), key="kg:adjacentTo", label="adjacent to", inferred=False)
    for c in range(CONCEPTS):
        concept = f"kgc:concept-{c:02d}"
        graph.add_node(concept, label=f"Concept {c}", category="kg:TechnologyField", type="kg:TechnologyField")
        graph.add_edge(member(c % REGIONS, 0), concept, key="kg:field", label="field", inferred=False)
    return graph


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    graph = big_graph()
    path = tmp_path_factory.mktemp("big") / "big.html"
    path.write_bytes(export_bytes("html", graph, ExportOptions()))
    return graph, path


def page_json(text: str) -> dict:
    return json.loads(re.search(r'<script id="kg-data" type="application/json">(.*?)</script>', text, re.S).group(1))


def body(html: str) -> dict[str, str]:
    """The attributes of the dumped page's <body>."""
    tag = re.search(r"<body ([^>]*)>", html).group(1)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def test_the_threshold():
    graph = big_graph()
    assert graph.number_of_nodes() == REGIONS * (MEMBERS + 1) + CONCEPTS == 3380 > BIG_PAGE_NODES
    assert is_big(graph) and not is_big(nx.MultiDiGraph(graph.subgraph(list(graph)[:BIG_PAGE_NODES])))


def test_big_page_embeds_sigma_and_its_licences(big):
    _, path = big
    text = path.read_text(encoding="utf-8")
    assert '<body data-ready="0" data-renderer="sigma">' in text
    assert "cytoscape" not in text.lower()
    # The bundle, and the licence of each package in it.
    assert page_module.sigma_script().replace("</script", "<\\/script") in text
    for package in ("events 3.3.0", "graphology 0.26.0", "graphology-layout-forceatlas2 0.10.1", "sigma 3.0.2"):
        assert f"== {package} (MIT) ==" in text
    assert "Copyright (C) 2013-2025, Alexis Jacomy, Guillaume Plique, Benoît Simard" in text
    assert "Copyright (c) 2017-2021 Guillaume Plique (Yomguithereal)" in text  # ForceAtlas2
    assert text.count("Permission is hereby granted, free of charge") == 5
    assert "default-src 'none'" in text
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)


def test_big_page_json_has_the_nodes_and_groups(big):
    graph, path = big
    data = page_json(path.read_text(encoding="utf-8"))
    assert [n["id"] for n in data["nodes"]] == sorted(graph.nodes)
    assert len(data["edges"]) == graph.number_of_edges() == REGIONS * (MEMBERS + MEMBERS - 1 + 1) + CONCEPTS
    assert not any("x" in n or "y" in n for n in data["nodes"])  # the browser lays the graph out
    by_region = {g["id"]: g["count"] for g in data["groups"]["region"]}
    # A province's group holds it and its members; the concepts, with no region, group by kind.
    assert by_region == {**{f"r:{region(r)}": MEMBERS + 1 for r in range(REGIONS)}, "k:kg:TechnologyField": CONCEPTS}
    labels = {g["id"]: g["label"] for g in data["groups"]["region"]}
    assert labels["r:kgd:region-03"] == "Region 03"
    assert labels["k:kg:TechnologyField"] == "kg:TechnologyField (no region)"
    by_class = {g["id"]: g["count"] for g in data["groups"]["class"]}
    expected = Counter(f"c:{d['category']}" for _, d in graph.nodes(data=True))
    assert by_class == dict(expected) and by_class["c:kg:Place"] == REGIONS
    node = {n["id"]: n for n in data["nodes"]}
    assert node[member(3, 5)]["groups"] == {"region": "r:kgd:region-03", "class": "c:kg:Event"}
    assert node[region(3)]["groups"] == {"region": "r:kgd:region-03", "class": "c:kg:Place"}


def test_small_graphs_keep_the_cytoscape_page():
    graph = nx.MultiDiGraph(big_graph().subgraph([region(0), member(0, 0), member(0, 1)]))
    text = export_bytes("html", graph, ExportOptions()).decode("utf-8")
    assert "data-renderer" not in text and "Cytoscape Consortium" in text
    assert {"x", "y"} <= set(page_json(text)["nodes"][0]) and "groups" not in page_json(text)


def dom(path, fragment: str = "") -> str:
    return chromium(path.as_uri() + (("#" + fragment) if fragment else ""), WEBGL, "--dump-dom")


def test_chromium_draws_the_overview(big):
    _, path = big
    html = dom(path)
    attrs = body(html)
    assert "data-error" not in attrs, attrs.get("data-error")
    assert attrs["data-ready"] == "1" and attrs["data-layout"] == "done"
    assert (attrs["data-view-groups"], attrs["data-view-nodes"], attrs["data-open"]) == (str(REGIONS + 1), "0", "")
    # The overview's edges: one per linked pair of groups and direction (the chain of provinces,
    # and the concepts of the members of the first CONCEPTS provinces, modulo REGIONS).
    assert attrs["data-view-edges"] == str(REGIONS + REGIONS)
    for layer in ("edges", "nodes", "labels", "mouse"):
        assert f'<canvas class="sigma-{layer}"' in html


def test_chromium_click_on_a_group_opens_it(big):
    _, path = big
    attrs = body(dom(path, "click=r:kgd:region-03"))
    assert "data-error" not in attrs, attrs.get("data-error")
    assert attrs["data-open"] == "r:kgd:region-03"
    assert (attrs["data-view-groups"], attrs["data-view-nodes"]) == (str(REGIONS), str(MEMBERS + 1))


def test_chromium_opens_a_searched_node(big):
    _, path = big
    html = dom(path, "q=%EA%B5%B0%EC%82%B0&node=" + member(4, 7))  # 군산
    attrs = body(html)
    assert "data-error" not in attrs, attrs.get("data-error")
    assert attrs["data-open"] == "r:kgd:region-04"
    assert re.search(r'<span id="match-count">(\d+)</span>', html).group(1) == str(REGIONS)
    assert '<h2 id="details-title">Thing 4-7 군산</h2>' in html


def test_screenshot_of_the_overview(big, tmp_path):
    _, path = big
    shot = tmp_path / "big.png"
    chromium(path.as_uri(), WEBGL, f"--screenshot={shot}", "--window-size=1280,900")
    assert read_png(shot)[:2] == (1280, 900)
    assert len(colours(shot)) > 50


def test_cli_warns_about_a_page_too_big_to_read(kg, articles_cache, tmp_path, monkeypatch):
    monkeypatch.setattr(page_module, "BIG_PAGE_NODES", 5)
    out = tmp_path / "all.html"
    result = kg("export", "--format", "html", "-o", str(out))
    assert result.exit_code == 0
    nodes = len(page_json(out.read_text(encoding="utf-8"))["nodes"])
    assert result.stderr.splitlines()[-1] == (
        f"warning: {nodes} nodes are too many to read on one page (more than 5): it opens on an overview "
        "of groups to expand; for a readable page export a part with --region PLACE or --class CLASS"
    )
