"""How each kind of entity looks, the same in every picture, export and page.

Nodes are styled by their top kg: class (the projection's `category`): one colour (an
Okabe–Ito-like palette, readable with black text and by colour-blind readers) and one Graphviz
shape per category. Their names are the ontology's own `rdfs:label`s, read from the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph, Literal

from kg.namespaces import RDFS, SKOS
from kg.project import expand

__all__ = ["Style", "STYLES", "OTHER", "style_of", "colour_of", "category_labels"]


@dataclass(frozen=True)
class Style:
    colour: str  # fill, #RRGGBB
    shape: str  # Graphviz node shape
    rounded: bool = False


STYLES: dict[str, Style] = {
    "kg:Place": Style("#56B4E9", "ellipse"),
    "kg:Agent": Style("#E69F00", "box", rounded=True),
    "kg:Initiative": Style("#009E73", "box"),
    "kg:Facility": Style("#F0E442", "box3d"),
    "kg:Event": Style("#CC79A7", "hexagon"),
    "kg:FundingContribution": Style("#D55E00", "invhouse"),
    "kg:TargetIndicator": Style("#A6761D", "parallelogram"),
    "kg:Source": Style("#BBBBBB", "note"),
    "kg:Statement": Style("#999999", "egg"),
    "kg:InformationSystem": Style("#66A61E", "cylinder"),
    "kg:ValueChainStage": Style("#0072B2", "octagon"),
    "kg:TechnologyField": Style("#7570B3", "component"),
    "kg:IndustrySector": Style("#E7298A", "tab"),
    "kg:FundingLevel": Style("#FDB462", "cds"),
    "owl:Class": Style("#B3DE69", "box"),
}
OTHER = Style("#DDDDDD", "ellipse")


def style_of(data: dict) -> Style:
    """The style of a projected node (its attributes), by category, else by type."""
    return STYLES.get(str(data.get("category") or data.get("type", "")), OTHER)


def colour_of(data: dict) -> str:
    return style_of(data).colour


def category_labels(ontology: Graph) -> dict[str, tuple[str, str]]:
    """Each styled category's English and Korean name: the class's rdfs:label (or skos:prefLabel)."""
    labels = {}
    for category in STYLES:
        names = {"en": "", "ko": ""}
        for prop in (RDFS.label, SKOS.prefLabel):
            for value in ontology.objects(expand(category), prop):
                if isinstance(value, Literal) and value.language in names:
                    names[value.language] = min(filter(None, (names[value.language], str(value))))
        labels[category] = (names["en"] or category, names["ko"] or names["en"] or category)
    return labels
