"""CLI commands of the message library: `types`, `schema`, `build`, `parse` (docs/mapping.md)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..cli import EXIT_INVALID, EXIT_OK, UsageError
from ..errors import Issue, NotFound, ValidationFailed, XmlSecurityError
from ..files import write_output


def register(sub: argparse._SubParsersAction) -> None:
    """Add the library commands to the `gateway` parser."""
    p = sub.add_parser("types", help="list the message types (id, standard, version, description)")
    p.add_argument("--json", action="store_true", help="print a JSON array instead of lines")
    p.set_defaults(func=cmd_types)

    p = sub.add_parser("schema", help="print the JSON Schema of a message type's record")
    p.add_argument("type", metavar="TYPE", help="message type id, e.g. personenstand.urkundenantrag.0100")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("build", help="turn a record (JSON) into an XML message")
    p.add_argument("type", metavar="TYPE", help="message type id")
    p.add_argument("record", metavar="RECORD.json", help="the record ('-' reads standard input)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the XML here instead of stdout")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("parse", help="turn an XML message into its record (JSON)")
    p.add_argument("file", metavar="FILE.xml", help="the message ('-' reads standard input)")
    p.set_defaults(func=cmd_parse)


def _registry():
    from ..mapping.registry import shipped_registry

    return shipped_registry()


def _message_type(registry, type_id: str):
    try:
        return registry.get(type_id)
    except NotFound as exc:
        raise UsageError(str(exc)) from None


def cmd_types(args: argparse.Namespace) -> int:
    """`gateway types`: one line per message type (from the cached catalog)."""
    from ..mapping.catalog import catalog

    rows = catalog()["types"]
    if args.json:
        _out(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    width = max(len(t["id"]) for t in rows)
    std = max(len(t["standard"]) for t in rows)
    _out("".join(f"{t['id']:<{width}}  {t['standard']:<{std}}  {t['version']:<5}  {t['description']}\n"
                 for t in rows))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """`gateway schema TYPE`: the record's JSON Schema (from the cached catalog)."""
    from ..mapping.catalog import catalog

    schema = catalog()["schemas"].get(args.type)
    if schema is None:                   # unknown: the registry names the closest type
        registry = _registry()
        schema = registry.json_schema(_message_type(registry, args.type).id)
    _out(json.dumps(schema, ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    """`gateway build TYPE RECORD.json [-o FILE]`: complete, build and check, then write XML."""
    from lxml import etree

    from .. import config as config_module
    from ..mapping import Authority, prepare_message
    from ..validation import Validator

    config = config_module.load(args.config)
    registry = _registry()
    message_type = _message_type(registry, args.type)
    source = args.record
    try:
        record = json.loads(_read(source))
    except json.JSONDecodeError as exc:
        print(f"{source}:{exc.lineno}: not valid JSON: {exc.msg}", file=sys.stderr)
        return EXIT_INVALID
    except UnicodeDecodeError:
        print(f"{source}: not valid JSON: the file is not UTF-8 text", file=sys.stderr)
        return EXIT_INVALID
    try:
        root = prepare_message(registry, message_type.id, record,
                               authority=Authority.from_config(config),
                               validator=Validator.from_config(config))
    except ValidationFailed as exc:
        _issues(source, exc.issues)
        return EXIT_INVALID
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    if args.output:
        write_output(Path(args.output), xml)
    else:
        sys.stdout.buffer.write(xml)
        sys.stdout.flush()
    return EXIT_OK


def cmd_parse(args: argparse.Namespace) -> int:
    """`gateway parse FILE.xml`: the record as JSON on stdout."""
    registry = _registry()
    source = args.file
    try:
        _, record = registry.parse(_read(source))
    except XmlSecurityError as exc:
        _issues(source, [Issue(str(exc), line=exc.line, check="parse")])
        return EXIT_INVALID
    except ValidationFailed as exc:
        _issues(source, exc.issues)
        return EXIT_INVALID
    except NotFound as exc:
        _issues(source, [Issue(str(exc), check="schema")])
        return EXIT_INVALID
    _out(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    return Path(source).read_bytes()


def _issues(source: str, issues: list[Issue]) -> None:
    for issue in issues:
        print(issue.format(source), file=sys.stderr)


def _out(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()
