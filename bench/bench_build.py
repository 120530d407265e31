"""Record -> XML build throughput against raw lxml construction of the same document.

Message: the golden `akte.abgabe.0300` record grown with more documents to about 5 KB.
Baseline: replaying the very same element tree with etree.SubElement (no checks), i.e. the
least any builder on lxml must do. Target (issue 2): >= 3,000 builds/s on one core.
Run: .venv/bin/python -m bench.bench_build [--n N] [--rounds R] [--size BYTES]
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from lxml import etree

from bench.common import interleaved, report
from gateway.mapping import Registry

ROOT = Path(__file__).resolve().parent.parent
TYPE = "akte.abgabe.0300"
TARGET_PER_SECOND = 3000


def sized_record(registry: Registry, size: int) -> dict:
    """The golden record with documents appended until the XML is at least `size` bytes."""
    record = json.loads((ROOT / "tests" / "vectors" / "messages" / f"{TYPE}.json").read_text("utf-8"))
    vorgang = record["akte"]["vorgang"][0]
    template = vorgang["dokument"][0]
    while len(registry.to_xml(TYPE, record, pretty=False)) < size:
        vorgang["dokument"].append(copy.deepcopy(template))
    return record


def replay_plan(element: etree._Element):
    """(tag, attrib, text, children) of a tree, to rebuild it with bare lxml calls."""
    return (element.tag, dict(element.attrib), element.text,
            [replay_plan(child) for child in element])


def replay(plan, nsmap) -> etree._Element:
    """The baseline: construct the same tree with etree.Element/SubElement only."""
    tag, attrib, text, children = plan
    root = etree.Element(tag, attrib, nsmap=nsmap)
    stack = [(root, children)]
    sub = etree.SubElement
    while stack:
        parent, kids = stack.pop()
        for ctag, cattrib, ctext, grandkids in kids:
            child = sub(parent, ctag, cattrib)
            if ctext is not None:
                child.text = ctext
            if grandkids:
                stack.append((child, grandkids))
    return root


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_build", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="builds per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=9, help="rounds, best kept (default 9)")
    parser.add_argument("--size", type=int, default=5000, help="message size in bytes (default 5000)")
    parser.add_argument("--quick", action="store_true", help="a few seconds: --n 50 --rounds 1")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 50, 1

    registry = Registry.load()
    message_type = registry.get(TYPE)
    record = sized_record(registry, args.size)
    xml = registry.to_xml(TYPE, record, pretty=False)
    built = registry.build(TYPE, record)
    plan = replay_plan(built)
    nsmap = dict(built.nsmap)
    assert etree.tostring(replay(plan, nsmap)) == etree.tostring(built)   # same document
    elements = sum(1 for _ in built.iter())

    rates = interleaved({
        "raw lxml SubElement (baseline)": lambda: replay(plan, nsmap),
        "build (checks, no XSD)": lambda: registry.build(TYPE, record, validate=False),
        "build (checks + XSD backstop)": lambda: registry.build(TYPE, record),
        "to_xml (build + XSD + serialize)": lambda: registry.to_xml(TYPE, record, pretty=False),
        "raw lxml SubElement + tostring": lambda: etree.tostring(replay(plan, nsmap)),
    }, n=args.n, rounds=args.rounds)
    report(f"record -> XML, {TYPE}, {len(xml):,} bytes, {elements} elements "
           f"(best of {args.rounds} x {args.n})", rates, "raw lxml SubElement (baseline)")
    full = rates["to_xml (build + XSD + serialize)"]
    verdict = "ok" if full >= TARGET_PER_SECOND else "BELOW target"
    print(f"  target >= {TARGET_PER_SECOND:,}/s for to_xml: {full:,.0f}/s {verdict}")

    parse_rates = interleaved({
        "raw lxml parse + XSD validate (baseline)": lambda: message_type.schema.validate(
            etree.fromstring(xml)),
        "parse (hardened parse + XSD + record)": lambda: registry.parse(xml),
    }, n=args.n, rounds=args.rounds)
    report("XML -> record", parse_rates, "raw lxml parse + XSD validate (baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
