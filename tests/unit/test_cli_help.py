"""Every command and option of `gateway` has a help text, and the README's CLI tour lists
every command and action (walks the real argparse tree)."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from gateway.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"
SKIP = (argparse._HelpAction, argparse._VersionAction)


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("gateway",)):
    """Yield (command path, parser, subcommand help or None) for every (sub)command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield path + (name,), sub, helps.get(name)
                yield from walk(sub, path + (name,))


def commands() -> list[tuple[str, ...]]:
    return [path for path, _, _ in walk(build_parser())]


def test_the_tree_is_walked():
    found = commands()
    assert ("gateway", "serve") in found and ("gateway", "messages", "purge") in found
    assert ("gateway", "jobs", "run") in found and len(found) > 30


def test_every_command_has_help():
    missing = [" ".join(path) for path, _, text in walk(build_parser())
               if not text or text == argparse.SUPPRESS]
    assert missing == []


def test_every_option_and_argument_has_help():
    parser = build_parser()
    tree = [(("gateway",), parser)] + [(path, sub) for path, sub, _ in walk(parser)]
    missing = [f"{' '.join(path)} {'/'.join(a.option_strings) or a.metavar or a.dest}"
               for path, sub in tree for a in sub._actions
               if not isinstance(a, (*SKIP, argparse._SubParsersAction))
               and (not a.help or a.help == argparse.SUPPRESS)]
    assert missing == []


def tour_cells() -> list[str]:
    """First column of the table in README's section 'A tour of the CLI'."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## A tour of the CLI", 1)[1].split("\n## ", 1)[0]
    return [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `gateway")]


def test_the_readme_tour_lists_every_command_and_action():
    cells = tour_cells()
    assert cells, "README has no CLI tour table"
    missing = []
    for path in commands():
        command = f"gateway {path[1]}"
        rows = [c for c in cells if re.search(rf"`{re.escape(command)}\b", c)]
        if not rows or (len(path) > 2 and not any(re.search(rf"\b{re.escape(path[2])}\b", c) for c in rows)):
            missing.append(" ".join(path))
    assert missing == []
