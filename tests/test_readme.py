"""The README shows what kg does: every command in its ```console blocks runs, in order, and
prints what the README says (tests/readme_doc.py explains the conventions)."""

from __future__ import annotations

from pathlib import Path

import pytest
from readme_doc import ELLIPSIS, Example, examples, matches, run

EXAMPLES = examples()


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | Path]:
    """One folder for every example (a twin of the checkout) and one reasoning cache of its own."""
    return {"folder": tmp_path_factory.mktemp("readme"), "cache": str(tmp_path_factory.mktemp("readme-cache"))}


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 20
    assert {e.args[0] for e in EXAMPLES if not e.args[0].startswith("-")} >= {
        "query", "render", "export", "validate", "init", "link", "publish", "stats", "load", "analyze",
    }  # fmt: skip


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line-{e.line}" for e in EXAMPLES])
def test_readme_example(example: Example, twin, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KG_CACHE_DIR", twin["cache"])
    monkeypatch.delenv("KG_WORKSPACE", raising=False)
    status, lines = run(example, twin["folder"], {})
    shown = "\n".join(example.expected)
    assert matches(example.expected, lines), (
        f"README.md line {example.line}: `{example.command}` printed\n" + "\n".join(lines) + f"\n\nnot\n{shown}"
    )
    failed = any(line.startswith("Error:") for line in lines)
    if failed:
        assert status in (1, 2), f"README.md line {example.line}: an error exits with 1 or 2, not {status}"
    elif example.args[0] == "validate" or "validate" in example.args[:3]:
        assert status in (0, 1)
    else:
        assert status == 0, f"README.md line {example.line}: exit status {status}"


def test_the_ellipsis_matches_what_it_should():
    assert matches(["a", ELLIPSIS, "d"], ["a", "b", "c", "d"])
    assert matches(["a", ELLIPSIS], ["a"])
    assert matches(["drew the map of ..."], ["drew the map of 12 regions"])
    assert not matches(["a", "d"], ["a", "b", "d"])
    assert not matches(["drew the map of ..."], ["wrote the map"])
