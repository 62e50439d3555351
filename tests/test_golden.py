"""Every command's output on the frozen seed data is byte-identical to its golden file (tests/golden.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden import CASES, GOLDEN, run_case, stored_name


def test_every_golden_file_belongs_to_a_case(tmp_path: Path):
    assert CASES
    names = {p.name for p in GOLDEN.iterdir()}
    assert names, "no golden files: run python tests/golden.py --write"
    expected_prefixes = {case.name for case in CASES}
    orphans = {n for n in names if not any(n.startswith(prefix) for prefix in expected_prefixes)}
    assert not orphans


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_output_matches_golden(case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KG_CACHE_DIR", str(tmp_path.parent / "golden-cache"))  # one closure for all cases
    for name, data in run_case(case, tmp_path).items():
        stored, content = stored_name(name, data)
        golden = GOLDEN / stored
        assert golden.is_file(), f"no golden file {stored}: run python tests/golden.py --write"
        if golden.read_bytes() != content:
            actual = tmp_path / f"actual-{name}"
            actual.write_bytes(data)
            pytest.fail(f"{name} differs from tests/golden/{stored}; the output is in {actual}")
