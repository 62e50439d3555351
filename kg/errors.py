"""Errors a user can fix; the CLI prints them as one line and exits with their code."""

from __future__ import annotations


class KgError(Exception):
    """Base of every expected failure: bad input, bad query, unwritable output."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # One line, so the CLI's "Error: ..." never spills a multi-line parser dump.
        self.message = " ".join(str(message).split())
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class LoadError(KgError):
    """An input file is missing, unreadable or not valid RDF, or an import can't be resolved locally."""


class QueryError(KgError):
    """A SPARQL query is unknown, malformed, not read-only, or given bad parameters."""


class UsageError(KgError):
    """Options that don't fit together."""


class OutputError(KgError):
    """An output file can't be written."""


class RemoteError(KgError):
    """A SPARQL endpoint or graph store is unreachable, answers with an HTTP error, or not with SPARQL results."""


class ServerError(KgError):
    """The SPARQL server `kg serve` drives is missing, cannot start, or stopped unexpectedly."""


class LinkError(KgError):
    """Another dataset offers nothing to link: no labels, identifiers or codes to match on."""


class PublishError(KgError):
    """A release folder can't be written: it holds something that is not a previous release."""


class RenderError(KgError):
    """A picture can't be drawn: Graphviz is missing or fails."""


class ValidationError(KgError):
    """The data breaks the shapes or is inconsistent, and the command would reason over it (exit 1, as kg validate)."""

    exit_code = 1
