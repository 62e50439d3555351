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

The library returns graphs; filters that name something unknown raise UsageError.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import networkx as nx
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from kg.errors import UsageError
from kg.namespaces import (
    DATA_GRAPHS,
    DCTERMS,
    DEFAULT_GRAPH,
    KG,
    KGC,
    KGD,
    KGG,
    OWL,
    PREFIXES,
    PROV,
    RDF,
    RDFS,
    SKOS,
    XSD,
    XSD_FLOATS,
    XSD_INTEGERS,
)
from kg.results import curie

__all__ = ["project", "class_hierarchy", "rdf_of", "expand", "LANGS", "EDGE_EXTRA_PROPERTIES"]

LANGS = ("en", "ko")
# SKOS links between concepts worth drawing; skos:narrower is the inverse of broader.
EDGE_EXTRA_PROPERTIES = (SKOS.broader, SKOS.related)
_SYMMETRIC = {SKOS.related}
_SOURCE_PROPERTIES = (KG.source, DCTERMS.source)
_LABEL_PROPERTIES = (RDFS.label, SKOS.prefLabel)
# Value nodes (blank nodes) whose literals become attributes of their owner, attribute suffixes.
_VALUE_PARTS = {KG.value: "", KG.currency: "Currency", KG.unitText: "Unit", KG.unitCode: "UnitCode"}


class _Model:
    """The parts of the dataset the projection reads, indexed once."""

    def __init__(self, dataset: Graph) -> None:
        # Each data file's graph with the sources it is derived from (kg.load.provenance).
        self.files: list[tuple[Graph, set[URIRef]]] = []
        if isinstance(dataset, Dataset):
            ontology, data, inferred = (dataset.graph(name) for name in (KGG.ontology, KGG.data, KGG.inferred))
            if len(ontology) + len(data) == 0:  # a Dataset without our named graphs: all of it is asserted
                ontology, data, inferred = Graph(), _union(dataset), Graph()
            provenance = dataset.graph(DEFAULT_GRAPH)
            for graph in dataset.graphs():
                if str(graph.identifier).startswith(DATA_GRAPHS):
                    cited = {o for o in provenance.objects(graph.identifier, PROV.wasDerivedFrom)}
                    self.files.append((graph, cited))
        else:
            ontology, data, inferred = Graph(), dataset, Graph()
        self.ontology = ontology
        self.asserted = _union(ontology, data)
        self.inferred = inferred
        self.everything = _union(self.asserted, inferred)

        self.superclasses = _closure(self.everything, RDFS.subClassOf)
        self.subproperties = _inverse_closure(self.everything, RDFS.subPropertyOf)
        self.kg_classes = sorted(
            {c for c in self.everything.subjects(RDF.type, OWL.Class) if _in(c, KG)}
            | {c for c in self.everything.subjects(RDFS.subClassOf, None) if _in(c, KG)}
        )
        self.edge_properties = {
            p for p in self.everything.subjects(RDF.type, OWL.ObjectProperty) if _in(p, KG) and p != KG.source
        } | set(EDGE_EXTRA_PROPERTIES)
        self.inverse: dict[URIRef, set[URIRef]] = defaultdict(set)
        for p, q in self.everything.subject_objects(OWL.inverseOf):
            self.inverse[p].add(q)
            self.inverse[q].add(p)
        for p in _SYMMETRIC:
            self.inverse[p].add(p)
        self.chains: dict[URIRef, list[URIRef]] = {}
        for p, head in self.everything.subject_objects(OWL.propertyChainAxiom):
            self.chains[p] = [m for m in Collection(self.everything, head) if isinstance(m, URIRef)]

        self.types: dict[URIRef, set[URIRef]] = defaultdict(set)
        for s, c in self.everything.subject_objects(RDF.type):
            if isinstance(s, URIRef) and (_in(s, KGD) or _in(s, KGC)) and _in(c, KG):
                self.types[s].add(c)
        self.entities = sorted(self.types)

    def sources_of(self, triple: tuple[URIRef, URIRef, URIRef]) -> set[URIRef]:
        """The sources that make an asserted statement: those of each data file's graph holding it (a
        shared reference file's, narrowed to the sources its subject cites)."""
        found: set[URIRef] = set()
        subject_cites = {o for p in _SOURCE_PROPERTIES for o in self.asserted.objects(triple[0], p)}
        for graph, cited in self.files:
            if triple in graph:
                found |= (cited & subject_cites) if len(cited) > 1 and cited & subject_cites else cited
        return found

    def most_specific(self, classes: Iterable[URIRef]) -> URIRef:
        classes = set(classes)
        minimal = [c for c in classes if not any(c in self.superclasses[d] for d in classes if d != c)]
        return min(minimal, key=curie)

    def top_class(self, cls: URIRef) -> URIRef:
        """The most general kg: superclass of `cls` (itself when it has none)."""
        tops = [c for c in self.superclasses[cls] if _in(c, KG) and not any(_in(d, KG) for d in self.superclasses[c])]
        return min(tops, key=curie) if tops else cls

    def label(self, term: URIRef, lang: str) -> str:
        return _pick(self.everything, term, _LABEL_PROPERTIES, lang) or curie(term)

    def derivations(self, prop: URIRef) -> set[URIRef]:
        """The properties whose edges can imply an edge of `prop`: itself, sub-properties, chain members."""
        found: set[URIRef] = set()
        todo = [prop]
        while todo:
            p = todo.pop()
            if p in found:
                continue
            found.add(p)
            todo.extend(self.subproperties[p])
            todo.extend(self.chains.get(p, ()))
        return found


def project(
    dataset: Graph,
    *,
    lang: str = "en",
    inferred: bool = False,
    region: URIRef | None = None,
    classes: Iterable[str] = (),
    focus: URIRef | None = None,
    depth: int = 1,
) -> nx.MultiDiGraph:
    """The entities of `dataset` (an rdflib Dataset, kg.graph's `rdflib` view) as a MultiDiGraph: CURIE
    node ids, attributes, one edge per object property.

    Filters apply in this order: `region` (a place's IRI: its members and what they link to),
    classes, then the neighbourhood of the entity `focus` up to `depth` hops in either direction.
    Names typed by users are resolved to IRIs before (kg.regions).
    """
    if lang not in LANGS:
        raise UsageError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    if depth < 0:
        raise UsageError(f"--depth must be 0 or more, not {depth}")
    model = _Model(dataset)
    if not model.entities:
        raise UsageError("the graph has no entities to project (no kgd:/kgc: IRI typed with a kg: class)")
    places = _Places(model)
    asserted_edges = _edges(model, model.asserted)

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

    graph = nx.MultiDiGraph()
    graph.graph.update(
        {
            "name": "battery-kg",
            "lang": lang,
            "inferred": inferred,
            "region": curie(region) if region is not None else "",
            "classes": " ".join(sorted(curie(c) for c in _resolve_classes(model, classes, closed=False))),
            "focus": curie(focus_iri) if focus_iri is not None else "",
            "depth": depth if focus_iri is not None else 0,
        }
    )
    for entity in sorted(keep, key=curie):
        graph.add_node(curie(entity), **_node_attributes(model, places, entity, lang))
    for s, p, o, is_inferred in sorted(edges, key=lambda e: (curie(e[0]), curie(e[2]), curie(e[1]))):
        key = curie(p)
        # An asserted edge's sources: the pages whose statements make it (inferred edges have none of their own).
        sources = "" if is_inferred else " ".join(sorted(curie(src) for src in model.sources_of((s, p, o))))
        graph.add_edge(
            curie(s), curie(o), key=key, property=key, label=model.label(p, lang), inferred=is_inferred, sources=sources
        )
    if focus_iri is not None:
        near = nx.single_source_shortest_path_length(graph.to_undirected(as_view=True), curie(focus_iri), cutoff=depth)
        graph = graph.subgraph(sorted(near)).copy()
    _harmonise_types(graph)
    return graph


def class_hierarchy(dataset: Graph, lang: str = "en") -> nx.DiGraph:
    """The ontology's kg: classes, edges subclass → superclass (asserted rdfs:subClassOf between kg: classes)."""
    if lang not in LANGS:
        raise UsageError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    model = _Model(dataset)
    counts: dict[URIRef, int] = defaultdict(int)
    for entity in model.entities:
        counts[model.most_specific(model.types[entity])] += 1
    graph = nx.DiGraph()
    graph.graph.update({"name": "battery-kg class hierarchy", "lang": lang})
    for cls in sorted(model.kg_classes, key=curie):
        graph.add_node(
            curie(cls),
            iri=str(cls),
            type="owl:Class",
            label=model.label(cls, lang),
            label_en=_pick(model.everything, cls, _LABEL_PROPERTIES, "en") or curie(cls),
            label_ko=_pick(model.everything, cls, _LABEL_PROPERTIES, "ko") or "",
            region="",
            source="",
            instances=counts[cls],
        )
    pairs = {
        (curie(s), curie(o))
        for s, o in model.asserted.subject_objects(RDFS.subClassOf)
        if _in(s, KG) and _in(o, KG) and s != o
    }
    label = "subclass of" if lang == "en" else "하위 클래스"
    for s, o in sorted(pairs):
        graph.add_edge(s, o, key="rdfs:subClassOf", property="rdfs:subClassOf", label=label, inferred=False)
    return graph


# ---------------------------------------------------------------- edges


def _edges(model: _Model, graph: Graph) -> list[tuple[URIRef, URIRef, URIRef]]:
    entities = model.types
    found = []
    for p in model.edge_properties:
        for s, o in graph.subject_objects(p):
            if s in entities and o in entities and s != o:
                found.append((s, p, o))
    if graph is model.asserted:
        # Both directions asserted (skos:broader and skos:narrower): drawing one is enough.
        present = set(found)
        found = [
            (s, p, o)
            for s, p, o in found
            if not any((o, q, s) in present and curie(q) < curie(p) for q in model.inverse.get(p, ()))
        ]
    return sorted(set(found))


def _most_specific_inferred(model: _Model, kept_edges, keep: set[URIRef]) -> list[tuple[URIRef, URIRef, URIRef]]:
    asserted = {(s, p, o) for s, p, o, _ in kept_edges}
    candidates = [e for e in _edges(model, model.inferred) if e[0] in keep and e[2] in keep and e not in asserted]
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

    def __init__(self, model: _Model) -> None:
        self.model = model
        self.graph = model.everything
        self.containers = _closure(model.everything, KG.containedInPlace)
        self.memo: dict[URIRef, frozenset[URIRef]] = {}

    def of(self, entity: URIRef, _stack: frozenset = frozenset()) -> frozenset[URIRef]:
        if entity in self.memo:
            return self.memo[entity]
        if entity in _stack:
            return frozenset()
        stack = _stack | {entity}
        g = self.graph
        anchors: set[Node] = set()
        if KG.Place in self.model.types.get(entity, ()) or any(
            KG.Place in self.model.superclasses[c] for c in self.model.types.get(entity, ())
        ):
            anchors.add(entity)
        anchors |= set(g.objects(entity, KG.location)) | set(g.objects(entity, KG.areaServed))
        found: set[URIRef] = set()
        for anchor in anchors:
            if isinstance(anchor, URIRef):
                found |= {anchor} | self.containers[anchor]
        for owners in (
            [o for p in self._OWNED_BY for o in g.objects(entity, p)]
            + [s for p in self._OWNER_OF for s in g.subjects(p, entity)],
            [o for p in self._ASSOCIATED for o in g.objects(entity, p)]
            + [s for p in self._ASSOCIATED_BY for s in g.subjects(p, entity)],
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
        provinces = [p for p in self.of(entity) if KG.ProvinceLevelArea in _closed_types(self.model, p)]
        return curie(min(provinces, key=curie)) if provinces else ""


def _resolve_classes(model: _Model, names: Iterable[str], closed: bool = True) -> set[URIRef]:
    chosen: set[URIRef] = set()
    for name in names:
        cls = _lookup_class(model, name)
        chosen.add(cls)
        if closed:
            chosen |= {c for c in model.kg_classes if cls in model.superclasses[c]}
    return chosen


def _lookup_class(model: _Model, name: str) -> URIRef:
    wanted = name.strip()
    for cls in model.kg_classes:
        if wanted in (curie(cls), str(cls)) or wanted.casefold() in {
            str(cls)[len(str(KG)) :].casefold(),
            *(str(label).casefold() for p in _LABEL_PROPERTIES for label in model.everything.objects(cls, p)),
        }:
            return cls
    options = ", ".join(curie(c) for c in sorted(model.kg_classes, key=curie))
    raise UsageError(f"unknown class {name!r}; use one of {options}")


def _closed_types(model: _Model, entity: URIRef) -> set[URIRef]:
    direct = model.types.get(entity, set())
    return set(direct) | {s for c in direct for s in model.superclasses[c]}


# ---------------------------------------------------------------- node attributes


def _node_attributes(model: _Model, places: _Places, entity: URIRef, lang: str) -> dict:
    g = model.everything
    cls = model.most_specific(model.types[entity])
    label_en = _pick(g, entity, _LABEL_PROPERTIES, "en", strict=True)
    label_ko = _pick(g, entity, _LABEL_PROPERTIES, "ko", strict=True)
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
        "source": " ".join(sorted({curie(o) for p in _SOURCE_PROPERTIES for o in g.objects(entity, p)})),
    }
    alt = sorted({str(o) for o in g.objects(entity, SKOS.altLabel)})
    if alt:
        attributes["altLabel"] = " | ".join(alt)
    # Literal-valued kg: properties, and the value nodes (amounts, areas) the entity owns.
    literal_props = sorted(
        {p for p, o in model.asserted.predicate_objects(entity) if _in(p, KG) and isinstance(o, (Literal, BNode))},
        key=curie,
    )
    for p in literal_props:
        name = str(p)[len(str(KG)) :]
        values = list(model.asserted.objects(entity, p))
        literals = [v for v in values if isinstance(v, Literal)]
        if literals:
            attributes[name] = _literal_value(literals, lang)
        for node in sorted((v for v in values if isinstance(v, BNode)), key=str)[:1]:
            for part, suffix in _VALUE_PARTS.items():
                parts = [v for v in model.asserted.objects(node, part) if isinstance(v, Literal)]
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


def _harmonise_types(graph: nx.Graph) -> None:
    """One type per attribute name across nodes, as GraphML and GEXF declare a type per key."""
    kinds: dict[str, set[type]] = defaultdict(set)
    for _, data in graph.nodes(data=True):
        for name, value in data.items():
            kinds[name].add(type(value))
    for name, seen in kinds.items():
        if seen <= {int} or seen <= {str} or seen <= {float} or seen <= {bool}:
            continue
        target = float if seen <= {int, float} else str
        for _, data in graph.nodes(data=True):
            if name in data:
                data[name] = target(data[name])


# ---------------------------------------------------------------- helpers


def _pick(graph: Graph, term: Node, properties: Iterable[URIRef], lang: str, strict: bool = False) -> str:
    """The smallest label in `lang`, else in English (unless strict), else ''."""
    labels = [o for p in properties for o in graph.objects(term, p) if isinstance(o, Literal)]
    for wanted in (lang,) if strict else (lang, "en"):
        chosen = sorted(str(o) for o in labels if o.language == wanted)
        if chosen:
            return chosen[0]
    return ""


def _union(*graphs: Graph) -> Graph:
    merged = Graph()
    for graph in graphs:
        merged.addN((s, p, o, merged) for s, p, o in graph.triples((None, None, None)))
    return merged


def _in(term: Node, namespace) -> bool:
    return isinstance(term, URIRef) and str.startswith(term, str(namespace))


def _closure(graph: Graph, prop: URIRef) -> dict[Node, set[Node]]:
    """term -> every term reachable by one or more `prop` steps."""
    step: dict[Node, set[Node]] = defaultdict(set)
    for s, o in graph.subject_objects(prop):
        if s != o:
            step[s].add(o)
    closed: dict[Node, set[Node]] = defaultdict(set)
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


def _inverse_closure(graph: Graph, prop: URIRef) -> dict[Node, set[Node]]:
    """term -> every term that reaches it by one or more `prop` steps (e.g. all sub-properties)."""
    down: dict[Node, set[Node]] = defaultdict(set)
    for s, supers in _closure(graph, prop).items():
        for o in supers:
            down[o].add(s)
    return down


def rdf_of(dataset: Graph, graph: nx.Graph) -> Graph:
    """The asserted RDF behind a projected (sub)graph, for the ttl/nt/jsonld exports.

    Every node's own triples (types, labels, literals, sources, external links and the value
    nodes it owns), and exactly the edges the projection kept: a link to an entity outside
    the subgraph is left out, and kept inferred edges are written as plain triples.
    """
    model = _Model(dataset)
    nodes = {URIRef(data["iri"]): node for node, data in graph.nodes(data=True)}
    universe = set(model.types) | set(model.kg_classes)
    edges = {(u, v, str(_edge_key(graph, u, v, k, d))) for u, v, k, d in _all_edges(graph)}
    out = Graph()
    always = {RDF.type, *_SOURCE_PROPERTIES}
    for s, node in sorted(nodes.items(), key=lambda item: item[1]):
        for p, o in model.asserted.predicate_objects(s):
            if isinstance(o, URIRef) and p not in always and o in universe:
                if o not in nodes or (node, nodes[o], curie(p)) not in edges:
                    continue
            out.add((s, p, o))
            if isinstance(o, BNode):
                _copy_blank(model.asserted, o, out)
    for u, v, k, d in _all_edges(graph):
        if d.get("inferred"):
            s, o = URIRef(graph.nodes[u]["iri"]), URIRef(graph.nodes[v]["iri"])
            out.add((s, expand(str(_edge_key(graph, u, v, k, d))), o))
    return out


def expand(name: str) -> URIRef:
    """kg:location -> its IRI; <iri> or a full IRI as is."""
    if name.startswith("<") and name.endswith(">"):
        return URIRef(name[1:-1])
    prefix, _, local = name.partition(":")
    if prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix][local]
    return URIRef(name)


def _all_edges(graph: nx.Graph):
    if graph.is_multigraph():
        yield from graph.edges(keys=True, data=True)
    else:
        for u, v, d in graph.edges(data=True):
            yield u, v, d.get("property", ""), d


def _edge_key(graph: nx.Graph, u, v, key, data) -> str:
    return data.get("property") or key


def _copy_blank(source: Graph, node: BNode, out: Graph, seen: set | None = None) -> None:
    seen = seen if seen is not None else set()
    if node in seen:
        return
    seen.add(node)
    for p, o in source.predicate_objects(node):
        out.add((node, p, o))
        if isinstance(o, BNode):
            _copy_blank(source, o, out, seen)
