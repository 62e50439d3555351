"""A test double engine: the declared interface (kg.engine.Engine) and nothing else.

Written against the interface alone, in plain rdflib and owlrl, with no optional capability,
so the engine contract tests and `kg --engine double` show that kg needs no more of an engine
than the interface declares.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import owlrl
from rdflib import Dataset, Graph, URIRef
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.plugins.sparql import prepareQuery

from kg.engine import Answer, Engine, Noise, Prepared, Triple
from kg.errors import LoadError, QueryError
from kg.formats import RdfFormat
from kg.namespaces import PREFIXES

_KINDS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT", "DescribeQuery": "DESCRIBE"}


class DoubleEngine(Engine):
    name = "double"
    version = "double-1"

    def parse(self, path: Path, rdf_format: RdfFormat) -> Graph:
        graph = Graph()
        try:
            graph.parse(str(path), format=rdf_format.rdflib)
        except Exception as error:  # noqa: BLE001 - a double: any parser failure is bad input
            raise LoadError(f"{path}: {error}") from None
        return graph

    def entailments(self, triples: set[Triple] | list[Triple], noise: Noise) -> list[Triple]:
        graph = Graph()
        graph.addN((s, p, o, graph) for s, p, o in triples)
        owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(graph)
        known = set(triples)
        return [t for t in graph if t not in known and not noise.is_noise(*t)]

    def dataset(self, graphs: Mapping[URIRef, Iterable[Triple]]) -> Dataset:
        dataset = Dataset(default_union=True)
        for name, triples in graphs.items():
            context = dataset.graph(name)
            for triple in triples:
                context.add(triple)
        return dataset

    def load_nquads(self, path: Path) -> Dataset:
        parsed = Dataset()
        parsed.parse(str(path), format="nquads")
        return self.dataset({g.identifier: g for g in parsed.graphs() if g.identifier != DATASET_DEFAULT_GRAPH_ID})

    def dump_nquads(self, dataset: Any, out: BinaryIO) -> None:
        out.write(dataset.serialize(format="nquads", encoding="utf-8"))

    def triples(self, dataset: Any, graph: URIRef | None = None) -> Iterator[Triple]:
        source = dataset.graph(graph) if graph is not None else dataset
        for s, p, o, *_ in source:
            yield s, p, o

    def graph_names(self, dataset: Any) -> list[URIRef]:
        return sorted(g.identifier for g in dataset.graphs() if g.identifier != DATASET_DEFAULT_GRAPH_ID and len(g))

    def prepare(self, sparql_text: str) -> Prepared:
        try:
            query = prepareQuery(sparql_text, initNs=dict(PREFIXES))
        except Exception as error:  # noqa: BLE001 - syntax errors, updates, unknown prefixes
            raise QueryError(f"not a read-only query kg can run: {error}") from None
        algebra = query.algebra
        ordered = "ORDER BY" in sparql_text.upper().rsplit("}", 1)[-1]
        variables = frozenset(str(v) for v in getattr(algebra, "_vars", ()))
        return Prepared(sparql_text, _KINDS[algebra.name], variables, ordered, native=query)

    def query(self, dataset: Any, prepared: Prepared, bindings: Mapping[str, Any], *, stream: bool = False) -> Answer:
        result = dataset.query(prepared.native, initBindings=dict(bindings))
        answer = Answer(kind=prepared.kind, ordered=prepared.ordered)
        if prepared.kind == "SELECT":
            answer.variables = [str(v) for v in result.vars or []]
            rows = (tuple(row) for row in result)
            answer.rows = rows if stream else list(rows)
        elif prepared.kind == "ASK":
            answer.boolean = bool(result.askAnswer)
        else:
            answer.graph = result.graph
        return answer
