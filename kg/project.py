"""Project the reasoned RDF graph onto a property graph (networkx) that visualisers understand.

Data model decisions (from ontology/ and data/):

* Nodes are the *entities*: IRIs under kgd: or kgc: typed with a kg: class (projects, places,
  organisations, funding contributions, value-chain stages, articles...). Concept schemes,
  classes, literals and blank nodes are not nodes.
* A kg:MonetaryAmount or kg:QuantityValue is a blank node owned by one entity (kg:amount,
  kg:totalBudget, kg:grossFloorArea), so it becomes attributes of its owner: ``amount`` and
  ``amountCurrency``, ``totalBudget`` / ``totalBudgetCurrency``, ``grossFloorArea`` /
  ``grossFloorAreaUnit`` / ``grossFloorAreaUnitCode``.
* A kg:FundingContribution stays a node: it has its own IRI, labels and source, and may have
  no funder (private money, Daejeon's unattributed total), so it cannot become a
  project→funder edge without losing facts. It carries its amount as attributes.
* Edges are kg: object properties between two nodes (plus skos:broader and skos:related
  between concepts), keyed by the property CURIE. kg:source is provenance: the ``source``
  node attribute, not an edge (it would link every node to an article). An asserted edge's
  ``sources`` are the pages whose statements make it: the sources each data file's graph holding
  the statement is derived from (for a shared reference file, those its subject cites).
* Inferred edges (``inferred=True``) are kept only when they say something the kept edges
  do not: dropped are super-property duplicates (kg:hasPart beside kg:hasFacility), inverses
  of a present edge (kg:runs beside kg:runBy, skos:narrower beside skos:broader), and
  shortcuts implied by a path of at least two kept edges of the property, its sub-properties
  or its owl:propertyChainAxiom members (kg:containedInPlace to the country, kg:fundedBy
  beside project → funding contribution → funder). The check runs on the filtered subgraph,
  so ``--class kg:Initiative kg:Organisation --inferred`` shows kg:fundedBy edges, because the
  funding contributions that imply them are not in the picture.

The projection reads the engine's store through SPARQL (a handful of queries, each returning the
triples of a few properties), indexes the rows in plain dictionaries and returns a ``Projection``:
sorted node and edge lists the writers of kg.export stream out; no rdflib graph and no networkx
graph is made on the way. ``project`` and ``class_hierarchy`` give the same as networkx graphs,
for the analysis and the pictures. Filters that name something unknown raise UsageError.
"""

from __future__ import annotations

import functools
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import networkx as nx
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.term import Node

from kg.errors import UsageError
from kg.namespaces import (
    DCTERMS,
    KG,
    KGC,
    KGD,
    KGG,
    OWL,
    PREFIXES,
    RDF,
    RDFS,
    SKOS,
    XSD,
    XSD_FLOATS,
    XSD_INTEGERS,
)
from kg.results import curie as _plain_curie

__all__ = [
    "Projection",
    "projection",
    "hierarchy",
    "project",
    "class_hierarchy",
    "rdf_of",
    "expand",
    "LANGS",
    "EDGE_EXTRA_PROPERTIES",
]

LANGS = ("en", "ko")
# SKOS links between concepts worth drawing; skos:narrower is the inverse of broader.
EDGE_EXTRA_PROPERTIES = (SKOS.broader, SKOS.related)
_SYMMETRIC = {SKOS.related}
_SOURCE_PROPERTIES = (KG.source, DCTERMS.source)
_LABEL_PROPERTIES = (RDFS.label, SKOS.prefLabel)
# Value nodes (blank nodes) whose literals become attributes of their owner, attribute suffixes.
_VALUE_PARTS = {KG.value: "", KG.currency: "Currency", KG.unitText: "Unit", KG.unitCode: "UnitCode"}
_SCHEMA_PROPERTIES = (
    RDFS.subClassOf,
    RDFS.subPropertyOf,
    OWL.inverseOf,
    OWL.propertyChainAxiom,
    RDF.first,
    RDF.rest,
)
# The graphs that hold what was asserted (kgg:inferred holds what reasoning added).
_ASSERTED = (KGG.ontology, KGG.data)
# Terms compared in loops, looked up once (a Namespace attribute costs a function call each time).
_INFERRED, _CLASS, _OBJECT_PROPERTY, _SUBCLASS_OF, _ALT_LABEL = (
    KGG.inferred,
    OWL.Class,
    OWL.ObjectProperty,
    RDFS.subClassOf,
    SKOS.altLabel,
)
_PLACE, _PROVINCE_LEVEL = KG.Place, KG.ProvinceLevelArea

curie = functools.lru_cache(maxsize=None)(_plain_curie)


# ---------------------------------------------------------------- the projected graph


@dataclass
class Projection:
    """A property graph ready to write: node and edge lists, sorted, with their attributes.

    ``nodes``: (id, attributes) sorted by id; ``edges``: (source, target, key, attributes) sorted by
    (source, target, key); ``attributes``: the graph's own (name, language, filters).
    """

    attributes: dict[str, Any] = field(default_factory=dict)
    nodes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    edges: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    directed: bool = True
    multigraph: bool = True

    def number_of_nodes(self) -> int:
        return len(self.nodes)

    def number_of_edges(self) -> int:
        return len(self.edges)

    def to_networkx(self) -> nx.Graph:
        """The same graph in networkx (a MultiDiGraph keyed by property, or a DiGraph)."""
        graph = (nx.MultiDiGraph if self.multigraph else nx.DiGraph)() if self.directed else nx.Graph()
        graph.graph.update(self.attributes)
        for node, data in self.nodes:
            graph.add_node(node, **data)
        for u, v, key, data in self.edges:
            if graph.is_multigraph():
                graph.add_edge(u, v, key=key, **data)
            else:
                graph.add_edge(u, v, **data)
        return graph

    @classmethod
    def of(cls, graph: Projection | nx.Graph) -> Projection:
        """A Projection as is; a networkx graph as a Projection (its nodes and edges sorted)."""
        if isinstance(graph, Projection):
            return graph
        if graph.is_multigraph():
            found = [(u, v, str(k), d) for u, v, k, d in graph.edges(keys=True, data=True)]
        else:
            found = [(u, v, str(d.get("property", "")), d) for u, v, d in graph.edges(data=True)]
        return cls(
            attributes=dict(graph.graph),
            nodes=sorted(graph.nodes(data=True), key=lambda item: item[0]),
            edges=sorted(found, key=lambda e: (e[0], e[1], e[2])),
            directed=graph.is_directed(),
            multigraph=graph.is_multigraph(),
        )


# ---------------------------------------------------------------- reading the store


Select = Callable[..., list[tuple]]


def _selector(source: Any) -> Select:
    """`select(name, p=[...])`: the rows of kg/sparql/NAME.rq over `source`, its WHERE group opened by a
    VALUES block of the properties ?p when given. `source`: a KnowledgeGraph (read by its engine), or
    rdflib graphs (an rdflib Dataset with kg's named graphs, or one Graph taken as the data; also a
    KnowledgeGraph whose engine keeps rdflib graphs, whose SPARQL takes minutes where Oxigraph takes
    seconds), copied into an Oxigraph store first."""
    from kg.engine import get_engine
    from kg.engine.sparql_text import bind_values
    from kg.graph import KnowledgeGraph
    from kg.paths import internal_sparql_dir

    if isinstance(source, KnowledgeGraph) and not isinstance(source.dataset, Graph):
        run = source.run
    else:
        from kg.queries import run as run_query

        rdf = source.dataset if isinstance(source, KnowledgeGraph) else source
        engine = get_engine("fast")
        if isinstance(rdf, Dataset):
            graphs = {graph.identifier: graph for graph in rdf.graphs() if len(graph)}
        else:
            graphs = {KGG.data: rdf}
        dataset = engine.dataset(graphs)

        def run(text: str):
            return run_query(text, dataset, engine=engine)

    def select(name: str, p: Iterable[URIRef] | None = None) -> list[tuple]:
        text = (internal_sparql_dir() / f"{name}.rq").read_text(encoding="utf-8")
        if p is not None:
            text = bind_values(text, {"p": sorted(p)})
        return run(text).rows

    return select


@dataclass
class _Links:
    """The triples of the properties that link terms, indexed both ways."""

    asserted: set[tuple[Node, URIRef, Node]] = field(default_factory=set)
    inferred: set[tuple[Node, URIRef, Node]] = field(default_factory=set)
    objects: dict[tuple[Node, URIRef], list[Node]] = field(default_factory=lambda: defaultdict(list))
    subjects: dict[tuple[URIRef, Node], list[Node]] = field(default_factory=lambda: defaultdict(list))
    cites: dict[Node, set[Node]] = field(default_factory=lambda: defaultdict(set))


class _Model:
    """The parts of the store the projection reads, each read once by a SPARQL query and indexed."""

    def __init__(self, source: Any) -> None:
        self.select = _selector(source)
        # rdf:type over everything: entities (kgd:/kgc: IRIs with kg: classes), classes, object properties.
        self.types: dict[URIRef, set[URIRef]] = defaultdict(set)
        declared_classes: set[URIRef] = set()
        object_properties: set[URIRef] = set()
        for s, c in self.select("projection-types"):
            if c == _CLASS:
                declared_classes.add(s)
            elif c == _OBJECT_PROPERTY:
                object_properties.add(s)
            elif _in(s, KGD) or _in(s, KGC):
                self.types[s].add(c)
        self.types = dict(self.types)
        self.entities = sorted(self.types)

        # The schema: sub-classes and sub-properties, inverses, property chains (as RDF lists).
        step: dict[URIRef, list[tuple[Node, Node]]] = defaultdict(list)
        self.asserted_subclasses: set[tuple[Node, Node]] = set()
        seen: set[tuple[Node, Node, Node]] = set()
        for g, s, p, o in self.select("projection-statements", _SCHEMA_PROPERTIES):
            if p == _SUBCLASS_OF and g in _ASSERTED:
                self.asserted_subclasses.add((s, o))
            if (s, p, o) not in seen:
                seen.add((s, p, o))
                step[p].append((s, o))
        self.superclasses = _closure(step[RDFS.subClassOf])
        self.subproperties = _inverse_closure(step[RDFS.subPropertyOf])
        self.kg_classes = sorted(
            {c for c in declared_classes if _in(c, KG)} | {s for s, _ in step[RDFS.subClassOf] if _in(s, KG)}
        )
        self.edge_properties = {p for p in object_properties if _in(p, KG) and p != KG.source} | set(
            EDGE_EXTRA_PROPERTIES
        )
        self.inverse: dict[URIRef, set[URIRef]] = defaultdict(set)
        for p, q in step[OWL.inverseOf]:
            self.inverse[p].add(q)
            self.inverse[q].add(p)
        for p in _SYMMETRIC:
            self.inverse[p].add(p)
        first, rest = dict(step[RDF.first]), dict(step[RDF.rest])
        self.chains: dict[URIRef, list[URIRef]] = {}
        for p, head in step[OWL.propertyChainAxiom]:
            members, node, visited = [], head, set()
            while node in first and node not in visited:
                visited.add(node)
                members.append(first[node])
                node = rest.get(node, RDF.nil)
            self.chains[p] = [m for m in members if isinstance(m, URIRef)]

        # Labels over everything: rdfs:label and skos:prefLabel, and skos:altLabel.
        self.labels: dict[Node, list[Node]] = defaultdict(list)
        self.alt_labels: dict[Node, list[Node]] = defaultdict(list)
        props = (*_LABEL_PROPERTIES, SKOS.altLabel)
        for s, p, o in {(s, p, o) for _, s, p, o in self.select("projection-statements", props)}:
            (self.alt_labels if p == _ALT_LABEL else self.labels)[s].append(o)

    # -- links between terms: edges, places, sources ------------------------------------------

    @cached_property
    def _links(self) -> _Links:
        """Every triple of an edge, place or source property: asserted (ontology, data) and inferred."""
        links = _Links()
        wanted = self.edge_properties | set(_Places.PROPERTIES) | set(_SOURCE_PROPERTIES)
        for g, s, p, o in self.select("projection-statements", wanted):
            (links.inferred if g == _INFERRED else links.asserted).add((s, p, o))
        for s, p, o in links.asserted | links.inferred:
            links.objects[s, p].append(o)
            links.subjects[p, o].append(s)
        for s, p, o in links.asserted:
            if p in _SOURCE_PROPERTIES:
                links.cites[s].add(o)
        return links

    def objects(self, subject: Node, prop: URIRef) -> list[Node]:
        return self._links.objects.get((subject, prop), [])

    def subjects(self, prop: URIRef, obj: Node) -> list[Node]:
        return self._links.subjects.get((prop, obj), [])

    def links(self, *, inferred: bool) -> set[tuple[Node, URIRef, Node]]:
        return self._links.inferred if inferred else self._links.asserted

    def cites(self, subject: Node) -> set[Node]:
        """The sources `subject` cites in asserted statements (kg:source, dcterms:source)."""
        return self._links.cites.get(subject, set())

    @cached_property
    def files(self) -> tuple[dict[tuple, set[URIRef]], dict[URIRef, set[Node]]]:
        """Which data files' graphs hold each edge statement, and the sources each file's graph is derived from."""
        holders: dict[tuple, set[URIRef]] = defaultdict(set)
        for f, s, p, o in self.select("projection-file-statements", self.edge_properties):
            holders[s, p, o].add(f)
        cited: dict[URIRef, set[Node]] = defaultdict(set)
        for f, src in self.select("projection-file-sources"):
            cited[f].add(src)
        return holders, cited

    def sources_of(self, triple: tuple[URIRef, URIRef, URIRef]) -> set[URIRef]:
        """The sources that make an asserted statement: those of each data file's graph holding it (a
        shared reference file's, narrowed to the sources its subject cites)."""
        holders, cited_by = self.files
        found: set[URIRef] = set()
        subject_cites = self.cites(triple[0])
        for graph in holders.get(triple, ()):
            cited = cited_by.get(graph, set())
            found |= (cited & subject_cites) if len(cited) > 1 and cited & subject_cites else cited
        return found

    # -- literal attributes ---------------------------------------------------------------

    @cached_property
    def literals(self) -> dict[Node, list[tuple[URIRef, Node]]]:
        """Asserted kg: properties whose value is a literal or a value node, by subject."""
        found: dict[Node, list[tuple[URIRef, Node]]] = defaultdict(list)
        for s, p, o in self.select("projection-literals"):
            found[s].append((p, o))
        return found

    @cached_property
    def value_parts(self) -> dict[Node, list[tuple[URIRef, Node]]]:
        """The literals of the value nodes (amounts, areas): kg:value, kg:currency, kg:unitText, kg:unitCode."""
        found: dict[Node, list[tuple[URIRef, Node]]] = defaultdict(list)
        for b, p, v in self.select("projection-asserted", _VALUE_PARTS):
            if isinstance(b, BNode) and isinstance(v, Literal):
                found[b].append((p, v))
        return found

    # -- the class and property hierarchy ---------------------------------------------------

    def most_specific(self, classes: Iterable[URIRef]) -> URIRef:
        classes = set(classes)
        minimal = [c for c in classes if not any(c in self.superclasses.get(d, ()) for d in classes if d != c)]
        return min(minimal, key=curie)

    def top_class(self, cls: URIRef) -> URIRef:
        """The most general kg: superclass of `cls` (itself when it has none)."""
        tops = [
            c
            for c in self.superclasses.get(cls, ())
            if _in(c, KG) and not any(_in(d, KG) for d in self.superclasses.get(c, ()))
        ]
        return min(tops, key=curie) if tops else cls

    def pick(self, term: Node, lang: str, strict: bool = False) -> str:
        """The smallest label in `lang`, else in English (unless strict), else ''."""
        labels = [o for o in self.labels.get(term, ()) if isinstance(o, Literal)]
        for wanted in (lang,) if strict else (lang, "en"):
            chosen = sorted(str(o) for o in labels if o.language == wanted)
            if chosen:
                return chosen[0]
        return ""

    def label(self, term: URIRef, lang: str) -> str:
        return self.pick(term, lang) or curie(term)

    def derivations(self, prop: URIRef) -> set[URIRef]:
        """The properties whose edges can imply an edge of `prop`: itself, sub-properties, chain members."""
        found: set[URIRef] = set()
        todo = [prop]
        while todo:
            p = todo.pop()
            if p in found:
                continue
            found.add(p)
            todo.extend(self.subproperties.get(p, ()))
            todo.extend(self.chains.get(p, ()))
        return found


def projection(
    source: Any,
    *,
    lang: str = "en",
    inferred: bool = False,
    region: URIRef | None = None,
    classes: Iterable[str] = (),
    focus: URIRef | None = None,
    depth: int = 1,
) -> Projection:
    """The entities of `source` (a KnowledgeGraph, or an rdflib Dataset with kg's named graphs) as a
    Projection: CURIE node ids, attributes, one edge per object property.

    Filters apply in this order: `region` (a place's IRI: its members and what they link to),
    classes, then the neighbourhood of the entity `focus` up to `depth` hops in either direction.
    Names typed by users are resolved to IRIs before (kg.regions).
    """
    if lang not in LANGS:
        raise UsageError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    if depth < 0:
        raise UsageError(f"--depth must be 0 or more, not {depth}")
    model = _Model(source)
    if not model.entities:
        raise UsageError("the graph has no entities to project (no kgd:/kgc: IRI typed with a kg: class)")
    places = _Places(model)
    asserted_edges = _edges(model, inferred=False)

    keep = set(model.entities)
    if region is not None:
        members = {e for e in model.entities if region in places.of(e)}
        keep = members | {o for s, _, o in asserted_edges if s in members}
    wanted = _resolve_classes(model, classes)
    if wanted:
        keep = {e for e in keep if _closed_types(model, e) & wanted}
    focus_iri = focus
    if focus_iri is not None and focus_iri not in model.types:
        raise UsageError(f"{curie(focus_iri)} is not an entity of the graph")
    if focus_iri is not None and focus_iri not in keep:
        raise UsageError(f"{curie(focus_iri)} is not in the selected subgraph; drop --region/--class or pick another")

    edges = [(s, p, o, False) for s, p, o in asserted_edges if s in keep and o in keep]
    if inferred:
        edges += [(s, p, o, True) for s, p, o in _most_specific_inferred(model, edges, keep)]

    attributes = {
        "name": "battery-kg",
        "lang": lang,
        "inferred": inferred,
        "region": curie(region) if region is not None else "",
        "classes": " ".join(sorted(curie(c) for c in _resolve_classes(model, classes, closed=False))),
        "focus": curie(focus_iri) if focus_iri is not None else "",
        "depth": depth if focus_iri is not None else 0,
    }
    links = [(curie(s), curie(o), curie(p), s, p, o, is_inferred) for s, p, o, is_inferred in edges]
    ids = {curie(entity): entity for entity in keep}
    if focus_iri is not None:
        near = _neighbourhood(curie(focus_iri), [(u, v) for u, v, *_ in links], depth)
        ids = {node: entity for node, entity in ids.items() if node in near}
        links = [link for link in links if link[0] in near and link[1] in near]
    nodes = [(node, _node_attributes(model, places, ids[node], lang)) for node in sorted(ids)]
    _harmonise_types(nodes)
    out_edges = []
    for u, v, key, s, p, o, is_inferred in sorted(links, key=lambda e: (e[0], e[1], e[2])):
        # An asserted edge's sources: the pages whose statements make it (inferred edges have none of their own).
        sources = "" if is_inferred else " ".join(sorted(curie(src) for src in model.sources_of((s, p, o))))
        data = {"property": key, "label": model.label(p, lang), "inferred": is_inferred, "sources": sources}
        out_edges.append((u, v, key, data))
    return Projection(attributes, nodes, out_edges)


def project(source: Any, **options: Any) -> nx.MultiDiGraph:
    """`projection` as a networkx MultiDiGraph (for the analysis and the pictures)."""
    return projection(source, **options).to_networkx()


def hierarchy(source: Any, lang: str = "en") -> Projection:
    """The ontology's kg: classes, edges subclass → superclass (asserted rdfs:subClassOf between kg: classes)."""
    if lang not in LANGS:
        raise UsageError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    model = _Model(source)
    counts: dict[URIRef, int] = defaultdict(int)
    for entity in model.entities:
        counts[model.most_specific(model.types[entity])] += 1
    nodes = [
        (
            curie(cls),
            {
                "iri": str(cls),
                "type": "owl:Class",
                "label": model.label(cls, lang),
                "label_en": model.pick(cls, "en") or curie(cls),
                "label_ko": model.pick(cls, "ko") or "",
                "region": "",
                "source": "",
                "instances": counts[cls],
            },
        )
        for cls in sorted(model.kg_classes, key=curie)
    ]
    pairs = {(curie(s), curie(o)) for s, o in model.asserted_subclasses if _in(s, KG) and _in(o, KG) and s != o}
    label = "subclass of" if lang == "en" else "하위 클래스"
    edges = [
        (
            s,
            o,
            "rdfs:subClassOf",
            {"key": "rdfs:subClassOf", "property": "rdfs:subClassOf", "label": label, "inferred": False},
        )
        for s, o in sorted(pairs)
    ]
    return Projection({"name": "battery-kg class hierarchy", "lang": lang}, nodes, edges, multigraph=False)


def class_hierarchy(source: Any, lang: str = "en") -> nx.DiGraph:
    """`hierarchy` as a networkx DiGraph."""
    return hierarchy(source, lang).to_networkx()


def _neighbourhood(start: str, pairs: list[tuple[str, str]], depth: int) -> set[str]:
    """The nodes at most `depth` edges from `start`, edges taken in either direction."""
    around: dict[str, set[str]] = defaultdict(set)
    for u, v in pairs:
        around[u].add(v)
        around[v].add(u)
    near, todo = {start: 0}, deque([start])
    while todo:
        node = todo.popleft()
        if near[node] == depth:
            continue
        for other in around[node]:
            if other not in near:
                near[other] = near[node] + 1
                todo.append(other)
    return set(near)


# ---------------------------------------------------------------- edges


def _edges(model: _Model, *, inferred: bool) -> list[tuple[URIRef, URIRef, URIRef]]:
    entities = model.types
    found = {
        (s, p, o)
        for s, p, o in model.links(inferred=inferred)
        if p in model.edge_properties and s in entities and o in entities and s != o
    }
    if not inferred:
        # Both directions asserted (skos:broader and skos:narrower): drawing one is enough.
        found = {
            (s, p, o)
            for s, p, o in found
            if not any((o, q, s) in found and curie(q) < curie(p) for q in model.inverse.get(p, ()))
        }
    return sorted(found)


def _most_specific_inferred(model: _Model, kept_edges, keep: set[URIRef]) -> list[tuple[URIRef, URIRef, URIRef]]:
    asserted = {(s, p, o) for s, p, o, _ in kept_edges}
    candidates = [e for e in _edges(model, inferred=True) if e[0] in keep and e[2] in keep and e not in asserted]
    pool = asserted | set(candidates)
    by_pair: dict[tuple[URIRef, URIRef], set[URIRef]] = defaultdict(set)
    successors: dict[URIRef, list[tuple[URIRef, URIRef]]] = defaultdict(list)
    for s, p, o in pool:
        by_pair[s, o].add(p)
        successors[s].append((p, o))

    def reachable(start: URIRef, goal: URIRef, allowed: set[URIRef]) -> bool:
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            for p, nxt in successors[node]:
                if p in allowed and nxt not in seen:
                    if nxt == goal:
                        return True
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def implied(s: URIRef, p: URIRef, o: URIRef) -> bool:
        allowed = model.derivations(p)
        # A more specific property already links the pair (equivalent properties: keep the smaller CURIE).
        for q in by_pair[s, o] - {p}:
            if q in allowed and (p not in model.derivations(q) or (s, q, o) in asserted or curie(q) < curie(p)):
                return True
        # A path of two or more edges of the property, its sub-properties or its chain implies it.
        return any(p2 in allowed and mid != o and reachable(mid, o, allowed) for p2, mid in successors[s] if mid != s)

    kept: list[tuple[URIRef, URIRef, URIRef]] = []
    present = set(asserted)
    for s, p, o in sorted(candidates, key=lambda e: (curie(e[1]), curie(e[0]), curie(e[2]))):
        # The inverse of an implied edge is implied too (kg:funds beside an implied kg:fundedBy).
        if implied(s, p, o) or any(implied(o, q, s) for q in model.inverse.get(p, ()) if q != p):
            continue
        inverse_props = {q for inv in model.inverse.get(p, ()) for q in model.derivations(inv)} | {
            q for q in model.edge_properties if any(i in model.derivations(p) for i in model.inverse.get(q, ()))
        }
        if any((o, q, s) in present for q in inverse_props):
            continue
        kept.append((s, p, o))
        present.add((s, p, o))
    return kept


# ---------------------------------------------------------------- regions and places


class _Places:
    """Which places each entity belongs to: its own place, location or area served, else its owner's."""

    # entity -> objects that own it (structural), tried in order when the entity has no place of its own
    _OWNED_BY = (KG.unitOf, KG.partOf, KG.facilityOf, KG.fundedItem, KG.targetOf)
    _OWNER_OF = (KG.funding, KG.hasTarget, KG.hasFacility, KG.hasPart)
    _ASSOCIATED = (KG.about,)
    _ASSOCIATED_BY = (KG.participant, KG.organizer)
    _ANCHORS = (KG.location, KG.areaServed)
    PROPERTIES = (*_OWNED_BY, *_OWNER_OF, *_ASSOCIATED, *_ASSOCIATED_BY, *_ANCHORS, KG.containedInPlace)

    def __init__(self, model: _Model) -> None:
        self.model = model
        contained = [
            (s, o) for s, p, o in model.links(inferred=False) | model.links(inferred=True) if p == KG.containedInPlace
        ]
        self.containers = _closure(contained)
        self.memo: dict[URIRef, frozenset[URIRef]] = {}

    def of(self, entity: URIRef, _stack: frozenset = frozenset()) -> frozenset[URIRef]:
        if entity in self.memo:
            return self.memo[entity]
        if entity in _stack:
            return frozenset()
        stack = _stack | {entity}
        m = self.model
        anchors: set[Node] = set()
        if _PLACE in m.types.get(entity, ()) or any(
            _PLACE in m.superclasses.get(c, ()) for c in m.types.get(entity, ())
        ):
            anchors.add(entity)
        anchors |= {o for p in self._ANCHORS for o in m.objects(entity, p)}
        found: set[URIRef] = set()
        for anchor in anchors:
            if isinstance(anchor, URIRef):
                found |= {anchor} | self.containers.get(anchor, set())
        for owners in (
            [o for p in self._OWNED_BY for o in m.objects(entity, p)]
            + [s for p in self._OWNER_OF for s in m.subjects(p, entity)],
            [o for p in self._ASSOCIATED for o in m.objects(entity, p)]
            + [s for p in self._ASSOCIATED_BY for s in m.subjects(p, entity)],
        ):
            if found:
                break
            for owner in sorted(o for o in owners if isinstance(o, URIRef)):
                found |= self.of(owner, stack)
        result = frozenset(found)
        if not _stack:
            self.memo[entity] = result
        return result

    def region(self, entity: URIRef) -> str:
        """The province-level area (province or metropolitan city) among the entity's places."""
        provinces = [p for p in self.of(entity) if _PROVINCE_LEVEL in _closed_types(self.model, p)]
        return curie(min(provinces, key=curie)) if provinces else ""


def _resolve_classes(model: _Model, names: Iterable[str], closed: bool = True) -> set[URIRef]:
    chosen: set[URIRef] = set()
    for name in names:
        cls = _lookup_class(model, name)
        chosen.add(cls)
        if closed:
            chosen |= {c for c in model.kg_classes if cls in model.superclasses.get(c, ())}
    return chosen


def _lookup_class(model: _Model, name: str) -> URIRef:
    wanted = name.strip()
    for cls in model.kg_classes:
        if wanted in (curie(cls), str(cls)) or wanted.casefold() in {
            str(cls)[len(str(KG)) :].casefold(),
            *(str(label).casefold() for label in model.labels.get(cls, ())),
        }:
            return cls
    options = ", ".join(curie(c) for c in sorted(model.kg_classes, key=curie))
    raise UsageError(f"unknown class {name!r}; use one of {options}")


def _closed_types(model: _Model, entity: URIRef) -> set[URIRef]:
    direct = model.types.get(entity, set())
    return set(direct) | {s for c in direct for s in model.superclasses.get(c, ())}


# ---------------------------------------------------------------- node attributes


def _node_attributes(model: _Model, places: _Places, entity: URIRef, lang: str) -> dict:
    cls = model.most_specific(model.types[entity])
    label_en = model.pick(entity, "en", strict=True)
    label_ko = model.pick(entity, "ko", strict=True)
    attributes: dict[str, str | int | float] = {
        "iri": str(entity),
        "type": curie(cls),
        "type_label": model.label(cls, lang),
        # The top kg: class (kg:Place, kg:Agent, kg:Initiative, kg:ValueChainStage...), for colouring by class.
        "category": curie(model.top_class(cls)),
        "label": (label_ko if lang == "ko" else label_en) or label_en or curie(entity),
        "label_en": label_en or curie(entity),
        "label_ko": label_ko,
        "region": places.region(entity),
        "source": " ".join(sorted({curie(o) for p in _SOURCE_PROPERTIES for o in model.objects(entity, p)})),
    }
    alt = sorted({str(o) for o in model.alt_labels.get(entity, ())})
    if alt:
        attributes["altLabel"] = " | ".join(alt)
    # Literal-valued kg: properties, and the value nodes (amounts, areas) the entity owns.
    values_of: dict[URIRef, list[Node]] = defaultdict(list)
    for p, o in model.literals.get(entity, ()):
        values_of[p].append(o)
    for p in sorted(values_of, key=curie):
        name = str(p)[len(str(KG)) :]
        values = values_of[p]
        literals = [v for v in values if isinstance(v, Literal)]
        if literals:
            attributes[name] = _literal_value(literals, lang)
        for node in sorted((v for v in values if isinstance(v, BNode)), key=str)[:1]:
            parts_of = model.value_parts.get(node, ())
            for part, suffix in _VALUE_PARTS.items():
                parts = [v for q, v in parts_of if q == part]
                if parts:
                    attributes[name + suffix] = _literal_value(parts, lang)
    return attributes


def _literal_value(literals: list[Literal], lang: str) -> str | int | float:
    tagged = [lit for lit in literals if lit.language]
    if tagged:
        chosen = [lit for lit in tagged if lit.language == lang] or [lit for lit in tagged if lit.language == "en"]
        return " | ".join(sorted(str(lit) for lit in (chosen or tagged)))
    if len(literals) == 1:
        return _scalar(literals[0])
    return " | ".join(sorted(str(lit) for lit in literals))


def _scalar(literal: Literal) -> str | int | float:
    """Numbers as int (whole won stays exact) or float; dates and codes as their lexical form."""
    dt = literal.datatype
    try:
        if dt in XSD_INTEGERS:
            return int(str(literal))
        if dt == XSD.decimal:
            number = Decimal(str(literal))
            return int(number) if number == number.to_integral_value() else float(number)
        if dt in XSD_FLOATS:
            return float(str(literal))
    except (ValueError, ArithmeticError):
        pass
    return str(literal)


def _harmonise_types(nodes: list[tuple[str, dict]]) -> None:
    """One type per attribute name across nodes, as GraphML and GEXF declare a type per key."""
    kinds: dict[str, set[type]] = defaultdict(set)
    for _, data in nodes:
        for name, value in data.items():
            kinds[name].add(type(value))
    for name, seen in kinds.items():
        if seen <= {int} or seen <= {str} or seen <= {float} or seen <= {bool}:
            continue
        target = float if seen <= {int, float} else str
        for _, data in nodes:
            if name in data:
                data[name] = target(data[name])


# ---------------------------------------------------------------- helpers


def _in(term: Node, namespace) -> bool:
    return isinstance(term, URIRef) and str.startswith(term, str(namespace))


def _closure(pairs: Iterable[tuple[Node, Node]]) -> dict[Node, set[Node]]:
    """term -> every term reachable by one or more steps along `pairs` (subject, object)."""
    step: dict[Node, set[Node]] = defaultdict(set)
    for s, o in pairs:
        if s != o:
            step[s].add(o)
    closed: dict[Node, set[Node]] = {}
    for start in list(step):
        seen: set[Node] = set()
        todo = list(step[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(step.get(node, ()))
        seen.discard(start)
        closed[start] = seen
    return closed


def _inverse_closure(pairs: Iterable[tuple[Node, Node]]) -> dict[Node, set[Node]]:
    """term -> every term that reaches it by one or more steps (e.g. all sub-properties)."""
    down: dict[Node, set[Node]] = defaultdict(set)
    for s, supers in _closure(pairs).items():
        for o in supers:
            down[o].add(s)
    return dict(down)


def rdf_of(source: Any, graph: Projection | nx.Graph) -> Graph:
    """The asserted RDF behind a projected (sub)graph, for the ttl/nt/jsonld exports.

    Every node's own triples (types, labels, literals, sources, external links and the value
    nodes it owns), and exactly the edges the projection kept: a link to an entity outside
    the subgraph is left out, and kept inferred edges are written as plain triples.
    """
    model = _Model(source)
    graph = Projection.of(graph)
    nodes = {URIRef(data["iri"]): node for node, data in graph.nodes}
    universe = set(model.types) | set(model.kg_classes)
    edges = {(u, v, str(data.get("property") or key)) for u, v, key, data in graph.edges}
    # Every asserted triple of a node or a blank node, by subject.
    told: dict[Node, list[tuple[Node, Node]]] = defaultdict(list)
    for s, p, o in model.select("projection-asserted"):
        if isinstance(s, BNode) or s in nodes:
            told[s].append((p, o))
    out = Graph()
    always = {RDF.type, *_SOURCE_PROPERTIES}
    for s, node in sorted(nodes.items(), key=lambda item: item[1]):
        for p, o in told.get(s, ()):
            if isinstance(o, URIRef) and p not in always and o in universe:
                if o not in nodes or (node, nodes[o], curie(p)) not in edges:
                    continue
            out.add((s, p, o))
            if isinstance(o, BNode):
                _copy_blank(told, o, out)
    ids = dict(graph.nodes)
    for u, v, key, data in graph.edges:
        if data.get("inferred"):
            s, o = URIRef(ids[u]["iri"]), URIRef(ids[v]["iri"])
            out.add((s, expand(str(data.get("property") or key)), o))
    return out


def expand(name: str) -> URIRef:
    """kg:location -> its IRI; <iri> or a full IRI as is."""
    if name.startswith("<") and name.endswith(">"):
        return URIRef(name[1:-1])
    prefix, _, local = name.partition(":")
    if prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix][local]
    return URIRef(name)


def _copy_blank(told: dict[Node, list[tuple[Node, Node]]], node: BNode, out: Graph, seen: set | None = None) -> None:
    seen = seen if seen is not None else set()
    if node in seen:
        return
    seen.add(node)
    for p, o in told.get(node, ()):
        out.add((node, p, o))
        if isinstance(o, BNode):
            _copy_blank(told, o, out, seen)
