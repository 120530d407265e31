"""Drop folders for legacy backends (docs/drop-folders.md).

Outbound: a backend leaves a record (JSON) or an unsigned XML message in a folder. A
complete file (see adapters.folder.Pickup) is parsed, checked against the folder's scope
and submitted (build, validate, sign, store) under a client reference derived from its
name and SHA-256, then moved to done/ (with NAME.result.json) or failed/ (with
NAME.error.txt saying what and where). A failed file is never submitted; a crash after the
submit but before the move submits nothing twice: the next scan finds the reference.
A store or disk problem leaves the file where it is for the next scan.

Inbound: received messages (`verified`) are claimed per folder route (lease), written
atomically as TYPE_UUID.xml (and TYPE_UUID.json), and only then moved to `delivered`.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping, Sequence

from adapters.folder import (
    ERROR_SUFFIX,
    Pickup,
    move_aside,
    read_limited,
    resolve,
    write_atomic,
)

from .. import logcontext
from .. import xml as hardened
from ..config import InboundFolderSpec, OutboundFolderSpec
from ..errors import (
    Issue,
    LeaseLost,
    MappingError,
    MessageError,
    NotFound,
    StateError,
    ValidationFailed,
    XmlSecurityError,
)
from ..mapping.reader import record_paths
from ..model import Direction, Message, State
from .received import received_view

log = logging.getLogger("gateway.dropfolder")
ENVELOPE_KEYS = frozenset({"type", "partner", "record", "client_ref"})
DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
RESULT_SUFFIX = ".result.json"
INBOUND_RETRY = timedelta(seconds=60)


# -- parsing a drop file (pure) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drop:
    """A parsed drop file: what to submit, and (for XML) the source line of each record path."""

    message_type: str
    partner: str
    record: Any
    client_ref: str
    kind: str                                   # "json", "xml" (a record read from XML) or "message" (sent as it is)
    lines: Mapping[str, int] | None = None      # record path -> XML line (XML only)
    prefix: str = ""                            # where the record sits in the file ("record.")


def client_ref(name: str, data: bytes) -> str:
    """The idempotency reference of a drop file: its name and content SHA-256."""
    return f"{name[:120]}@{hashlib.sha256(data).hexdigest()}"


def parse_drop(spec: OutboundFolderSpec, name: str, data: bytes, registry,
               limits: hardened.Limits | None = None, headers=None) -> Drop:
    """Read a drop file (JSON envelope, bare JSON record or unsigned XML); MessageError or
    ValidationFailed (issues with line or record path) when it cannot be submitted. An XML
    message of a type without a record mapping (a configured standard) is read through
    `headers` (gateway.exchange.header.Headers) and submitted as it is (kind "message")."""
    head = data.lstrip()[:1]
    if name.lower().endswith(".json") or head in (b"{", b"["):
        return _parse_json(spec, name, data)
    if name.lower().endswith(".xml") or head == b"<":
        return _parse_xml(spec, name, data, registry, limits, headers)
    raise MessageError("neither JSON (a record) nor XML (a message): name it .json or .xml")


def _parse_json(spec: OutboundFolderSpec, name: str, data: bytes) -> Drop:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValidationFailed([Issue(f"not UTF-8 (byte {exc.start})", check="parse")]) from None
    except json.JSONDecodeError as exc:
        raise ValidationFailed([Issue(f"not JSON: {exc.msg} (column {exc.colno})", line=exc.lineno,
                                      check="parse")]) from None
    if not isinstance(doc, dict):
        raise MessageError("expected a JSON object (an envelope with \"record\", or a record)")
    ref = client_ref(name, data)
    if "record" not in doc:
        if not (spec.type and spec.partner):
            raise MessageError(f"a bare record needs the folder's default type and partner (folder "
                               f"{spec.name} has type={spec.type!r}, partner={spec.partner!r}); "
                               "or write an envelope {\"type\", \"partner\", \"record\"}")
        return Drop(spec.type, spec.partner, doc, ref, "json")
    unknown = sorted(set(doc) - ENVELOPE_KEYS)
    if unknown:
        raise ValidationFailed([Issue(f"unknown envelope key (known: {', '.join(sorted(ENVELOPE_KEYS))})",
                                      path=unknown[0], check="mapping")])
    issues = []
    for key, default in (("type", spec.type), ("partner", spec.partner), ("client_ref", ref)):
        value = doc.get(key, default)
        if not isinstance(value, str) or not value.strip():
            what = "missing (and the folder has no default)" if key not in doc else "must be a non-empty string"
            issues.append(Issue(what, path=key, check="mapping"))
    if not isinstance(doc["record"], dict):
        issues.append(Issue("must be a JSON object", path="record", check="mapping"))
    if issues:
        raise ValidationFailed(issues)
    return Drop(doc.get("type", spec.type), doc.get("partner", spec.partner), doc["record"],
                doc.get("client_ref", ref)[:200], "json", prefix="record.")


def _parse_xml(spec: OutboundFolderSpec, name: str, data: bytes, registry,
               limits: hardened.Limits | None, headers=None) -> Drop:
    try:
        tree = hardened.parse(data, limits) if limits else hardened.parse(data)
    except XmlSecurityError as exc:
        raise ValidationFailed([Issue(str(exc), line=exc.line, check="parse")]) from None
    root = tree.getroot()
    if root.find(f".//{DSIG}") is not None:
        raise MessageError("the message is already signed; drop folders take unsigned messages "
                           "(the gateway signs)")
    try:
        message_type = registry.identify(root)
    except NotFound:
        if headers is None:
            raise
        header = headers.read(root)
        return Drop(header.root, header.reader or spec.partner, None, client_ref(name, data), "message")
    try:
        _, record = registry.parse(tree, validate=False)
    except MappingError as exc:
        raise ValidationFailed([Issue(exc.reason, path=exc.path, check="mapping")]) from None
    lines = {path: el.sourceline for el, path in record_paths(message_type.plan, root).items()
             if el.sourceline}
    reader = ((record.get("nachrichtenkopfG2g") or {}).get("leser") or {}).get("kennung", "")
    partner = reader or spec.partner
    if not partner:
        raise MessageError("nachrichtenkopf.g2g/leser/kennung is missing and the folder has no "
                           "default partner")
    return Drop(message_type.id, partner, record, client_ref(name, data), "xml", lines)


def locate(drop: Drop, issues: Sequence[Issue]) -> list[Issue]:
    """Issues addressed inside the file: record paths prefixed for an envelope, XML lines
    added from the dropped document."""
    out = []
    for issue in issues:
        line = issue.line
        if drop.lines is not None and line is None and issue.path:
            path = issue.path
            while path and path not in drop.lines:   # an attribute or absent child: its parent
                path = path.rpartition(".")[0]
            line = drop.lines.get(path) or None
        path = f"{drop.prefix}{issue.path}" if issue.path and drop.prefix else issue.path
        out.append(Issue(issue.message, path, line, issue.check))
    return out


# -- outbound folders (I/O) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a scan did with one file."""

    file: str
    status: str              # submitted | repeated | failed | left (retried next scan) | gone
    message_id: str = ""
    detail: str = ""


class OutboundFolder:
    """One configured outbound drop folder bound to a gateway."""

    def __init__(self, spec: OutboundFolderSpec, gateway, base: Path | None = None):
        self.spec = spec
        self.gw = gateway
        self.path = resolve(base or Path.cwd(), spec.path)
        self.pickup = Pickup(self.path, spec.completion, tuple(spec.ignore), spec.min_age, spec.batch)
        self.done = resolve(self.path, spec.done_dir)
        self.failed = resolve(self.path, spec.failed_dir)
        self.actor = f"folder:{spec.name}"
        self._lock = asyncio.Lock()

    async def scan(self) -> list[Outcome]:
        """Handle every complete file once (one scan at a time per folder and process)."""
        async with self._lock:
            files = await asyncio.to_thread(self.pickup.complete_files)
            return [await self.process(path) for path in files]

    async def process(self, path: Path) -> Outcome:
        """Submit one complete file and move it aside; never raises for a bad file."""
        try:
            data = await asyncio.to_thread(read_limited, path, self.spec.max_bytes)
        except FileNotFoundError:
            return Outcome(path.name, "gone", detail="taken by another node")
        if data is None:
            return await self._fail(path, b"", [Issue(f"file is larger than max_bytes "
                                                      f"({self.spec.max_bytes} bytes); not read")])
        drop = None
        try:
            drop = await asyncio.to_thread(parse_drop, self.spec, path.name, data, self.gw.registry,
                                           self.gw.limits, self.gw.headers)
            refused = self.spec.allows(drop.message_type, drop.partner)
            if refused:
                raise MessageError(refused)
            if drop.kind == "message":
                submitted = await self.gw.submit_xml(data, to=drop.partner, client=self.spec.client,
                                                     client_ref=drop.client_ref, actor=self.actor)
            else:
                submitted = await self.gw.submit_new(drop.message_type, drop.record, to=drop.partner,
                                                     client=self.spec.client, client_ref=drop.client_ref,
                                                     actor=self.actor)
        except ValidationFailed as exc:
            return await self._fail(path, data, locate(drop, exc.issues) if drop else exc.issues)
        except MappingError as exc:
            issue = Issue(exc.reason, exc.path, check="mapping")
            return await self._fail(path, data, locate(drop, [issue]) if drop else [issue])
        except (MessageError, NotFound) as exc:
            return await self._fail(path, data, [Issue(str(exc), check="message")])
        except StateError as exc:        # e.g. the message UUID was submitted before
            return await self._fail(path, data, [Issue(str(exc), check="message")])
        except Exception as exc:  # noqa: BLE001 - store or disk trouble: leave the file for the next scan
            log.exception("drop folder %s: %s left in place", self.spec.name, path.name)
            return Outcome(path.name, "left", detail=f"{type(exc).__name__}: {exc}")
        return await self._done(path, data, drop, submitted.message, submitted.created)

    async def _done(self, path: Path, data: bytes, drop: Drop, msg: Message, created: bool) -> Outcome:
        note = json.dumps({
            "file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "folder": self.spec.name,
            "message_id": msg.id, "message_uuid": msg.message_uuid, "type": msg.message_type,
            "partner": msg.partner, "state": msg.state.value, "client": msg.client,
            "client_ref": msg.client_ref, "submitted_at": _stamp(msg.created_at),
            "repeated": not created}, indent=2, ensure_ascii=False).encode() + b"\n"
        moved = await asyncio.to_thread(move_aside, path, self.done, note_suffix=RESULT_SUFFIX, note=note,
                                        marker=self.pickup.marker(path))
        status = "gone" if moved is None else "submitted" if created else "repeated"
        log.info("drop folder %s: %s -> message %s (%s)", self.spec.name, path.name, msg.id, status)
        return Outcome(path.name, status, msg.id, msg.message_uuid)

    async def _fail(self, path: Path, data: bytes, issues: Sequence[Issue]) -> Outcome:
        lines = [issue.format(path.name) for issue in issues]
        note = "\n".join([
            f"file: {path.name}",
            f"folder: {self.spec.name} ({self.path})",
            f"sha256: {hashlib.sha256(data).hexdigest() if data else '-'}",
            f"at: {_stamp(self.gw.clock())}",
            "result: not submitted; nothing was stored or sent",
            "problems:", *(f"  {line}" for line in lines), ""]).encode()
        try:
            moved = await asyncio.to_thread(move_aside, path, self.failed, note_suffix=ERROR_SUFFIX,
                                            note=note, marker=self.pickup.marker(path))
        except OSError as exc:
            log.error("drop folder %s: cannot move %s to %s: %s", self.spec.name, path.name, self.failed, exc)
            return Outcome(path.name, "left", detail=str(exc))
        log.warning("drop folder %s: %s failed: %s", self.spec.name, path.name, "; ".join(lines)[:500])
        return Outcome(path.name, "failed" if moved else "gone", detail="; ".join(lines))


# -- inbound folders (I/O) ---------------------------------------------------------------


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def inbound_name(message_type: str, message_uuid: str) -> str:
    """The file stem of a received message: TYPE_UUID (only safe characters)."""
    return _UNSAFE.sub("_", f"{message_type}_{message_uuid}").lstrip(".") or "message"


class InboundFolders:
    """Writes received (verified) messages into the folder whose route matches first."""

    def __init__(self, specs: Sequence[InboundFolderSpec], gateway, base: Path | None = None):
        self.specs = list(specs)
        self.gw = gateway
        self.paths = {s.name: resolve(base or Path.cwd(), s.path) for s in self.specs}
        self._lock = asyncio.Lock()

    def route(self, msg: Message) -> InboundFolderSpec | None:
        """The first folder (config order) that takes this message, if any."""
        return next((s for s in self.specs if s.matches(msg.message_type, msg.partner)), None)

    async def deliver(self) -> int:
        """Claim due verified messages of each route, write them, mark them delivered."""
        done = 0
        async with self._lock:
            for spec in self.specs:
                types = None if "*" in spec.types else spec.types
                partners = None if "*" in spec.partners else spec.partners
                claimed = await self.gw.store.claim_due(self.gw.node, limit=spec.batch, direction=Direction.IN,
                                                        types=types, partners=partners)
                for msg in claimed:
                    with logcontext.bound(**logcontext.of_message(msg)):
                        done += await self._write(self.route(msg) or spec, msg)
        return done

    async def _write(self, spec: InboundFolderSpec, msg: Message) -> int:
        gw, folder = self.gw, self.paths[spec.name]
        stem = inbound_name(msg.message_type, msg.message_uuid)
        try:
            xml = await gw.store.payload(msg.id)
            files = []
            if spec.record_json:
                files.append((stem + ".json", await asyncio.to_thread(self._record_json, msg, xml)))
            files.append((stem + ".xml", xml))        # last: its appearance means "complete"
            await asyncio.to_thread(_write_all, folder, files)
        except Exception as exc:  # noqa: BLE001 - disk or store trouble: give it back, retry later
            log.error("inbound folder %s: cannot write message %s: %s", spec.name, msg.id, exc)
            try:
                await gw.store.release(msg.id, node=gw.node, next_attempt_at=gw.clock() + INBOUND_RETRY,
                                       detail=f"folder {spec.name}: {exc}"[:500])
            except LeaseLost:
                pass
            return 0
        try:
            await gw.store.transition(msg.id, State.DELIVERED, actor=f"folder:{spec.name}", node=gw.node,
                                      detail=f"written to folder {spec.name} as {stem}.xml")
        except LeaseLost:
            log.warning("inbound folder %s: message %s was taken over by another node", spec.name, msg.id)
            return 0
        return 1

    def _record_json(self, msg: Message, xml: bytes) -> bytes:
        doc: dict[str, Any] = {"id": msg.id, "message_uuid": msg.message_uuid, "type": msg.message_type,
                               "partner": msg.partner, "received_at": _stamp(msg.created_at),
                               "sha256": msg.digest}
        try:
            doc.update(received_view(self.gw, xml))   # no "record" for a type without a mapping
        except (MessageError, NotFound) as exc:
            doc["record"], doc["error"] = None, f"cannot be read as a record: {exc}"
        return json.dumps(doc, indent=2, ensure_ascii=False).encode() + b"\n"


def _write_all(folder: Path, files: Sequence[tuple[str, bytes]]) -> None:
    for name, data in files:
        write_atomic(folder, name, data)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def outbound_folders(config, gateway) -> list[OutboundFolder]:
    """The configured outbound folders bound to `gateway` (paths relative to the config)."""
    return [OutboundFolder(s, gateway, config.base_dir) for s in config.folders.outbound]


def inbound_folders(config, gateway) -> InboundFolders | None:
    """The configured inbound folders bound to `gateway`, or None when there are none."""
    specs = config.folders.inbound
    return InboundFolders(specs, gateway, config.base_dir) if specs else None
