"""End to end: acknowledged exchanges/s between two `gateway serve` processes, against the limit.

The floor, measured in this run on the same 5 KB document (CPU seconds, time.process_time):
raw lxml parse + XMLSchema.validate, plain signxml sign and verify with a pinned key (the
message and a receipt-sized document), one SQLite insert + commit (WAL, synchronous=FULL, as
the store) and one aiohttp POST round trip on 127.0.0.1 (client and server). The *limit* is
the machine's cores divided by the unavoidable CPU of one exchange: validate + sign out, verify
+ validate in, store on both sides, sign + verify the receipt, the round trip.

The gateway: the portal and the office of `gateway demo` as two `gateway serve` processes with
their embedded defaults (only the partner tables and, for PostgreSQL, [store] url set). A
concurrent client (a portal backend) submits 5 KB records through POST /api/messages, each with
its own client_ref (idempotent submits, as a portal does); a message
counts when the sender's store says `acknowledged` (the receipt verified and stored). Peak: N
messages, `--inflight` submits at a time, rate = N / (last acknowledgement - first submit).
Latency: then messages offered at half of the peak rate for `--seconds`; submit ->
acknowledged p50/p99. CPU: /proc of each server (and its children) over the peak phase.

    .venv/bin/python -m bench e2e [--quick] [--messages 2000] [--inflight 8] [--seconds 20]
        [--only http-sqlite,soap-sqlite,http-postgresql,soap-postgresql] [--keys ecdsa,rsa]
        [--markdown FILE]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from bench.bench_build import TYPE, sized_record
from bench.processes import Serve, cpu_seconds, pair
from gateway import demo

CONFIGS = ("http-sqlite", "soap-sqlite", "http-postgresql", "soap-postgresql")
KEY_NAMES = {"ecdsa": "ECDSA P-256", "rsa": "RSA-2048"}
MESSAGE_BYTES = 5 * 1024


def exchange_record(registry) -> dict:
    """The 5 KB record, from the demo's portal to its office."""
    record = sized_record(registry, MESSAGE_BYTES)
    head = record["nachrichtenkopfG2g"]
    head["autor"]["kennung"], head["autor"]["name"] = demo.PORTAL, demo.PORTAL_NAME
    head["leser"]["kennung"], head["leser"]["name"] = demo.OFFICE, demo.OFFICE_NAME
    return record


def say(text: str) -> None:
    print(text, flush=True)


# -- the floor --------------------------------------------------------------------------------

def cpu_per_call(fn, n: int, rounds: int = 3) -> float:
    """CPU seconds of one call (best of `rounds` rounds of `n` calls)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - start) / n)
    return best


def _receipt_like(message_uuid: str) -> bytes:
    return (f'<quittung xmlns="urn:bench:receipt"><nachricht>{message_uuid}</nachricht>'
            f'<ergebnis>angenommen</ergebnis><zeit>{datetime.now(timezone.utc).isoformat()}</zeit>'
            f'<digest>{"0" * 64}</digest></quittung>').encode()


def floor(xml: bytes, schema: etree.XMLSchema, key: str, quick: bool) -> dict[str, float]:
    """CPU seconds of each unavoidable step of one exchange, measured now."""
    from signxml import SignatureConfiguration, XMLSigner, XMLVerifier
    from signxml.algorithms import CanonicalizationMethod, SignatureMethod

    from gateway.crypto import devca

    scale = 5 if quick else 1
    now = datetime.now(timezone.utc)
    ca = devca.make_ca("CN=Floor CA", now=now, kind=key)
    me = devca.make_identity(ca, "CN=Floor", now=now, kind=key)
    method = SignatureMethod.ECDSA_SHA256 if key == "ecdsa" else SignatureMethod.RSA_SHA256
    signer = XMLSigner(signature_algorithm=method, digest_algorithm="sha256",
                       c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    expect = SignatureConfiguration(location="./", expect_references=1)

    def sign(doc: bytes) -> bytes:
        return etree.tostring(signer.sign(etree.fromstring(doc), key=me.key, cert=[me.cert]))

    signed, receipt = sign(xml), sign(_receipt_like("x" * 36))
    costs = {
        "validate (lxml parse + XSD)": cpu_per_call(lambda: schema.assertValid(etree.fromstring(xml)),
                                                    400 // scale),
        "sign (signxml)": cpu_per_call(lambda: sign(xml), 100 // scale),
        "verify (signxml, pinned)": cpu_per_call(
            lambda: XMLVerifier().verify(signed, x509_cert=me.cert, expect_config=expect), 100 // scale),
        "receipt sign": cpu_per_call(lambda: sign(_receipt_like("x" * 36)), 100 // scale),
        "receipt verify": cpu_per_call(
            lambda: XMLVerifier().verify(receipt, x509_cert=me.cert, expect_config=expect), 100 // scale),
    }
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, uuid TEXT, state TEXT, payload BLOB)")

        def insert():
            db.execute("BEGIN")
            db.execute("INSERT INTO m (uuid, state, payload) VALUES (?, 'ready', ?)", (os.urandom(16).hex(), xml))
            db.execute("COMMIT")
        costs["store (SQLite insert + commit)"] = cpu_per_call(insert, 300 // scale)
        db.close()
    costs["HTTP POST round trip (aiohttp)"] = asyncio.run(_http_round_trip(xml, 300 // scale))
    return costs


async def _http_round_trip(body: bytes, n: int) -> float:
    import aiohttp
    from aiohttp import web

    async def handler(request):
        await request.read()
        return web.Response(body=b"<ok/>", content_type="application/xml")

    app = web.Application()
    app.router.add_post("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"
    try:
        async with aiohttp.ClientSession() as session:
            best = float("inf")
            for _ in range(3):
                start = time.process_time()
                for _ in range(n):
                    async with session.post(url, data=body) as r:
                        await r.read()
                best = min(best, (time.process_time() - start) / n)
            return best
    finally:
        await runner.cleanup()


def exchange_cost(costs: dict[str, float]) -> float:
    """CPU seconds of one exchange: both sides' validate and store, sign, verify, the receipt's
    sign and verify, one round trip."""
    return (2 * costs["validate (lxml parse + XSD)"] + costs["sign (signxml)"]
            + costs["verify (signxml, pinned)"] + costs["receipt sign"] + costs["receipt verify"]
            + 2 * costs["store (SQLite insert + commit)"] + costs["HTTP POST round trip (aiohttp)"])


# -- the gateway ------------------------------------------------------------------------------

@dataclass
class Run:
    transport: str
    store: str
    key: str
    limit: float
    peak: float = 0.0
    acknowledged: int = 0
    failed: int = 0
    cpu_sender: float = 0.0        # CPU seconds per exchange
    cpu_receiver: float = 0.0
    offered: float = 0.0
    p50: float = 0.0               # seconds
    p99: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.transport} {self.store}" + ("" if self.key == "ecdsa" else f" {self.key}")

    def line(self) -> str:
        share = self.peak / self.limit if self.limit else 0.0
        return (f"e2e {self.label}: {self.peak:,.0f} exchanges/s = {share:.0%} of limit {self.limit:,.0f}; "
                f"p50 {self.p50 * 1000:,.0f} ms, p99 {self.p99 * 1000:,.0f} ms")


class Client:
    """A portal backend: submits records over the REST API, watches the sender's store."""

    def __init__(self, sender: Serve, record: dict, store_url: str):
        self.sender, self.record, self.store_url = sender, record, store_url
        self.submitted: dict[str, float] = {}        # message id -> wall time the POST began
        self.errors: list[str] = []

    async def __aenter__(self) -> "Client":
        import aiohttp

        from gateway.store import Store
        self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.sender.token}"})
        self.store = await Store.open(self.store_url, self.sender.folder / "data", upgrade=False)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.session.close()
        await self.store.aclose()

    async def submit(self) -> None:
        head = self.record["nachrichtenkopfG2g"]
        ident = {**head["identifikationNachricht"], "nachrichtenUUID": str(uuid.uuid4())}
        record = {**self.record, "nachrichtenkopfG2g": {**head, "identifikationNachricht": ident}}
        body = {"type": TYPE, "to": demo.OFFICE, "record": record, "client_ref": f"AZ-{ident['nachrichtenUUID']}"}
        began = time.time()
        async with self.session.post(self.sender.url + "/api/messages", json=body) as r:
            answer = await r.json(content_type=None)
            if r.status != 201:
                self.errors.append(f"{r.status} {answer}")
                return
        self.submitted[answer["id"]] = began

    async def settled(self) -> tuple[int, int]:
        """(acknowledged, failed) among the submitted messages, from the sender's store."""
        from gateway.model import Direction, State
        counts = await self.store.counts()
        done = counts.get((Direction.OUT, State.ACKNOWLEDGED), 0)
        bad = sum(counts.get((Direction.OUT, s), 0) for s in (State.REJECTED, State.DEAD, State.FAILED))
        return done, bad

    async def ack_times(self, ids) -> dict[str, float]:
        """Wall time of each given message's acknowledgement."""
        from gateway.model import Direction, State
        wanted, found, before = set(ids), {}, None
        while True:
            page = await self.store.list(direction=Direction.OUT, state=State.ACKNOWLEDGED, limit=1000,
                                         before_id=before)
            for message in page:
                if message.id in wanted:
                    found[message.id] = message.updated_at.timestamp()
            if len(page) < 1000:
                return found
            before = page[-1].id

    async def wait_for(self, total: int, label: str, *, stall: float = 60.0) -> float:
        """Wait until `total` messages are acknowledged (or failed); returns the wall time then."""
        last, last_change = (-1, -1), time.monotonic()
        shown = time.monotonic()
        while True:
            done, bad = await self.settled()
            if (done, bad) != last:
                last, last_change = (done, bad), time.monotonic()
            if done + bad >= total:
                return time.time()
            if time.monotonic() - shown >= 2:
                say(f"    {label}: {done:,}/{total:,} acknowledged" + (f", {bad} failed" if bad else ""))
                shown = time.monotonic()
            if time.monotonic() - last_change > stall:
                raise RuntimeError(f"{label}: no progress for {stall:.0f} s at {done}/{total} "
                                   f"(logs in {self.sender.folder})")
            await asyncio.sleep(0.05)


async def peak_phase(client: Client, n: int, inflight: int, label: str) -> tuple[float, float]:
    """Submit n messages with `inflight` concurrent POSTs; (exchanges/s, first submit time)."""
    queue = iter(range(n))
    done_before = (await client.settled())[0]
    start = time.time()
    shown = time.monotonic()

    async def worker():
        nonlocal shown
        for _ in queue:
            await client.submit()
            if time.monotonic() - shown >= 2:
                shown = time.monotonic()
                say(f"    {label}: {len(client.submitted):,}/{n:,} submitted")

    await asyncio.gather(*(worker() for _ in range(inflight)))
    if client.errors:
        raise RuntimeError(f"{label}: {len(client.errors)} submits refused, first: {client.errors[0]}")
    end = await client.wait_for(done_before + n, label)
    acked = await client.ack_times(client.submitted)
    if len(acked) < n:
        raise RuntimeError(f"{label}: only {len(acked)} of {n} acknowledged (logs in {client.sender.folder})")
    last = max(acked.values(), default=end)
    return len(acked) / max(last - start, 1e-9), start


async def latency_phase(client: Client, rate: float, seconds: float, label: str) -> list[float]:
    """Offer messages at `rate`/s for `seconds`; submit -> acknowledged latencies in seconds."""
    before = set(client.submitted)
    done_before = (await client.settled())[0]
    count = max(1, int(rate * seconds))
    start = time.monotonic()
    tasks = []
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(client.submit()))
    await asyncio.gather(*tasks)
    if client.errors:
        raise RuntimeError(f"{label}: {len(client.errors)} submits refused, first: {client.errors[0]}")
    await client.wait_for(done_before + count, label)
    new = {i: t for i, t in client.submitted.items() if i not in before}
    acked = await client.ack_times(new)
    return sorted(acked[i] - new[i] for i in acked)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def measure(sender: Serve, receiver: Serve, run: Run, record: dict, store_url: str,
                  messages: int, inflight: int, seconds: float) -> None:
    label = f"{run.label}"
    async with Client(sender, record, store_url) as client:
        # warm-up: every code path once (imports, connections, caches)
        await peak_phase(client, min(20, messages), inflight, label + " warm-up")
        client.submitted.clear()
        cpu0 = cpu_seconds(sender.pid), cpu_seconds(receiver.pid)
        say(f"  {label}: peak, {messages:,} messages, {inflight} in flight")
        run.peak, _ = await peak_phase(client, messages, inflight, label)
        cpu1 = cpu_seconds(sender.pid), cpu_seconds(receiver.pid)
        run.acknowledged = len(client.submitted)
        run.cpu_sender = (cpu1[0] - cpu0[0]) / messages
        run.cpu_receiver = (cpu1[1] - cpu0[1]) / messages
        run.offered = run.peak / 2
        say(f"  {label}: {run.peak:,.0f} exchanges/s; latency at {run.offered:,.0f}/s for {seconds:.0f} s")
        latencies = await latency_phase(client, run.offered, seconds, label)
        run.p50, run.p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        run.failed = (await client.settled())[1]


def store_url_of(serve: Serve) -> str:
    import tomllib
    raw = tomllib.loads(serve.config.read_text(encoding="utf-8"))
    return raw.get("store", {}).get("url", "")


def table(runs: list[Run], machine: str, costs: dict[str, dict[str, float]]) -> str:
    lines = [machine, "",
             "| transport | store | key | exchanges/s at peak | limit/s | of limit | offered/s | p50 ms | "
             "p99 ms | CPU ms/exchange sender | receiver | load avg (1 min) start / end |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        lines.append(f"| {r.transport} | {r.store} | {KEY_NAMES[r.key]} | {r.peak:,.0f} | {r.limit:,.0f} | "
                     f"{r.peak / r.limit:.1%} | {r.offered:,.0f} | {r.p50 * 1000:,.0f} | {r.p99 * 1000:,.0f} | "
                     f"{r.cpu_sender * 1000:.1f} | {r.cpu_receiver * 1000:.1f} | "
                     f"{r.load[0]:.2f} / {r.load[1]:.2f} |")
    lines += ["", "Floor (CPU ms per call, this run):", "",
              "| step | " + " | ".join(KEY_NAMES[k] for k in costs) + " |",
              "|---|" + "---:|" * len(costs)]
    steps = next(iter(costs.values())).keys()
    for step in steps:
        lines.append(f"| {step} | " + " | ".join(f"{c[step] * 1000:.3f}" for c in costs.values()) + " |")
    lines.append("| one exchange (the limit's cost) | "
                 + " | ".join(f"{exchange_cost(c) * 1000:.3f}" for c in costs.values()) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench e2e", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="about a minute: 300 messages, 5 s at half rate, ECDSA only")
    ap.add_argument("--messages", type=int, default=2000, help="messages in the peak phase (default 2000)")
    ap.add_argument("--inflight", type=int, default=8, help="concurrent submits (default 8)")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds at half the peak rate (default 20)")
    ap.add_argument("--only", default=",".join(CONFIGS), help="transport-store pairs, comma-separated")
    ap.add_argument("--keys", default="ecdsa,rsa",
                    help="signing keys (ecdsa, rsa); RSA runs over http-sqlite only unless --only says so")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.messages, args.seconds = min(args.messages, 300), min(args.seconds, 5.0)
        if args.keys == "ecdsa,rsa":
            args.keys = "ecdsa"
    only = [c.strip() for c in args.only.split(",") if c.strip()]
    keys = [k.strip() for k in args.keys.split(",") if k.strip()]
    bad = [c for c in only if c not in CONFIGS] + [k for k in keys if k not in KEY_NAMES]
    if bad:
        ap.error(f"unknown: {', '.join(bad)}")
    explicit = "--only" in " ".join(argv)
    plan = [(c, k) for k in keys for c in only if k == "ecdsa" or explicit or c == "http-sqlite"]

    from gateway.mapping import Registry
    registry = Registry.load()
    record = exchange_record(registry)
    xml = registry.to_xml(TYPE, record, pretty=False)
    cores = os.cpu_count() or 1
    load_start = os.getloadavg()
    say(f"e2e: {TYPE}, {len(xml):,} bytes; {cores} cores, load average {load_start[0]:.2f}")
    costs = {}
    for key in keys:
        say(f"  floor ({KEY_NAMES[key]}) ...")
        costs[key] = floor(xml, registry.get(TYPE).schema, key, args.quick)
        say(f"  floor ({KEY_NAMES[key]}): one exchange {exchange_cost(costs[key]) * 1000:.2f} ms CPU, "
            f"limit {cores / exchange_cost(costs[key]):,.0f}/s")
    runs = []
    for config, key in plan:
        transport, store = config.split("-")
        run = Run(transport, store, key, limit=cores / exchange_cost(costs[key]))
        load0 = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
            say(f"  {run.label}: starting two gateway serve processes")
            with pair(Path(tmp), transport=transport, store=store, key=key) as (portal, office):
                try:
                    asyncio.run(measure(portal, office, run, record, store_url_of(portal),
                                        args.messages, args.inflight, args.seconds))
                except BaseException:
                    for serve in (portal, office):
                        say(f"--- {serve.log_path} (end)\n{serve.log_path.read_text()[-4000:]}")
                    raise
        run.load = (load0, os.getloadavg()[0])
        say("  " + run.line())
        runs.append(run)
    load_end = os.getloadavg()
    machine = (f"Machine: {cores} cores, {sys.platform}, Python {sys.version.split()[0]}; "
               f"load average (1/5/15 min) at start {' '.join(f'{v:.2f}' for v in load_start)}, "
               f"at end {' '.join(f'{v:.2f}' for v in load_end)}; {len(xml):,}-byte {TYPE}; "
               f"{args.messages:,} messages at peak with {args.inflight} in flight, "
               f"{args.seconds:.0f} s at half the peak rate.")
    text = table(runs, machine, costs)
    say("")
    say(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    say("")
    for run in runs:
        say(run.line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
