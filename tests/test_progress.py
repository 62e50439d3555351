"""Progress of long steps: a bar on a terminal, log lines with -v, nothing in a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from kg import progress

ROOT = Path(__file__).resolve().parent.parent
# Big enough for generating to take longer than the half second before a bar is drawn.
TRIPLES = "1000000"


def _run(args: list[str], *, terminal: bool, cwd: Path) -> tuple[int, str]:
    """Run `python -m kg ARGS` with stderr on a pseudo-terminal (or a pipe); its stderr text."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KG_CACHE_DIR": str(cwd / "cache")}
    command = [sys.executable, "-m", "kg", *args]
    if not terminal:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(), b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_sees_a_bar_that_is_cleared_when_done(tmp_path):
    code, stderr = _run(["synth", "-n", TRIPLES, "-o", "s.ttl"], terminal=True, cwd=tmp_path)
    assert code == 0
    assert "\r  generating triples [" in stderr and f"/{int(TRIPLES):,}" in stderr
    # The line is cleared, nothing left behind but what synth says it wrote.
    assert stderr.endswith(
        "\r" + " " * 78 + "\r" + f"wrote a synthetic graph of about {int(TRIPLES):,} triples (seed 0) to s.ttl\r\n"
    )
    assert (tmp_path / "s.ttl").stat().st_size > 1_000_000


def test_a_pipe_sees_nothing(tmp_path):
    code, stderr = _run(["synth", "-n", TRIPLES, "-o", "s.ttl"], terminal=False, cwd=tmp_path)
    assert (code, stderr) == (0, f"wrote a synthetic graph of about {int(TRIPLES):,} triples (seed 0) to s.ttl\n")


def test_verbose_in_a_pipe_logs_each_step(tmp_path):
    code, stderr = _run(["-v", "synth", "-n", "1000", "-o", "s.ttl"], terminal=False, cwd=tmp_path)
    assert code == 0
    lines = stderr.splitlines()
    assert lines[0] == "generating triples …"
    assert lines[1].startswith("generating triples: done in ") and lines[1].endswith(" s")


def test_steps_reach_only_the_listener_in_place():
    seen: list[tuple[str, str, int]] = []

    class Recorder(progress.Listener):
        def start(self, step):
            seen.append(("start", step.label, step.done))

        def update(self, step):
            seen.append(("update", step.label, step.done))

        def finish(self, step):
            seen.append(("finish", step.label, step.done))

    with progress.step("unheard", total=2) as step:
        step.advance()
    with progress.listen(Recorder()):
        with progress.step("heard", total=2) as step:
            step.advance(2)
    assert seen == [("start", "heard", 0), ("update", "heard", 2), ("finish", "heard", 2)]
