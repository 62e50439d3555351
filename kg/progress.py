"""Progress of long steps, reported to whoever listens: the library says what it is doing, the
command line decides whether and how to show it (kg.cli draws a bar on a terminal, or log lines
with -v; nothing in a pipe).

    with progress.step("reading data files", total=len(files)) as bar:
        for path in files:
            ...
            bar.advance()

Without a listener (the default, and every library caller) a step costs a function call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["Step", "Listener", "step", "listen"]


@dataclass
class Step:
    """One step under way: what it is, how far it has got of how much (None: unknown)."""

    label: str
    total: int | None = None
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _listener: Listener | None = None

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self._listener is not None:
            self._listener.update(self)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Listener:
    """Receives steps as they start, move and end; kg.cli's renderer is one."""

    def start(self, step: Step) -> None:  # pragma: no cover - interface
        pass

    def update(self, step: Step) -> None:  # pragma: no cover - interface
        pass

    def finish(self, step: Step) -> None:  # pragma: no cover - interface
        pass


_listeners: list[Listener] = []


@contextmanager
def step(label: str, total: int | None = None) -> Iterator[Step]:
    """A step of work the current listener (if any) shows while it runs."""
    listener = _listeners[-1] if _listeners else None
    current = Step(label, total, _listener=listener)
    if listener is not None:
        listener.start(current)
    try:
        yield current
    finally:
        if listener is not None:
            listener.finish(current)


@contextmanager
def listen(listener: Listener) -> Iterator[Listener]:
    """Report every step started inside the block to `listener`."""
    _listeners.append(listener)
    try:
        yield listener
    finally:
        _listeners.remove(listener)
