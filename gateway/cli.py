"""The `gateway` command: parses arguments, dispatches to a command module, maps errors.

Each module listed in COMMAND_MODULES has `register(subparsers)`, which adds its commands
with `set_defaults(func=handler)`; a handler takes the parsed args and returns an exit code.
Exit codes: 0 success, 1 the input is invalid or an operation failed, 2 usage or
configuration error, 130 interrupted. Errors are one clear line on stderr, never a traceback
(set GATEWAY_DEBUG=1 to see one).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .errors import ConfigError, GatewayError, NotFound

COMMAND_MODULES = (
    "gateway.commands.init",
    "gateway.commands.config",
    "gateway.commands.library",
    "gateway.commands.keys",
    "gateway.commands.sign",
    "gateway.commands.encrypt",
    "gateway.commands.validate",
    "gateway.commands.standards",
    "gateway.commands.serve",
    "gateway.commands.send",
    "gateway.commands.partners",
    "gateway.commands.db",
    "gateway.commands.messages",
    "gateway.commands.audit",
    "gateway.commands.folders",
    "gateway.commands.jobs",
    "gateway.commands.nodes",
    "gateway.commands.tokens",
    "gateway.commands.users",
    "gateway.commands.demo",
)

# Which module registers a command: `gateway CMD` imports only that module (a fast start;
# `gateway types` need not load the server, the store or the crypto stack). A command not
# listed here still works: the full parser is built. tests/unit/test_cli_start.py keeps
# this table true.
COMMAND_OWNERS = {
    "init": "gateway.commands.init", "config": "gateway.commands.config",
    "types": "gateway.commands.library", "schema": "gateway.commands.library",
    "build": "gateway.commands.library", "parse": "gateway.commands.library",
    "keys": "gateway.commands.keys", "sign": "gateway.commands.sign", "verify": "gateway.commands.sign",
    "validate": "gateway.commands.validate", "standards": "gateway.commands.standards",
    "codelists": "gateway.commands.standards", "serve": "gateway.commands.serve",
    "send": "gateway.commands.send", "partners": "gateway.commands.partners", "db": "gateway.commands.db",
    "messages": "gateway.commands.messages", "audit": "gateway.commands.audit",
    "folders": "gateway.commands.folders", "jobs": "gateway.commands.jobs",
    "tokens": "gateway.commands.tokens", "demo": "gateway.commands.demo",
    "nodes": "gateway.commands.nodes", "status": "gateway.commands.nodes", "users": "gateway.commands.users",
}

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Raised by handlers for wrong arguments that argparse could not catch."""


def build_parser(modules: tuple[str, ...] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The argument parser with the commands of `modules` (default: every command)."""
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="XÖV gateway: build, validate, sign, store and exchange messages between authorities.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", metavar="FILE", default=os.environ.get("GATEWAY_CONFIG"),
        help="gateway.toml (default: $GATEWAY_CONFIG, else embedded defaults)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_modules_for(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.config and not getattr(args, "no_config", False) and not os.path.isfile(args.config):
        where = "--config" if args.config != os.environ.get("GATEWAY_CONFIG") else "GATEWAY_CONFIG"
        print(f"gateway {args.command}: {where} {args.config}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()              # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("gateway: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, ConfigError) as exc:
        _debug()
        print(f"gateway {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (GatewayError, OSError) as exc:
        _debug()
        kind = "not found: " if isinstance(exc, NotFound) else ""
        print(f"gateway {args.command}: {kind}{_describe(exc)}", file=sys.stderr)
        return EXIT_INVALID


def _modules_for(argv: list[str]) -> tuple[str, ...]:
    """The command modules `argv` needs: the owner of its command, none for a bare
    --version, else all (help, an unknown or unlisted command)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            owner = COMMAND_OWNERS.get(word)
            return (owner,) if owner in COMMAND_MODULES else COMMAND_MODULES
    return () if "--version" in argv and not {"-h", "--help"} & set(argv) else COMMAND_MODULES


def _quiet_stdout() -> None:
    """The reader went away (`gateway jobs --json | head`): end without a traceback and
    without Python's second complaint when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def _debug() -> None:
    if os.environ.get("GATEWAY_DEBUG"):
        import traceback

        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
