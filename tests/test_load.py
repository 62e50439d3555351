"""Loading: owl:imports through the local catalog, data folders, and one-line errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, Literal
from rdflib.compare import isomorphic

from conftest import DATA, KG_DATA, ONTOLOGY
from kg.engine import get_engine
from kg.errors import LoadError
from kg.load import load, load_data, load_ontology, read_catalog
from kg.namespaces import KG, KGD, KGG, OWL, RDFS


def test_ontology_follows_imports_through_the_catalog():
    loaded = load_ontology(ONTOLOGY)
    # kg.ttl first, then its imports breadth-first (sorted by IRI); valuechain's re-import of core is read once.
    assert [p.relative_to(ONTOLOGY).as_posix() for p in loaded.files] == [
        "kg.ttl",
        "alignments/schema.ttl",
        "core.ttl",
        "valuechain.ttl",
    ]
    graph = loaded.graph
    assert (KG.CellMaker, RDFS.subClassOf, KG.Company) in graph  # from valuechain.ttl
    assert (KG.locatedIn, OWL.imports, None) not in graph
    assert len(graph) == sum(len(Graph().parse(p)) for p in loaded.files)


def test_catalog_group_xml_base_is_applied():
    catalog = read_catalog(ONTOLOGY / "catalog-v001.xml")
    assert catalog == {
        "https://w3id.org/battery-kg/ontology/core": ONTOLOGY / "core.ttl",
        "https://w3id.org/battery-kg/ontology/valuechain": ONTOLOGY / "valuechain.ttl",
        "https://w3id.org/battery-kg/ontology/alignments/schema": ONTOLOGY / "alignments" / "schema.ttl",
    }


def test_ontology_may_be_given_as_the_entry_file():
    assert isomorphic(load_ontology(ONTOLOGY / "kg.ttl").graph, load_ontology(ONTOLOGY).graph)


def test_data_folder_loads_every_ttl_sorted():
    loaded = load_data([KG_DATA])
    assert [p.name for p in loaded.files] == ["companies.ttl", "regions.ttl"]
    assert (KGD.gunsan, RDFS.label, Literal("군산", lang="ko")) in loaded.graph


@pytest.mark.parametrize("name", ["regions.nt", "regions.jsonld", "regions.rdf"])
def test_other_serializations_load_by_suffix(name):
    expected = load_data([KG_DATA / "regions.ttl"]).graph
    assert isomorphic(load_data([DATA / "formats" / name]).graph, expected)


def test_sources_dataset_has_named_graphs_and_union_default(tmp_path):
    sources = load(ONTOLOGY, [KG_DATA])
    dataset = get_engine("reference").dataset({KGG.ontology: sources.ontology.graph, KGG.data: sources.data.graph})
    assert {g.identifier for g in dataset.graphs() if len(g)} == {KGG.ontology, KGG.data}
    assert len(dataset.graph(KGG.data)) == len(sources.data.graph)
    assert (KG.CellMaker, RDFS.subClassOf, KG.Company) in dataset  # union of all graphs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--data", "bad/malformed.ttl"],
            "Error: bad/malformed.ttl, line 5: expected '.' or '}' or ']' at end of statement"
            " — fix the Turtle syntax there\n",
        ),
        (
            ["--data", "bad/latin1.ttl"],
            "Error: bad/latin1.ttl, line 4: not valid UTF-8 (byte 0xe9) — save the file as UTF-8\n",
        ),
        (
            ["--data", "bad/broken.nt"],
            "Error: bad/broken.nt, line 2: Invalid line: . — fix the N-Triples syntax there\n",
        ),
        (
            ["--data", "bad/remote-context.jsonld"],
            "Error: bad/remote-context.jsonld: refers to the remote JSON-LD context https://schema.org/;"
            " kg works offline — inline the context\n",
        ),
        (
            ["--data", "bad/notes.txt"],
            "Error: bad/notes.txt: unknown RDF file type '.txt'; "
            "use one of .ttl, .nt, .jsonld, .json, .rdf, .owl, .xml, .nq, .trig\n",
        ),
        (
            ["--data", "bad/space-in-iri.ttl"],
            "Error: bad/space-in-iri.ttl, line 4: invalid IRI <https://example.org/gunsan city>"
            " (no spaces, quotes or <>{}|^`\\ allowed) — fix the Turtle there\n",
        ),
        (
            ["--data", "bad/language-tag.ttl"],
            "Error: bad/language-tag.ttl, line 4: 'k1o' is not a valid language tag! — fix the Turtle there\n",
        ),
        (["--data", "nowhere.ttl"], "Error: nowhere.ttl: no such file or folder\n"),
        (
            ["--data", "bad-queries"],
            "Error: bad-queries: 2 other files and no RDF files in this folder"
            " (kg reads .ttl, .nt, .jsonld, .json, .rdf, .owl, .xml, .nq, .trig)\n",
        ),
        (
            ["--ontology", "missing-import"],
            "Error: missing-import/kg.ttl imports <https://w3id.org/battery-kg/ontology/nowhere>,"
            " which missing-import/catalog-v001.xml does not map to a local file (kg never fetches imports)"
            ' — add <uri name="https://w3id.org/battery-kg/ontology/nowhere" uri="..."/> to the catalog\n',
        ),
        (
            ["--ontology", "no-catalog"],
            "Error: no-catalog/catalog-v001.xml: no such file (no-catalog/kg.ttl imports"
            " <https://w3id.org/battery-kg/ontology/core>); kg resolves owl:imports only through this catalog\n",
        ),
        (["--ontology", "data"], "Error: data: no kg.ttl in this folder\n"),
        (["--ontology", "nowhere"], "Error: nowhere: no such folder\n"),
    ],
    ids=[
        "turtle",
        "utf8",
        "ntriples",
        "remote-context",
        "suffix",
        "bad-iri",
        "language-tag",
        "no-file",
        "empty-folder",
        "unmapped-import",
        "no-catalog",
        "no-entry",
        "no-ontology",
    ],
)
def test_bad_input_is_one_line_error_with_exit_2(kg, in_data_dir, args, message):
    defaults = {"--ontology": "ontology", "--data": "data"}
    defaults.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = kg(*[item for pair in defaults.items() for item in pair], "stats")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == message
    assert "Traceback" not in result.output


def test_missing_mapped_file_is_reported(tmp_path):
    (tmp_path / "kg.ttl").write_text((DATA / "missing-import" / "kg.ttl").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "catalog-v001.xml").write_text(
        '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">'
        '<uri name="https://w3id.org/battery-kg/ontology/core" uri="gone.ttl"/></catalog>',
        encoding="utf-8",
    )
    expected = r"maps <https://w3id.org/battery-kg/ontology/core> to .*gone.ttl, which does not exist"
    with pytest.raises(LoadError, match=expected):
        load_ontology(tmp_path)


def test_malformed_catalog_names_the_line(tmp_path):
    (tmp_path / "kg.ttl").write_text((DATA / "no-catalog" / "kg.ttl").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "catalog-v001.xml").write_text("<catalog>\n<uri name='x'>\n</catalog>\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"catalog-v001.xml, line 3: mismatched tag — fix the XML there$"):
        load_ontology(tmp_path)


def test_import_cycles_terminate(tmp_path):
    (tmp_path / "kg.ttl").write_text(
        "<https://w3id.org/battery-kg/ontology> a <http://www.w3.org/2002/07/owl#Ontology> ;\n"
        "  <http://www.w3.org/2002/07/owl#imports> <https://w3id.org/battery-kg/ontology> .\n",
        encoding="utf-8",
    )
    (tmp_path / "catalog-v001.xml").write_text(
        '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">'
        '<uri name="https://w3id.org/battery-kg/ontology" uri="kg.ttl"/></catalog>',
        encoding="utf-8",
    )
    assert [p.name for p in load_ontology(tmp_path).files] == ["kg.ttl"]


def test_load_error_message_is_a_single_line(tmp_path: Path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("<a:b> <a:c> .\n", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        load_data([bad])
    assert str(caught.value) == f"{bad}, line 1: objectList expected — fix the Turtle syntax there"
