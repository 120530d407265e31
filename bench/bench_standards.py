"""Validating a real third-party message: the gateway's Validator (standard configured by
files, code-list policy `known`) vs raw lxml parse + XMLSchema.validate of the same file with
the same schema set, measured in alternating rounds in one run. Target: ours costs at most
1.25 times raw (rate ratio >= 80 %). The second line set grows the message with 40 more
Kommunikation blocks, once valid and once each with a wrong list version (80 issues), and
compares each with raw lxml on the same copy: issue paths are built only when an issue is
read (ElementIssue), so many issues must not make our validation many times slower than a
valid message — libxml2 itself slows down on errors; our part on top of it must stay small
(target for the copy with issues, too: >= 80 % of raw lxml on that copy).

Needs ../shared/reference/xdomea-2.4.0 (read in place, never copied); without it the
benchmark says so and exits 0.

    .venv/bin/python -m bench.bench_standards [--n 200] [--rounds 40] [--quick]
"""
from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from bench.common import interleaved, report
from gateway.errors import errors_of
from gateway.resources import xsd_dir
from gateway.validation import Validator, load_standard, own_standard

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "xdomea-2.4.0"
SCHEMA = REFERENCE / "schemas" / "xdomea-Nachrichten-AussonderungDurchfuehren.xsd"
MESSAGE = REFERENCE / "messages" / "xx_Aussonderung.Aussonderung.0503.xml"


def validator(folder: Path) -> Validator:
    (folder / "standard.toml").write_text(
        f'name = "xdomea"\nheader = "xdomea"\ncodelist_policy = "known"\n'
        f'codelists = ["{REFERENCE / "schemas" / "code_lists"}"]\n[[schemas]]\nfile = "{SCHEMA}"\n')
    return Validator.from_standards([own_standard(xsd_dir()), load_standard(folder)])


def grown(xml: bytes, copies: int = 40, broken: bool = False) -> bytes:
    """The message with `copies` more Kommunikation blocks in the Kopf's Absender; `broken`:
    each names another code list and version than its schema fixes (two issues each)."""
    text = xml.decode()
    start = text.index("<xdomea:Kommunikation>")
    end = text.index("</xdomea:Kommunikation>") + len("</xdomea:Kommunikation>")
    block = text[start:end]
    if broken:
        block = block.replace("<xdomea:Kanal>", '<xdomea:Kanal listURI="urn:unknown" listVersionID="1">')
    return (text[:start] + block * copies + text[end:]).encode()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench_standards")
    ap.add_argument("--n", type=int, default=200, help="validations per round")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="a few seconds: --n 20 --rounds 2")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 20, 2
    if not REFERENCE.is_dir():
        print(f"skipped: xdomea 2.4.0 reference set not found at {REFERENCE}")
        return 0
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        ours_validator = validator(Path(tmp))
    xml = MESSAGE.read_bytes()
    raw_schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    assert raw_schema.validate(etree.fromstring(xml)), "raw lxml rejects the message"
    found = ours_validator.validate(xml, now=now)
    assert found and errors_of(found) == [], f"expected warnings only: {found}"
    big, noisy = grown(xml), grown(xml, broken=True)
    assert errors_of(ours_validator.validate(big, now=now)) == []
    noisy_issues = ours_validator.validate(noisy, now=now)
    assert len(noisy_issues) >= 40, len(noisy_issues)

    rates = interleaved({
        "raw lxml parse+XMLSchema.validate": lambda: raw_schema.validate(etree.fromstring(xml)),
        "gateway Validator.validate": lambda: ours_validator.validate(xml, now=now),
    }, n=args.n, rounds=args.rounds)
    report(f"xdomea 0503 ({len(xml):,} bytes, {len(found)} warnings), best of {args.rounds} rounds x {args.n}",
           rates, baseline="raw lxml parse+XMLSchema.validate", target=0.80)
    rates = interleaved({
        "gateway, the grown valid copy": lambda: ours_validator.validate(big, now=now),
        "gateway, the grown copy with issues": lambda: ours_validator.validate(noisy, now=now),
        "raw lxml, the grown valid copy": lambda: raw_schema.validate(etree.fromstring(big)),
        "raw lxml, the grown copy with issues": lambda: raw_schema.validate(etree.fromstring(noisy)),
    }, n=args.n // 4, rounds=args.rounds)
    report(f"xdomea 0503 grown to {len(big):,} bytes, valid",
           {k: v for k, v in rates.items() if "valid" in k}, baseline="raw lxml, the grown valid copy", target=0.80)
    report(f"xdomea 0503 grown to {len(noisy):,} bytes, {len(noisy_issues)} issues",
           {k: v for k, v in rates.items() if "issues" in k}, baseline="raw lxml, the grown copy with issues",
           target=0.80)
    print(f"  with issues / valid: gateway {rates['gateway, the grown copy with issues'] / rates['gateway, the grown valid copy']:.1%}, "
          f"raw lxml {rates['raw lxml, the grown copy with issues'] / rates['raw lxml, the grown valid copy']:.1%}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
