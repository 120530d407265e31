"""Three gateways in one process for the delivery tests: A sends over real HTTP (the real
HttpSender) to B and C, whose inbound pipelines answer behind real aiohttp servers on
127.0.0.1. B's server can be switched between failure modes (refusing connections, 503 with
Retry-After, slower than A's timeout, accepting); every request B and C process is counted.
A's clock and its retry policy's random source are injected."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aiohttp import web
from exchange_pair import make_keys

from gateway import bootstrap
from gateway import config as cfg
from gateway.ports import Peer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LETTER = "korrespondenz.schreiben.0200"
A, B, C = "ags:09162000", "ags:09162001", "ags:09162002"


class Clock:
    """A settable clock (gateway and store take it)."""

    def __init__(self):
        self.now = datetime.now(timezone.utc).replace(microsecond=0)   # the dev certificates are fresh

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Draws:
    """A random source for the retry policy that remembers what it gave."""

    def __init__(self, values):
        self.values, self.given = list(values), []

    def __call__(self) -> float:
        value = self.values[len(self.given) % len(self.values)]
        self.given.append(value)
        return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Partner:
    """A partner gateway's inbound pipeline behind a real aiohttp server, with a mode."""

    def __init__(self, gw, port: int):
        self.gw, self.port, self.mode = gw, port, "accept"
        self.url = f"http://127.0.0.1:{port}"
        self.processed: dict[str, int] = {}        # nachrichtenUUID -> times processed
        self.accepted_at: list[float] = []         # time.monotonic() of each processed request
        self.active = self.peak = self.hanging = 0
        self.retry_after = "120"
        self.delay = 1.0
        self.gate = asyncio.Event()
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.mode == "unavailable":
            return web.Response(status=503, headers={"Retry-After": self.retry_after})
        if self.mode == "slow":
            self.hanging += 1
            try:
                await asyncio.sleep(self.delay)            # the sender gives up before this
            finally:
                self.hanging -= 1
            return web.Response(status=503)
        self.active += 1                                   # requests being processed at once
        self.peak = max(self.peak, self.active)
        try:
            if self.mode == "busy":
                await asyncio.sleep(0.05)
            elif self.mode == "hold":                      # until the test opens the gate
                await self.gate.wait()
            result = await self.gw.inbound.receive(body, Peer("http", remote=request.remote or ""))
        finally:
            self.active -= 1
        uuid = result.message_uuid
        self.processed[uuid] = self.processed.get(uuid, 0) + 1
        self.accepted_at.append(time.monotonic())
        return web.Response(body=result.receipt_xml, content_type="application/xml",
                            headers={"X-Message-UUID": uuid})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/messages", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def tables(root: Path, me: str, partners: dict[str, tuple[str, Path]], delivery: dict,
           store: dict | None = None, partner_extra: dict | None = None) -> dict:
    """Config table of one gateway trusting `partners` (id -> (endpoint, certificate)); A's
    clock runs ahead of B's and C's real one, so they allow an hour of skew."""
    return {
        "gateway": {"data_dir": "data", "authority_id": me, "authority_name": me, "node_id": f"node-{me[-1]}"},
        "schemas": {"clock_skew": 3600},
        "server": {"port": 0},
        "store": store or {},
        "scheduler": {"shutdown_timeout": 5},
        "delivery": delivery,
        "partners": {pid: {"name": pid, "endpoints": [url], "transport": "http", "accepts": ["*"],
                           "trust": {"certificates": [str(cert)]}, **(partner_extra or {}).get(pid, {})}
                     for pid, (url, cert) in partners.items()},
    }


async def three(root: Path, *, delivery: dict, store: dict | None = None, partner_extra: dict | None = None,
                clock: Clock | None = None, draws: Draws | None = None):
    """(a, partner B, partner C): A wired with `delivery`, B's and C's servers started
    (B's may be stopped by the caller to refuse connections)."""
    certs = {}
    for pid in (A, B, C):
        (root / pid[-1]).mkdir(parents=True, exist_ok=True)
        certs[pid] = make_keys(root / pid[-1], pid, pid)
    ports = {B: free_port(), C: free_port()}
    urls = {pid: f"http://127.0.0.1:{port}" for pid, port in ports.items()}
    raw_a = tables(root, A, {B: (urls[B], certs[B]), C: (urls[C], certs[C])}, delivery, store, partner_extra)
    a = await bootstrap.build(cfg.from_dict(raw_a, base_dir=root / A[-1]), clock=clock or bootstrap.utcnow)
    if clock is not None:
        a.store.clock = clock
    if draws is not None:
        a.policy = dataclasses.replace(a.policy, random=draws)
    partners = []
    for pid in (B, C):
        raw = tables(root, pid, {A: ("http://127.0.0.1:9/unused", certs[A])}, {"timeout": 5})
        gw = await bootstrap.build(cfg.from_dict(raw, base_dir=root / pid[-1]))
        partner = Partner(gw, ports[pid])
        await partner.start()
        partners.append(partner)
    return a, partners[0], partners[1]


async def close(a, *partners: Partner) -> None:
    await a.aclose()
    for p in partners:
        await p.stop()
        await p.gw.aclose()


def letter() -> dict:
    record = json.loads((EXAMPLES / f"{LETTER}.json").read_text())
    record.get("nachrichtenkopfG2g", {}).pop("leser", None)
    return record
