"""Validation in layers: hardened parse -> XSD -> code lists -> business rules -> Schematron.

Public API: `Validator` (build once from config or standards; `validate(xml, now=...)`,
`validate_tree(tree, now=...)`, `check(xml, now=...)`), `CodeLists`/`CodeList` (genericode
store, also used for JSON Schema enums), `load_standard`/`own_standard` (standard.toml),
`XmlCatalog`, `element_path` (the XML path format of issues), `iban_valid`,
`authority_id_problem` and `AUTHORITY_IDS`.

Imports: the ground floor only; never mapping, the store, exchange, backend, operations or
the shell.
"""
from .codelists import CodeList, CodeLists, read_genericode
from .paths import element_path
from .rules import AUTHORITY_IDS, authority_id_problem, iban_valid
from .schemas import CompiledSchema, SchemaCatalog
from .standards import SchemaSpec, Standard, load_standard, own_standard
from .validator import Validator
from .xmlcatalog import XmlCatalog

__all__ = [
    "AUTHORITY_IDS", "CodeList", "CodeLists", "CompiledSchema", "SchemaCatalog", "SchemaSpec",
    "Standard", "Validator", "XmlCatalog", "authority_id_problem", "element_path", "iban_valid",
    "load_standard", "own_standard", "read_genericode",
]
