"""kg render: Graphviz pictures read back (SVG parsed as XML, PNG decoded), Hangul fonts, bad input."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import networkx as nx
import pytest
from systools import colours, read_png, require_hangul_font, require_tool

from kg import analyze as A
from kg import render as R
from kg.namespaces import KGD
from kg.project import project
from kg.regions import resolve_place
from kg.styles import category_labels

SVG = "{http://www.w3.org/2000/svg}"


def svg_nodes(data: bytes) -> dict[str, str]:
    """Graphviz SVG: node id -> all text drawn in the node."""
    root = ET.fromstring(data)
    return {
        g.find(f"{SVG}title").text: " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
    }


def test_value_chain_ring_svg(articles_kg):
    require_tool("dot")
    cov = A.coverage(articles_kg, resolve_place(articles_kg, "Gunsan"))
    nodes = svg_nodes(R.run_graphviz(R.value_chain_dot(cov, lang="en"), "svg"))
    stages = {k: v for k, v in nodes.items() if k.startswith("s")}
    assert sorted(stages, key=lambda k: int(k[1:])) == [f"s{i}" for i in range(1, 13)]  # the group is not drawn
    assert stages["s1"] == "1. Raw materials and minerals 원료·광물 1 with evidence"
    assert stages["s4"].endswith("no evidence in the sources") and stages["s7"].endswith("1 with evidence")
    assert nodes["centre"] == "Gunsan 군산시 Battery value chain 5 of 12 stages with evidence 1 source"
    dot = R.value_chain_dot(cov, lang="ko")
    assert "s11 -> s1;" in dot and "s11 -> s2;" in dot  # recycling feeds back
    assert "출처에 근거 없음" in dot and "gap" not in R.value_chain_dot(cov).casefold()


def test_matrix_svg_is_a_heat_map_of_regions_and_stages(articles_kg):
    require_tool("dot")
    matrix = A.coverage_matrix(articles_kg)
    svg = R.run_graphviz(R.matrix_dot(matrix, lang="en"), "svg")
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text") if (t.text or "").strip()]  # blank cells: no evidence
    # Header, then per region its name, its sources and the non-zero evidence counts, in stage order.
    assert texts[:2] == [
        "Battery value chain: evidence in the sources by region and stage (blank: no evidence in the sources)",
        "Region",
    ]
    assert texts[texts.index("Daejeon") : texts.index("Daejeon") + 3] == ["Daejeon", "1", "1"]
    jeonbuk = texts.index("Jeonbuk State")
    assert texts[jeonbuk : jeonbuk + 8] == ["Jeonbuk State", "1", "1", "2", "2", "2", "1", "1"]
    fills = {p.get("fill") for p in root.iter(f"{SVG}polygon")}
    assert {"#f2f2f2", "#c7e9c0", "#74c476"} <= fills  # no evidence, 1, 2
    assert "출처에 근거 없음" in R.matrix_dot(matrix, lang="ko")


def test_graph_svg_has_every_node_and_a_legend(articles_kg, articles_dataset):
    require_tool("dot")
    graph = project(articles_dataset, region=KGD.daejeon, lang="ko")
    labels = category_labels(articles_kg.ontology)
    nodes = svg_nodes(R.run_graphviz(R.graph_dot(graph, lang="ko", title="대전", labels=labels), "svg"))
    drawn = {k: v for k, v in nodes.items() if k.startswith("n")}
    legend = {k: v for k, v in nodes.items() if k.startswith("legend")}
    assert len(drawn) == graph.number_of_nodes() and graph.number_of_nodes() > 0
    categories = {d["category"] for _, d in graph.nodes(data=True)}
    assert sorted(legend.values()) == sorted(labels[c][1] for c in categories)
    assert labels["kg:Agent"] == ("Agent", "행위자")  # the ontology's own rdfs:label
    assert any("대전광역시" in text for text in drawn.values())


def test_dot_escaping_survives_hostile_labels():
    require_tool("dot")
    graph = nx.MultiDiGraph()
    graph.add_node("kgd:a", label='quote " back\\slash \\N <b>&', category="kg:Place")
    graph.add_node("kgd:b", label="군산\nline", category="kg:Agent")
    graph.add_edge("kgd:a", "kgd:b", key="kg:x", label='"}; evil', inferred=True)
    nodes = svg_nodes(R.run_graphviz(R.graph_dot(graph), "svg"))
    assert nodes["n0"] == 'quote " back\\slash \\N <b>&'
    assert nodes["n1"] == "군산 line"


def test_cli_png_pictures(kg, articles_cache, tmp_path):
    require_tool("dot")
    require_hangul_font()
    ring, picture, heat = tmp_path / "ring.png", tmp_path / "gunsan.png", tmp_path / "matrix.png"
    result = kg("--engine", "reference", "render", "--value-chain", "--region", "군산", "-o", str(ring))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"drew the value chain of Gunsan (5 of 12 stages with evidence) to {ring}\n"
    result = kg("--engine", "reference", "render", "--region", "Gunsan", "--lang", "ko", "-o", str(picture))
    assert result.exit_code == 0, result.output
    result = kg("--engine", "reference", "render", "--matrix", "-o", str(heat))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"drew the evidence matrix of 2 regions and 13 stages to {heat}\n"
    for path in (ring, picture, heat):
        width, height, _ = read_png(path)
        assert width > 400 and height > 400
        assert len(colours(path)) > 8  # not blank: fills, text and arrows


def test_hangul_font_is_what_graphviz_uses():
    fonts = require_hangul_font()
    assert R.FONT in fonts or any(f in fonts for f in R.FONT_FALLBACKS)


def test_missing_dot_is_one_line(kg, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    out = tmp_path / "x.png"
    result = kg("render", "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: Graphviz `dot` not found on PATH; install Graphviz "
        "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-o", "x.gif"],
            "Error: cannot tell the picture format of 'x.gif'; use a .svg or .png file name (or --format)",
        ),
        (["-o", "x.png", "--value-chain"], "Error: --value-chain needs --region PLACE (e.g. --region Gunsan)"),
        (
            ["-o", "x.png", "--matrix", "--value-chain"],
            "Error: --value-chain and --matrix draw different pictures; give one of them",
        ),
        (
            ["-o", "x.png", "--matrix", "--region", "Gunsan"],
            "Error: --matrix draws every region; it takes no --region, --class, --focus or --inferred",
        ),
        (["-o", "x.png", "--region", "Atlantis"], "Error: unknown region 'Atlantis'"),
        (["-o", "x.png", "--focus", "kgd:nothing"], "Error: unknown entity 'kgd:nothing'"),
        (["-o", "x.png", "--value-chain", "--region", "Atlantis"], "Error: unknown region 'Atlantis'"),
        (["-o", "no-such-dir/x.png"], "Error: cannot write no-such-dir/x.png: no-such-dir does not exist"),
    ],
)
def test_bad_input(kg, articles_cache, tmp_path, monkeypatch, args, message):
    require_tool("dot")
    monkeypatch.chdir(tmp_path)
    result = kg("--engine", "reference", "render", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file left
