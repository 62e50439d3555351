"""Running a command's work under a deadline, writing its output, and stopping cleanly.

Support for kg.cli: a forked worker that can be stopped at a deadline (rdflib's SPARQL engine
cannot be interrupted from inside, and a thread cannot be killed), output written to stdout or
atomically to a file, and SIGTERM turned into an exit that removes temporary files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from kg.errors import KgError, QueryError, UsageError
from kg.paths import atomic_stream, atomic_write, remove_temporary_files

__all__ = ["local_time_limit", "with_deadline", "exit_on_sigterm", "emit", "stream_output"]

T = TypeVar("T")


QUERY_TIMEOUT_ENV = "KG_QUERY_TIMEOUT"
DEFAULT_QUERY_SECONDS = 600.0  # a local query runs at most this long unless told otherwise


def local_time_limit(given: float | None) -> float | None:
    """The time limit of a local query: --timeout, else $KG_QUERY_TIMEOUT, else 600 s; 0 means none (None)."""
    if given is None:
        raw = os.environ.get(QUERY_TIMEOUT_ENV, "").strip()
        try:
            given = float(raw) if raw else DEFAULT_QUERY_SECONDS
        except ValueError:
            raise UsageError(f"{QUERY_TIMEOUT_ENV}={raw!r} is not a number of seconds (0 for no limit)") from None
        if given < 0 or given != given:
            raise UsageError(f"{QUERY_TIMEOUT_ENV}={raw!r} is not a number of seconds (0 for no limit)")
    return None if given == 0 else given


def with_deadline(produce: Callable[[], T], seconds: float) -> T:
    """Run `produce` in a forked worker and return its result, or stop it after `seconds` (QueryError).

    The worker inherits everything loaded so far (the dataset), so only the work itself runs there.
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    parent = os.getpid()

    def work() -> None:
        _end_with(parent)
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


def _end_with(parent: int) -> None:
    """In a worker: end, removing the temporary files being written, as soon as `parent` is gone.

    Linux sends the worker SIGTERM when its parent dies however it dies (PR_SET_PDEATHSIG);
    elsewhere a thread watches for the parent to change. Either way SIGTERM ends the worker.
    """

    def end(signum: int, frame: object) -> None:
        remove_temporary_files()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, end)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    else:  # pragma: no cover - no parent-death signal

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was asked for
        end(signal.SIGTERM, None)


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """SIGTERM as SystemExit(143) while the block runs, so a half-written temporary file is removed."""
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


def emit(text: str | bytes, output: str) -> None:
    """Write to stdout (as UTF-8 whatever the locale) for "-", else atomically to the file."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if output != "-":
        atomic_write(Path(output), data)
        return
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:  # stdout replaced by a text-only object
        sys.stdout.write(data.decode("utf-8"))
        return
    sys.stdout.flush()
    stream.write(data)
    stream.flush()


def stream_output(output: str, produce: Callable[[BinaryIO], None], timeout: float | None = None) -> None:
    """Let `produce` write to stdout, or to a temporary file renamed into place at the end.

    Errors part-way leave no file (stdout has what was written so far). With `timeout` the
    work runs in a worker writing to the file (for stdout: to a spool file copied out after),
    so a stopped run writes nothing.
    """

    def run(out: BinaryIO) -> None:
        if timeout is None:
            produce(out)
        else:
            with_deadline(lambda: produce(out), timeout)

    if output != "-":
        with exit_on_sigterm(), atomic_stream(Path(output)) as out:
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
