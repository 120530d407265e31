"""Code lists compiled into the XSD, so that libxml2 checks codes in C during validation.

A code type whose `listURI` and `listVersionID` attributes are both `use="required"` and
`fixed` names exactly one list version. When that list is loaded, the type's `code` element
(declared `xs:token`) gets, in memory only, an anonymous restriction of `xs:token` by
`xs:enumeration` of the list's codes. libxml2's enumeration error on such a `code` names the
set of allowed values, which identifies the list; `code_issue` turns it back into the
code-list issue. Lists longer than MAX_CODES stay in Python: libxml2 compares a value with
one enumeration value after the other (~15 ns each), a set lookup does not grow.

`plan_codes` also says whether the schema set is *complete*: every element that the Python
code-list pass would look at (a `code` child of an element carrying `listURI`) is then
certainly one of the compiled code types, so that pass can be skipped. Anything it cannot
prove (wildcards, `anyType`, derivation from a code type, a list that is not loaded, a code
type of another shape) makes the set incomplete and the Python pass runs as before.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from ..errors import Issue
from .codelists import CodeList, CodeLists
from .paths import ElementIssue
from .xsdtree import ATTRIBUTE, ELEMENT, INLINE_TYPES, XS, has_open_content, owner, qname

_DERIVED = tuple(f"{{{XS}}}{n}" for n in ("extension", "restriction"))
_CONTENT = (f"{{{XS}}}complexContent", f"{{{XS}}}simpleContent")
_ENUMERATION_ERROR = re.compile(r"Element '(?:\{[^}]*\})?code': \[facet 'enumeration'\] "
                                r"The value '.*' is not an element of the set (\{.*\})\.$", re.S)
MAX_CODES = 256


@dataclass(frozen=True, slots=True)
class CodePlan:
    """What compiling code lists into one schema set gives: the documents it changed (paths),
    the lists the schema now checks by the set libxml2 names in its error
    ("{'A', 'B'}" -> (listURI, listVersionID), ...), and whether those are all the codes the
    Python code-list pass would check."""

    changed: frozenset[str] = frozenset()
    sets: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    complete: bool = False

    @property
    def pairs(self) -> frozenset[tuple[str, str]]:
        """The (listURI, listVersionID) of every list compiled in."""
        return frozenset(pair for pairs in self.sets.values() for pair in pairs)


def plan_codes(roots: dict[str, etree._Element], lists: CodeLists) -> CodePlan:
    """Rewrite (in place) every coverable code type of the schema documents; see the module
    docstring."""
    complete = True
    sets: dict[str, tuple[tuple[str, str], ...]] = {}
    code_types: set[str] = set()               # names of named code types
    changed_paths: set[str] = set()
    for path, root in roots.items():
        complete &= not has_open_content(root)
        changed = False
        for ctype in _code_types(root):
            if ctype.get("name"):
                code_types.add(ctype.get("name"))
            cl = _cover(ctype, root, lists)
            if cl is None:
                complete = False
            else:
                key = enumeration_set(cl.codes)
                if (cl.uri, cl.version) not in sets.get(key, ()):
                    sets[key] = sets.get(key, ()) + ((cl.uri, cl.version),)
                changed = True
        complete &= all(owner(a) is not None for a in root.iter(ATTRIBUTE) if a.get("name") == "listURI")
        if changed:
            changed_paths.add(path)
    if complete and code_types:  # by local name: chameleon includes change the namespace
        complete = not any(d.get("base", "").rpartition(":")[2] in code_types
                           for root in roots.values() for d in root.iter(*_DERIVED))
    return CodePlan(frozenset(changed_paths), sets, complete)


def enumeration_set(codes) -> str:
    """The allowed values as libxml2 writes them in an enumeration error: {'A', 'B'}."""
    return "{" + ", ".join(f"'{code}'" for code in codes) + "}"


def code_issue(libxml_message: str, code_el: etree._Element,
               sets: dict[str, tuple[tuple[str, str], ...]], lists: CodeLists) -> Issue | None:
    """The code-list issue for libxml2's error on a `code` element, or None when the error is
    not the enumeration of a compiled list (or the code is in that list after all)."""
    m = _ENUMERATION_ERROR.match(libxml_message)
    candidates = sets.get(m[1], ()) if m else ()
    if not candidates:
        return None
    parent = code_el.getparent()
    pair = candidates[0]
    if parent is not None and len(candidates) > 1:   # the same codes in several lists
        own = (" ".join(parent.get("listURI", "").split()), " ".join(parent.get("listVersionID", "").split()))
        pair = own if own in candidates else pair
    cl = lists.get(*pair)
    code = " ".join("".join(code_el.itertext()).split())
    if cl is None or code in cl.codes:
        return None
    return not_in_list(code_el, code, cl.uri, cl.version)


def not_in_list(code_el: etree._Element, code: str, uri: str, version: str) -> Issue:
    """The one wording of a code missing from its list (both code-list paths use it)."""
    return ElementIssue(f"code '{code}' is not in code list {uri} version {version}",
                        code_el, code_el.sourceline, "codelist")


def _code_types(root: etree._Element):
    """Complex types that declare a listURI attribute themselves (named or anonymous)."""
    seen = set()
    for attr in root.iter(ATTRIBUTE):
        if attr.get("name") == "listURI":
            ctype = owner(attr)
            if ctype is not None and ctype not in seen:
                seen.add(ctype)
                yield ctype


def _cover(ctype: etree._Element, root: etree._Element, lists: CodeLists) -> CodeList | None:
    """Compile its list into this code type and return the list, or None if it cannot be."""
    if any(c.tag in _CONTENT for c in ctype):
        return None                                   # derived types: not this plain shape
    attrs = {a.get("name"): a for a in ctype.iter(ATTRIBUTE) if owner(a) is ctype}
    fixed = []
    for name in ("listURI", "listVersionID"):
        attr = attrs.get(name)
        if attr is None or attr.get("fixed") is None or attr.get("use") != "required":
            return None
        if attr.get("form", root.get("attributeFormDefault", "unqualified")) != "unqualified":
            return None
        fixed.append(" ".join(attr.get("fixed").split()))
    codes = [e for e in ctype.iter(ELEMENT) if e.get("name") == "code" and owner(e) is ctype]
    if len(codes) != 1:
        return None
    code_el = codes[0]
    if code_el.get("type") is None or qname(code_el, code_el.get("type")) != (XS, "token"):
        return None
    if any(c.tag in INLINE_TYPES for c in code_el) or any(
            code_el.get(a) is not None for a in ("nillable", "default", "fixed")):
        return None                                   # xsi:nil or a default would skip the value
    cl = lists.get(fixed[0], fixed[1])
    if cl is None or not 0 < len(cl.codes) <= MAX_CODES or any(" ".join(c.split()) != c for c in cl.codes):
        return None
    _enumerate(code_el, cl.codes)
    return cl


def _enumerate(code_el: etree._Element, codes) -> None:
    """Replace `type="xs:token"` by an anonymous xs:token restricted to the codes."""
    base = code_el.get("type")
    del code_el.attrib["type"]
    simple = etree.Element(f"{{{XS}}}simpleType")
    restriction = etree.SubElement(simple, f"{{{XS}}}restriction", base=base)
    for code in codes:
        etree.SubElement(restriction, f"{{{XS}}}enumeration", value=code)
    annotation = code_el.find(f"{{{XS}}}annotation")
    code_el.insert(code_el.index(annotation) + 1 if annotation is not None else 0, simple)
