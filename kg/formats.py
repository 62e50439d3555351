"""The RDF serialisations kg reads and writes: one table, used by every command and help text.

Each format is known by its `--format` name, its file suffixes and its media type, and names
what rdflib and Oxigraph call it. Formats whose `datasets` flag is set keep named graphs
(N-Quads, TriG); the others hold one graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

from kg.errors import UsageError

__all__ = ["RdfFormat", "FORMATS", "by_name", "by_suffix", "by_media_type", "from_path", "names", "suffixes"]


@dataclass(frozen=True)
class RdfFormat:
    name: str  # what --format takes
    label: str  # what people call it
    suffixes: tuple[str, ...]  # the first is the one kg writes
    media_type: str
    rdflib: str  # rdflib's parser and serializer name
    oxigraph: str  # the pyoxigraph.RdfFormat member
    datasets: bool = False  # keeps named graphs

    @property
    def suffix(self) -> str:
        return self.suffixes[0]


FORMATS: tuple[RdfFormat, ...] = (
    RdfFormat("ttl", "Turtle", (".ttl",), "text/turtle", "turtle", "TURTLE"),
    RdfFormat("nt", "N-Triples", (".nt",), "application/n-triples", "nt", "N_TRIPLES"),
    RdfFormat("jsonld", "JSON-LD", (".jsonld", ".json"), "application/ld+json", "json-ld", "JSON_LD"),
    RdfFormat("xml", "RDF/XML", (".rdf", ".owl", ".xml"), "application/rdf+xml", "xml", "RDF_XML"),
    RdfFormat("nq", "N-Quads", (".nq",), "application/n-quads", "nquads", "N_QUADS", True),
    RdfFormat("trig", "TriG", (".trig",), "application/trig", "trig", "TRIG", True),
)
_ALIASES = {"turtle": "ttl", "ntriples": "nt", "n-triples": "nt", "json-ld": "jsonld", "rdfxml": "xml",
            "rdf": "xml", "owl": "xml", "nquads": "nq", "n-quads": "nq"}  # fmt: skip


def names() -> tuple[str, ...]:
    """The --format names, in table order; kg reads and writes each."""
    return tuple(f.name for f in FORMATS)


def suffixes() -> tuple[str, ...]:
    """Every suffix kg reads as RDF."""
    return tuple(s for f in FORMATS for s in f.suffixes)


def by_name(name: str) -> RdfFormat:
    """A format by its --format name (or a common alias: turtle, json-ld, rdfxml...)."""
    wanted = _ALIASES.get(name.strip().lower(), name.strip().lower())
    for rdf_format in FORMATS:
        if rdf_format.name == wanted:
            return rdf_format
    raise UsageError(f"unknown RDF format {name!r}; use one of {', '.join(names())}")


def by_suffix(path: str | PurePath) -> RdfFormat | None:
    """The format a file name's suffix says, or None."""
    suffix = PurePath(path).suffix.lower()
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def by_media_type(media_type: str) -> RdfFormat | None:
    """The format of an HTTP Content-Type (parameters ignored), or None."""
    bare = media_type.split(";", 1)[0].strip().lower()
    return next((f for f in FORMATS if f.media_type == bare), None)


def from_path(path: str | Path, explicit: str | None = None, *, what: str = "file") -> RdfFormat:
    """The format of `path`: `explicit` when given, else its suffix; a one-line UsageError otherwise."""
    if explicit:
        return by_name(explicit)
    found = by_suffix(path)
    if found is None:
        suffix = PurePath(path).suffix or "(none)"
        raise UsageError(
            f"{path}: cannot tell the RDF format of a {what} from its suffix {suffix!r}; "
            f"use one of {', '.join(suffixes())} or give the format"
        )
    return found
