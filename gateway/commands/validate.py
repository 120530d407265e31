"""`gateway validate FILE.xml... [--json]`: check messages layer by layer (docs/validation.md).

Exit 0 when every file is valid (warnings only, e.g. a code list that is not loaded under
the "known" policy, still count as valid), 1 when any is invalid or unreadable, 2 on usage
or configuration errors. Issues go to stdout as `FILE:LINE: path: message [layer]` with
", warning" in the brackets of warnings (or JSON Lines with --json); a one-line summary goes
to stderr. The Validator is built once for all files.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone

from ..cli import EXIT_INVALID, EXIT_OK
from ..errors import Issue, errors_of


def register(sub: argparse._SubParsersAction) -> None:
    """Add `validate` to the `gateway` parser."""
    p = sub.add_parser(
        "validate", help="check XML messages: parse, schema, code lists, business rules, Schematron",
        description="Check XML messages of our own or configured third-party standards. "
                    "Exit 0: all valid; 1: any invalid or unreadable; 2: usage or configuration error.")
    p.add_argument("files", nargs="+", metavar="FILE.xml", help="messages to check ('-' reads standard input)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per file: {file, valid, issues: [{path, line, check, "
                        "message, severity}]} (severity: error or warning)")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate every file with one Validator; report issues; return the exit code."""
    from .. import config as config_module
    from ..validation import Validator

    validator = Validator.from_config(config_module.load(args.config))
    now = datetime.now(timezone.utc)
    invalid = issues_total = warnings_total = 0
    for name in args.files:
        issues = _check_file(validator, name, now)
        errors = len(errors_of(issues))
        invalid += bool(errors)
        issues_total += errors
        warnings_total += len(issues) - errors
        if args.json:
            record = {"file": name, "valid": not errors, "issues": [i.as_dict() for i in issues]}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write("".join(i.format(name, layer=True) + "\n" for i in issues))
    total = len(args.files)
    warned = f", {warnings_total} warning{'s' * (warnings_total != 1)}" if warnings_total else ""
    print(f"gateway validate: {total} file{'s' * (total != 1)} checked, {total - invalid} valid, "
          f"{invalid} invalid ({issues_total} issue{'s' * (issues_total != 1)}{warned})", file=sys.stderr)
    return EXIT_INVALID if invalid else EXIT_OK


def _check_file(validator, name: str, now: datetime) -> list[Issue]:
    """The issues of one file; an unreadable file is one issue of check 'read'."""
    try:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as fh:
                size, limit = os.fstat(fh.fileno()).st_size, validator.limits.max_bytes
                if size > limit:  # do not read a huge file just to refuse it
                    return [Issue(f"document is {size} bytes, over the limit of {limit}", check="parse")]
                data = fh.read()
    except OSError as exc:
        return [Issue(f"cannot read the file: {exc.strerror or exc}", check="read")]
    return validator.validate(data, now=now)
