"""The README's examples as tests: every ```console block is run and its output compared.

In a console block, a line starting with `$ kg ` is a command; the lines after it, up to the
next command, are what it prints (stdout and stderr as a terminal shows them). A line `...`
stands for any number of lines, and a line ending in ` ...` for any line that starts with what
comes before it, so an example can show the start of a long answer that grows with the data.

Commands run in-process, in order, in one temporary folder (so later commands see the files
earlier ones wrote) made a twin of the checkout: its `.kg-workspace`, `data/`, `ontology/`,
`queries/` and `tests/` are links to the checkout's, so commands and the paths they print read
as they would in the checkout.

    python tests/readme_doc.py            # print what each command prints now
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ELLIPSIS = "..."


@dataclass
class Example:
    """One command of a console block and the lines it should print."""

    block: int  # which console block (0-based), for the test id and the shared folder
    line: int  # the command's line number in README.md
    command: str
    expected: list[str] = field(default_factory=list)

    @property
    def args(self) -> list[str]:
        words = shlex.split(self.command)
        assert words[0] == "kg", f"README.md line {self.line}: only kg commands run in a console block"
        return words[1:]


def examples(text: str | None = None) -> list[Example]:
    """Every command of every ```console block of the README, in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found: list[Example] = []
    block, inside = -1, False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            inside = line.strip() == "```console" and not inside
            block += inside
            continue
        if not inside:
            continue
        if line.startswith("$ "):
            found.append(Example(block, number, line[2:].strip()))
        elif found and found[-1].block == block:
            found[-1].expected.append(line.rstrip())
        else:
            raise AssertionError(f"README.md line {number}: a console block must start with a $ command")
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether `actual` lines fit `expected`, where a line `...` matches any run of lines."""

    def one(line: str) -> str:
        if line == ELLIPSIS:
            return r"(?:[^\n]*\n)*?"
        if line.endswith(" " + ELLIPSIS):
            return re.escape(line[: -len(ELLIPSIS)]) + r"[^\n]*\n"
        return re.escape(line) + r"\n"

    pattern = "".join(one(line) for line in expected)
    return re.fullmatch(pattern, "".join(line + "\n" for line in actual)) is not None


def run(example: Example, folder: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run one example in `folder`; its exit status and printed lines (trailing spaces removed)."""
    from click.testing import CliRunner

    from kg.cli import cli

    for name in (".kg-workspace", "data", "ontology", "queries", "tests"):  # the folder is the checkout's twin
        link = folder / name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(ROOT / name)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner(env=env).invoke(cli, example.args, catch_exceptions=False, color=False)
    finally:
        os.chdir(previous)
    return result.exit_code, [line.rstrip() for line in result.output.splitlines()]


if __name__ == "__main__":  # print what each command prints now, to update the README by hand
    import tempfile

    sys.path.insert(0, str(ROOT))
    cache = tempfile.mkdtemp(prefix="readme-cache-")
    env = {"KG_CACHE_DIR": os.environ.get("KG_CACHE_DIR", cache)}
    folder = Path(tempfile.mkdtemp(prefix="readme-"))
    for example in examples():
        status, lines = run(example, folder, env)
        ok = "ok" if matches(example.expected, lines) else "DIFFERS"
        print(f"--- line {example.line} [{ok}, exit {status}] $ {example.command}")
        print("\n".join(lines))
