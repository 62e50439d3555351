"""Helpers for tests that need system tools (Graphviz, a Hangul font, Chromium) and read PNGs."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def require_tool(name: str, *candidates: str) -> str:
    """The path of a system tool; without it the test skips, or fails when KG_REQUIRE_TOOLS=1 (CI)."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate)
        if found:
            return found
    message = f"{name} is not installed (Debian: see .ci/run)"
    if os.environ.get("KG_REQUIRE_TOOLS") == "1":
        pytest.fail(message + "; KG_REQUIRE_TOOLS=1 requires it")
    pytest.skip(message)


def require_hangul_font() -> list[str]:
    from kg.render import hangul_fonts

    require_tool("fc-list")
    fonts = hangul_fonts()
    if not fonts:
        message = "no font with Hangul (fonts-noto-cjk) is installed"
        if os.environ.get("KG_REQUIRE_TOOLS") == "1":
            pytest.fail(message + "; KG_REQUIRE_TOOLS=1 requires it")
        pytest.skip(message)
    return fonts


def chromium(url: str, *extra: str, timeout: int = 120) -> str:
    """Run headless Chromium on `url` (file:// only, no network) and return its stdout."""
    binary = require_tool("chromium", "chromium-browser")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                *extra,
                url,
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    return done.stdout.decode("utf-8")


def read_png(path: Path) -> tuple[int, int, str]:
    """(width, height, mode) of a PNG, decoded by Pillow (which refuses anything that is not one)."""
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    with Image.open(path) as image:
        image.load()
        return image.width, image.height, image.mode


def colours(path: Path) -> set[tuple[int, ...]]:
    """The distinct pixel colours (enough to tell a picture from a blank page)."""
    from PIL import Image

    with Image.open(path) as image:
        return {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 24)}
