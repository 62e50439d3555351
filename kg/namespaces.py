"""Every IRI namespace kg uses, with the prefix labels shared by all .ttl, .rq and .py files."""

from __future__ import annotations

from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS, XSD

__all__ = [
    "KG",
    "KGD",
    "KGC",
    "KGSH",
    "KGG",
    "SCHEMA",
    "SKOS",
    "DCTERMS",
    "ORG",
    "PROV",
    "VOID",
    "DCAT",
    "WD",
    "GN",
    "GEO",
    "OWL",
    "RDF",
    "RDFS",
    "XSD",
    "PREFIXES",
    "DEFAULT_GRAPH",
    "DATA_GRAPHS",
    "OURS",
    "bind",
]

KG = Namespace("https://w3id.org/battery-kg/ontology#")
KGD = Namespace("https://w3id.org/battery-kg/id/")
KGC = Namespace("https://w3id.org/battery-kg/concept/")
KGSH = Namespace("https://w3id.org/battery-kg/shapes#")
KGG = Namespace("https://w3id.org/battery-kg/graph/")

SCHEMA = Namespace("https://schema.org/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
ORG = Namespace("http://www.w3.org/ns/org#")
PROV = Namespace("http://www.w3.org/ns/prov#")
VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
WD = Namespace("http://www.wikidata.org/entity/")
GN = Namespace("https://www.geonames.org/ontology#")
GEO = Namespace("http://www.w3.org/2003/01/geo/wgs84_pos#")

# Prefix label -> namespace, in the order prefixes are listed in output.
PREFIXES: dict[str, Namespace] = {
    "kg": KG,
    "kgd": KGD,
    "kgc": KGC,
    "kgsh": KGSH,
    "kgg": KGG,
    "schema": SCHEMA,
    "skos": SKOS,
    "dcterms": DCTERMS,
    "org": ORG,
    "prov": PROV,
    "void": VOID,
    "dcat": DCAT,
    "wd": WD,
    "gn": GN,
    "geo": GEO,
    "owl": Namespace(str(OWL)),
    "rdf": Namespace(str(RDF)),
    "rdfs": Namespace(str(RDFS)),
    "xsd": Namespace(str(XSD)),
}

# XML Schema numeric datatypes, for output that shows numbers as numbers.
XSD_INTEGERS = frozenset(
    {
        XSD.integer, XSD.int, XSD.long, XSD.short, XSD.byte,
        XSD.nonNegativeInteger, XSD.positiveInteger, XSD.negativeInteger, XSD.nonPositiveInteger,
        XSD.unsignedInt, XSD.unsignedLong, XSD.unsignedShort, XSD.unsignedByte,
    }
)  # fmt: skip
XSD_FLOATS = frozenset({XSD.double, XSD.float})
XSD_NUMBERS = XSD_INTEGERS | XSD_FLOATS | {XSD.decimal}

# The default graph of a dataset, where a dataset's graphs are named (rdflib's own name for it).
DEFAULT_GRAPH = URIRef("urn:x-rdflib:default")
# Each data file is a named graph under this prefix: kgg:data/sources/2023-07-13-kukinews-ecopro-pohang.
DATA_GRAPHS = str(KGG) + "data/"

# Namespaces whose IRIs we mint; owl:sameAs may only link IRIs inside these.
OURS: tuple[str, ...] = (str(KGD), str(KGC))


def bind(graph: Graph) -> Graph:
    """Bind our prefix labels on `graph` (replacing rdflib's defaults such as schema: -> http) and return it."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True, replace=True)
    return graph
