"""Validation throughput: our full validate path vs raw lxml parse + XMLSchema.validate.

Both sides check the same ~5 KB messages in the same run, in alternating rounds; the raw
side uses a schema compiled with plain lxml from the same file. Ours adds the hardened
parser's checks, schema selection, code lists and business rules. Target: >= 80 % of raw.
The middle line (hardened parse + the same schema, nothing else) shows what the shared
parser costs on its own. Many short rounds (best of) filter the noise of a shared machine
better than a few long ones; `--runs K` repeats the whole measurement and ends with the
min / median of the full path's ratio per document.

    .venv/bin/python -m bench.bench_validate [--n 200] [--rounds 60] [--runs 1]
"""
from __future__ import annotations

import argparse
import re
import statistics
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from bench.common import interleaved, report
from gateway.resources import xsd_dir
from gateway.validation import Validator, own_standard
from gateway.xml import parse

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "messages"
TARGET_BYTES = 5 * 1024


def five_kb_documents() -> dict[str, tuple[bytes, Path]]:
    """Golden messages grown to ~5 KB with more of their own repeatable content."""
    akte = (VECTORS / "akte.abgabe.0300.xml").read_text(encoding="utf-8")
    block = re.findall(r"\n      <dokument>.*?</dokument>", akte, re.S)[-1]
    end = "</dokument>\n    </vorgang>\n  </akte>"
    while len(akte.encode()) < TARGET_BYTES - len(block):
        akte = akte.replace(end, "</dokument>" + block + end[len("</dokument>"):], 1)
    antrag = (VECTORS / "personenstand.urkundenantrag.0100.xml").read_text(encoding="utf-8")
    missing = TARGET_BYTES - len(antrag.encode())
    filler = " Bitte beachten Sie die beigefügten Hinweise." * (missing // 46)
    antrag = antrag.replace("</bemerkung>", filler[: 2000 - 170] + "</bemerkung>", 1)
    return {
        "akte.abgabe.0300": (akte.encode(), xsd_dir() / "messages" / "akte" / "akte.xsd"),
        "personenstand.urkundenantrag.0100": (
            antrag.encode(), xsd_dir() / "messages" / "personenstand" / "personenstand.xsd"),
    }


def main(argv: list[str]) -> int:
    """Run the benchmark and print rates and ratios."""
    ap = argparse.ArgumentParser(prog="bench_validate")
    ap.add_argument("--n", type=int, default=200, help="validations per round")
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--runs", type=int, default=1, help="repeat everything; report min/median ratio")
    ap.add_argument("--quick", action="store_true", help="a few seconds: --n 20 --rounds 2")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 20, 2
    validator = Validator.from_standards([own_standard(xsd_dir())])
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    ratios: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for name, ratio in _run(validator, now, args).items():
            ratios.setdefault(name, []).append(ratio)
    if args.runs > 1:
        print(f"Validator.validate / raw lxml over {args.runs} runs:")
        for name, values in ratios.items():
            print(f"  {name:<40} min {min(values):6.1%}  median {statistics.median(values):6.1%}  "
                  f"max {max(values):6.1%}")
    return 0


def _run(validator: Validator, now: datetime, args) -> dict[str, float]:
    """One measurement of every document; returns the full path's ratio to raw lxml."""
    out = {}
    for name, (xml, xsd) in five_kb_documents().items():
        raw_schema = etree.XMLSchema(etree.parse(str(xsd)))
        assert raw_schema.validate(etree.fromstring(xml)), f"{name}: raw lxml rejects the document"
        assert validator.validate(xml, now=now) == [], f"{name}: our validator rejects the document"
        _assert_checks_active(validator, name, xml, now)

        def raw(xml=xml, schema=raw_schema):
            return schema.validate(etree.fromstring(xml))

        def hardened(xml=xml, schema=raw_schema):
            return schema.validate(parse(xml))

        def ours(xml=xml):
            return validator.validate(xml, now=now)

        rates = interleaved({"raw lxml parse+XMLSchema.validate": raw,
                             "gateway.xml.parse+XMLSchema.validate": hardened,
                             "gateway Validator.validate": ours},
                            n=args.n, rounds=args.rounds)
        report(f"{name} ({len(xml):,} bytes), best of {args.rounds} rounds x {args.n}",
               rates, baseline="raw lxml parse+XMLSchema.validate", target=0.80)
        out[name] = rates["gateway Validator.validate"] / rates["raw lxml parse+XMLSchema.validate"]
    return out


def _assert_checks_active(validator: Validator, name: str, xml: bytes, now: datetime) -> None:
    """What is timed still checks codes and authority ids (compiled into the schema or not)."""
    bad_code = re.sub(rb"<code>[^<]*</code>", b"<code>NO-SUCH-CODE</code>", xml, count=1)
    assert "codelist" in {i.check for i in validator.validate(bad_code, now=now)}, name
    bad_id = re.sub(rb"<kennung>[^<]*</kennung>", b"<kennung>xyz:1</kennung>", xml, count=1)
    assert "rule" in {i.check for i in validator.validate(bad_id, now=now)}, name


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
