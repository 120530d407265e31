"""base64Binary's lexical check: the same language as the XSD-style pattern, in linear memory."""
from __future__ import annotations

import base64
import json
import re
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.errors import ValidationFailed
from gateway.mapping import Registry
from gateway.mapping.simple import LEXICAL, is_base64

DEMO_DIR = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "mapping"
PATTERN = re.compile(LEXICAL["base64Binary"])  # the reference: fine for short texts


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="AQgwEcz09+/= -", max_size=14))
def test_same_language_as_the_pattern(text):
    assert is_base64(text) == bool(PATTERN.fullmatch(text)), text


@pytest.mark.parametrize("text, ok", [
    ("", True), ("aGFsbG8=", True), ("aGFs bG8=", True), ("aGFsbG8 =", True), ("YQ==", True),
    ("YQ= =", True), ("aGFsbG8= ", False), (" aGFsbG8=", False), ("aGFs  bG8=", False),
    ("aGFsbG9=", False), ("YR==", False), ("YQ=", False), ("Y===", False), ("aGFsbA", False),
    ("aGFsbG8h", True), ("aGFs bG8h ", True), ("aGF-bG8h", False),
])
def test_examples(text, ok):
    assert is_base64(text) is ok


def test_eight_megabytes_checked_in_linear_memory():
    text = base64.b64encode(bytes(range(256)) * (6 * 1024 * 1024 // 256)).decode()
    bad = text[:-1] + "!"
    tracemalloc.start()
    try:
        assert is_base64(text)
        assert not is_base64(bad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(text), peak  # the nested-quantifier pattern needed ~275x


def test_a_large_attachment_in_a_record_builds_and_a_bad_one_is_named_briefly():
    registry = Registry.load(DEMO_DIR)
    record = json.loads((DEMO_DIR / "demo.antrag.0001.json").read_text(encoding="utf-8"))
    record["anlage"][0]["inhalt"] = base64.b64encode(b"\x00\xff" * 1024 * 1024).decode()
    assert len(etree.tostring(registry.build("demo.antrag.0001", record))) > 2 * 1024 * 1024
    record["anlage"][0]["inhalt"] = record["anlage"][0]["inhalt"][:-4] + "AB?="
    with pytest.raises(ValidationFailed) as info:
        registry.build("demo.antrag.0001", record)
    [issue] = info.value.issues
    assert issue.path == "anlage[0].inhalt" and "is not base64 text" in issue.message
    assert "characters)" in issue.message and len(issue.message) < 200
