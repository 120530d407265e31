"""Value rules compiled into the XSD, so that libxml2 checks them in C during validation.

Two business rules (rules.py) judge an element's text alone: an authority `kennung` must be
a known `prefix:id` (AUTHORITY_IDS), a `bic` must have the ISO 9362 shape. RULE_PATTERNS
gives each as an XSD pattern, derived from the same regexes. For a named simple type T that
is used by such elements and nothing else, `plan_rules` inserts, in memory only, a type
between T and its built-in base that carries the pattern:

    xs:token  <-  T.gw-kennung (pattern of the rule)  <-  T (its own facets, unchanged)

(nothing is inserted when T's only pattern is the rule's, character for character: then
libxml2 already enforces it).

libxml2 checks T's own facets first and stops at the first that fails, so a value the
schema refused before is reported exactly as before; a value that only the rule refuses
fails the inserted pattern, which the Validator recognises (`is_rule_error`) and leaves to
the Python rules pass, which then runs in full and words the issue as always. When every
element of that name a valid document can hold is covered, the Python pass skips the name
(CompiledSchema.rules_compiled).

Covered means, for every declaration of the name: it is local to a complex type, and the
elements that can hold that type (declared with it or with a type of its derivation family)
are all outside the rule's excluded parents (a kennung under erreichbarkeit is an address),
or all inside (then the rule never applies); its type is a named simple type restricting
xs:token directly and used by nothing but such declarations; no nillable, default or fixed.
Wildcards, anyType, substitution groups and global or group-level declarations of the name
leave the name to Python.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from .rules import AUTHORITY_IDS, BIC_REGEX, NOT_AUTHORITY_PARENTS
from .xsdtree import COMPLEX, ELEMENT, INLINE_TYPES, SIMPLE, XS, has_open_content, owner, qname

_RESTRICTION = f"{{{XS}}}restriction"
_PATTERN = f"{{{XS}}}pattern"
_REFS = {f"{{{XS}}}element": ("type",), f"{{{XS}}}attribute": ("type",), _RESTRICTION: ("base",),
         f"{{{XS}}}extension": ("base",), f"{{{XS}}}list": ("itemType",), f"{{{XS}}}union": ("memberTypes",)}
_DERIVATIONS = (_RESTRICTION, f"{{{XS}}}extension")
_CONTENT = (f"{{{XS}}}complexContent", f"{{{XS}}}simpleContent")
_XSD_ESCAPES = set(".\\?*+{}()[]|-^")     # single-character escapes XSD and Python agree on
_PLAIN = re.compile(r"[A-Za-z0-9:_@/ ,;=!#%&'\"<>~`-]")


def xsd_regex(python_regex: str) -> str | None:
    """The XSD form of a simple Python regex (classes, \\d, groups, |, quantifiers), or None
    when it uses anything whose meaning differs between the two."""
    out = []
    i, n, in_class = 0, len(python_regex), False
    while i < n:
        c = python_regex[i]
        if c == "\\":
            nxt = python_regex[i + 1:i + 2]
            if nxt == "d" or nxt in _XSD_ESCAPES:
                out.append("\\" + nxt)
                i += 2
                continue
            return None                     # \w, \s, \b ... differ between the two
        if in_class:
            if c == "]":
                in_class = False
            elif c == "-" and python_regex[i + 1:i + 2] == "]":
                c = "\\-"                   # a trailing '-' is literal in both; say so
            elif c == "[":
                return None                 # XSD: class subtraction
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
        elif python_regex.startswith("(?:", i):
            out.append("(")
            i += 3
            continue
        elif c == "(" and python_regex[i + 1:i + 2] == "?":
            return None                     # lookarounds, flags, named groups
        elif c in "()|?*+" or _PLAIN.fullmatch(c):
            if c in "?*+" and python_regex[i + 1:i + 2] in ("?", "+"):
                return None                 # lazy / possessive quantifiers
            out.append(c)
        elif c == "{":
            end = python_regex.find("}", i)
            if end < 0 or not re.fullmatch(r"\d+(,\d*)?", python_regex[i + 1:end]):
                return None
            out.append(python_regex[i:end + 1])
            i = end + 1
            continue
        else:
            return None                     # '.', '^', '$' and the like
        i += 1
    return None if in_class else "".join(out)


def _any_case(letter: str) -> str:
    """Every character whose str.lower() is this ASCII letter (KELVIN SIGN lowers to k)."""
    chars = {letter, letter.upper()} | ({"\u212a"} if letter == "k" else set())
    return "[" + "".join(sorted(chars)) + "]" if len(chars) > 1 else re.escape(letter)


def _authority_pattern() -> str | None:
    """authority_id_problem() as one XSD pattern: prefix in any case, ':', the id."""
    branches = []
    for prefix, (regex, _) in AUTHORITY_IDS.items():
        body = xsd_regex(regex)
        if body is None or not prefix.isascii() or not prefix.isalnum():
            return None
        branches.append("".join(_any_case(c) if c.isalpha() else c for c in prefix) + f":({body})")
    return "|".join(branches)


RULE_PATTERNS: dict[str, str] = {name: p for name, p in (
    ("kennung", _authority_pattern()), ("bic", xsd_regex(BIC_REGEX))) if p is not None}
EXCLUDED_PARENTS: dict[str, frozenset[str]] = {"kennung": NOT_AUTHORITY_PARENTS}


@dataclass(frozen=True, slots=True)
class RulePlan:
    """What compiling value rules into one schema set gives: the documents it changed, the
    inserted patterns (pattern -> element name) and the element names Python may skip."""

    changed: frozenset[str] = frozenset()
    patterns: dict[str, str] = field(default_factory=dict)
    compiled: frozenset[str] = frozenset()


def is_rule_error(libxml_message: str, patterns: dict[str, str]) -> bool:
    """Whether a libxml2 schema message is the failure of an inserted rule pattern."""
    return "[facet 'pattern']" in libxml_message and any(
        libxml_message.endswith(f" is not accepted by the pattern '{p}'.") for p in patterns)


def plan_rules(roots: dict[str, etree._Element], patterns: dict[str, str] = RULE_PATTERNS,
               excluded: dict[str, frozenset[str]] = EXCLUDED_PARENTS) -> RulePlan:
    """Insert each rule's pattern where it covers every element of its name; see above."""
    if not patterns or any(has_open_content(r) or any(
            e.get("substitutionGroup") is not None for e in r.iter(ELEMENT)) for r in roots.values()):
        return RulePlan()
    schema = _Schema(roots)
    changed: set[str] = set()
    inserted: dict[str, str] = {}
    compiled: set[str] = set()
    for name, pattern in patterns.items():
        types = schema.rule_types(name, excluded.get(name, frozenset()))
        if types is None:
            continue
        for path, simple in types:
            if _own_pattern(simple) != pattern:   # the type may say exactly the rule already
                _insert(simple, name, pattern)
                inserted[pattern] = name
                changed.add(path)
        compiled.add(name)
    return RulePlan(frozenset(changed), inserted, frozenset(compiled))


class _Schema:
    """The parts of a schema set the coverage proof needs: types, their users and families."""

    def __init__(self, roots: dict[str, etree._Element]):
        self.roots = roots
        self.simple: dict[str, list[tuple[str, etree._Element]]] = {}
        self.named: set[str] = set()
        parent: dict[object, object] = {}          # union-find over type nodes

        def find(x):
            while parent.setdefault(x, x) != x:
                x = parent[x]
            return x

        self.users: dict[object, set[str]] = {}
        for path, root in roots.items():
            for st in root.iterchildren(SIMPLE):
                self.simple.setdefault(st.get("name", ""), []).append((path, st))
                self.named.add(st.get("name", ""))
            for ct in root.iter(COMPLEX):
                node = self.node(ct)
                if ct.get("name"):
                    self.named.add(ct.get("name"))
                for d in (d for content in ct if content.tag in _CONTENT for d in content):
                    if d.tag in _DERIVATIONS and d.get("base"):
                        parent[find(node)] = find(("n", d.get("base").rpartition(":")[2]))
            for el in root.iter(ELEMENT):
                if el.get("type"):
                    self.users.setdefault(("n", el.get("type").rpartition(":")[2]), set()).add(el.get("name"))
                for ct in el.iterchildren(COMPLEX):
                    self.users.setdefault(self.node(ct), set()).add(el.get("name"))
        self.family: dict[object, set[str]] = {}
        for node, names in self.users.items():
            self.family.setdefault(find(node), set()).update(names)
        self.find = find

    @staticmethod
    def node(ctype: etree._Element) -> tuple:
        """A complex type as a node: named types by name, anonymous ones by the element
        itself (kept referenced here, so lxml hands out the same proxy for it again)."""
        return ("n", ctype.get("name")) if ctype.get("name") else ("a", ctype)

    def contexts(self, ctype: etree._Element) -> set[str]:
        """Names of the elements that can hold this complex type's content."""
        return self.family.get(self.find(self.node(ctype)), set())

    def rule_types(self, name: str, excluded: frozenset[str]) -> list[tuple[str, etree._Element]] | None:
        """The simple types to give the rule's pattern (maybe none), or None if the
        declarations of `name` cannot all be covered."""
        needed: list[etree._Element] = []
        for root in self.roots.values():
            for decl in root.iter(ELEMENT):
                if decl.get("name") != name and decl.get("ref", "").rpartition(":")[2] != name:
                    continue
                ctype = owner(decl)
                if ctype is None or decl.get("ref") is not None:
                    return None                   # global, referenced or in a model group
                contexts = self.contexts(ctype)
                if contexts <= excluded:
                    continue                      # the rule never applies here
                if contexts & excluded:
                    return None
                needed.append(decl)
        types: dict[int, tuple[str, etree._Element]] = {}
        for decl in needed:
            found = self._simple_type(decl)
            if found is None:
                return None
            types[id(found[1])] = found
        for path, simple in types.values():
            if not self._only_used_by(simple, needed) or not self._insertable(simple, name):
                return None
        return list(types.values())

    def _simple_type(self, decl: etree._Element) -> tuple[str, etree._Element] | None:
        if decl.get("nillable", "false") != "false" or decl.get("default") is not None \
                or decl.get("fixed") is not None or any(c.tag in INLINE_TYPES for c in decl):
            return None
        typ = decl.get("type")
        if typ is None:
            return None
        ns, local = qname(decl, typ)
        found = self.simple.get(local, [])
        if len(found) != 1 or self.roots[found[0][0]].get("targetNamespace", "") != ns or not ns:
            return None
        return found[0]

    def _only_used_by(self, simple: etree._Element, decls: list[etree._Element]) -> bool:
        """Whether nothing but these element declarations refers to the simple type."""
        allowed = {id(d) for d in decls}
        name = simple.get("name")
        for root in self.roots.values():
            for el in root.iter(*_REFS):
                for attr in _REFS[el.tag]:
                    refs = (el.get(attr) or "").split()
                    if any(r.rpartition(":")[2] == name for r in refs) and id(el) not in allowed:
                        return False
        return True

    def _insertable(self, simple: etree._Element, rule: str) -> bool:
        """T restricts xs:token directly, its namespace has a prefix, the new name is free."""
        restrictions = [c for c in simple if c.tag == _RESTRICTION]
        if len(restrictions) != 1 or len([c for c in simple if isinstance(c.tag, str)]) > 2:
            return False
        base = restrictions[0].get("base")
        if base is None or qname(restrictions[0], base) != (XS, "token"):
            return False
        tns = simple.getroottree().getroot().get("targetNamespace")
        if not any(uri == tns for uri in simple.nsmap.values()):
            return False
        return f"{simple.get('name')}.gw-{rule}" not in self.named


def _own_pattern(simple: etree._Element) -> str | None:
    """The type's pattern when it has exactly one (several in one step would be or-ed)."""
    restriction = next(c for c in simple if c.tag == _RESTRICTION)
    patterns = [c.get("value") for c in restriction if c.tag == _PATTERN]
    return patterns[0] if len(patterns) == 1 else None


def _insert(simple: etree._Element, rule: str, pattern: str) -> None:
    """T restricts T.gw-RULE (the pattern), which restricts T's old base."""
    restriction = next(c for c in simple if c.tag == _RESTRICTION)
    tns = simple.getroottree().getroot().get("targetNamespace")
    prefix = next(p for p, uri in simple.nsmap.items() if uri == tns)
    new_name = f"{simple.get('name')}.gw-{rule}"
    inserted = etree.Element(SIMPLE, name=new_name)
    inner = etree.SubElement(inserted, _RESTRICTION, base=_token_qname(simple))
    etree.SubElement(inner, _PATTERN, value=pattern)
    simple.addnext(inserted)
    restriction.set("base", f"{prefix}:{new_name}" if prefix else new_name)


def _token_qname(el: etree._Element) -> str:
    """xs:token written with the XSD prefix in scope at the schema root."""
    prefix = next(p for p, uri in el.getroottree().getroot().nsmap.items() if uri == XS)
    return f"{prefix}:token" if prefix else "token"
