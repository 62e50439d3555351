"""Talk to other SPARQL servers over the W3C protocols: query any endpoint, push graphs to a store.

Queries go out as SPARQL 1.1 Protocol POSTs and come back as the same engine-neutral
`Answer` a local query gives, so every output format works unchanged. Graphs go out
through the SPARQL 1.1 Graph Store HTTP Protocol (one PUT per named graph, which the
store applies atomically). HTTP is urllib from the standard library: the two requests we
make need nothing more, streaming a file body with a Content-Length is built in, and a
dependency fewer is one less thing to audit on a machine that holds credentials.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import logging
import netrc
import os
import re
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from kg import __version__
from kg.engine import Answer
from kg.engine.sparql_text import IRI_SAFE, bind_values, ntriples_term
from kg.engine.terms import stable_bnode_names
from kg.errors import RemoteError, UsageError
from kg.formats import by_media_type
from kg.namespaces import RDFS
from kg.results import SPARQL_RESULTS_NS

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
USER_ENV, PASSWORD_ENV = "KG_ENDPOINT_USER", "KG_ENDPOINT_PASSWORD"
# RDF 1.1 §3.5: blank nodes sent to another store become IRIs under /.well-known/genid/.
GENID = "https://w3id.org/battery-kg/.well-known/genid/"

_RESULTS_JSON = "application/sparql-results+json"
_RESULTS_XML = "application/sparql-results+xml"
_USER_AGENT = f"battery-kg/{__version__} (+https://w3id.org/battery-kg)"
_CHUNK = 256 * 1024


# -- HTTP ----------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET and resend credentials to the new host; refuse instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        return None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_url(url: str, what: str = "--endpoint") -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{what} {url!r}: expected an http:// or https:// URL such as http://localhost:7878/query")
    return parts


def credentials(url: str) -> tuple[str, str] | None:
    """User and password for `url`: $KG_ENDPOINT_USER/$KG_ENDPOINT_PASSWORD, else ~/.netrc ($NETRC), else none.

    Never from the command line, where they would end up in shell history and `ps` output.
    """
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user or password:
        if not (user and password is not None):
            raise UsageError(f"set both {USER_ENV} and {PASSWORD_ENV}, or neither")
        return user, password
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(_check_url(url).hostname or "")
    except (netrc.NetrcParseError, OSError) as error:
        raise RemoteError(f"{path}: {error}") from None
    if entry is None:
        return None
    login, _account, secret = entry
    return (login or "", secret or "")


@dataclass
class _Response:
    status: int
    content_type: str
    body: bytes


def _request(
    method: str,
    url: str,
    *,
    body: bytes | BinaryIO | None = None,
    length: int | None = None,
    headers: Mapping[str, str],
    timeout: float,
) -> _Response:
    """One HTTP exchange; every failure becomes a one-line RemoteError naming the URL."""
    parts = _check_url(url)
    all_headers = {"User-Agent": _USER_AGENT, **headers}
    if length is not None:
        all_headers["Content-Length"] = str(length)
    secret = credentials(url)
    if secret:
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            log.warning("sending the password for %s over plain http; anyone on the path can read it", parts.hostname)
        token = base64.b64encode(f"{secret[0]}:{secret[1]}".encode()).decode("ascii")
        all_headers["Authorization"] = f"Basic {token}"
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if is_loopback(parts.hostname):
        handlers.append(urllib.request.ProxyHandler({}))  # never send a local server's traffic to a proxy
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=body, headers=all_headers, method=method)
    deadline = time.monotonic() + timeout
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))  # for messages: no ?graph=
    try:
        with opener.open(request, timeout=timeout) as response:
            chunks = []
            while chunk := response.read(_CHUNK):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError
            return _Response(response.status, response.headers.get_content_type(), b"".join(chunks))
    except urllib.error.HTTPError as error:
        raise RemoteError(_http_error(url, error)) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise RemoteError(f"{url} did not answer within {timeout:g} s") from None
        text = getattr(reason, "strerror", None) or str(reason)
        raise RemoteError(f"cannot reach {url}: {text}") from None
    except TimeoutError:
        raise RemoteError(f"{url} did not answer within {timeout:g} s") from None
    except (ConnectionError, OSError) as error:  # reset mid-answer, broken pipe during an upload...
        raise RemoteError(f"connection to {url} failed: {getattr(error, 'strerror', None) or error}") from None


def _http_error(url: str, error: urllib.error.HTTPError) -> str:
    try:
        text = error.read(4096).decode("utf-8", "replace")
    except (OSError, TimeoutError):
        text = ""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if error.headers.get_content_type() == "text/html":
        first = re.sub(r"<[^>]+>", " ", first).strip()
    message = f"{url} answered HTTP {error.code} {error.reason}"
    if 300 <= error.code < 400:
        message += f" (redirect to {error.headers.get('Location', '?')}; use that URL)"
    elif first:
        message += f": {first[:200]}"
    if error.code == 401:
        message += f" — set {USER_ENV} and {PASSWORD_ENV}, or add the host to ~/.netrc"
    return message


# -- queries -------------------------------------------------------------------------


def query(
    endpoint: str, sparql_text: str, kind: str, *, ordered: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> Answer:
    """POST a read-only query to a SPARQL 1.1 endpoint and read its answer into an `Answer`.

    `kind` (SELECT, ASK, CONSTRUCT, DESCRIBE) comes from parsing the query locally first.
    """
    graph_kind = kind in ("CONSTRUCT", "DESCRIBE")
    accept = (
        "text/turtle, application/n-triples;q=0.9, application/rdf+xml;q=0.8"
        if graph_kind
        else f"{_RESULTS_JSON}, {_RESULTS_XML};q=0.8"
    )
    response = _request(
        "POST",
        endpoint,
        body=sparql_text.encode("utf-8"),
        headers={"Content-Type": "application/sparql-query; charset=utf-8", "Accept": accept},
        timeout=timeout,
    )
    if graph_kind:
        return Answer(kind=kind, graph=_parse_graph(endpoint, response), ordered=False)
    if response.content_type in (_RESULTS_JSON, "application/json"):
        answer = _parse_json(endpoint, response.body, kind)
    elif response.content_type in (_RESULTS_XML, "application/xml", "text/xml"):
        answer = _parse_xml(endpoint, response.body, kind)
    else:
        raise _not_results(endpoint, response)
    answer.ordered = ordered
    return answer


def default_graph_hint(endpoint: str, *, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """Why an endpoint may answer nothing: its default graph is empty while it has named graphs
    (a server whose default graph is not the union of its graphs, as `oxigraph serve` without
    --union-default-graph after kg push). What to do, or None when that is not the case."""
    probe = "ASK { ?s ?p ?o }"
    if query(endpoint, probe, "ASK", timeout=timeout).boolean:
        return None
    if not query(endpoint, "ASK { GRAPH ?g { ?s ?p ?o } }", "ASK", timeout=timeout).boolean:
        return None
    return (
        f"{endpoint}'s default graph is empty but it has named graphs: its default graph is not their union. "
        "Start the server so that it is (oxigraph serve --union-default-graph, Fuseki tdb:unionDefaultGraph), "
        "or query the graphs with GRAPH ?g { ... }"
    )


def _not_results(endpoint: str, response: _Response) -> RemoteError:
    return RemoteError(
        f"{endpoint} answered with {response.content_type or 'no content type'}, not SPARQL results"
        " — is this the query URL (Oxigraph: /query, Fuseki: /DATASET/query)?"
    )


def _parse_json(endpoint: str, body: bytes, kind: str) -> Answer:
    try:
        document = json.loads(body.decode("utf-8"))
        if kind == "ASK":
            if not isinstance(document.get("boolean"), bool):
                raise ValueError("no boolean")
            return Answer(kind="ASK", boolean=document["boolean"])
        variables = [str(v) for v in document["head"]["vars"]]
        rows = [
            tuple(_json_term(binding[v]) if v in binding else None for v in variables)
            for binding in document["results"]["bindings"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise RemoteError(f"{endpoint} answered with malformed SPARQL JSON results ({error})") from None
    return Answer(kind="SELECT", variables=variables, rows=rows)


def _json_term(value: Mapping[str, str]) -> Node:
    kind, lexical = value["type"], value["value"]
    if kind == "uri":
        return _unskolemize(URIRef(lexical))
    if kind == "bnode":
        return BNode(lexical)
    if kind in ("literal", "typed-literal"):
        return _literal(lexical, value.get("xml:lang"), value.get("datatype"))
    raise ValueError(f"unsupported term type {kind!r}")


def _literal(lexical: str, language: str | None, datatype: str | None) -> Literal:
    if language:
        return Literal(lexical, lang=language)
    return Literal(lexical, datatype=URIRef(datatype) if datatype else None)


def _parse_xml(endpoint: str, body: bytes, kind: str) -> Answer:
    ns = f"{{{SPARQL_RESULTS_NS}}}"
    try:
        root = ET.fromstring(body)
        if root.tag != f"{ns}sparql":
            raise ValueError(f"root element {root.tag}")
        if kind == "ASK":
            boolean = root.find(f"{ns}boolean")
            if boolean is None or (boolean.text or "").strip() not in ("true", "false"):
                raise ValueError("no boolean")
            return Answer(kind="ASK", boolean=boolean.text.strip() == "true")
        variables = [v.get("name", "") for v in root.iter(f"{ns}variable")]
        rows = []
        for result in root.iter(f"{ns}result"):
            found = {b.get("name"): _xml_term(b[0], ns) for b in result.findall(f"{ns}binding")}
            rows.append(tuple(found.get(v) for v in variables))
    except (ET.ParseError, ValueError, IndexError) as error:
        raise RemoteError(f"{endpoint} answered with malformed SPARQL XML results ({error})") from None
    return Answer(kind="SELECT", variables=variables, rows=rows)


def _xml_term(element: ET.Element, ns: str) -> Node:
    text = element.text or ""
    if element.tag == f"{ns}uri":
        return _unskolemize(URIRef(text))
    if element.tag == f"{ns}bnode":
        return BNode(text)
    if element.tag == f"{ns}literal":
        return _literal(text, element.get("{http://www.w3.org/XML/1998/namespace}lang"), element.get("datatype"))
    raise ValueError(f"unsupported term element {element.tag}")


def _parse_graph(endpoint: str, response: _Response) -> Graph:
    rdf_format = by_media_type(response.content_type)
    if rdf_format is None or rdf_format.datasets:
        raise _not_results(endpoint, response)
    graph = Graph()
    try:
        graph.parse(data=response.body, format=rdf_format.rdflib)
    except Exception as error:  # rdflib's parsers raise many exception types on bad input
        raise RemoteError(f"{endpoint} answered with {response.content_type} that does not parse: {error}") from None
    out = Graph()
    out += (tuple(_unskolemize(t) if isinstance(t, URIRef) else t for t in triple) for triple in graph)
    return out


def labels(endpoint: str, iris: Iterable[URIRef], sparql_text: str, *, timeout: float) -> Graph:
    """rdfs:label triples of `iris` from the endpoint, so remote tables show names as local ones do.

    `sparql_text` (kg/sparql/labels.rq) selects ?iri ?label; ?iri is bound here by a VALUES block.
    """
    wanted = sorted({iri for iri in iris if isinstance(iri, URIRef)})
    graph = Graph()
    for start in range(0, len(wanted), 200):  # keep each request small enough for any server
        chunk = wanted[start : start + 200]
        text = bind_values(sparql_text, {"iri": chunk})
        answer = query(endpoint, text, "SELECT", timeout=timeout)
        for iri, label in answer.rows:
            if iri is not None and label is not None:
                graph.add((iri, RDFS.label, label))
    return graph


# -- blank nodes between stores -------------------------------------------------------


def skolemize(
    graphs: Mapping[URIRef, Iterable[tuple[Node, Node, Node]]],
) -> dict[URIRef, list[tuple[Node, Node, Node]]]:
    """Replace blank nodes by IRIs under GENID, the same IRI in every graph.

    Each graph travels as its own document, where a blank node would become a new,
    unrelated node; our inferred graph says things about blank nodes of the data graph
    (a grant's amount). The names are hashes of each node's surroundings, so the same
    graphs give the same IRIs on every push.
    """
    triples = [(name, t) for name, graph in graphs.items() for t in graph]
    names = stable_bnode_names(t for _g, t in triples)

    def skolem(term: Node) -> Node:
        return URIRef(GENID + names[term]) if isinstance(term, BNode) else term

    out: dict[URIRef, list[tuple[Node, Node, Node]]] = {name: [] for name in graphs}
    for name, (s, p, o) in triples:
        out[name].append((skolem(s), p, skolem(o)))
    return out


def _unskolemize(iri: URIRef) -> Node:
    return BNode(iri[len(GENID) :]) if str.startswith(iri, GENID) else iri


# -- pushing graphs -------------------------------------------------------------------


@dataclass
class Upload:
    """One named graph sent to a store."""

    graph: URIRef
    triples: int
    bytes: int
    stored: int | None = None  # what the store reports afterwards, when asked


def default_store_url(endpoint: str) -> str:
    """The Graph Store Protocol URL that goes with a query URL, for the stores whose layout is known.

    Oxigraph: /query -> /store; Fuseki: /DATASET/query or /DATASET/sparql -> /DATASET/data;
    GraphDB and RDF4J: /repositories/REPO -> /repositories/REPO/rdf-graphs/service.
    """
    parts = _check_url(endpoint)
    path = parts.path.rstrip("/")
    head, _, last = path.rpartition("/")
    if path == "" or (head == "" and last in ("query", "sparql")):
        new = "/store"
    elif last in ("query", "sparql"):
        new = head + "/data"
    elif re.fullmatch(r".*/repositories/[^/]+", path):
        new = path + "/rdf-graphs/service"
    else:
        raise UsageError(f"cannot tell the Graph Store URL that goes with {endpoint}; give --store-endpoint")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, new, "", ""))


class _Progress(io.RawIOBase):
    """A file body that reports how much of it has been read (= sent)."""

    def __init__(self, handle: BinaryIO, report: Callable[[int], None] | None) -> None:
        self.handle, self.report = handle, report

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(_CHUNK if size is None or size < 0 else min(size, _CHUNK))
        if data and self.report:
            self.report(len(data))
        return data


def push(
    graphs: Mapping[URIRef, Iterable[tuple[Node, Node, Node]]],
    store_url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[URIRef, int, int], None] | None = None,
) -> list[Upload]:
    """PUT each graph into its named graph at a Graph Store Protocol endpoint, replacing what was there.

    Each PUT is atomic for its graph; the push as a whole is not (a failure leaves the
    graphs sent so far). Bodies are sorted N-Triples streamed from a temporary file.
    `progress(graph, bytes_sent, bytes_total)` is called as chunks go out.
    """
    _check_url(store_url, "--store-endpoint")
    uploads = []
    for name, triples in skolemize(graphs).items():
        lines = sorted({" ".join(ntriples_term(t) for t in triple) + " .\n" for triple in triples})
        with tempfile.TemporaryFile() as handle:
            for line in lines:
                handle.write(line.encode("utf-8"))
            size = handle.tell()
            handle.seek(0)
            sent = 0

            def report(n: int, name: URIRef = name, size: int = size) -> None:
                nonlocal sent
                sent += n
                if progress:
                    progress(name, sent, size)

            separator = "&" if "?" in store_url else "?"
            url = f"{store_url}{separator}graph={urllib.parse.quote(str(name), safe='')}"
            try:
                _request(
                    "PUT",
                    url,
                    body=_Progress(handle, report),
                    length=size,
                    headers={"Content-Type": "application/n-triples; charset=utf-8"},
                    timeout=timeout,
                )
            except RemoteError as error:
                raise RemoteError(f"sending <{name}>: {error.message}") from None
        uploads.append(Upload(graph=name, triples=len(lines), bytes=size))
    return uploads


def count_triples(endpoint: str, sparql_text: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[URIRef, int]:
    """Triples per named graph as the endpoint reports them (kg/sparql/triples-per-graph.rq)."""
    answer = query(endpoint, sparql_text, "SELECT", timeout=timeout)
    counts = {}
    for row in answer.rows:
        graph, number = row[0], row[1]
        if isinstance(graph, URIRef) and isinstance(number, Literal):
            counts[graph] = int(number.toPython())
    return counts


def check_graph_prefix(prefix: str) -> None:
    """A graph-name prefix must make absolute IRIs that survive a URL query string."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", prefix) or not IRI_SAFE.match(prefix):
        raise UsageError(f"--graph-prefix {prefix!r}: expected an absolute IRI such as https://example.org/graph/")


def slug(text: str) -> str:
    """A file name as an IRI path segment."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "linkset"
