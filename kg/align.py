"""Aligning our concepts (the value-chain stages) with the classes of another ontology, with evidence.

A stage of the value chain is an industry segment ("cathode material": the firms that make the
active material of positive electrodes); an ontology class is a kind of thing ("Cathode": the
electrode where reduction occurs). So a match of words is not a match of meaning, and the
relation says how close the two are (SKOS mapping properties):

- skos:closeMatch when the stage is named by the class: one of its labels is one of the class's
  labels (Electrolyte, Separator; Cell is BatteryCell's alternative label);
- skos:relatedMatch when the class is one of the things the stage is about: a part of the stage's
  name ("Module and pack": BatteryModule, BatteryPack, dropping the domain word "Battery"), the
  head noun of its name (a used battery is a battery), the genus of its definition ("The active
  material of ..." names ActiveMaterial) or what the genus is of ("... of a cell's positive
  electrode" names PositiveElectrode);
- nothing when the class names only the modifier of the stage's name: EMMO's Cathode is what a
  cathode material is for, not what it is, so that candidate is rejected, and says why.

==================  ======  =========================================================
evidence            weight  holds when
==================  ======  =========================================================
name                0.70    a label of ours equals a label of theirs (case, spacing,
                            CamelCase and plurals folded)
name part           0.50    a part of our coordinated name ("Module", "pack") equals theirs
head noun           0.50    their label is the head noun of ours (battery / used battery)
definition genus    0.50    their label is the genus our definition starts with
definition          0.35    their label is what that genus is "of"
complement
same head           0.15    our name and theirs end in the same noun (with other evidence)
==================  ======  =========================================================

The weights add up (capped at 1): a link needs the threshold (0.6), as in kg.link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from kg.link import AMBIGUITY_MARGIN, DEFAULT_REVIEW_THRESHOLD, DEFAULT_THRESHOLD, Candidate, Entity, LinkResult
from kg.namespaces import KG, OWL, RDF, RDFS, SKOS

# EMMO's annotation properties (EMMO core; not in the domain modules): elucidation, definition.
ELUCIDATION = URIRef("https://w3id.org/emmo#EMMO_967080e5_2f42_4eb2_a3a9_c58143e835f9")
EMMO_DEFINITION = URIRef("https://w3id.org/emmo#EMMO_70fe84ff_99b6_4206_a9fc_9a8931836d84")
DEFINITION_PROPERTIES = (SKOS.definition, ELUCIDATION, EMMO_DEFINITION, RDFS.comment)
LABELS = (SKOS.prefLabel, SKOS.altLabel, RDFS.label)

WEIGHTS = {
    "name": Decimal("0.70"),
    "name part": Decimal("0.50"),
    "head noun": Decimal("0.50"),
    "definition genus": Decimal("0.50"),
    "definition complement": Decimal("0.35"),
    "same head": Decimal("0.15"),
}
# Words that end a definition's genus ("The active material | of a cell's positive electrode").
_STOP = {"of", "in", "from", "that", "which", "with", "for", "between", "to", "such", "at", "into", "made", "as", "by"}
_ARTICLES = {"the", "a", "an"}
# The domain word their names carry (BatteryCell, BatteryModule): "Module" names BatteryModule too.
DOMAIN_QUALIFIERS = ("battery",)


def split_words(text: str) -> list[str]:
    """Lower-case words: CamelCase split, punctuation dropped, each word singular."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    return [singular(w) for w in re.findall(r"[a-z0-9]+(?:'s)?", text.casefold())]


def singular(word: str) -> str:
    if word.endswith("'s"):
        return word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def phrase(words: Iterable[str]) -> str:
    return " ".join(words)


@dataclass
class Concept:
    iri: URIRef
    labels: list[Literal]
    definition: str = ""
    names: set[str] = field(default_factory=set)  # folded labels (and, for theirs, without "battery")


def our_concepts(ontology: Graph, scheme_class: URIRef = KG.ValueChainStage) -> list[Concept]:
    """Our stages (instances of `scheme_class` in the ontology) with their English labels and definition."""
    found = []
    for iri in sorted(s for s in ontology.subjects(RDF.type, scheme_class) if isinstance(s, URIRef)):
        labels = _labels(ontology, iri)
        english = [o for o in ontology.objects(iri, SKOS.definition) if isinstance(o, Literal) and o.language == "en"]
        definition = str(english[0]) if english else ""
        concept = Concept(iri, labels, definition)
        concept.names = {phrase(split_words(str(label))) for label in labels}
        found.append(concept)
    return found


def _labels(graph: Graph, iri: Node) -> list[Literal]:
    """English (or untagged) labels, the preferred ones first, each group sorted."""
    found: list[Literal] = []
    for p in LABELS:
        found.extend(
            sorted(
                (o for o in graph.objects(iri, p) if isinstance(o, Literal) and o.language in (None, "en")),
                key=str,
            )
        )
    return list(dict.fromkeys(found))


def is_ontology(graph: Graph) -> bool:
    """An ontology to align with: it declares owl:Ontology and labelled owl:Class terms."""
    return (None, RDF.type, OWL.Ontology) in graph and any(
        graph.value(c, SKOS.prefLabel) or graph.value(c, RDFS.label) for c in graph.subjects(RDF.type, OWL.Class)
    )


def their_classes(graph: Graph) -> list[Concept]:
    """The labelled, non-deprecated owl:Class terms of an ontology."""
    found = []
    for iri in sorted(s for s in set(graph.subjects(RDF.type, OWL.Class)) if isinstance(s, URIRef)):
        if any(str(o).lower() == "true" for o in graph.objects(iri, OWL.deprecated)):
            continue
        labels = _labels(graph, iri)
        if not labels:
            continue
        definition = next((str(o) for p in DEFINITION_PROPERTIES for o in graph.objects(iri, p)), "")
        concept = Concept(iri, labels, definition)
        for label in labels:
            words = split_words(str(label))
            concept.names.add(phrase(words))
            if len(words) > 1 and words[0] in DOMAIN_QUALIFIERS:
                concept.names.add(phrase(words[1:]))
        found.append(concept)
    return found


def definition_phrases(definition: str) -> tuple[str, str]:
    """(genus, complement) of a definition: "The active material of a cell's positive electrode." gives
    ("active material", "positive electrode"). A definition that starts with a verb ("Making ...") has none."""
    tokens = re.findall(r"[A-Za-z0-9']+|[,.;:()]", definition)
    words = [t.casefold() for t in tokens]
    while words and words[0] in _ARTICLES:
        words.pop(0)
    if not words or words[0].endswith("ing"):
        return "", ""
    genus = []
    while words and words[0] not in _STOP and words[0] not in ",.;:()":
        genus.append(singular(words.pop(0)))
    complement = []
    if words and words[0] == "of":
        words.pop(0)
        while words and words[0] not in _STOP and words[0] not in ",.;:()":
            word = words.pop(0)
            if word in _ARTICLES or word.endswith("'s"):
                continue
            complement.append(singular(word))
    return phrase(genus), phrase(complement)


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _parts(name: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"\band\b|,|&", name) if p.strip()]
    return parts if len(parts) > 1 else []


def score(ours: Concept, theirs: Concept) -> Candidate:
    """The evidence that `theirs` is the class `ours` is named by, or about; the relation it supports."""
    cand = Candidate(ours.iri, theirs.iri)
    evidence: dict[str, tuple[str, str]] = {}  # kind -> (our phrase, their name)
    genus, complement = definition_phrases(ours.definition)
    named = [(name, name, False) for name in sorted(ours.names)]
    named += [(name, part, True) for name in sorted(ours.names) for part in _parts(name)]
    for name, part, is_part in named:
        words = part.split()
        head, modifier = words[-1], phrase(words[:-1])
        for their in sorted(theirs.names):
            if part == their:
                evidence.setdefault("name part" if is_part else "name", (name, their))
            if modifier and their == head:
                evidence.setdefault("head noun", (name, their))
            if modifier and their == modifier and not cand.veto:
                cand.veto = (
                    f"their {their!r} names what our {name!r} is for, not what it is "
                    f"({_a(head)} {head} is not {_a(their)} {their})"
                )
            if their.split()[-1] == head and len(their.split()) >= 1:
                evidence.setdefault("same head", (name, their))
    for their in sorted(theirs.names):
        if genus and their == genus:
            evidence.setdefault("definition genus", (genus, their))
        if complement and their == complement:
            evidence.setdefault("definition complement", (complement, their))
    strong = {k: v for k, v in evidence.items() if k != "same head"}
    if cand.veto and "name" not in strong:
        return cand
    cand.veto = ""
    if not strong:
        return cand
    total = sum((WEIGHTS[k] for k in evidence), Decimal(0))
    cand.score = min(total, Decimal(1)).quantize(Decimal("0.001"))
    kind = next(k for k in WEIGHTS if k in strong)
    our_phrase, their_name = strong[kind]
    cand.label_match = kind
    cand.our_label = Literal(our_phrase)
    cand.their_label = next((label for label in theirs.labels if _matches(label, their_name)), theirs.labels[0])
    cand.predicate = SKOS.closeMatch if "name" in strong else SKOS.relatedMatch
    cand.note = "; ".join(f"{k}: {v[0]!r} ~ {v[1]!r}" for k, v in evidence.items())
    return cand


def _matches(label: Node, name: str) -> bool:
    words = split_words(str(label))
    return phrase(words) == name or (len(words) > 1 and phrase(words[1:]) == name)


def align(
    ours: list[Concept],
    theirs: list[Concept],
    *,
    threshold: Decimal = DEFAULT_THRESHOLD,
    review_threshold: Decimal = DEFAULT_REVIEW_THRESHOLD,
) -> LinkResult:
    """Every (stage, class) pair scored; a stage may relate to several classes and a class to several stages.
    Two closeMatch candidates of one stage within the ambiguity margin both go to review."""
    links, review, rejected = [], [], []
    for concept in ours:
        scored = [score(concept, other) for other in theirs]
        rejected.extend(c for c in scored if c.veto)
        passing = [c for c in scored if not c.veto and c.score >= threshold]
        close = sorted((c for c in passing if c.predicate == SKOS.closeMatch), key=lambda c: -c.score)
        if len(close) > 1 and close[0].score - close[1].score < AMBIGUITY_MARGIN:
            for c in close:
                c.note = "ambiguous: " + ", ".join(str(o.theirs) for o in close if o is not c)
            review.extend(close)
            passing = [c for c in passing if c not in close]
        links.extend(passing)
        review.extend(c for c in scored if not c.veto and review_threshold <= c.score < threshold)
    return LinkResult.ordered(links, review, rejected, len(theirs), threshold, review_threshold)


def as_entities(concepts: Iterable[Concept]) -> list[Entity]:
    """Our concepts as kg.link entities, for the review table's lines about stages with no link."""
    return [Entity(iri=c.iri, labels=list(c.labels)) for c in concepts]
