"""XSD validation and validator issues reported against record paths or readable XML paths.

For a tree we built, every issue is moved to the record field it came from
(`anlagen[0].sha256`); for a tree we parsed, issues keep the readable XML path
(`root/child/grandchild[2]`, see gateway.validation.paths) and the source line.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from lxml import etree

from ..errors import Issue
from ..validation.messages import rewrite
from ..validation.paths import element_path
from .plan import ElementPlan
from .reader import record_paths


def schema_issues(schema: etree.XMLSchema, root: etree._Element,
                  plan: ElementPlan | None = None, *, lock: Any = None) -> list[Issue]:
    """Validate `root` with lxml; issues at record paths when `plan` is given, else at XML paths.
    `lock` (shared by all users of `schema`) serialises validation across threads."""
    with lock or nullcontext():
        if schema.validate(root):
            return []
        log = list(schema.error_log)
    tree = root.getroottree()
    by_xpath = {tree.getpath(e): e for e in root.iter(tag=etree.Element)}
    issues = []
    for entry in log:
        message, attribute = rewrite(entry.message)
        element = by_xpath.get((entry.path or "").split("/@")[0])
        path = element_path(element, attribute) if element is not None else ""
        issues.append(Issue(message, path, line=entry.line or None, check="schema"))
    return to_record_paths(issues, plan, root) if plan is not None else issues


def to_record_paths(issues: list[Issue], plan: ElementPlan, root: etree._Element) -> list[Issue]:
    """Re-address issues from readable XML paths to record field paths (no line numbers)."""
    by_xml = {element_path(e): p for e, p in record_paths(plan, root).items()}
    moved = []
    for issue in issues:
        xml_path, _, attribute = issue.path.partition("/@")
        base = by_xml.get(xml_path)
        if base is None:                 # not an element we know: keep the XML path
            moved.append(Issue(issue.message, issue.path, None, issue.check))
            continue
        path = f"{base}.{attribute}" if attribute and base else attribute or base
        moved.append(Issue(issue.message, path, None, issue.check))
    return moved
