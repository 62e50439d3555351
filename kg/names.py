"""How names of Korean places are written: the administrative suffixes that name the kind of area.

"군산" is 군산시 and "대전" 대전광역시: lookups by name (kg.regions) and the linker (kg.link)
drop these suffixes to match a name with or without them.
"""

from __future__ import annotations

__all__ = ["HANGUL_ADMIN_SUFFIXES", "strip_admin_suffix", "name_variants"]

# Longest first, so 특별자치도 is tried before 도.
HANGUL_ADMIN_SUFFIXES = ("특별자치도", "특별자치시", "광역시", "특별시", "자치도", "시", "군", "도")


def strip_admin_suffix(name: str) -> str | None:
    """`name` without its administrative suffix (군산시 -> 군산), or None when it has none.

    At least two characters must remain: Korean place names have two syllables or more.
    """
    for suffix in HANGUL_ADMIN_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def name_variants(label: str, strip: bool) -> set[str]:
    """The case-folded forms a name matches: itself, and without its suffix when `strip`."""
    folded = label.casefold()
    if not strip:
        return {folded}
    stripped = strip_admin_suffix(folded)
    return {folded} if stripped is None else {folded, stripped}
