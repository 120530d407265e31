"""Webhooks: push received messages and status changes to the backend, signed, retried.

Signature (Stripe style): header `X-Gateway-Signature: t=<unix seconds>,v1=<hex>` where
`hex = HMAC-SHA256(secret, f"{t}." + body)`. Receivers check it with `verify` and refuse
timestamps older (or newer) than a tolerance, so a captured push cannot be replayed later.

Durability, at-least-once:
* received messages: the message state is the queue. `verified` inbound messages are leased
  (`Store.claim_due(direction=IN)`), pushed, and moved to `delivered` only after a 2xx
  answer; otherwise the lease is released with the next attempt time. Event id
  `in-<message id>`.
* status changes: `gateway.backend.webhook_queue` derives events from the routing slip into the
  `webhook_events` table; each is pushed until a 2xx. Event id `st-<history id>`.
Both survive restarts; a push may be repeated (e.g. after a crash between the 2xx and the
commit), so receivers dedupe on the event id (`X-Gateway-Delivery`).

Retries never stop: the wait grows by `backoff_factor` from `backoff_initial` up to
`backoff_max`. For received messages the wait is derived from the message's age (a restart
does not reset it): `wait = clamp(age * (factor - 1), initial, max)`.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
from datetime import datetime, timedelta
from typing import Iterable
from urllib.parse import urlsplit

from .. import logcontext
from ..errors import ConfigError, LeaseLost, NotFound, SignatureError, StateError
from ..model import TRANSITIONS, Direction, State
from .received import received_view

log = logging.getLogger("gateway.webhooks")
SIGNATURE_HEADER = "X-Gateway-Signature"
EVENT_HEADER = "X-Gateway-Event"
DELIVERY_HEADER = "X-Gateway-Delivery"
MIN_SECRET = 16


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes | str | Iterable[bytes | str], header: str, body: bytes,
           now: float | datetime, tolerance: int = 300) -> int:
    """Check a push: the header's HMAC over `t.body` with `secret` (or any of several during
    a rotation) and a timestamp within `tolerance` seconds of `now`. Returns the timestamp;
    raises SignatureError saying what is wrong."""
    fields: dict[str, list[str]] = {}
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    stamps, macs = fields.get("t", []), fields.get("v1", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or not macs:
        raise SignatureError(f"{SIGNATURE_HEADER} must be t=<unix seconds>,v1=<hex HMAC-SHA256>",
                             code=SignatureError.MALFORMED)
    timestamp = int(stamps[0])
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"timestamp {timestamp} is {abs(current - timestamp):.0f}s away from now "
                             f"(tolerance {tolerance}s): stale or replayed", code=SignatureError.EXPIRED)
    keys = [secret] if isinstance(secret, (bytes, str)) else list(secret)
    signed = f"{timestamp}.".encode() + body
    for key in keys:
        key = key.encode() if isinstance(key, str) else key
        expected = hmac.new(key, signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, mac) for mac in macs):
            return timestamp
    raise SignatureError("signature does not match the body (wrong secret or altered body)",
                         code=SignatureError.INVALID)


def check_url(url: str) -> str:
    """The webhook URL, if acceptable: https, or http only to a loopback address."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"[webhooks] url {url!r}: expected https://host/path")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(f"[webhooks] url {url!r}: plain http only to a loopback address; use https")
    return url


class Webhooks:
    """Pushes due events to the backend URL; `run_once` is one scan, `run` loops until stopped."""

    def __init__(self, gateway, section, secret: bytes, *, ssl=None):
        self.gw = gateway
        self.sec = section
        self.url = check_url(section.url)
        if len(secret) < MIN_SECRET:
            raise ConfigError(f"[webhooks] secret: at least {MIN_SECRET} bytes (e.g. `openssl rand -hex 32`)")
        outbound = {s.value for s in TRANSITIONS[Direction.OUT]}
        bad = [s for s in section.states if s not in outbound]
        if bad:
            raise ConfigError(f"[webhooks] states: {bad[0]!r} is not an outbound state")
        self.secret = secret
        self.ssl = ssl
        self.node = gateway.node
        self._session = None
        self._failures: dict[str, int] = {}

    @classmethod
    def from_config(cls, gateway, config) -> "Webhooks | None":
        """The pusher of a configuration, or None when `[webhooks] url` is empty."""
        sec = config.webhooks
        if not sec.url:
            return None
        secret = config.secret(sec.secret)
        if not secret:
            raise ConfigError("[webhooks] secret: required with url (env:NAME or file:PATH)")
        ssl = None
        if sec.url.startswith("https:"):
            from ..crypto.tls import client_context
            ssl = client_context(ca_file=config.path(sec.ca_file) if sec.ca_file else None)
        return cls(gateway, sec, secret, ssl=ssl)

    # -- the loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Scan every `interval` seconds until `stop` is set; a failing scan is logged."""
        while not stop.is_set():
            busy = 0
            try:
                busy = await self.run_once()
            except Exception:  # noqa: BLE001 - keep going; the store keeps every event
                log.exception("webhook scan failed")
            if busy < self.sec.batch:
                try:
                    await asyncio.wait_for(stop.wait(), self.sec.interval)
                except asyncio.TimeoutError:
                    pass

    async def run_once(self) -> int:
        """One scan: push due received messages and status events; returns pushes tried."""
        from . import webhook_queue as queue

        tried = 0
        if self.sec.inbound:
            claimed = await self.gw.store.claim_due(
                self.node, limit=self.sec.batch, direction=Direction.IN,
                types=None if "*" in self.sec.types else self.sec.types,
                partners=None if "*" in self.sec.partners else self.sec.partners)
            await asyncio.gather(*(self._inbound(m) for m in claimed))
            tried += len(claimed)
        if self.sec.states:
            now = self.gw.clock()
            await queue.enqueue(self.gw.store, self.sec.states, now)
            events = await queue.claim(self.gw.store, self.node, limit=self.sec.batch, now=now,
                                       lease_seconds=self.gw.store.lease_seconds)
            await asyncio.gather(*(self._status(ev) for ev in events))
            tried += len(events)
            if not events:
                await queue.prune(self.gw.store, now)
        return tried

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- received messages -------------------------------------------------------------

    async def _inbound(self, msg) -> None:
        from .api import views

        logcontext.bind(**logcontext.of_message(msg))      # a task of its own (gather): no reset needed
        gw = self.gw
        event = {"id": f"in-{msg.id}", "event": "message.received", "created_at": views.when(gw.clock()),
                 "message": views.message(msg)}
        try:
            payload = await gw.store.payload(msg.id)
            event.update(await asyncio.to_thread(received_view, gw, payload))
        except Exception as exc:  # noqa: BLE001 - push without the record; GET /api/inbound/{id} has the XML
            log.warning("message %s: no header/record for the webhook: %s", msg.id, exc)
        ok, outcome = await self._post(event)
        if ok:
            self._failures.pop(msg.id, None)
            try:
                await gw.store.transition(msg.id, State.DELIVERED, actor=f"webhook:{self.node}", node=self.node,
                                          detail=f"pushed to the backend ({outcome}), event {event['id']}")
            except (LeaseLost, StateError) as exc:   # e.g. acknowledged via the API meanwhile
                log.info("message %s pushed, but not moved to delivered: %s", msg.id, exc)
            return
        failures = self._failures[msg.id] = self._failures.get(msg.id, 0) + 1
        now = gw.clock()
        wait = self.wait(now - msg.created_at)
        if failures & (failures - 1) == 0:       # attempts 1, 2, 4, 8, ... go into the slip
            await gw.store.note(msg.id, actor=f"webhook:{self.node}",
                                detail=f"webhook push failed (attempt {failures} since start): {outcome}; "
                                       f"retry in {wait:.0f}s")
        try:
            await gw.store.release(msg.id, node=self.node, next_attempt_at=now + timedelta(seconds=wait))
        except LeaseLost:
            pass

    def wait(self, age: timedelta) -> float:
        """Seconds until the next push of a message this old: grows by the factor, capped."""
        sec = self.sec
        return min(max(age.total_seconds() * (sec.backoff_factor - 1), sec.backoff_initial), sec.backoff_max)

    # -- status changes ----------------------------------------------------------------

    async def _status(self, ev) -> None:
        from . import webhook_queue as queue
        from .api import views

        logcontext.bind(message_id=ev.message_id)          # a task of its own (gather)
        gw = self.gw
        row = await queue.step(gw.store, ev.history_id)
        try:
            msg = await gw.store.get(ev.message_id)
        except NotFound:
            msg = None
        if row is None or msg is None:            # purged meanwhile: nothing left to tell
            await queue.settle(gw.store, ev, self.node, now=gw.clock(), delivered=True, error="purged")
            return
        event = {"id": ev.id, "event": "message.status", "created_at": views.when(gw.clock()),
                 "message": views.message(msg),
                 "step": {"at": views.when(row.at), "from": row.from_state, "to": row.to_state,
                          "actor": row.actor, "detail": row.detail}}
        ok, outcome = await self._post(event)
        now = gw.clock()
        wait = min(self.sec.backoff_initial * self.sec.backoff_factor ** ev.attempts, self.sec.backoff_max)
        await queue.settle(gw.store, ev, self.node, now=now, delivered=ok, error=None if ok else outcome,
                           retry_at=None if ok else now + timedelta(seconds=wait))

    # -- HTTP --------------------------------------------------------------------------

    async def _post(self, event: dict) -> tuple[bool, str]:
        """POST one signed event; (True, "HTTP 2xx") or (False, why)."""
        import aiohttp

        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        stamp = int(self.gw.clock().timestamp())
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body, stamp),
                   EVENT_HEADER: event["event"], DELIVERY_HEADER: event["id"],
                   "User-Agent": "xoev-gateway-webhooks"}
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.sec.timeout))
        try:
            async with self._session.post(self.url, data=body, headers=headers, ssl=self.ssl,
                                          allow_redirects=False) as resp:
                await resp.content.read(4096)
                if 200 <= resp.status < 300:
                    return True, f"HTTP {resp.status}"
                return False, f"HTTP {resp.status}"
        except asyncio.TimeoutError:
            return False, f"no answer within {self.sec.timeout:g}s"
        except (aiohttp.ClientError, OSError) as exc:
            return False, f"{type(exc).__name__}: {exc}"[:300]

