"""JSON Schema (draft 2020-12) of a message type's record, generated from the same plan the
mapper uses, so form builders and the mapper never disagree about the shape.

The schema describes what a backend may submit: fields the gateway fills in (fixed
attributes, product attributes, message id, time, type code, author) are optional and say
so. Named complex types become `$defs`; choices become `oneOf` (or `anyOf` when more than
one alternative may be empty); optional sequences become `if`/`then`; code fields whose
genericode list is known get `enum` with the names in `x-enumNames`.
"""
from __future__ import annotations

import re
from typing import Any

from .completion import GATEWAY_FILLED
from .plan import VALUE_KEY, ElementPlan, GroupPlan, TypePlan, alternative_keys, is_emptiable
from .simple import LEXICAL, SimpleType

DRAFT = "https://json-schema.org/draft/2020-12/schema"
FILLED_NOTE = "Filled in by the gateway when absent."


def record_schema(message_type: Any, codelists: Any) -> dict:
    """The JSON Schema of one message type's record."""
    gen = _Generator(codelists)
    body = gen.type_schema(message_type.plan.type, "")
    schema = {
        "$schema": DRAFT,
        "$id": f"urn:xoev-gateway:record:{message_type.id}",
        "title": message_type.id,
        "description": message_type.description,
        **body,
    }
    if gen.defs:
        schema["$defs"] = dict(sorted(gen.defs.items()))
    return schema


class _Generator:
    def __init__(self, codelists: Any):
        self.codelists = codelists
        self.defs: dict[str, dict] = {}

    def type_schema(self, tp: TypePlan, path: str) -> dict:
        """Object schema of a complex or simple-content type at record path `path`."""
        if tp.kind == "simple":
            return simple_schema(tp.value)
        properties: dict[str, Any] = {}
        required: list[str] = []
        fixed = {}
        for a in tp.attributes:
            prop = simple_schema(a.type)
            if a.fixed is not None:
                prop["const"] = a.fixed
                fixed[a.name] = a.fixed
            elif a.default is not None:
                prop["default"] = a.default
            note = _filled(_join(path, a.name)) or (a.fixed is not None)
            prop = _described(prop, a.doc, FILLED_NOTE if note else "")
            properties[a.name] = prop
            if a.required and not note:
                required.append(a.name)
        schema: dict[str, Any] = {"type": "object"}
        if tp.kind == "simplecontent":
            properties[VALUE_KEY] = simple_schema(tp.value)
            required.append(VALUE_KEY)
        else:
            for child in tp.children:
                properties[child.key] = self.element_schema(child, _join(path, child.key))
            group = self.group_schema(tp.content, path, top=True)
            required += group.pop("required", [])
            schema.update(group)
            self._code_enum(tp, properties, fixed)
        schema["properties"] = properties
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return _reorder(schema)

    def element_schema(self, plan: ElementPlan, path: str) -> dict:
        """Property schema of one child element (array when it may repeat)."""
        tp = plan.type
        if tp.kind == "simple":
            item = simple_schema(tp.value)
        elif tp.name and not any(f.startswith(path + ".") for f in GATEWAY_FILLED):
            name = tp.name
            if name not in self.defs:
                self.defs[name] = {}                       # placeholder against recursion
                self.defs[name] = _described(self.type_schema(tp, "#"), tp.doc)
            item = {"$ref": f"#/$defs/{name}"}
        else:
            item = self.type_schema(tp, path)
        doc = plan.doc or tp.doc
        note = FILLED_NOTE if _filled(path) else ""
        if plan.max == 1:
            return _described(item, doc, note)
        array: dict[str, Any] = {"type": "array", "items": item, "minItems": max(1, plan.min)}
        if plan.max is not None:
            array["maxItems"] = plan.max
        return _described(array, doc, note)

    def group_schema(self, group: GroupPlan | None, path: str, top: bool = False) -> dict:
        """Constraints of a group that must be satisfied: `required` plus `allOf` parts."""
        if group is None:
            return {}
        if group.model == "choice":
            return self.choice_schema(group, path)
        required, parts = [], []
        for p in group.particles:
            if isinstance(p, ElementPlan):
                if p.min >= 1 and not _filled(_join(path, p.key)):
                    required.append(p.key)
            elif p.model == "sequence" and p.min >= 1:
                inner = self.group_schema(p, path)
                required += inner.pop("required", [])
                parts += inner.pop("allOf", [])
                parts += [inner] if inner else []
            elif p.model == "sequence":
                parts.append({"if": _any_of_keys(p.keys), "then": self.group_schema(p, path)})
            else:
                choice = self.choice_schema(p, path)
                parts.append(choice if p.min >= 1 else
                             {"if": _any_of_keys(p.keys), "then": choice})
        schema: dict[str, Any] = {}
        if required:
            schema["required"] = required
        if parts:
            schema["allOf"] = parts
        return schema

    def choice_schema(self, group: GroupPlan, path: str) -> dict:
        """Exactly one alternative: each branch forbids the other alternatives' keys."""
        branches, empty = [], 0
        for alt in group.particles:
            own = alternative_keys(alt)
            branch: dict[str, Any] = {}
            others = sorted(group.keys - own)
            if others:
                branch["properties"] = {k: False for k in others}
            if isinstance(alt, ElementPlan):
                if alt.min >= 1:
                    branch["required"] = [alt.key]
            else:
                branch.update(self.group_schema(alt, path) if alt.model == "sequence"
                              else self.choice_schema(alt, path))
            empty += is_emptiable(alt)
            branches.append(branch)
        if group.min == 0 and not group.emptiable:
            branches.append({"properties": {k: False for k in sorted(group.keys)}})
            empty += 1
        return {"anyOf" if empty > 1 else "oneOf": branches}

    def _code_enum(self, tp: TypePlan, properties: dict, fixed: dict) -> None:
        """Code types (listURI fixed, a `code` child): enum of the genericode list's codes."""
        uri = fixed.get("listURI")
        if not uri or "code" not in properties or self.codelists is None:
            return
        code_list = self.codelists.get(uri, fixed.get("listVersionID"))
        if code_list is None:
            return
        codes = list(code_list.codes)
        prop = dict(properties["code"])
        prop["enum"] = codes
        prop["x-enumNames"] = [code_list.codes[c] or c for c in codes]
        prop["description"] = (prop.get("description", "") + f" Code list {uri}, version "
                               f"{code_list.version}.").strip()
        properties["code"] = prop


def simple_schema(st: SimpleType) -> dict:
    """JSON Schema of a simple type: JSON type plus the facets JSON Schema can express."""
    f = st.facets
    if st.kind == "boolean":
        return _described({"type": "boolean"}, st.doc)
    if st.kind == "integer":
        schema: dict[str, Any] = {"type": "integer"}
        for key, value in (("minimum", f.min_inclusive), ("maximum", f.max_inclusive),
                           ("exclusiveMinimum", f.min_exclusive), ("exclusiveMaximum", f.max_exclusive)):
            if value is not None:
                schema[key] = int(value)
        if f.enumeration is not None:
            schema["enum"] = [int(v) for v in f.enumeration]
        return _described(schema, st.doc)
    schema = {"type": "string"}
    patterns = []
    if st.builtin in LEXICAL:
        patterns.append(LEXICAL[st.builtin])
    for step in f.patterns:
        patterns.append("|".join(step))
    usable = [q for q in (_portable(p) for p in patterns) if q is not None]
    if len(usable) == 1:
        schema["pattern"] = f"^(?:{usable[0]})$"
    elif usable:
        schema["allOf"] = [{"pattern": f"^(?:{p})$"} for p in usable]
    if f.enumeration is not None:
        schema["enum"] = list(f.enumeration)
    if st.builtin == "base64Binary":
        schema["contentEncoding"] = "base64"
    else:
        for key, value in (("minLength", f.length if f.length is not None else f.min_length),
                           ("maxLength", f.length if f.length is not None else f.max_length)):
            if value is not None:
                schema[key] = value
    ranges = [f"{word} {v}" for word, v in (("at least", f.min_inclusive), ("at most", f.max_inclusive),
                                          ("more than", f.min_exclusive), ("less than", f.max_exclusive))
              if v is not None]
    if f.fraction_digits is not None:
        ranges.append(f"at most {f.fraction_digits} decimal places")
    if f.total_digits is not None:
        ranges.append(f"at most {f.total_digits} digits")
    doc = st.doc + (f" ({', '.join(ranges)})" if ranges else "")
    return _described(schema, doc.strip())


def _portable(pattern: str) -> str | None:
    """The XSD pattern in the regex dialect JSON Schema validators share, or None when it
    cannot be said there. XSD's \\s is only space, tab, CR and LF (regex engines add more);
    \\i, \\c, \\w, \\p{..} and class subtraction have no portable equivalent."""
    if re.search(r"\\[icICwW]|\\[pP]\{|\[[^\]]*-\[", pattern):
        return None
    out, in_class, i = [], False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i:i + 2]
            if pair == "\\s":
                out.append(r" \t\n\r" if in_class else r"[ \t\n\r]")
            elif pair == "\\S":
                if in_class:
                    return None
                out.append(r"[^ \t\n\r]")
            else:
                out.append(pair)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    result = "".join(out)
    try:
        re.compile(result)
    except re.error:
        return None
    return result


def _described(schema: dict, doc: str, note: str = "") -> dict:
    text = " ".join(t for t in (doc, note) if t)
    if text:
        schema = {"description": text, **{k: v for k, v in schema.items() if k != "description"}}
    return schema


def _any_of_keys(keys) -> dict:
    return {"anyOf": [{"required": [k]} for k in sorted(keys)]}


def _filled(path: str) -> bool:
    return path in GATEWAY_FILLED


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _reorder(schema: dict) -> dict:
    order = ["description", "type", "properties", "required", "additionalProperties"]
    return {**{k: schema[k] for k in order if k in schema},
            **{k: v for k, v in schema.items() if k not in order}}
