"""The schema catalog: every standard's schemas compiled once, selected by root namespace/version."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterable

from lxml import etree

from ..errors import ConfigError, Issue
from .codelists import CodeLists
from .codeschema import CodePlan, plan_codes
from .loader import compile_schema
from .ruleschema import RulePlan, plan_rules
from .paths import local_name
from .schematron import SchematronRules
from .standards import Standard
from .xmlcatalog import XmlCatalog
from .xsdtree import parse_schema_documents, serialize


_MAX_TAGS = 1024
XS = "http://www.w3.org/2001/XMLSchema"


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """One (namespace, version) of a standard, ready to validate; `lock` guards the lxml
    objects, whose error log and report are per instance, across threads. `code_sets` are
    the lists compiled into `schema` (codeschema.CodePlan.sets); `codes_complete` says that
    they are all the codes a valid document can hold (no Python code-list pass needed).
    `rule_patterns`/`rules_compiled`: value rules compiled in (ruleschema.RulePlan)."""

    standard: str
    namespace: str
    version: str
    file: str
    schema: etree.XMLSchema
    schematron: tuple[SchematronRules, ...] = ()
    rules: bool = False
    version_attribute: str = "version"
    codelist_policy: str = "strict"         # strict | known | off (standards.POLICIES)
    roots: tuple[str, ...] = ()             # global element names: the message types it validates
    code_sets: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict, compare=False, repr=False)
    codes_complete: bool = False
    rule_patterns: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    rules_compiled: frozenset[str] = frozenset()
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def schematron_files(self) -> tuple[str, ...]:
        """The Schematron files checked for this schema."""
        return tuple(s.source for s in self.schematron)

    @property
    def code_pairs(self) -> frozenset[tuple[str, str]]:
        """(listURI, listVersionID) of every code list compiled into the schema."""
        return frozenset(pair for pairs in self.code_sets.values() for pair in pairs)


class SchemaCatalog:
    """All compiled schemas of the configured standards, plus their merged code lists."""

    __slots__ = ("standards", "codelists", "valid_codes", "_by_key", "_by_ns", "_by_tag")

    def __init__(self, standards: Iterable[Standard]):
        self.standards = tuple(standards)
        by_key: dict[tuple[str, str], CompiledSchema] = {}
        lists = CodeLists()
        for std in self.standards:
            if std.codelists:
                lists = lists.merged(CodeLists.load(*std.codelists))
        for std in self.standards:
            for compiled in _compile_standard(std, lists):
                key = (compiled.namespace, compiled.version)
                if key in by_key:
                    other = by_key[key]
                    raise ConfigError(
                        f"namespace {key[0]} version {key[1] or '(any)'} is defined twice: "
                        f"{other.file} ({other.standard}) and {compiled.file} ({std.name})")
                by_key[key] = compiled
        by_ns: dict[str, list[CompiledSchema]] = {}
        for compiled in by_key.values():
            by_ns.setdefault(compiled.namespace, []).append(compiled)
        self.codelists = lists
        # (listURI, listVersionID, code) of every code: the code-list layer's hot path
        self.valid_codes = frozenset((cl.uri, cl.version, code) for cl in lists for code in cl.codes)
        self._by_key = by_key
        self._by_ns = by_ns
        # root tag -> (version attribute, {version: schema}): select's shortcut, filled on use
        self._by_tag: dict[str, tuple[str, dict[str, CompiledSchema]]] = {}

    def compiled(self) -> list[CompiledSchema]:
        """Every compiled schema, sorted by (namespace, version)."""
        return [self._by_key[k] for k in sorted(self._by_key)]

    def known(self) -> list[tuple[str, str, str]]:
        """(namespace, version, standard name) of every compiled schema, sorted."""
        return sorted((c.namespace, c.version, c.standard) for c in self._by_key.values())

    def select(self, root: etree._Element) -> CompiledSchema | Issue:
        """The schema for a document root, or an Issue naming the known namespaces/versions."""
        tag = root.tag
        known = self._by_tag.get(tag)
        if known is not None:
            found = known[1].get(root.get(known[0]))
            if found is not None:
                return found
        ns, _, name = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
        candidates = self._by_ns.get(ns)
        if not candidates:
            what = f"namespace '{ns}'" if ns else f"root element '{name}' without a namespace"
            return Issue(f"no schema for {what} (known: {self._describe_known()})",
                         local_name(root.tag), root.sourceline, "schema")
        attr = candidates[0].version_attribute
        version = root.get(attr)
        if version is not None:
            found = self._by_key.get((ns, version))
            if found is not None:
                if len(self._by_tag) < _MAX_TAGS:  # root names are few; senders choose them
                    self._by_tag[tag] = (attr, {c.version: c for c in candidates})
                return found
        if len(candidates) == 1 and (version is None or not candidates[0].version):
            return candidates[0]
        versions = ", ".join(sorted(c.version for c in candidates))
        what = f"version '{version}'" if version is not None else f"no '{attr}' attribute"
        return Issue(f"{what} for namespace '{ns}' is not known (known versions: {versions})",
                     local_name(root.tag), root.sourceline, "schema")

    def _describe_known(self) -> str:
        if not self._by_ns:
            return "none"
        return "; ".join(f"{ns} ({', '.join(sorted(c.version or 'any' for c in entries))})"
                         for ns, entries in sorted(self._by_ns.items()))


def _compile_standard(std: Standard, lists: CodeLists) -> list[CompiledSchema]:
    """Compile each schema of a standard (code lists compiled in), with its Schematron, once."""
    catalog = XmlCatalog.load(std.catalog) if std.catalog else None
    shared = tuple(SchematronRules(s) for s in std.schematron)
    out = []
    for spec in std.schemas:
        if not spec.namespace:
            raise ConfigError(f"standard {std.name}: schema {spec.file} has no targetNamespace; "
                              "give namespace in standard.toml")
        schema, codes, rules, roots = _compile_with_plans(
            spec.file, catalog, lists if std.codelist_policy != "off" else CodeLists(), std.rules,
            spec.namespace)
        out.append(CompiledSchema(
            standard=std.name, namespace=spec.namespace, version=spec.version, file=spec.file,
            schema=schema, schematron=shared + tuple(SchematronRules(s) for s in spec.schematron),
            rules=std.rules, version_attribute=std.version_attribute,
            codelist_policy=std.codelist_policy, roots=roots,
            code_sets=codes.sets, codes_complete=codes.complete,
            rule_patterns=rules.patterns, rules_compiled=rules.compiled))
    return out


def _compile_with_plans(file: str, catalog: XmlCatalog | None, lists: CodeLists,
                        with_rules: bool, namespace: str
                        ) -> tuple[etree.XMLSchema, CodePlan, RulePlan, tuple[str, ...]]:
    """The schema as written, then (if code lists or value rules could be compiled in) again
    with them, from documents rewritten in memory; the plain one if libxml2 refuses that.
    Also the names of the global elements of `namespace` (the message types)."""
    documents: dict[str, bytes] = {}
    schema = compile_schema(file, catalog, documents=documents)
    roots = parse_schema_documents(documents)
    elements = tuple(sorted({el.get("name") for root in roots.values()
                             if root.get("targetNamespace", namespace) == namespace
                             for el in root.iterchildren(f"{{{XS}}}element") if el.get("name")}))
    codes = plan_codes(roots, lists)
    rules = plan_rules(roots) if with_rules else RulePlan()
    rewrites = {path: serialize(roots[path]) for path in codes.changed | rules.changed}
    if not rewrites:
        return schema, codes, rules, elements
    try:
        return (compile_schema(file, catalog, rewrite=lambda p, d: rewrites.get(p, d)), codes, rules,
                elements)
    except ConfigError:
        return schema, CodePlan(), RulePlan(), elements
