"""The Validator: layered checks of one message, built once, pure per call.

Layers (docs/validation.md): hardened parse -> XSD of the root's (namespace, version) ->
code lists -> business rules -> Schematron. A parse or schema failure stops there (what
follows would only be noise); code lists, rules and Schematron all report together.

Code lists that could be compiled into the schema (`codeschema.py`) are checked by libxml2;
its errors on them become code-list issues, and when they are the only errors the document
goes on to the rules as if the schema had passed.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from lxml import etree

from ..errors import WARNING, Issue, ValidationFailed, XmlSecurityError, errors_of
from ..resources import xsd_dir
from ..xml import Limits, parse
from .codeschema import code_issue, not_in_list
from .messages import rewrite
from .paths import ElementFinder, ElementIssue
from .rules import RuleContext, check_rules
from .ruleschema import is_rule_error
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
        return cls(SchemaCatalog(standards), limits=sec.parser_limits(),
                   clock_skew=timedelta(seconds=sec.clock_skew))

    def validate(self, xml: bytes, *, now: datetime) -> list[Issue]:
        """All issues of a message given as bytes (empty list: valid)."""
        try:
            tree = parse(xml, self.limits)
        except XmlSecurityError as exc:
            return [_parse_issue(exc)]
        return self._validate(tree, tree.getroot(), now)

    def validate_tree(self, tree: etree._ElementTree | etree._Element, *, now: datetime) -> list[Issue]:
        """All issues of an already parsed (or freshly built) message."""
        if isinstance(tree, etree._Element):
            tree = tree.getroottree()
        return self._validate(tree, tree.getroot(), now)

    def _validate(self, tree: etree._ElementTree, root: etree._Element, now: datetime) -> list[Issue]:
        compiled = self.catalog.select(root)
        if isinstance(compiled, Issue):
            return [compiled]
        with compiled.lock:
            valid = compiled.schema.validate(tree)
            log = None if valid else compiled.schema.error_log  # a copy
        issues: list[Issue] = []
        skip = compiled.rules_compiled          # rules the schema enforced for Python
        if log is not None:
            problems, issues, rule_failed = self._schema_issues(tree, log, compiled)
            if problems:
                return problems
            if rule_failed:
                skip = frozenset()              # Python words the issues, as always
        if compiled.codelist_policy == "off":
            issues = []
        elif not compiled.codes_complete:
            issues = self._codelist_issues(root, compiled.codelist_policy == "known")
            # also finds the compiled ones again
        if compiled.rules:
            issues += check_rules(root, RuleContext.at(now, self.clock_skew), skip)
        if compiled.schematron:
            for rules in compiled.schematron:
                issues += rules.check(tree)
        return issues if len(issues) <= MAX_ISSUES else issues[:MAX_ISSUES]

    def check(self, xml: bytes, *, now: datetime) -> etree._ElementTree:
        """Parse and validate; return the tree or raise ValidationFailed with every issue."""
        try:
            tree = parse(xml, self.limits)
        except XmlSecurityError as exc:
            raise ValidationFailed([_parse_issue(exc)]) from None
        issues = errors_of(self.validate_tree(tree, now=now))
        if issues:
            raise ValidationFailed(issues)
        return tree

    def _codelist_issues(self, root: etree._Element, known_only: bool) -> list[Issue]:
        """Every code element whose parent carries listURI (the XÖV code type shape): its code
        must be in that list version. The hot path is one set lookup per code. With
        `known_only` (policy "known") a list that is not loaded is a warning."""
        issues = []
        valid = self.catalog.valid_codes
        for code_el in root.iter(_CODE_TAGS):
            parent = code_el.getparent()
            uri = parent.get("listURI")
            if uri is None or (uri, parent.get("listVersionID"), code_el.text) in valid:
                continue
            issue = self._code_issue(parent, code_el, uri, known_only)
            if issue is not None:
                issues.append(issue)
        return issues

    def _code_issue(self, el: etree._Element, code_el: etree._Element, uri: str,
                    known_only: bool) -> Issue | None:
        """The issue of one code not found on the fast path (or None: it was only spacing).
        XÖV rules for empty attributes: an empty listVersionID means the newest loaded version
        of the list; an empty listURI names no list at all (a fixed or default value in the
        schema would have been used by a sender that leaves the attribute out)."""
        lists = self.catalog.codelists
        uri = " ".join(uri.split())
        version = " ".join((el.get("listVersionID") or "").split()) or None
        severity = WARNING if known_only else "error"
        if not uri:
            return ElementIssue("no code list named (listURI is empty), the code is not checked",
                                el, el.sourceline, "codelist", severity)
        cl = lists.get(uri, version)
        if cl is None:
            known = lists.versions(uri)
            what = f"code list {uri}" + (f" version {version}" if version else "")
            hint = f" (known versions: {', '.join(known)})" if known else ""
            return ElementIssue(f"unknown {what}{hint}", el, el.sourceline, "codelist", severity)
        code = " ".join("".join(code_el.itertext()).split())  # xs:token collapses whitespace
        if code in cl.codes:
            return None
        return not_in_list(code_el, code, uri, cl.version)

    def _schema_issues(self, tree: etree._ElementTree, log,
                       compiled) -> tuple[list[Issue], list[Issue], bool]:
        """libxml2's schema errors as (schema issues, code-list issues of compiled lists,
        whether a compiled value rule failed)."""
        finder = ElementFinder(tree)
        issues: list[Issue] = []
        codes: list[Issue] = []
        rule_failed = False
        seen = set()
        for entry in log:
            if compiled.rule_patterns and is_rule_error(entry.message, compiled.rule_patterns):
                rule_failed = True
                continue
            path = (entry.path or "").split("/@")[0]
            el = finder.find(path, entry.line)
            if el is not None and compiled.code_sets:
                found = code_issue(entry.message, el, compiled.code_sets, self.catalog.codelists)
                if found is not None:
                    if found not in codes:
                        codes.append(found)
                    continue
            message, attr = rewrite(entry.message)
            line = entry.line or (el.sourceline if el is not None else None)
            key = (path if el is not None else _strip_prefixes(path), attr, message)
            if key in seen:
                continue
            seen.add(key)
            if el is not None:     # the readable path is built when the issue is read
                issues.append(ElementIssue(message, el, line or None, "schema", attribute=attr))
            else:
                issues.append(Issue(message, key[0], line or None, "schema"))
            if len(issues) >= MAX_ISSUES:
                break
        return issues, codes, rule_failed


def _parse_issue(exc: XmlSecurityError) -> Issue:
    return Issue(str(exc), "", exc.line, "parse")


def _strip_prefixes(path: str) -> str:
    return "/".join(step.rpartition(":")[2] for step in path.strip("/").split("/"))
