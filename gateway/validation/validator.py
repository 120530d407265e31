"""The Validator: layered checks of one message, built once, pure per call.

Layers (docs/validation.md): hardened parse -> XSD of the root's (namespace, version) ->
code lists -> business rules -> Schematron. A parse or schema failure stops there (what
follows would only be noise); code lists, rules and Schematron all report together.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from lxml import etree

from ..errors import Issue, ValidationFailed, XmlSecurityError
from ..resources import xsd_dir
from ..xml import Limits, parse
from .messages import rewrite
from .paths import ElementFinder, element_path
from .rules import RuleContext, check_rules
from .schemas import SchemaCatalog
from .standards import Standard, load_standard, own_standard

MAX_ISSUES = 100                       # per document; a broken file must not flood the report
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
_CODE_TAGS = "{*}code"


class Validator:
    """Validates messages of every known standard; build once, call from any thread."""

    __slots__ = ("catalog", "limits", "clock_skew")

    def __init__(self, catalog: SchemaCatalog, *, limits: Limits = Limits(),
                 clock_skew: timedelta = DEFAULT_CLOCK_SKEW):
        self.catalog = catalog
        self.limits = limits
        self.clock_skew = clock_skew

    @classmethod
    def from_standards(cls, standards: Iterable[Standard], **kwargs) -> "Validator":
        """A validator for exactly these standards (tests, tools)."""
        return cls(SchemaCatalog(standards), **kwargs)

    @classmethod
    def from_config(cls, config) -> "Validator":
        """Own schemas under xsd_dir() plus the `[schemas] standards` folders of the config."""
        sec = config.schemas
        standards = [own_standard(xsd_dir())]
        standards += [load_standard(config.path(folder)) for folder in sec.standards]
        return cls(SchemaCatalog(standards), limits=Limits(sec.max_bytes, sec.max_depth),
                   clock_skew=timedelta(seconds=sec.clock_skew))

    def validate(self, xml: bytes, *, now: datetime) -> list[Issue]:
        """All issues of a message given as bytes (empty list: valid)."""
        try:
            tree = parse(xml, self.limits)
        except XmlSecurityError as exc:
            return [_parse_issue(exc)]
        return self.validate_tree(tree, now=now)

    def validate_tree(self, tree: etree._ElementTree | etree._Element, *, now: datetime) -> list[Issue]:
        """All issues of an already parsed (or freshly built) message."""
        if isinstance(tree, etree._Element):
            tree = tree.getroottree()
        root = tree.getroot()
        compiled = self.catalog.select(root)
        if isinstance(compiled, Issue):
            return [compiled]
        with compiled.lock:
            if not compiled.schema.validate(tree):
                return _schema_issues(tree, compiled.schema.error_log)
        issues = self._codelist_issues(root)
        if compiled.rules:
            issues += check_rules(root, RuleContext.at(now, self.clock_skew))
        for rules in compiled.schematron:
            issues += rules.check(tree)
        return issues[:MAX_ISSUES]

    def check(self, xml: bytes, *, now: datetime) -> etree._ElementTree:
        """Parse and validate; return the tree or raise ValidationFailed with every issue."""
        try:
            tree = parse(xml, self.limits)
        except XmlSecurityError as exc:
            raise ValidationFailed([_parse_issue(exc)]) from None
        issues = self.validate_tree(tree, now=now)
        if issues:
            raise ValidationFailed(issues)
        return tree

    def _codelist_issues(self, root: etree._Element) -> list[Issue]:
        """Every code element whose parent carries listURI (the XÖV code type shape): its code
        must be in that list version. The hot path is one set lookup per code."""
        issues = []
        valid = self.catalog.valid_codes
        for code_el in root.iter(_CODE_TAGS):
            parent = code_el.getparent()
            uri = parent.get("listURI")
            if uri is None or (uri, parent.get("listVersionID"), code_el.text) in valid:
                continue
            issue = self._code_issue(parent, code_el, uri)
            if issue is not None:
                issues.append(issue)
        return issues

    def _code_issue(self, el: etree._Element, code_el: etree._Element, uri: str) -> Issue | None:
        """The issue of one code not found on the fast path (or None: it was only spacing)."""
        lists = self.catalog.codelists
        version = el.get("listVersionID")
        code = " ".join((code_el.text or "").split())  # xs:token collapses whitespace
        cl = lists.get(uri, version)
        if cl is None:
            known = lists.versions(uri)
            what = f"code list {uri}" + (f" version {version}" if version else "")
            hint = f" (known versions: {', '.join(known)})" if known else ""
            return Issue(f"unknown {what}{hint}", element_path(el), el.sourceline, "codelist")
        if code in cl.codes:
            return None
        return Issue(f"code '{code}' is not in code list {uri} version {cl.version}",
                     element_path(code_el), code_el.sourceline, "codelist")


def _parse_issue(exc: XmlSecurityError) -> Issue:
    return Issue(str(exc), "", exc.line, "parse")


def _schema_issues(tree: etree._ElementTree, log) -> list[Issue]:
    """libxml2's schema errors as Issues with readable paths and clerk-friendly texts."""
    finder = ElementFinder(tree)
    issues: list[Issue] = []
    seen = set()
    for entry in log:
        message, attr = rewrite(entry.message)
        path = (entry.path or "").split("/@")[0]
        el = finder.find(path, entry.line)
        readable = element_path(el, attr) if el is not None else _strip_prefixes(path)
        line = entry.line or (el.sourceline if el is not None else None)
        key = (readable, message)
        if key in seen:
            continue
        seen.add(key)
        issues.append(Issue(message, readable, line or None, "schema"))
        if len(issues) >= MAX_ISSUES:
            break
    return issues


def _strip_prefixes(path: str) -> str:
    return "/".join(step.rpartition(":")[2] for step in path.strip("/").split("/"))
