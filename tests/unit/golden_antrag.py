"""The golden civil-status application, edited per test (shared by the validation tests)."""
from __future__ import annotations

from pathlib import Path

ANTRAG = Path(__file__).resolve().parents[1] / "vectors" / "messages" / "personenstand.urkundenantrag.0100.xml"


def antrag(*replacements: tuple[str, str]) -> bytes:
    """The golden application with text replacements, each of which must apply once."""
    text = ANTRAG.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode("utf-8")
