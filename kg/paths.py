"""Where kg finds its bundled resources and cache, and how it writes files safely."""

from __future__ import annotations

import configparser
import contextlib
import ctypes
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from kg.errors import LoadError, OutputError, UsageError

_PACKAGE_DIR = Path(__file__).resolve().parent


# What makes a folder a workspace: this file, in a checkout of this project or a folder made by
# `kg init`. A file rather than the folders themselves, so that a folder that merely holds an
# ontology/ (a test fixture, someone else's project) is not taken for one.
WORKSPACE_MARKER = Path(".kg-workspace")
WORKSPACE_NOTE = (
    "# This folder is a battery-kg workspace: run inside it (or any folder below), kg reads its\n"
    "# data/, ontology/ and queries/ instead of the copy installed with kg. See `kg info`.\n"
)


def bundled_root() -> Path:
    """The folder holding the ontology/, data/ and queries/ that come with kg.

    An installed wheel carries them in kg/resources/ (hatchling force-include);
    a checkout or editable install has them at the repository root.
    """
    bundled = _PACKAGE_DIR / "resources"
    return bundled if bundled.is_dir() else _PACKAGE_DIR.parent


def workspace() -> Path | None:
    """The workspace kg runs in: $KG_WORKSPACE, else the nearest folder, from the working directory
    up, that holds a .kg-workspace file (a checkout, or a folder made by `kg init`); None outside one."""
    explicit = os.environ.get("KG_WORKSPACE")
    if explicit:
        folder = Path(explicit)
        if not (folder / WORKSPACE_MARKER).is_file():
            raise UsageError(
                f"KG_WORKSPACE={explicit}: not a workspace (no {WORKSPACE_MARKER}); create one with kg init"
            )
        return folder.resolve()
    try:
        here = Path.cwd().resolve()
    except OSError:  # the working directory was removed
        return None
    return next((folder for folder in (here, *here.parents) if (folder / WORKSPACE_MARKER).is_file()), None)


def resource_root() -> Path:
    """Where ontology/, data/ and queries/ are read from: the workspace, else the bundled copy."""
    return workspace() or bundled_root()


def _resource(name: str) -> Path:
    # A workspace may hold only some of the three folders; the others come from the bundled copy.
    folder = resource_root() / name
    return folder if folder.is_dir() else bundled_root() / name


def ontology_dir() -> Path:
    return _resource("ontology")


def data_dir() -> Path:
    return _resource("data")


def queries_dir() -> Path:
    return _resource("queries")


SHAPES_FILE = "shapes.ttl"
CHECKS_FOLDER = "checks"


def _ontology_folder(ontology: Path | None) -> Path | None:
    if ontology is None:
        return None
    folder = Path(ontology)
    return folder.parent if folder.is_file() else folder


def default_shapes(ontology: Path | None = None) -> Path:
    """ONTOLOGY/shapes.ttl when that folder has one, else the bundled shapes."""
    folder = _ontology_folder(ontology)
    if folder is not None and (folder / SHAPES_FILE).is_file():
        return folder / SHAPES_FILE
    return ontology_dir() / SHAPES_FILE


def check_files(ontology: Path | None = None) -> list[Path]:
    """The consistency checks: ONTOLOGY/checks/*-violation.rq when that folder exists, else the bundled ones.

    Each is a SPARQL query over the reasoned graph; every row it returns is a violation. Adding
    a check is adding a file.
    """
    folder = _ontology_folder(ontology)
    if folder is None or not (folder / CHECKS_FOLDER).is_dir():
        folder = ontology_dir()
    return sorted((folder / CHECKS_FOLDER).glob("*-violation.rq"))


def internal_sparql_dir() -> Path:
    """Queries kg itself runs (stats); queries/ belongs to the ontology authors."""
    return _PACKAGE_DIR / "sparql"


def cache_dir() -> Path:
    """KG_CACHE_DIR, else $XDG_CACHE_HOME/battery-kg, else ~/.cache/battery-kg."""
    explicit = os.environ.get("KG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "battery-kg"


def config_path() -> Path:
    """KG_CONFIG, else $XDG_CONFIG_HOME/battery-kg/config.ini, else ~/.config/battery-kg/config.ini."""
    explicit = os.environ.get("KG_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "battery-kg" / "config.ini"


def read_config(path: Path | None = None) -> dict[str, str]:
    """The [kg] section of the user's config file (e.g. `engine = reference`); empty when there is none.

    Defaults a user sets once instead of exporting variables in every shell.
    """
    path = path or config_path()
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError, OSError) as error:
        line = getattr(error, "lineno", None)
        where = f"{display(path)}, line {line}" if line else display(path)
        raise UsageError(
            f"{where}: not a valid config file ({type(error).__name__}); expected [kg] and key = value lines"
        ) from None
    return dict(parser["kg"]) if parser.has_section("kg") else {}


def display(path: Path | str) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    path = Path(path)
    try:
        here = Path.cwd()
        # Symbolic links are kept as the user sees them (a linked data/ folder stays data/...);
        # only if that fails, the real paths are compared.
        for inside, base in (
            (Path(os.path.abspath(path)), Path(os.path.abspath(here))),
            (path.resolve(), here.resolve()),
        ):
            if inside == base or base in inside.parents:
                return str(inside.relative_to(base))
    except OSError:
        pass
    return str(path)


def atomic_write(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and os.replace.

    Readers never see a half-written file, and a failed write leaves the old file intact.
    """
    with atomic_stream(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_stream(path: Path | str) -> Iterator[BinaryIO]:
    """A binary file to write `path` bit by bit: a temporary file in the same folder, renamed
    into place when the block ends, and removed if it raises (an error, Ctrl-C).

    On Linux the temporary file has no name until it is complete (O_TMPFILE, linked in at the
    end), so even a process killed with SIGKILL leaves nothing behind. Where the file system
    refuses that, the temporary name carries the writer's process id, and the next write to
    the same path removes what a writer no longer alive left. For outputs too big to build in
    memory first; otherwise as atomic_write.
    """
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise OutputError(f"cannot write {display(path)}: it is a directory")
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write {display(path)}: {display(folder)} {problem}")
    temp_name: str | None = None
    _remove_stale_temporary_files(folder, path.name)
    try:
        fd = _unnamed_file(folder)
        if fd is None:
            fd, temp_name = tempfile.mkstemp(dir=folder, prefix=_temporary_prefix(path.name), suffix=".tmp")
            _TEMPORARY.add(temp_name)
    except OSError as error:
        raise OutputError(f"cannot write {display(path)}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            if temp_name is None:
                temp_name = _link_unnamed(handle.fileno(), folder, path.name)
            else:  # mkstemp creates 0600; give the file the permissions a plain open() would.
                os.chmod(temp_name, 0o666 & ~_umask())
        os.replace(temp_name, path)
    except OSError as error:
        _remove_quietly(temp_name)
        raise OutputError(f"cannot write {display(path)}: {error.strerror or error}") from None
    except BaseException:
        _remove_quietly(temp_name)
        raise
    finally:
        _TEMPORARY.discard(temp_name)


_TEMPORARY: set[str] = set()  # named temporary files being written now


def remove_temporary_files() -> None:
    """Remove the temporary files atomic_stream is writing (for a worker process that must end at once)."""
    for name in list(_TEMPORARY):
        _remove_quietly(name)


_LINKABLE: dict[int, bool] = {}  # per file system: can an O_TMPFILE file be given a name?


def _unnamed_file(folder: Path) -> int | None:
    """A file in `folder` with no name yet (Linux O_TMPFILE); None where the system or file system has none."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not Path("/proc/self/fd").is_dir():
        return None
    try:
        fd = os.open(folder, flag | os.O_WRONLY | os.O_CLOEXEC, 0o666)  # the umask applies
    except OSError:
        return None
    device = os.fstat(fd).st_dev
    if device not in _LINKABLE:  # some kernels and sandboxes refuse the link: find out once
        try:
            os.unlink(_link_unnamed(fd, folder, "probe"))
            _LINKABLE[device] = True
        except OSError:
            _LINKABLE[device] = False
    if not _LINKABLE[device]:
        os.close(fd)
        return None
    return fd


def _temporary_prefix(name: str) -> str:
    return f".{name}.kg-{os.getpid()}-"


def _orphans(folder: Path, prefix: str, suffix: str) -> list[os.DirEntry]:
    """Entries of `folder` named `prefix`<pid>-…`suffix` whose kg process (pid) is gone: what a kg
    killed with SIGKILL could not clean up."""
    try:
        entries = [entry for entry in os.scandir(folder) if entry.name.startswith(prefix)]
    except OSError:
        return []
    found = []
    for entry in entries:
        pid, _, rest = entry.name[len(prefix) :].partition("-")
        if pid.isdigit() and rest.endswith(suffix) and not _alive(int(pid)):
            found.append(entry)
    return found


def _remove_stale_temporary_files(folder: Path, name: str) -> None:
    """Remove the temporary files for `name` in `folder` whose writer is gone."""
    for entry in _orphans(folder, f".{name}.kg-", ".tmp"):
        if entry.is_file(follow_symlinks=False):
            _remove_quietly(entry.path)


def scratch_folder(prefix: str, parent: Path | None = None, suffix: str = "") -> Path:
    """A new temporary folder named `prefix`<pid>-…`suffix` in `parent` (the system's temporary
    folder by default), after removing those of the same kind whose kg process is gone (killed
    with SIGKILL before it could clean up). Raises OSError as tempfile.mkdtemp does."""
    where = Path(parent or tempfile.gettempdir())
    for entry in _orphans(where, prefix, suffix):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", suffix=suffix, dir=where))


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def replace_folder(new: Path, target: Path) -> None:
    """Put the folder `new` at `target`, with no moment in which `target` is missing (a store, a release).

    A new target is a plain rename. An existing one is exchanged with `new` atomically (Linux
    renameat2), and the old folder, now at `new`, removed. Where the exchange is unavailable, the
    old folder is moved aside first and moved back if the second rename fails.
    """
    if not target.exists():
        os.rename(new, target)
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        exchange = getattr(libc, "renameat2", None)
        if exchange is not None and exchange(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(target),
                                             _RENAME_EXCHANGE) == 0:  # fmt: skip
            shutil.rmtree(new, ignore_errors=True)
            return
    aside = target.with_name(f".{target.name}.old")
    shutil.rmtree(aside, ignore_errors=True)
    os.rename(target, aside)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _link_unnamed(fd: int, folder: Path, name: str) -> str:
    """Give the unnamed file `fd` a temporary name in `folder` (renamed into place right after)."""
    for _ in range(100):
        temp_name = str(folder / f"{_temporary_prefix(name)}{os.urandom(6).hex()}.tmp")
        try:
            os.link(f"/proc/self/fd/{fd}", temp_name, follow_symlinks=True)
        except FileExistsError:
            continue
        return temp_name
    raise OSError(17, "no free temporary name")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _remove_quietly(name: str | None) -> None:
    if name is None:
        return
    try:
        os.unlink(name)
    except OSError:
        pass


# -- the checks every input file passes before any parser sees it ------------------------------
#
# rdflib needs minutes and gigabytes for a 100 MB Turtle file, so files above a size limit are
# refused before parsing (raise it with KG_MAX_INPUT_MB; 0 means no limit). Only regular files
# are read: a named pipe would block forever, a device (or a symlink to /dev/zero) never ends.

DEFAULT_MAX_INPUT_MB = 64

# Oxigraph parses into integer rows (kg.engine.rules) a hundred times faster: 1 GB is seconds.
NATIVE_MAX_INPUT_MB = 1024

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
}


def max_input_bytes(native: bool = False) -> int | None:
    """The size limit for one input file in bytes (None: no limit), from $KG_MAX_INPUT_MB.

    `native`: the file goes to a native parser, not into an rdflib graph (higher default).
    """
    raw = os.environ.get("KG_MAX_INPUT_MB", "").strip()
    try:
        megabytes = float(raw) if raw else (NATIVE_MAX_INPUT_MB if native else DEFAULT_MAX_INPUT_MB)
    except ValueError:
        raise LoadError(f"KG_MAX_INPUT_MB={raw!r} is not a number of megabytes") from None
    return None if megabytes <= 0 else int(megabytes * 1024 * 1024)


def _too_big(path: Path | str, size: int, limit: int) -> LoadError:
    return LoadError(
        f"{display(path)}: {size / 1048576:.0f} MB is over the {limit / 1048576:.0f} MB limit for one input file "
        "(parsing would take minutes) — split it, or raise the limit with KG_MAX_INPUT_MB=<megabytes>"
    )


def _checked(path: Path | str, status: os.stat_result, limit: int | None) -> None:
    if not stat.S_ISREG(status.st_mode):
        kind = _KINDS.get(stat.S_IFMT(status.st_mode), "not a file")
        raise LoadError(f"{display(path)}: {kind}, not a regular file — kg reads only regular files")
    if limit is not None and status.st_size > limit:
        raise _too_big(path, status.st_size, limit)


def check_input(path: Path | str, native: bool = False) -> None:
    """Refuse an input before anything reads it: missing, not a regular file (following symlinks), or over the limit."""
    limit = max_input_bytes(native)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise LoadError(f"{display(path)}: no such file") from None
    except OSError as error:
        raise LoadError(f"{display(path)}: cannot read: {error.strerror or error}") from None
    _checked(path, status, limit)


def read_input(path: Path | str, native: bool = False) -> bytes:
    """An input file's bytes, once it passed `check_input` on the file actually opened (never blocking on a
    pipe), reading no more than the limit allows even if the file grows meanwhile."""
    limit = max_input_bytes(native)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise LoadError(f"{display(path)}: no such file") from None
    except OSError as error:
        raise LoadError(f"{display(path)}: cannot read: {error.strerror or error}") from None
    with open(fd, "rb") as handle:
        _checked(path, os.fstat(fd), limit)
        try:
            data = handle.read() if limit is None else handle.read(limit + 1)
        except OSError as error:
            raise LoadError(f"{display(path)}: cannot read: {error.strerror or error}") from None
    if limit is not None and len(data) > limit:
        raise _too_big(path, len(data), limit)
    return data


_DTD_ENTITY = re.compile(rb"<!DOCTYPE[^>\[]*\[.*?<!ENTITY", re.S)


def refuse_xml_entities(path: Path | str, raw: bytes) -> None:
    """Refuse XML whose DOCTYPE declares entities, before a parser expands them ("billion laughs":
    a kilobyte of nested entities takes minutes and gigabytes). RDF/XML never needs them."""
    candidates = [raw]
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00<" in raw[:200] or b"<\x00" in raw[:200]:
        for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
            with contextlib.suppress(UnicodeDecodeError):
                candidates.append(raw.decode(encoding).encode("utf-8"))
    for text in candidates:
        found = _DTD_ENTITY.search(text)
        if found:
            line = text.count(b"\n", 0, found.start()) + 1
            raise LoadError(
                f"{display(path)}, line {line}: a DOCTYPE declaring entities is refused (expanding them can take"
                " minutes and gigabytes) — remove the DOCTYPE; RDF/XML needs none"
            )
