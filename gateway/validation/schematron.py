"""ISO Schematron rules of third-party standards, compiled once with lxml.isoschematron.

Each failed assertion or successful report becomes an Issue: path and line from the SVRL
`location` (an XPath into the validated tree), message from the assertion text, prefixed by
the rule id when the Schematron gives one.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from lxml import etree, isoschematron

from ..errors import ConfigError, Issue
from .paths import element_path

SVRL = "http://purl.oclc.org/dsdl/svrl"
_FINDINGS = f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"


class SchematronRules:
    """One compiled Schematron file; `check(tree)` returns the Issues it finds (thread-safe:
    lxml keeps the last report on the object, so checks take turns)."""

    __slots__ = ("source", "_schematron", "_lock")

    def __init__(self, file: str | os.PathLike):
        path = Path(file)
        self.source = str(path)
        self._lock = threading.Lock()
        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
        try:
            doc = etree.fromstring(path.read_bytes(), parser, base_url=str(path))
            self._schematron = isoschematron.Schematron(doc, store_report=True)
        except OSError as exc:
            raise ConfigError(f"Schematron {path}: {exc.strerror}") from None
        except (etree.XMLSyntaxError, etree.SchematronParseError, etree.XSLTParseError) as exc:
            raise ConfigError(f"Schematron {path}: {exc}") from None

    def check(self, tree: etree._ElementTree) -> list[Issue]:
        """Issues for every failed assert / successful report in this tree."""
        sch = self._schematron
        with self._lock:
            if sch.validate(tree):
                return []
            report = sch.validation_report
        issues = []
        for finding in report.iter(*_FINDINGS):
            text = " ".join("".join(finding.findtext(f"{{{SVRL}}}text") or "").split())
            rule = finding.get("id")
            message = f"{text} [{rule}]" if rule else text
            el = _locate(tree, finding.get("location", ""))
            path = element_path(el) if el is not None else finding.get("location", "")
            line = el.sourceline if el is not None else None
            issues.append(Issue(message or "Schematron rule violated", path, line, "schematron"))
        return issues


def _locate(tree: etree._ElementTree, location: str) -> etree._Element | None:
    """The element an SVRL location XPath points at (attributes: their element)."""
    if not location:
        return None
    try:
        found = tree.xpath(location)
    except etree.XPathError:
        return None
    node = found[0] if isinstance(found, list) and found else None
    if isinstance(node, etree._Element):
        return node
    return getattr(node, "getparent", lambda: None)() if node is not None else None
