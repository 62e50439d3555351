"""The `kg` command: the only place that prints, sets up logging and exits."""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from kg import __version__
from kg.engine import DEFAULT_ENGINE, available_engines, get_engine
from kg.errors import KgError, UsageError
from kg.load import Sources, load
from kg.namespaces import bind
from kg.paths import atomic_write, config_path, data_dir, display, ontology_dir, queries_dir, read_config
from kg.queries import bind_query, execute, list_queries, parse_assignment
from kg.reason import open_dataset, reason_sources
from kg.results import GRAPH_FORMATS, RESULT_FORMATS, curie, render_table, serialize_graph, write_answer
from kg.stats import stats as compute_stats

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
GRAPH_OUTPUT_FORMATS = ("ttl", "nt", "jsonld")


class _KgClickError(click.ClickException):
    """Carries a KgError through click, which prints `Error: <message>` on stderr."""

    def __init__(self, error: KgError) -> None:
        super().__init__(error.message)
        self.exit_code = error.exit_code


class KgGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KgError as error:
            raise _KgClickError(error) from None
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None


@dataclass
class Settings:
    """Global options, shared by every command."""

    data: tuple[Path, ...]
    ontology: Path
    queries: Path
    use_cache: bool
    engine: str = DEFAULT_ENGINE
    validate: bool = True
    store: Path | None = None

    def sources(self) -> Sources:
        return load(self.ontology, self.data, get_engine(self.engine))

    def dataset(self, reasoning: bool = True) -> object:
        """The engine's queryable dataset: from --store if given, else the (cached) reasoned sources."""
        engine = get_engine(self.engine)
        if self.store is not None and reasoning:
            from kg.store import open_store

            return open_store(self.store, engine)
        return open_dataset(self.ontology, self.data, engine, reasoning=reasoning, use_cache=self.use_cache)


class _StderrHandler(logging.Handler):
    """One line per record on the current stderr (CliRunner swaps it), never a traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        click.echo(prefix + " ".join(record.getMessage().split()), err=True)


def _setup_logging(verbose: bool) -> None:
    # rdflib and owlrl log warnings (e.g. ill-typed literals) with tracebacks; show one line.
    for name, level in (
        ("kg", logging.INFO if verbose else logging.WARNING),
        ("rdflib", logging.WARNING),
        ("owlrl", logging.WARNING),
    ):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, _StderrHandler)]
        logger.addHandler(_StderrHandler())
        logger.setLevel(level)
        logger.propagate = False


@click.group(cls=KgGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="kg")
@click.option(
    "--data",
    "data",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Data file or folder (repeatable). Default: the bundled data/.",
)
@click.option(
    "--ontology",
    type=click.Path(path_type=Path),
    help="Ontology folder holding kg.ttl and catalog-v001.xml. Default: the bundled ontology/.",
)
@click.option(
    "--queries", type=click.Path(path_type=Path), help="Folder of named queries (*.rq). Default: the bundled queries/."
)
@click.option("--no-cache", is_flag=True, help="Reason from scratch; neither read nor write the cache.")
@click.option(
    "--engine",
    type=click.Choice(available_engines()),
    envvar="KG_ENGINE",
    help=f"Which engine parses, reasons and queries (also $KG_ENGINE, or `engine =` in the [kg] section of "
    f"the config file, ~/.config/battery-kg/config.ini or $KG_CONFIG). Default: {DEFAULT_ENGINE}.",
)
@click.option("--no-validate", is_flag=True, help="Reason and query even when the data breaks the shapes.")
@click.option(
    "--store",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="KG_STORE",
    help="Query this on-disk store (built by kg load --store) instead of parsing and reasoning (also $KG_STORE).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what runs (engine, cache hits) to stderr.")
@click.pass_context
def cli(ctx: click.Context, data, ontology, queries, no_cache, engine, no_validate, store, verbose) -> None:
    """Build, reason over and query the battery-kg knowledge graph.

    Errors print one line starting with "Error:" and exit with status 2.
    """
    _setup_logging(verbose)
    engine = engine or _configured_engine()
    ctx.obj = Settings(
        data=tuple(data) or (data_dir(),),
        ontology=ontology or ontology_dir(),
        queries=queries or queries_dir(),
        use_cache=not no_cache,
        engine=engine,
        validate=not no_validate,
        store=store,
    )


def _configured_engine() -> str:
    """The config file's engine, else the default; an unknown name is an error naming the file."""
    configured = read_config().get("engine")
    if configured is None:
        return DEFAULT_ENGINE
    if configured not in available_engines():
        raise UsageError(
            f"{display(config_path())}: engine = {configured!r} is not one of {', '.join(available_engines())}"
        )
    return configured


@cli.command()
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write; - for stdout.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(GRAPH_OUTPUT_FORMATS),
    help="Serialization. Default: from the file suffix (.nt, .jsonld), else ttl.",
)
@click.option("--inferred-only", is_flag=True, help="Write only the inferred triples, not the asserted ones.")
@click.pass_obj
def reason(settings: Settings, output: str, fmt: str | None, inferred_only: bool) -> None:
    """Write the asserted graph plus its OWL 2 RL inferences (noise removed)."""
    fmt = fmt or _format_from_suffix(output)
    _require_valid(settings)  # issue 5
    inference = reason_sources(settings.sources(), get_engine(settings.engine), use_cache=settings.use_cache)
    graph = bind(inference.inferred + inference.asserted) if not inferred_only else inference.inferred
    _emit(serialize_graph(graph, fmt), output)


def _format_from_suffix(output: str) -> str:
    return {".nt": "nt", ".jsonld": "jsonld"}.get(Path(output).suffix, "ttl")


@cli.command()
@click.argument("query", required=False, metavar="NAME|PATH")
@click.option(
    "-e", "--expression", "sparql_text", metavar="SPARQL", help="Run this SPARQL text instead of a named query."
)
@click.option("--list", "list_only", is_flag=True, help="List the named queries and exit.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(RESULT_FORMATS + GRAPH_FORMATS),
    default="table",
    show_default=True,
    help="Result format; CONSTRUCT and DESCRIBE always give Turtle.",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help='Bind ?NAME (repeatable): kgd:gunsan, <iri>, "text"@ko, "5"^^xsd:integer, 42, or plain text.',
)
@click.option("--no-reasoning", is_flag=True, help="Query the asserted graphs only.")
@click.option("--no-labels", is_flag=True, help="In tables, show IRIs as CURIEs even when they have labels.")
@click.option(
    "--endpoint",
    metavar="URL",
    help="Run on this SPARQL 1.1 endpoint instead of locally, e.g. http://localhost:7878/query.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop the query after this many seconds (locally: a worker process; an --endpoint's default is 30).",
)
@click.option("-o", "--output", default="-", metavar="FILE", help="Where to write; - (default) for stdout.")
@click.option(
    "--with",
    "with_files",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Load another dataset or linkset beside ours, in graph kgg:with/<file name> (repeatable).",
)
@click.option(
    "--allow-service",
    "allow_service",
    multiple=True,
    metavar="URL",
    help="Let SERVICE clauses call this endpoint (repeatable); SERVICE is refused otherwise.",
)
@click.option(
    "--stream",
    is_flag=True,
    help="csv/tsv/json/xml: write rows as the engine yields them, unsorted, in flat memory (for huge results). "
    "Without it, rows are sorted for stable output unless the query has ORDER BY (then always streamed).",
)
@click.pass_obj
def query(
    settings: Settings,
    query: str | None,
    sparql_text: str | None,
    list_only: bool,
    fmt: str,
    params: tuple[str, ...],
    no_reasoning: bool,
    no_labels: bool,
    endpoint: str | None,
    timeout: float | None,
    output: str,
    with_files: tuple[Path, ...] = (),
    allow_service: tuple[str, ...] = (),
    stream: bool = False,
) -> None:
    """Run a named query (see --list), a .rq file, or -e SPARQL over the reasoned graph (or an --endpoint)."""
    if list_only:
        if query or sparql_text:
            raise UsageError("--list takes no query")
        infos = list_queries(settings.queries)
        rows = [[info.name, info.title] for info in infos]
        _emit(render_table(["name", "title"], rows), output)
        return
    if bool(query) == bool(sparql_text):
        raise UsageError("give a query NAME or PATH, or -e SPARQL (see kg query --list)")
    bindings = dict(parse_assignment(p) for p in params)
    if len(bindings) < len(params):
        raise UsageError("each --param NAME may be given once")
    if endpoint and (with_files or allow_service):
        raise UsageError("--with and --allow-service apply to local queries; a remote --endpoint uses its own data")
    engine = get_engine(settings.engine)
    if allow_service:  # issue 4: SERVICE only to the endpoints named, for this command only
        engine = _allow_services(allow_service, settings)
    # Check the query and its params before paying for loading and reasoning.
    bound = bind_query(sparql_text or query, queries_dir=settings.queries, engine=engine, **bindings)
    streamed = _streams(bound, fmt, stream, endpoint)  # issue 5/6: big results in flat memory
    if endpoint:
        _query_endpoint(bound, endpoint, timeout, fmt, no_reasoning=no_reasoning, labels=not no_labels, output=output)
        return
    if not no_reasoning:
        _require_valid(settings)  # issue 5
    extra = _load_with_files(with_files, engine, settings) if with_files else {}  # issue 4: merged queries
    dataset = settings.dataset(reasoning=not no_reasoning)
    if extra:
        dataset = _with_graphs(dataset, engine, extra)
    if streamed:
        _stream_answer(bound, dataset, engine, fmt, output, timeout)
        return
    if timeout is not None:  # issue 5: a worker process we can stop
        text = _with_deadline(
            lambda: write_answer(execute(bound, dataset, engine), fmt, labels_from=None if no_labels else dataset),
            timeout,
        )
        _emit(text, output)
        return
    answer = execute(bound, dataset, engine)
    _emit(write_answer(answer, fmt, labels_from=None if no_labels else dataset), output)


@cli.command()
@click.pass_obj
def stats(settings: Settings) -> None:
    """Count triples per graph and entities per most specific kg: class."""
    engine = get_engine(settings.engine)
    _require_valid(settings)  # issue 5
    result = compute_stats(settings.dataset(), engine)
    text = render_table(
        ["graph", "triples"], [[name, str(n)] for name, n in result.triples.items()], right_align=[False, True]
    )
    text += "\n" + render_table(
        ["class", "entities"], [[curie(c), str(n)] for c, n in result.classes], right_align=[False, True]
    )
    _emit(text, "-")


# Commands of later stages go below their marker; each area edits only its own section.
# --- validate (issue 5) ---


@cli.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), metavar="[FILES]...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for reading, grouped by entity; json for tools.",
)
@click.option(
    "--shapes",
    type=click.Path(path_type=Path),
    help="SHACL shapes file. Default: shapes.ttl of --ontology if it has one, else the bundled ontology/shapes.ttl.",
)
@click.option("-o", "--output", default="-", metavar="FILE", help="Where to write the report; - (default) for stdout.")
@click.pass_obj
def validate_command(settings: Settings, files: tuple[Path, ...], fmt: str, shapes: Path | None, output: str) -> None:
    """Check the data (or FILES) against the shapes and for OWL 2 RL inconsistencies.

    Exit status: 0 when nothing is a violation (warnings and infos are shown but pass),
    1 when something is, 2 when the check could not run (unreadable input, bad shapes).
    """
    from kg import validate as validation

    report = validation.validate_paths(
        settings.ontology,
        files or settings.data,
        get_engine(settings.engine),
        shapes=shapes or validation.default_shapes(settings.ontology),
        use_cache=settings.use_cache,
    )
    render = validation.render_json if fmt == "json" else validation.render_text
    _emit(render(report), output)
    if not report.conforms:
        raise click.exceptions.Exit(1)


def _with_deadline(produce, seconds: float) -> str:
    """Run `produce` in a forked worker and return its text, or stop it after `seconds` (QueryError).

    rdflib's SPARQL engine cannot be interrupted from inside, and a thread can't be killed, so the
    query runs in a child process that inherits the loaded dataset and is killed at the deadline.
    """
    import multiprocessing

    from kg.errors import QueryError

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def work() -> None:
        try:
            sender.send(("ok", produce()))
        except KgError as error:
            sender.send(("error", type(error).__name__, error.message))
        except BaseException as error:  # noqa: BLE001 - a bug: report it, one line
            sender.send(("error", "QueryError", f"the query failed: {type(error).__name__}: {error}"))

    worker = context.Process(target=work, daemon=True)
    worker.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise QueryError(
                f"the query was stopped after {seconds:g} s (--timeout {seconds:g}); "
                "narrow it down with LIMIT or FILTER, or allow more time"
            )
        message = receiver.recv()
    except EOFError:
        raise QueryError(f"the query worker stopped unexpectedly (exit status {worker.exitcode})") from None
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receiver.close()
    if message[0] == "ok":
        return message[1]
    import kg.errors

    raise getattr(kg.errors, message[1], QueryError)(message[2])


def _require_valid(settings: Settings) -> None:
    """Refuse to reason over data with violations, unless --no-validate (cached: a few file hashes when warm)."""
    if not settings.validate or getattr(settings, "store", None) is not None:
        return  # a --store was checked when it was built from files
    from kg import validate as validation
    from kg.errors import ValidationError

    report = validation.validate_paths(
        settings.ontology,
        settings.data,
        get_engine(settings.engine),
        shapes=validation.default_shapes(settings.ontology),
        use_cache=settings.use_cache,
    )
    if not report.conforms:
        raise ValidationError(validation.refusal(report))


def _streams(bound, fmt: str, stream: bool, endpoint: str | None) -> bool:
    """Whether `kg query` writes rows as the engine yields them instead of sorting them first.

    The rule: SELECT in csv/tsv/json/xml streams when the query has ORDER BY (its order is
    fixed, so the bytes are those the sorted path gives) or when --stream asks for it (engine
    order, not stable across engines). Anything else is held in memory and sorted; the table
    always is, since its column widths depend on every row.
    """
    from kg.results import STREAM_FORMATS

    kind = bound.prepared.kind
    if stream:
        if endpoint:
            raise UsageError("--stream is for local queries; an --endpoint's answer is read whole")
        if kind != "SELECT":
            raise UsageError(f"--stream is for SELECT results; {kind} results are written whole")
        if fmt not in STREAM_FORMATS:
            raise UsageError(f"--stream writes {', '.join(STREAM_FORMATS)}; --format {fmt} needs every row first")
        return True
    return kind == "SELECT" and bound.prepared.ordered and fmt in STREAM_FORMATS and not endpoint


def _stream_answer(bound, dataset, engine, fmt: str, output: str, timeout: float | None) -> None:
    """Write a streamed SELECT answer to stdout, or to a temporary file renamed into place at the end.

    Errors part-way leave no file (stdout has what was written so far). With --timeout the
    query runs in a worker writing to the file (for stdout: to a spool file copied out after),
    so a stopped query writes nothing.
    """
    import os
    import shutil
    import tempfile

    from kg.paths import atomic_stream
    from kg.results import write_rows

    def produce(out) -> None:
        write_rows(execute(bound, dataset, engine, stream=True), fmt, out)
        out.flush()

    def run(out) -> None:
        if timeout is None:
            produce(out)
        else:
            _with_deadline(lambda: produce(out), timeout)

    if output != "-":
        with _exit_on_sigterm(), atomic_stream(Path(output)) as out:
            run(out)
        return
    stdout = getattr(sys.stdout, "buffer", None)
    sys.stdout.flush()
    with contextlib.ExitStack() as stack:
        target = stdout if stdout is not None and timeout is None else stack.enter_context(tempfile.TemporaryFile())
        run(target)
        if target is not stdout:  # a spool: the worker wrote it through the shared file descriptor
            os.lseek(target.fileno(), 0, os.SEEK_SET)
            with os.fdopen(os.dup(target.fileno()), "rb") as spooled:
                if stdout is not None:
                    shutil.copyfileobj(spooled, stdout)
                else:  # stdout replaced by a text-only object
                    sys.stdout.write(spooled.read().decode("utf-8"))
        if stdout is not None:
            stdout.flush()


@contextlib.contextmanager
def _exit_on_sigterm():
    """SIGTERM as SystemExit(143) while the block runs, so a half-written temporary file is removed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame) -> None:  # noqa: ANN001
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


# --- load / synth (issue 6) ---


@cli.command("load")
@click.option(
    "--store",
    "store_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Folder for the on-disk Oxigraph store (replaced if it already holds one).",
)
@click.pass_obj
def load_command(settings: Settings, store_dir: Path) -> None:
    """Parse and reason once into an on-disk store; later commands given --store DIR start fast."""
    from kg.store import build_store

    info = build_store(store_dir, settings.ontology, list(settings.data), get_engine(settings.engine),
                       use_cache=settings.use_cache)  # fmt: skip
    rows = [[name, str(count)] for name, count in info.triples.items()]
    text = render_table(["graph", "triples"], rows, right_align=[False, True])
    _emit(f"store {store_dir} built by the {info.engine} engine\n" + text, "-")


@cli.command()
@click.option("--triples", "-n", required=True, type=click.IntRange(min=1), help="Approximate size (rounded up).")
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="Random seed: same seed, same bytes.")
@click.option("-o", "--output", required=True, metavar="FILE", help="Turtle file to write; - for stdout.")
def synth(triples: int, seed: int, output: str) -> None:
    """Write a synthetic, clearly fictitious graph in our ontology (for benchmarks and tests)."""
    from kg.synth import synth as generate

    _emit(generate(triples, seed), output)


# --- export / render / analyze (issue 3) ---

_EXPORT_SUFFIXES = {
    ".graphml": "graphml",
    ".gexf": "gexf",
    ".cyjs": "cytoscape",
    ".dot": "dot",
    ".gv": "dot",
    ".csv": "csv",
    ".zip": "csv",
    ".ttl": "ttl",
    ".nt": "nt",
    ".jsonld": "jsonld",
    ".html": "html",
}


@cli.command("export")
@click.option(
    "--format",
    "fmt",
    metavar="FORMAT",
    help="graphml gexf cytoscape d3 dot csv ttl nt jsonld html. Default: from -o's suffix.",
)
@click.option(
    "-o", "--output", required=True, metavar="FILE", help="Where to write (CSV: FILE and FILE-edges.csv, or one .zip)."
)
@click.option("--lang", type=click.Choice(["en", "ko"]), default="en", show_default=True, help="Label language.")
@click.option("--inferred", is_flag=True, help="Add inferred edges (only those no kept edge already implies).")
@click.option(
    "--region", metavar="PLACE", help="Only what lies in PLACE (kgd:gunsan, Gunsan, 군산) and what it links to."
)
@click.option(
    "--class", "classes", multiple=True, metavar="CLASS", help="Keep nodes of CLASS and its subclasses (repeatable)."
)
@click.option("--focus", metavar="ENTITY", help="Only the neighbourhood of ENTITY (CURIE or exact label).")
@click.option("--depth", type=click.IntRange(min=0), default=1, show_default=True, help="Hops around --focus.")
@click.option("--hierarchy", is_flag=True, help="Export the ontology's class hierarchy instead of the entities.")
@click.option(
    "--layout", is_flag=True, help="Add node positions (seeded force layout): GEXF, GraphML, CSV, Cytoscape, D3."
)
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of --layout.")
@click.pass_obj
def export_command(
    settings: Settings,
    fmt: str | None,
    output: str,
    lang: str,
    inferred: bool,
    region: str | None,
    classes: tuple[str, ...],
    focus: str | None,
    depth: int,
    hierarchy: bool,
    layout: bool,
    seed: int,
) -> None:
    """Write the graph (or a region, classes, or one entity's neighbourhood) for Gephi, Cytoscape, yEd, D3..."""
    from kg.errors import OutputError
    from kg.export import WRITERS, ExportOptions, write_export
    from kg.page import write_html  # noqa: F401 - the page module registers the html format
    from kg.project import class_hierarchy, project

    if fmt is None:
        fmt = _EXPORT_SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            raise UsageError(f"can't tell the format from {output!r}; give --format ({', '.join(sorted(WRITERS))})")
    if fmt not in WRITERS:
        raise UsageError(f"unknown export format {fmt!r}; use one of {', '.join(sorted(WRITERS))}")
    if output == "-":
        raise UsageError("kg export writes files; give -o FILE")
    if hierarchy and (inferred or region or classes or focus):
        raise UsageError(
            "--hierarchy exports the class hierarchy; it takes no --inferred, --region, --class or --focus"
        )
    folder = Path(output).parent
    if not folder.is_dir():  # fail before paying for loading and reasoning
        raise OutputError(f"cannot write {output}: {folder} is not a folder")
    engine = get_engine(settings.engine)
    dataset = reason_sources(settings.sources(), engine, use_cache=settings.use_cache).dataset()
    if hierarchy:
        graph = class_hierarchy(dataset, lang=lang)
    else:
        graph = project(dataset, lang=lang, inferred=inferred, region=region, classes=classes, focus=focus, depth=depth)
    written = write_export(fmt, graph, ExportOptions(dataset=dataset, layout=layout, seed=seed), Path(output))
    files = " and ".join(str(p) for p in written)
    click.echo(f"wrote {graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges to {files}", err=True)


@cli.command("render")
@click.option("-o", "--output", required=True, metavar="FILE", help="The picture to write: FILE.svg or FILE.png.")
@click.option("--format", "fmt", type=click.Choice(["svg", "png"]), help="Picture format. Default: from -o's suffix.")
@click.option(
    "--value-chain", is_flag=True, help="Draw --region's value-chain ring (stages coloured by support) instead."
)
@click.option("--region", metavar="PLACE", help="Only what lies in PLACE (kgd:gunsan, Gunsan, 군산).")
@click.option("--lang", type=click.Choice(["en", "ko"]), default="en", show_default=True, help="Label language.")
@click.option("--class", "classes", multiple=True, metavar="CLASS", help="Keep nodes of CLASS (repeatable).")
@click.option("--focus", metavar="ENTITY", help="Only the neighbourhood of ENTITY (CURIE or exact label).")
@click.option("--depth", type=click.IntRange(min=0), default=1, show_default=True, help="Hops around --focus.")
@click.option("--inferred", is_flag=True, help="Add inferred edges (dashed).")
@click.pass_obj
def render_command(
    settings: Settings,
    output: str,
    fmt: str | None,
    value_chain: bool,
    region: str | None,
    lang: str,
    classes: tuple[str, ...],
    focus: str | None,
    depth: int,
    inferred: bool,
) -> None:
    """Draw the graph (or a subgraph) with Graphviz, or a region's value-chain ring with --value-chain."""
    from kg import render as rendering

    if output == "-":
        raise UsageError("kg render writes a picture file; give -o FILE.svg or FILE.png")
    fmt = rendering.format_of(output, fmt)
    if value_chain and not region:
        raise UsageError("--value-chain needs --region PLACE (e.g. --region Gunsan)")
    if value_chain and (classes or focus or inferred):
        raise UsageError("--value-chain draws the stages; it takes no --class, --focus or --inferred")
    rendering.require_graphviz()  # before paying for reasoning
    engine = get_engine(settings.engine)
    dataset = reason_sources(settings.sources(), engine, use_cache=settings.use_cache).dataset()
    if value_chain:
        from kg.analyze import coverage, resolve_region

        cov = coverage(dataset, resolve_region(dataset, region, engine), engine)
        picture = rendering.run_graphviz(rendering.value_chain_dot(cov, lang=lang), fmt)
        covered = sum(1 for n in cov.supporters if n)
        what = f"the value chain of {cov.region.label_en} ({covered} of {len(cov.stages)} stages supported)"
    else:
        from kg.project import project

        graph = project(dataset, lang=lang, inferred=inferred, region=region, classes=classes, focus=focus, depth=depth)
        title = rendering.title_of(graph, lang)
        picture = rendering.run_graphviz(rendering.graph_dot(graph, lang=lang, title=title), fmt)
        what = f"{graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges"
    atomic_write(Path(output), picture)
    click.echo(f"drew {what} to {output}", err=True)


@cli.command("analyze")
@click.option("--region", metavar="PLACE", help="Analyse only what lies in PLACE (kgd:gunsan, Gunsan, 군산).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for reading; csv (one measurement a row) or json for tools.",
)
@click.option("--lang", type=click.Choice(["en", "ko"]), default="en", show_default=True, help="Label language.")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True, help="Organisations listed (0: all).")
@click.option("-o", "--output", default="-", metavar="FILE", help="Where to write; - (default) for stdout.")
@click.pass_obj
def analyze_command(settings: Settings, region: str | None, fmt: str, lang: str, top: int, output: str) -> None:
    """Central organisations, components, value-chain coverage and gaps, funding per stage and level."""
    from kg import analyze as analysis
    from kg.project import class_hierarchy, project

    engine = get_engine(settings.engine)
    dataset = reason_sources(settings.sources(), engine, use_cache=settings.use_cache).dataset()
    place = analysis.resolve_region(dataset, region, engine) if region else None
    graph = project(dataset, lang=lang, region=place.curie if place else None)
    result = analysis.analyze(dataset, graph, class_hierarchy(dataset, lang=lang), place, engine, top=top)
    _emit(analysis.write_analysis(result, fmt, lang=lang), output)


# --- link / publish (issue 4) ---


def _allow_services(urls: tuple[str, ...], settings: Settings):
    """Allow SERVICE calls to `urls` until this command ends; only the reference engine can make them."""
    from kg.engine.services import allow_services

    click.get_current_context().with_resource(allow_services(urls))
    settings.engine = "reference"
    logging.getLogger("kg").info("SERVICE allowed to: %s (reference engine)", ", ".join(sorted(set(urls))))
    return get_engine("reference")


def _load_with_files(paths: tuple[Path, ...], engine, settings: Settings) -> dict:
    """Parse the --with files (each into kgg:with/<file name>) and warn about links to entities we lack."""
    from kg import link as linking
    from kg.load import load_data
    from kg.paths import display

    graphs = linking.load_with(paths, engine)
    data = load_data(settings.data, engine).graph
    log = logging.getLogger("kg")
    for (name, graph), path in zip(graphs.items(), paths, strict=True):
        log.info("loaded %s into graph <%s> (%d triples)", display(path), name, len(graph))
        dangling = linking.dangling_links(graph, data)
        if dangling:
            shown = ", ".join(curie(iri) for iri in dangling[:5]) + (" ..." if len(dangling) > 5 else "")
            log.warning("%s links to %d entities we do not have: %s", display(path), len(dangling), shown)
    return graphs


def _with_graphs(dataset, engine, extra: dict):
    """The engine's dataset rebuilt with our graphs plus the --with graphs (default graph: their union)."""
    from kg.namespaces import KGG

    graphs = {name: list(engine.triples(dataset, name)) for name in (KGG.ontology, KGG.data, KGG.inferred)}
    graphs = {name: triples for name, triples in graphs.items() if triples}
    graphs.update(extra)
    return engine.dataset(graphs)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path), metavar="FILE")
@click.option("-o", "--output", required=True, metavar="LINKSET", help="Where to write the skos:exactMatch linkset.")
@click.option(
    "--threshold", type=click.FloatRange(0, 1), default=0.6, show_default=True, help="Lowest score that makes a link."
)
@click.option(
    "--review-threshold",
    type=click.FloatRange(0, 1),
    default=0.35,
    show_default=True,
    help="Lowest score that puts a candidate in the review table.",
)
@click.option("--review", "review_path", metavar="FILE", help="Write candidates below the threshold here (CSV).")
@click.option("--same-as", "sameas_path", metavar="FILE", help="Also write the links as owl:sameAs, to this file.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(GRAPH_OUTPUT_FORMATS),
    help="Linkset serialization. Default: from the file suffix (.nt, .jsonld), else ttl.",
)
@click.option("--from", "input_format", metavar="FORMAT", help="FILE's serialization (ttl, nt, xml, jsonld).")
@click.pass_obj
def link(
    settings: Settings,
    file: Path,
    output: str,
    threshold: float,
    review_threshold: float,
    review_path: str | None,
    sameas_path: str | None,
    fmt: str | None,
    input_format: str | None,
) -> None:
    """Find which entities of another dataset (FILE) are ours; write a linkset with scores and evidence."""
    import csv
    import io
    from decimal import Decimal

    from kg import link as linking
    from kg.namespaces import OWL
    from kg.paths import display

    if review_threshold > threshold:
        raise UsageError("--review-threshold must not be above --threshold")
    engine = get_engine(settings.engine)
    theirs_graph, digest = linking.read_external(file, input_format, engine)
    sources = settings.sources()
    theirs = linking.their_entities(theirs_graph)
    linking.check_linkable(file, theirs)
    dangling = linking.dangling_links(theirs_graph, sources.data.graph)
    if dangling:
        shown = ", ".join(curie(iri) for iri in dangling[:5]) + (" ..." if len(dangling) > 5 else "")
        logging.getLogger("kg").warning(
            "%s links to %d entities we do not have: %s", display(file), len(dangling), shown
        )
    ours = linking.our_entities(sources.ontology.graph, sources.data.graph)
    options = {"threshold": Decimal(str(threshold)), "review_threshold": Decimal(str(review_threshold))}
    if sys.stderr.isatty() or logging.getLogger("kg").isEnabledFor(logging.INFO):
        with click.progressbar(length=len(theirs), label="matching", file=sys.stderr) as bar:
            result = linking.find_links(ours, theirs, theirs_graph, step=lambda: bar.update(1), **options)
    else:
        result = linking.find_links(ours, theirs, theirs_graph, **options)

    # Render everything first, so a failure leaves no file half-written.
    outputs = [
        (output, serialize_graph(linking.linkset_graph(result, digest, file.name), fmt or _format_from_suffix(output)))
    ]
    if sameas_path:
        sameas = linking.linkset_graph(result, digest, file.name, predicate=OWL.sameAs)
        outputs.append((sameas_path, serialize_graph(sameas, _format_from_suffix(sameas_path))))
    if review_path:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(linking.REVIEW_COLUMNS)
        writer.writerows(linking.review_rows(result))
        outputs.append((review_path, buffer.getvalue()))
    for path, text in outputs:
        _emit(text, path)
    click.echo(
        f"{len(result.links)} links, {len(result.review)} to review, {len(result.rejected)} candidates rejected "
        f"({result.entities} entities in {display(file)})",
        err=True,
    )


@cli.command()
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), metavar="DIR", help="Release folder.")
@click.option(
    "--linkset",
    "linksets",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="A linkset made by kg link to publish too (repeatable); its owl:sameAs go to a separate file.",
)
@click.option("--force", is_flag=True, help="Replace DIR even if it holds something other than a previous release.")
@click.option("--check", "check_only", is_flag=True, help="Only check an existing release in DIR; write nothing.")
@click.pass_obj
def publish(settings: Settings, output: Path, linksets: tuple[Path, ...], force: bool, check_only: bool) -> None:
    """Write a dataset release: data, reasoned graph, ontology, linksets, VoID/DCAT, checksums, docs."""
    from kg import link as linking
    from kg import publish as publishing
    from kg.paths import display

    if check_only:
        problems = publishing.check_release(output)
        for problem in problems:
            click.echo(f"{display(output)}/{problem}", err=True)
        if problems:
            raise click.exceptions.Exit(1)
        click.echo(f"{display(output)}: release is sound", err=True)
        return
    publishing.check_target(output, force=force)  # before the expensive part
    engine = get_engine(settings.engine)
    extra = [(path.name, linking.read_external(path, None, engine)[0]) for path in linksets]
    inference = reason_sources(settings.sources(), engine, use_cache=settings.use_cache)
    release = publishing.build_release(inference, settings.queries, extra)
    publishing.write_release(release, output, force=force)
    click.echo(f"wrote {len(release.files)} files to {display(output)}", err=True)


# --- serve / push (issue 7) ---


def _query_endpoint(
    bound, endpoint: str | None, timeout: float | None, fmt: str, *, no_reasoning: bool, labels: bool, output: str
) -> None:
    """`kg query --endpoint`: the same query and output formats, answered by another server."""
    from rdflib import URIRef

    from kg import remote
    from kg.paths import internal_sparql_dir

    if not endpoint:
        raise UsageError("--timeout is for --endpoint queries")
    if no_reasoning:
        raise UsageError("--no-reasoning is for local queries; an endpoint answers from whatever it holds")
    timeout = timeout or remote.DEFAULT_TIMEOUT
    text = remote.bind_values(bound.prepared.text, bound.bindings)
    answer = remote.query(endpoint, text, bound.prepared.kind, ordered=bound.prepared.ordered, timeout=timeout)
    label_graph = None
    if fmt == "table" and labels and answer.graph is None:
        iris = {term for row in answer.rows for term in row if isinstance(term, URIRef)}
        if iris:
            sparql = (internal_sparql_dir() / "labels.rq").read_text(encoding="utf-8")
            label_graph = remote.labels(endpoint, iris, sparql, timeout=timeout)
    _emit(write_answer(answer, fmt, labels_from=label_graph), output)


class _Stop(Exception):
    """SIGTERM, turned into an exception so `finally` blocks stop the server."""


def _raise_stop(signum, frame) -> None:  # noqa: ANN001
    raise _Stop()


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback lets other machines query the graph.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=7878, show_default=True, help="Port to listen on.")
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Seconds a query may run before the server stops it.",
)
@click.option(
    "--store",
    "store_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Serve this Oxigraph store (from kg load --store) instead of a temporary one. Default: the global --store.",
)
@click.pass_obj
def serve(settings: Settings, host: str, port: int, timeout: int, store_dir: Path | None) -> None:
    """Serve the reasoned graph read-only over the SPARQL 1.1 Protocol until Ctrl-C.

    Runs Oxigraph's server (pip install 'battery-kg[server]') on a store holding
    kgg:ontology, kgg:data and kgg:inferred, with their union as the default graph,
    CORS allowed and a query time limit. Updates are refused.
    """
    import shutil
    import signal
    import tempfile

    from kg import serve as serving
    from kg.errors import ServerError
    from kg.namespaces import KGG
    from kg.paths import display
    from kg.remote import is_loopback

    binary = serving.find_oxigraph()
    store_dir = store_dir or settings.store
    if not is_loopback(host):
        logging.getLogger("kg").warning(
            "listening on %s: anyone who can reach this machine on port %d can query the graph (read-only)", host, port
        )
    infos = list_queries(settings.queries)
    temp = Path(tempfile.mkdtemp(prefix="kg-serve-"))
    server = None
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        if store_dir is not None:
            serving.check_store(store_dir)
            location, what = store_dir, f"the store {display(store_dir)}"
        else:
            inference = reason_sources(settings.sources(), get_engine(settings.engine), use_cache=settings.use_cache)
            graphs = {KGG.ontology: inference.ontology, KGG.data: inference.data, KGG.inferred: inference.inferred}
            nquads = temp / "graphs.nq"
            count = serving.write_nquads(graphs, nquads)
            location = temp / "store"
            serving.build_store(binary, nquads, location)
            nquads.unlink()
            what = f"the reasoned graph ({count:,} triples)"
        server = serving.start(binary, location, host=host, port=port, timeout=timeout, workdir=temp)
        index = temp / "queries.html"
        serving.write_index(index, server.base_url, [(info, info.path.read_text(encoding="utf-8")) for info in infos])
        example = next((info for info in infos if not any(not p.optional for p in info.params or ())), None)
        lines = [
            f"Serving {what} read-only with Oxigraph",
            f"  SPARQL endpoint  {server.query_url}",
            "                   graphs kgg:ontology, kgg:data, kgg:inferred; their union is the default graph",
            f"  query editor     {server.base_url}",
            f"  named queries    {index.as_uri()}  (each link opens the query in the editor)",
            "",
            render_table(["name", "title"], [[info.name, info.title] for info in infos]).rstrip("\n"),
            "",
            "Try:",
        ]
        if example is not None:
            lines += [
                f"  curl -H 'Accept: text/csv' --data-urlencode query@{example.path} {server.query_url}",
                f"  kg query {example.name} --endpoint {server.query_url}",
            ]
        lines += ["", f"Queries stop after {timeout} s; updates are refused. Press Ctrl-C to stop."]
        click.echo("\n".join(lines))
        code = server.process.wait()
        raise ServerError(f"the SPARQL server stopped unexpectedly (exit status {code}): {server.last_message()}")
    except (KeyboardInterrupt, _Stop):
        click.echo("Stopped.", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.stop()
        shutil.rmtree(temp, ignore_errors=True)


@cli.command()
@click.option(
    "--endpoint",
    required=True,
    metavar="URL",
    help="The store's SPARQL query URL: the Graph Store URL is derived from it, and it is asked for counts afterwards.",
)
@click.option(
    "--store-endpoint",
    metavar="URL",
    help="Graph Store Protocol URL. Default from --endpoint: Oxigraph /query -> /store, "
    "Fuseki /DATASET/query -> /DATASET/data, GraphDB /repositories/R -> /repositories/R/rdf-graphs/service.",
)
@click.option(
    "--graph-prefix",
    default="https://w3id.org/battery-kg/graph/",
    show_default=True,
    metavar="IRI",
    help="Graphs are named PREFIX + ontology, data, inferred and links/<linkset file name>.",
)
@click.option(
    "--linkset",
    "linksets",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A linkset file (from kg link) to send into its own graph (repeatable).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60,
    show_default=True,
    help="Seconds to wait for the store at each step of each upload.",
)
@click.option("--no-check", is_flag=True, help="Don't ask --endpoint how many triples each graph holds afterwards.")
@click.pass_obj
def push(
    settings: Settings,
    endpoint: str,
    store_endpoint: str | None,
    graph_prefix: str,
    linksets: tuple[Path, ...],
    timeout: float,
    no_check: bool,
) -> None:
    """Upload the asserted graphs, the inferred graph and linksets to a triple store, one named graph each.

    Uses the SPARQL 1.1 Graph Store HTTP Protocol: each graph is replaced by one PUT, which
    the store applies atomically (the push as a whole is not). Blank nodes travel as
    /.well-known/genid/ IRIs so they stay shared between graphs. Credentials come from
    $KG_ENDPOINT_USER and $KG_ENDPOINT_PASSWORD or ~/.netrc, never from options.
    """
    from rdflib import URIRef

    from kg import remote
    from kg.errors import RemoteError
    from kg.load import FORMATS
    from kg.paths import display, internal_sparql_dir

    store_url = store_endpoint or remote.default_store_url(endpoint)
    remote.check_graph_prefix(graph_prefix)
    engine = get_engine(settings.engine)
    linked = {}
    for path in linksets:
        if path.suffix not in FORMATS:
            raise UsageError(f"--linkset {display(path)}: unknown RDF file type; use one of {', '.join(FORMATS)}")
        linked[URIRef(f"{graph_prefix}links/{remote.slug(path.stem)}")] = engine.parse(path, FORMATS[path.suffix])
    inference = reason_sources(settings.sources(), engine, use_cache=settings.use_cache)
    graphs = {
        URIRef(graph_prefix + "ontology"): inference.ontology,
        URIRef(graph_prefix + "data"): inference.data,
        URIRef(graph_prefix + "inferred"): inference.inferred,
        **linked,
    }
    uploads = remote.push(graphs, store_url, timeout=timeout, progress=_progress_reporter())
    if not no_check:
        sparql = (internal_sparql_dir() / "triples-per-graph.rq").read_text(encoding="utf-8")
        counts = remote.count_triples(endpoint, sparql, timeout=timeout)
        for upload in uploads:
            upload.stored = counts.get(upload.graph, 0)
    rows = [
        [curie(u.graph), f"{u.triples:,}", f"{u.bytes:,}", "" if u.stored is None else f"{u.stored:,}"] for u in uploads
    ]
    _emit(
        f"Pushed to {store_url}\n"
        + render_table(["graph", "triples", "bytes", "in store"], rows, right_align=[False, True, True, True]),
        "-",
    )
    wrong = [u for u in uploads if u.stored is not None and u.stored != u.triples]
    if wrong:
        first = wrong[0]
        raise RemoteError(
            f"{endpoint} reports {first.stored:,} triples in <{first.graph}> after the push; kg sent {first.triples:,}"
        )


def _progress_reporter():
    """A progress line on stderr while uploading, when stderr is a terminal or -v is on; else None."""
    from rdflib import URIRef

    stderr = sys.stderr
    if not (stderr.isatty() or logging.getLogger("kg").isEnabledFor(logging.INFO)):
        return None
    last: dict[URIRef, int] = {}

    def report(graph: URIRef, sent: int, total: int) -> None:
        percent = 100 * sent // total if total else 100
        if stderr.isatty():
            line = f"\r  {curie(graph)}  {sent / 1e6:.1f} / {total / 1e6:.1f} MB  {percent:3d}%"
            click.echo(line, err=True, nl=False)
            if sent >= total:
                click.echo("", err=True)
        elif percent // 25 != last.get(graph, -1):  # -v into a file: a line per quarter
            last[graph] = percent // 25
            click.echo(f"  {curie(graph)}  {sent:,} / {total:,} bytes  {percent}%", err=True)

    return report


def _emit(text: str, output: str) -> None:
    """Write to stdout as UTF-8 whatever the locale, or atomically to a file."""
    if output == "-":
        stream = getattr(sys.stdout, "buffer", None)
        if stream is None:  # stdout replaced by a text-only object
            sys.stdout.write(text)
        else:
            sys.stdout.flush()
            stream.write(text.encode("utf-8"))
            stream.flush()
    else:
        atomic_write(Path(output), text.encode("utf-8"))


def main() -> None:  # pragma: no cover - exercised by `python -m kg`
    cli(prog_name="kg")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
