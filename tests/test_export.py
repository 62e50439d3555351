"""kg export: every format read back by an independent reader, schema-valid, deterministic."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path

import igraph
import networkx as nx
import pyoxigraph as ox
import pytest
from lxml import etree
from pyld import jsonld
from rdflib import XSD, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from kg.export import EXPORTS, GEXF_NS, GRAPHML_NS, ExportOptions, export_bytes, write_export
from kg.graph import KnowledgeGraph
from kg.namespaces import KGD
from kg.project import Projection, class_hierarchy, project, projection, rdf_of
from kg.styles import STYLES

SCHEMAS = Path(__file__).parent / "schemas"
OURS = ["graphml", "gexf", "cytoscape", "d3", "dot", "csv", "ttl", "nt", "jsonld"]
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
KG_SOURCE = "https://w3id.org/battery-kg/ontology#source"
LABELS = ("http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2004/02/skos/core#prefLabel")


@pytest.fixture(scope="module")
def gunsan(articles_kg):
    return project(articles_kg, region=KGD.gunsan)


@pytest.fixture(scope="module")
def options(articles_kg):
    return ExportOptions(source=articles_kg)


def _labels(graph: nx.Graph, key: str = "label_ko") -> dict[str, str]:
    return {n: d[key] for n, d in graph.nodes(data=True)}


def _edge_triples(graph: nx.Graph) -> set[tuple[str, str, str]]:
    return {(u, v, d["property"]) for u, v, d in graph.edges(data=True)}


def test_every_format_is_registered():
    assert OURS
    assert set(OURS) <= set(EXPORTS)


@pytest.fixture(scope="module")
def two_runs(articles_kg):
    """The same subgraph projected twice, independently."""
    return [project(articles_kg, region=KGD.gunsan, inferred=True) for _ in range(2)]


@pytest.mark.parametrize("fmt", OURS)
def test_output_is_byte_identical_across_runs(articles_dataset, two_runs, fmt):
    layout = ExportOptions(dataset=articles_dataset, layout=True)
    first, second = (export_bytes(fmt, graph, layout) for graph in two_runs)
    assert first == second
    assert b"2025-1" not in first.split(b"\n", 3)[0]  # no timestamp in a header line


# ---------------------------------------------------------------- XML formats and their schemas


def _schema(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


def test_graphml_is_schema_valid_and_reads_back(gunsan, options, tmp_path):
    data = export_bytes("graphml", gunsan, options)
    _schema(SCHEMAS / "graphml" / "graphml.xsd").assertValid(etree.fromstring(data))
    path = tmp_path / "gunsan.graphml"
    path.write_bytes(data)
    back = nx.read_graphml(path)
    assert (back.number_of_nodes(), back.number_of_edges()) == (35, 61)
    assert _labels(back) == _labels(gunsan)
    assert back.nodes["kgd:gunsan"]["label_ko"] == "군산시"
    assert back.nodes["kgd:gunsan-analysis-centre-project"]["totalBudget"] == 36900000000
    assert {(u, v, d["property"]) for u, v, d in back.edges(data=True)} == _edge_triples(gunsan)
    # igraph reads GraphML with its own (libxml2-based) parser.
    other = igraph.Graph.Read_GraphML(str(path))
    assert (other.vcount(), other.ecount()) == (35, 61)
    assert {v["id"]: v["label_ko"] for v in other.vs} == _labels(gunsan)
    assert {(other.vs[e.source]["id"], other.vs[e.target]["id"], e["property"]) for e in other.es} == _edge_triples(
        gunsan
    )


def test_every_asserted_edge_names_the_sources_that_make_it(gunsan, options, tmp_path):
    back = nx.read_graphml(io.BytesIO(export_bytes("graphml", gunsan, options)))
    said = {(u, v, d["property"]): d.get("sources", "") for u, v, d in back.edges(data=True)}
    gunsan_article = "kgd:article-newsstep-2025-10-01-gunsan"
    assert said["kgd:gunsan-analysis-centre-project", "kgd:motie", "kg:selectedBy"] == gunsan_article  # A4
    # Links between the ontology's own concepts come from no source.
    assert said["kgc:stage-precursor", "kgc:stage-cathode-material", "kg:feedsInto"] == ""
    assert {v for (u, _, _), v in said.items() if u.startswith("kgd:")} == {gunsan_article}


def test_a_shared_file_credits_the_sources_its_subject_cites(articles_dataset):
    # korea.ttl cites both articles; MOTIE cites the Gunsan one, so its statement there is that one's.
    graph = project(articles_dataset)
    assert graph.edges["kgd:motie", "kgd:south-korea", "kg:areaServed"]["sources"] == (
        "kgd:article-newsstep-2025-10-01-gunsan"
    )


def test_edges_of_a_national_source_name_that_source(bundled_kg):
    """Scoped to one source's statements, so other sources do not change the answer."""
    graph = project(bundled_kg.rdflib, region=KGD["pohang"])
    source = "kgd:source-2023-07-13-kukinews-ecopro-blue-valley-mou"
    edges = {(u, v, k): d["sources"].split() for u, v, k, d in graph.edges(keys=True, data=True)}
    campus = [key for key in edges if key[0] == "kgd:ecopro-blue-valley-cathode-campus"]
    assert campus and all(source in edges[key] for key in campus)


def test_class_hierarchy_graphml_is_valid(articles_dataset, options):
    tree = class_hierarchy(articles_dataset, lang="ko")
    data = export_bytes("graphml", tree, options)
    _schema(SCHEMAS / "graphml" / "graphml.xsd").assertValid(etree.fromstring(data))
    back = nx.read_graphml(io.BytesIO(data))
    assert (back.number_of_nodes(), back.number_of_edges()) == (tree.number_of_nodes(), tree.number_of_edges())
    assert back.nodes["kg:City"]["label"] == "시"


VIZ = "http://gexf.net/1.3/viz"


def _gexf_structure(document):
    """The document without its viz elements (colour, size, position), which the GEXF 1.3 schema
    leaves undeclared in their namespace; the rest must validate."""
    copy = etree.fromstring(etree.tostring(document))
    for element in copy.findall(f".//{{{VIZ}}}*"):
        element.getparent().remove(element)
    return copy


@pytest.mark.parametrize("layout", [False, True])
def test_gexf_is_schema_valid_with_colours_and_positions(gunsan, articles_dataset, tmp_path, layout):
    data = export_bytes("gexf", gunsan, ExportOptions(dataset=articles_dataset, layout=layout))
    document = etree.fromstring(data)
    _schema(SCHEMAS / "gexf-1.3" / "gexf.xsd").assertValid(_gexf_structure(document))
    ns = {"g": "http://gexf.net/1.3", "viz": VIZ}
    nodes = document.findall(".//g:nodes/g:node", ns)
    assert len(nodes) == 35
    expected = {}
    for node in nodes:
        colour = node.find("viz:color", ns)
        hex_colour = "#{:02X}{:02X}{:02X}".format(*(int(colour.get(c)) for c in "rgb"))
        assert hex_colour == STYLES[gunsan.nodes[node.get("id")]["category"]].colour
        assert (node.find("viz:position", ns) is not None) == layout
        expected[node.get("id")] = tuple(int(colour.get(c)) for c in "rgb")
    path = tmp_path / "gunsan.gexf"
    path.write_bytes(data)
    back = nx.read_gexf(path, version="1.3")
    assert (back.number_of_nodes(), back.number_of_edges()) == (35, 61)
    assert _labels(back) == _labels(gunsan)
    assert {n: d["label"] for n, d in back.nodes(data=True)} == _labels(gunsan, "label")
    # networkx (as Gephi) reads the colours and positions back.
    colours = {n: tuple(d["viz"]["color"][c] for c in "rgb") for n, d in back.nodes(data=True)}
    assert colours == expected
    assert all(("position" in d["viz"]) == layout for _, d in back.nodes(data=True))


def test_networkx_gexf_fails_the_schema(gunsan):
    """The schema check can fail: networkx's own GEXF 1.3 writer is rejected (why kg writes its own)."""
    buffer = io.BytesIO()
    plain = nx.MultiDiGraph(gunsan)
    plain.graph = {}
    nx.write_gexf(plain, buffer, version="1.3")
    assert not _schema(SCHEMAS / "gexf-1.3" / "gexf.xsd").validate(etree.fromstring(buffer.getvalue()))


# ---------------------------------------------------------------- JSON formats


def test_cytoscape_json_reads_back(gunsan, options):
    data = json.loads(export_bytes("cytoscape", gunsan, options))
    assert set(data["elements"]) == {"nodes", "edges"}
    assert all("data" in element for element in data["elements"]["nodes"] + data["elements"]["edges"])
    back = nx.cytoscape_graph(data)
    assert (back.number_of_nodes(), back.number_of_edges()) == (35, 61)
    assert _labels(back) == _labels(gunsan)
    assert {d["name"] for _, d in back.nodes(data=True)} == set(_labels(gunsan, "label").values())


def test_d3_json_uses_links(gunsan, options):
    data = json.loads(export_bytes("d3", gunsan, options))
    assert set(data) >= {"nodes", "links"} and "edges" not in data
    ids = {node["id"] for node in data["nodes"]}
    assert all(link["source"] in ids and link["target"] in ids for link in data["links"])
    back = nx.node_link_graph(data, edges="links")
    assert (back.number_of_nodes(), back.number_of_edges()) == (35, 61)
    assert _labels(back) == _labels(gunsan)


# ---------------------------------------------------------------- Graphviz


def test_dot_is_read_by_graphviz(gunsan, options, tmp_path):
    dot = shutil.which("dot")
    assert dot, "Graphviz `dot` is needed (.ci/run installs it: apt-get install graphviz)"
    data = export_bytes("dot", gunsan, options)
    result = subprocess.run([dot, "-Tjson0"], input=data, capture_output=True, check=True, timeout=120)
    parsed = json.loads(result.stdout)
    objects = parsed["objects"]
    assert (len(objects), len(parsed["edges"])) == (35, 61)
    assert {o["name"]: o["label_ko"] for o in objects} == _labels(gunsan)
    assert {o["name"]: o["label"] for o in objects} == _labels(gunsan, "label")
    names = [o["name"] for o in objects]
    assert {(names[e["tail"]], names[e["head"]], e["property"]) for e in parsed["edges"]} == _edge_triples(gunsan)


def test_dot_quotes_awkward_labels(options):
    graph = nx.MultiDiGraph()
    graph.add_node("kgd:a", label='say "군산" \\ twice\nplease', category="kg:Place")
    graph.add_node("kgd:b", label="edge", category="kg:Agent")
    graph.add_edge("kgd:a", "kgd:b", key="kg:about", property="kg:about", label="about", inferred=False)
    result = subprocess.run(
        [shutil.which("dot") or "dot", "-Tjson0"], input=export_bytes("dot", graph, options), capture_output=True
    )
    assert result.returncode == 0, result.stderr
    labels = {o["name"]: o["label"] for o in json.loads(result.stdout)["objects"]}
    # Graphviz keeps the escapes in the label text it reports; unescape them to compare.
    assert labels["kgd:a"].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\") == (
        'say "군산" \\ twice\nplease'
    )


# ---------------------------------------------------------------- streaming

STREAMED = ["graphml", "gexf", "cytoscape", "d3", "dot", "csv"]


def _awkward() -> nx.MultiDiGraph:
    """Values every writer must escape or type: markup, quotes, newlines, tabs, Hangul, empty text, numbers."""
    graph = nx.MultiDiGraph(name='a "graph" & <more>', lang="ko", inferred=True, depth=2)
    graph.add_node("kgd:a", label='say "군산" & <twice>\nplease\ttoo', label_ko="", category="kg:Place", won=10**12)
    graph.add_node("kgd:b", label="b", category="kg:Agent", won=2.5, note="tab\tand\nline")
    graph.add_node("kgd:c")
    graph.add_edge("kgd:a", "kgd:b", key="kg:about", property="kg:about", label="about <it>", inferred=False)
    graph.add_edge("kgd:a", "kgd:b", key="kg:runBy", property="kg:runBy", label="", inferred=True, sources="")
    return graph


@pytest.mark.parametrize("fmt", STREAMED)
def test_a_streamed_file_holds_the_bytes_of_export_bytes(articles_kg, fmt, tmp_path):
    graph = projection(articles_kg, region=KGD.gunsan, inferred=True)
    options = ExportOptions(source=articles_kg, layout=True)
    suffix = ".zip" if fmt == "csv" else EXPORTS[fmt].suffixes[0]
    (path,) = write_export(fmt, graph, options, tmp_path / f"g{suffix}")
    assert path.read_bytes() == export_bytes(fmt, graph, options) == export_bytes(fmt, graph.to_networkx(), options)


def test_the_streamed_zip_is_the_zip_of_the_two_tables(gunsan, options, tmp_path):
    nodes, edges = write_export("csv", gunsan, options, tmp_path / "g.csv")
    expected = io.BytesIO()
    with zipfile.ZipFile(expected, "w") as bundle:
        for name, path in (("nodes.csv", nodes), ("edges.csv", edges)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            bundle.writestr(info, path.read_bytes())
    assert export_bytes("csv", gunsan, options) == expected.getvalue()


@pytest.mark.parametrize("fmt, namespace", [("graphml", GRAPHML_NS), ("gexf", GEXF_NS)])
@pytest.mark.parametrize("graph", [_awkward(), nx.MultiDiGraph()], ids=["awkward", "empty"])
def test_xml_is_written_as_elementtree_writes_it(fmt, namespace, graph, options):
    data = export_bytes(fmt, graph, options)
    ET.register_namespace("", namespace)
    ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
    ET.register_namespace("viz", VIZ)
    root = ET.fromstring(data)
    ET.indent(root, space="  ")
    assert ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n" == data
    label = 'say "군산" & <twice>\nplease\ttoo'
    nodes = {node.get("id"): node for node in root.iter(f"{{{namespace}}}node")}
    if not graph:
        assert nodes == {}
    elif fmt == "graphml":
        values = {n: {d.get("key"): d.text for d in node} for n, node in nodes.items()}
        assert values["kgd:a"]["n_label"] == label and values["kgd:a"]["n_label_ko"] is None
        assert values["kgd:b"]["n_note"] == "tab\tand\nline" and values["kgd:b"]["n_won"] == "2.5"
        assert values["kgd:c"] == {}
    else:
        assert {n: node.get("label") for n, node in nodes.items()} == {"kgd:a": label, "kgd:b": "b", "kgd:c": "kgd:c"}


@pytest.mark.parametrize("fmt", ["cytoscape", "d3"])
@pytest.mark.parametrize("graph", [_awkward(), nx.MultiDiGraph()], ids=["awkward", "empty"])
def test_json_is_written_as_json_dumps_writes_it(fmt, graph, options):
    data = export_bytes(fmt, graph, ExportOptions(layout=True))
    document = json.loads(data)
    assert data == (json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
    nodes = document["elements"]["nodes"] if fmt == "cytoscape" else document["nodes"]
    assert len(nodes) == graph.number_of_nodes()


def test_exports_read_the_store_and_make_no_rdflib_graph(articles_kg, tmp_path):
    fresh = KnowledgeGraph(articles_kg.engine, articles_kg.dataset, articles_kg.record)
    graph = projection(fresh, region=KGD.gunsan)
    assert isinstance(graph, Projection)
    for fmt in [*STREAMED, "ttl"]:
        suffix = EXPORTS[fmt].suffixes[0]
        write_export(fmt, graph, ExportOptions(source=fresh), tmp_path / f"g{suffix}")
    assert "rdflib" not in fresh.__dict__  # the rdflib view was never made
    from_rdflib = projection(articles_kg.rdflib, region=KGD.gunsan)
    assert from_rdflib == graph
    assert (tmp_path / "g.graphml").read_bytes() == export_bytes("graphml", from_rdflib)


# ---------------------------------------------------------------- CSV


def _read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_two_files(gunsan, options, tmp_path):
    written = write_export("csv", gunsan, options, tmp_path / "gunsan.csv")
    assert written == [tmp_path / "gunsan.csv", tmp_path / "gunsan-edges.csv"]
    nodes = _read_csv(written[0].read_bytes())
    edges = _read_csv(written[1].read_bytes())
    assert (len(nodes), len(edges)) == (35, 61)
    assert {row["id"]: row["label_ko"] for row in nodes} == _labels(gunsan)
    assert {(row["source"], row["target"], row["property"]) for row in edges} == _edge_triples(gunsan)
    centre = next(row for row in nodes if row["id"] == "kgd:gunsan-analysis-centre-project")
    assert centre["totalBudget"] == "36900000000"


def test_csv_zip(gunsan, options, tmp_path):
    written = write_export("csv", gunsan, options, tmp_path / "gunsan.zip")
    assert written == [tmp_path / "gunsan.zip"]
    with zipfile.ZipFile(written[0]) as bundle:
        assert bundle.namelist() == ["nodes.csv", "edges.csv"]
        nodes, edges = _read_csv(bundle.read("nodes.csv")), _read_csv(bundle.read("edges.csv"))
    assert (len(nodes), len(edges)) == (35, 61)
    assert {row["id"]: row["label_ko"] for row in nodes} == _labels(gunsan)


# ---------------------------------------------------------------- RDF


def _graph_counts(triples: list[tuple[str, str, str, bool]], graph: nx.Graph) -> None:
    """Nodes: typed IRI subjects; edges: triples between two of them other than rdf:type and kg:source."""
    typed = {s for s, p, o, _ in triples if p == RDF_TYPE}
    iris = {d["iri"] for _, d in graph.nodes(data=True)}
    assert typed == iris
    edges = [(s, p, o) for s, p, o, is_iri in triples if is_iri and s in typed and o in typed and p != KG_SOURCE]
    assert len(edges) == graph.number_of_edges()
    labels_ko = {s: o for s, p, o, is_iri in triples if p in LABELS and not is_iri and o in _labels(graph).values()}
    by_iri = {d["iri"]: d["label_ko"] for _, d in graph.nodes(data=True)}
    assert labels_ko == {s: by_iri[s] for s in labels_ko}
    assert set(labels_ko) == {iri for iri, label in by_iri.items() if label}


def _same_graph(data: Graph, expected: Graph) -> bool:
    """Isomorphic up to the lexical form of decimals (longturtle writes 36900000000 as 36900000000.0)."""
    return isomorphic(_normal(data), _normal(expected))


def _normal(graph: Graph) -> Graph:
    out = Graph()
    for s, p, o in graph:
        if isinstance(o, Literal) and o.datatype == XSD.decimal:
            o = Literal(format(Decimal(str(o)).normalize(), "f"), datatype=XSD.decimal)
        out.add((s, p, o))
    return out


def _ox_triples(data: bytes, fmt: ox.RdfFormat) -> list[tuple[str, str, str, bool]]:
    return [
        (t.subject.value, t.predicate.value, t.object.value, isinstance(t.object, ox.NamedNode))
        for t in ox.parse(data, format=fmt)
        if isinstance(t.subject, ox.NamedNode)  # value nodes (blank) are attributes, not nodes
    ]


@pytest.mark.parametrize("inferred", [False, True])
def test_rdf_formats_read_back(articles_dataset, options, inferred):
    graph = project(articles_dataset, inferred=inferred, classes=["kg:Project", "kg:AdministrativeArea", "kg:Ministry"])
    expected = rdf_of(articles_dataset, graph)
    ttl, nt, jsonld_bytes = (export_bytes(fmt, graph, options) for fmt in ("ttl", "nt", "jsonld"))
    # rdflib for Turtle, pyoxigraph for N-Triples and JSON-LD, pyld for JSON-LD: all the same graph.
    assert _same_graph(Graph().parse(data=ttl, format="turtle"), expected)
    assert _same_graph(Graph().parse(data=nt, format="nt"), expected)
    assert _same_graph(Graph().parse(data=jsonld_bytes, format="json-ld"), expected)
    document = json.loads(jsonld_bytes)
    assert document["@context"]["kgd"] == "https://w3id.org/battery-kg/id/"
    nquads = jsonld.to_rdf(document, {"format": "application/n-quads"})
    assert _same_graph(Graph().parse(data=nquads, format="nt"), expected)
    for data, fmt in ((nt, ox.RdfFormat.N_TRIPLES), (jsonld_bytes, ox.RdfFormat.JSON_LD), (ttl, ox.RdfFormat.TURTLE)):
        assert len(list(ox.parse(data, format=fmt))) == len(expected)
        triples = _ox_triples(data, fmt)
        _graph_counts(triples, graph)
    fundedby = (
        URIRef("https://w3id.org/battery-kg/id/gunsan-analysis-centre-project"),
        URIRef("https://w3id.org/battery-kg/ontology#fundedBy"),
        URIRef("https://w3id.org/battery-kg/id/motie"),
    )
    assert (fundedby in expected) == inferred


def test_rdf_of_region_keeps_values_and_drops_outside_links(articles_dataset, gunsan):
    triples = rdf_of(articles_dataset, gunsan)
    kgd = "https://w3id.org/battery-kg/id/"
    kg = "https://w3id.org/battery-kg/ontology#"
    budget = triples.value(URIRef(kgd + "gunsan-analysis-centre-project"), URIRef(kg + "totalBudget"))
    assert str(triples.value(budget, URIRef(kg + "value"))) == "36900000000"
    # Jeonbuk State's own triples are there, but not its link to South Korea, which is outside the subgraph.
    assert (URIRef(kgd + "jeonbuk-state"), URIRef(kg + "containedInPlace"), URIRef(kgd + "south-korea")) not in triples
    assert (URIRef(kgd + "gunsan"), URIRef(kg + "containedInPlace"), URIRef(kgd + "jeonbuk-state")) in triples


# ---------------------------------------------------------------- the command


def test_cli_export_region(kg, articles_cache, tmp_path):
    out = tmp_path / "gunsan.graphml"
    result = kg("export", "--format", "graphml", "-o", str(out), "--region", "군산")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"wrote 35 nodes and 61 edges to {out}\n"
    back = nx.read_graphml(out)
    assert back.nodes["kgd:gunsan"]["label"] == "Gunsan"


def test_cli_format_from_suffix_and_hierarchy(kg, articles_cache, tmp_path):
    out = tmp_path / "classes.gexf"
    result = kg("export", "-o", str(out), "--hierarchy", "--lang", "ko", "--layout")
    assert result.exit_code == 0, result.output
    document = etree.parse(str(out)).getroot()
    _schema(SCHEMAS / "gexf-1.3" / "gexf.xsd").assertValid(_gexf_structure(document))
    assert document.find(".//{http://gexf.net/1.3}node[@id='kg:City']").get("label") == "시"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "pdf"], "Error: unknown export format 'pdf'; use one of csv, cytoscape, d3, dot, gexf, graphml"),
        (["--region", "Seoul"], "Error: unknown region 'Seoul'; use one of Daejeon (kgd:daejeon)"),
        (["--focus", "kgd:nowhere"], "Error: unknown entity 'kgd:nowhere'"),
        (["--class", "kg:Spaceship"], "Error: unknown class 'kg:Spaceship'"),
        (["--hierarchy", "--region", "Gunsan"], "Error: --hierarchy exports the class hierarchy"),
    ],
)
def test_cli_bad_input(kg, articles_cache, tmp_path, args, message):
    out = tmp_path / "out" / "graph.graphml"
    out.parent.mkdir()
    result = kg("export", "-o", str(out), *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert list(out.parent.iterdir()) == []


def test_cli_unwritable_output_leaves_nothing(kg, articles_cache, tmp_path):
    folder = tmp_path / "missing"
    result = kg("export", "--format", "csv", "-o", str(folder / "nodes.csv"))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot write ") and result.stderr.count("\n") == 1
    assert not folder.exists()
    unknown = kg("export", "-o", str(tmp_path / "graph.xyz"))
    assert unknown.exit_code == 2 and unknown.stderr.startswith("Error: can't tell the format from")
    assert list(tmp_path.glob("graph*")) == []


def test_a_format_registered_in_one_place_reaches_help_suffixes_and_the_benchmark(kg, articles_cache, tmp_path):
    import importlib.util

    from kg.export import register

    def write_counts(graph, options):
        return f"{graph.number_of_nodes()} nodes\n".encode()

    register("counts", write_counts, (".counts",))
    try:
        assert "counts" in kg("export", "--help").stdout and ".counts" in kg("export", "--help").stdout
        out = tmp_path / "graph.counts"
        result = kg("export", "-o", str(out))  # the format from the suffix alone
        assert result.exit_code == 0, result.output
        assert out.read_text(encoding="utf-8").endswith(" nodes\n")
        spec = importlib.util.spec_from_file_location("bench_run", Path(__file__).parent.parent / "bench" / "run.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        assert "counts" in bench.export_formats()
    finally:
        EXPORTS.pop("counts")
    assert "counts" not in kg("export", "--help").stdout
