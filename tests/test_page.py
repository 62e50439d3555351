"""kg export --format html: a self-contained page, checked in headless Chromium (DOM dump and screenshot)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import networkx as nx
import pytest
from systools import chromium, colours, read_png

from kg.export import ExportOptions, export_bytes
from kg.page import embed_json
from kg.project import project


@pytest.fixture(scope="module")
def page(articles_dataset, tmp_path_factory):
    graph = project(articles_dataset)
    path = tmp_path_factory.mktemp("page") / "kg.html"
    path.write_bytes(export_bytes("html", graph, ExportOptions(dataset=articles_dataset)))
    return graph, path


def dom(path, fragment: str = "") -> str:
    return chromium(path.as_uri() + (("#" + fragment) if fragment else ""), "--dump-dom")


def span(html: str, ident: str) -> str:
    match = re.search(rf'<span id="{ident}">([^<]*)</span>', html)
    assert match, ident
    return match.group(1)


def test_page_is_self_contained(page):
    graph, path = page
    text = path.read_text(encoding="utf-8")
    assert "Copyright (c) 2016-2026, The Cytoscape Consortium." in text and "Permission is hereby granted" in text
    assert "default-src 'none'" in text  # CSP: no network at all
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)
    data = json.loads(re.search(r'<script id="kg-data" type="application/json">(.*?)</script>', text, re.S).group(1))
    assert len(data["nodes"]) == graph.number_of_nodes() and len(data["edges"]) == graph.number_of_edges()


def test_embedded_json_cannot_end_the_script():
    hostile = "</script><script>alert(1)</script><!-- \u2028 & 군산"
    text = embed_json({"label": hostile})
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == {"label": hostile}


def test_chromium_reports_the_node_count(page):
    graph, path = page
    html = dom(path)
    assert '<body data-ready="1">' in html
    assert int(span(html, "node-count")) == graph.number_of_nodes()
    assert int(span(html, "edge-count")) == graph.number_of_edges()
    assert int(span(html, "visible-count")) == graph.number_of_nodes()


def test_search_in_korean_from_the_fragment(page):
    graph, path = page
    html = dom(path, "q=" + quote("군산"))
    expected = sorted(
        n
        for n, d in graph.nodes(data=True)
        if any("군산" in str(d.get(k, "")) for k in ("label", "label_en", "label_ko", "altLabel")) or "군산" in n
    )
    found = re.findall(r'<li class="link" data-id="([^"]+)">', html)
    assert found == expected and "kgd:gunsan" in found
    assert int(span(html, "match-count")) == len(expected)


def test_no_count_of_matches_before_a_search(page):
    _, path = page
    html = dom(path)
    assert '<span id="match-part" hidden="">' in html


def test_the_readme_bookmark_opens_with_its_node_found(page):
    _, path = page
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    fragment = re.search(r"`battery-kg\.html#([^`]+)`", readme).group(1)
    html = dom(path, quote(fragment, safe="=&:"))
    found = re.findall(r'<li class="link" data-id="([^"]+)">', html)
    assert "kgd:gunsan-analysis-centre-project" in found
    assert int(span(html, "match-count")) == len(found) >= 1
    assert '<span id="match-part">' in html
    assert (
        '<h2 id="details-title">Secondary Battery Real-time Advanced Analysis Centre infrastructure project</h2>'
        in html
    )


def test_filter_by_class_and_region(page):
    graph, path = page
    html = dom(path, "class=kg:Initiative&region=kgd:daejeon")
    expected = [
        n
        for n, d in graph.nodes(data=True)
        if "kg:Initiative" in (d.get("type"), d.get("category"))
        and (d.get("region") == "kgd:daejeon" or n == "kgd:daejeon")
    ]
    assert expected and int(span(html, "visible-count")) == len(expected)


def test_clicked_node_shows_facts_and_sources(page):
    _, path = page
    html = dom(path, "node=kgd:gunsan-analysis-centre-project")
    assert (
        '<h2 id="details-title">Secondary Battery Real-time Advanced Analysis Centre infrastructure project</h2>'
        in html
    )
    assert "<td>totalBudget</td><td>36,900,000,000</td>" in html  # grouped, as the tables write amounts
    assert 'data-id="kgd:article-newsstep-2025-10-01-gunsan"' in html.split('id="details-sources"')[1]
    # Each link names the page whose statement makes it.
    links = html.split('id="details-links"')[1].split("</table>")[0]
    selected = re.search(r"<tr><td>selected by →</td><td>(.*?)</td></tr>", links).group(1)
    assert 'data-id="kgd:motie"' in selected
    assert '<span class="said-by"> — Newsstep, 2025-10-01: Gunsan leaps' in selected


def test_regions_say_how_many_sources_cover_them(page):
    _, path = page
    html = dom(path)
    options = re.findall(r'<option value="(kgd:[^"]+)">([^<]*)</option>', html)
    # The province-level regions, each covered by its one article.
    assert options == [("kgd:daejeon", "Daejeon (1 source)"), ("kgd:jeonbuk-state", "Jeonbuk State (1 source)")]


def test_hostile_labels_do_not_break_the_page(tmp_path):
    graph = nx.MultiDiGraph(lang="en")
    graph.add_node("kgd:a", label="</script><script>document.body.dataset.pwned=1</script>", category="kg:Place")
    graph.add_node("kgd:b", label="<img src=x onerror=alert(1)> 군산", category="kg:Agent")
    graph.add_edge("kgd:a", "kgd:b", key="kg:x", label="</style>", inferred=False)
    path = tmp_path / "hostile.html"
    path.write_bytes(export_bytes("html", graph))
    html = dom(path, "q=" + quote("군산"))
    assert '<body data-ready="1">' in html and "pwned" not in html.split("<body")[1].split(">")[0]
    assert span(html, "node-count") == "2" and span(html, "match-count") == "1"


def test_screenshot_is_a_picture(page, tmp_path):
    _, path = page
    shot = tmp_path / "page.png"
    chromium(path.as_uri() + "#q=" + quote("군산"), f"--screenshot={shot}", "--window-size=1280,900")
    assert read_png(shot)[:2] == (1280, 900)
    assert len(colours(shot)) > 50  # graph, labels, controls: far from a blank page


def test_first_view_spreads_the_graph_over_the_canvas(page, tmp_path):
    from PIL import Image

    _, path = page
    shot = tmp_path / "first.png"
    chromium(path.as_uri(), f"--screenshot={shot}", "--window-size=1280,900")
    with Image.open(shot) as image:
        # The graph's area: left of the details panel (940 px at this width), below the header.
        canvas = image.convert("L").crop((0, 100, 930, 880))
        box = canvas.point(lambda value: 255 if value < 200 else 0).getbbox()  # where anything is drawn
    assert box and (box[2] - box[0]) / canvas.width >= 0.65  # not a knot in the middle third
