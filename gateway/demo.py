"""The demo: two gateways on 127.0.0.1 exchange a birth-certificate application and its answer.

A citizen portal (ags:09162000) and a civil registry office (psw:09162000) each run a real
gateway with its own SQLite store, development keys and HTTP (or SOAP) server, trusting only
each other's certificate. The portal submits the application from `examples/`; the office
verifies, validates and stores it, answers with a signed receipt, reads the record from the
signed content only, and sends its answer back. Both routing slips and audit chains are shown.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import bootstrap
from . import config as configuration
from .errors import GatewayError
from .model import Direction, State
from .resources import examples_dir

PORTAL, PORTAL_NAME = "ags:09162000", "Bürgerportal der Landeshauptstadt München"
OFFICE, OFFICE_NAME = "psw:09162000", "Standesamt München"
APPLICATION = "personenstand.urkundenantrag.0100"
ANSWER = "personenstand.urkundenantragAntwort.0101"


@dataclass
class Node:
    """One running demo gateway: its wired Gateway and its aiohttp runner."""

    name: str
    gateway: object
    runner: object


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tables(folder: Path, transport: str, ports: tuple[int, int]) -> tuple[dict, dict]:
    """Config tables for the portal and the office, each trusting only the other's certificate."""
    path = "/soap" if transport == "soap" else ""
    portal_dir, office_dir = folder / "portal", folder / "office"

    def table(me, name, port, other, other_name, other_port, other_dir):
        return {
            "gateway": {"data_dir": "data", "authority_id": me, "authority_name": name, "node_id": name},
            "server": {"host": "127.0.0.1", "port": port},
            "delivery": {"timeout": 10, "connect_timeout": 5, "backoff_initial": 0.2, "max_attempts": 3},
            "partners": {other: {
                "name": other_name, "endpoints": [f"http://127.0.0.1:{other_port}{path}"],
                "transport": transport, "accepts": ["*"],
                "trust": {"certificates": [str(other_dir / "data" / "keys" / "signing.cert.pem")]}}},
        }

    return (table(PORTAL, PORTAL_NAME, ports[0], OFFICE, OFFICE_NAME, ports[1], office_dir),
            table(OFFICE, OFFICE_NAME, ports[1], PORTAL, PORTAL_NAME, ports[0], portal_dir))


def load_example(type_id: str) -> dict:
    """An example record from examples/."""
    return json.loads((examples_dir() / f"{type_id}.json").read_text(encoding="utf-8"))


async def run(folder: Path, *, transport: str = "http", say: Callable[[str], None] = print,
              load: int = 0) -> int:
    """Run the whole scenario (and, with `load`, that many more applications through the same
    two gateways: rate and latency); returns 0 when every step ended as expected."""
    folder = folder.resolve()
    now = datetime.now(timezone.utc)
    for sub, me, name in (("portal", PORTAL, PORTAL_NAME), ("office", OFFICE, OFFICE_NAME)):
        base = folder / sub
        base.mkdir(parents=True, exist_ok=True)
        bootstrap.ensure_dev_keys(configuration.from_dict(
            {"gateway": {"data_dir": "data", "authority_id": me, "authority_name": name}},
            base_dir=base), now)
    ports = (free_port(), free_port())
    raw_portal, raw_office = tables(folder, transport, ports)
    nodes: list[Node] = []
    try:
        for sub, raw in (("portal", raw_portal), ("office", raw_office)):
            nodes.append(await _start(sub, configuration.from_dict(raw, base_dir=folder / sub,
                                                                   source=f"demo {sub}")))
        portal, office = nodes
        say(f"1. Two gateways are running over {transport.upper()}: {PORTAL} "
            f"(127.0.0.1:{ports[0]}) and {OFFICE} (127.0.0.1:{ports[1]}), data in {folder}")
        sent = await _send(portal, APPLICATION, load_example(APPLICATION), OFFICE, say, step=2)
        if sent is None:
            return 1
        record = await _read_inbound(office, sent.message_uuid, PORTAL, say, step=3)
        if record is None:
            return 1
        answer = load_example(ANSWER)
        answer["referenzUUID"] = sent.message_uuid
        answer.pop("ablehnung", None)
        answer["annahme"] = {"gebuehr": {"value": "12.00"}, "versanddatum": now.date().isoformat()}
        answered = await _send(office, ANSWER, answer, PORTAL, say, step=4)
        if answered is None:
            return 1
        back = await _read_inbound(portal, answered.message_uuid, OFFICE, say, step=5)
        if back is None:
            return 1
        say("6. Routing slips (timeline of each message at the sender):")
        for node, msg in ((portal, sent), (office, answered)):
            for entry in await node.gateway.store.history(msg.id):
                frm = entry.from_state.value if entry.from_state else "-"
                say(f"   {node.name:<7} {msg.message_type:<42} {frm:>12} -> {entry.to_state.value:<12} "
                    f"{entry.detail[:70]}")
        ok = True
        for node in nodes:
            report = await node.gateway.store.verify_audit()
            intact = report.broken is None
            ok &= intact
            say(f"7. Audit chain of the {node.name}: {report.count} entries, "
                f"{'intact' if intact else 'BROKEN at ' + str(report.broken)}, head {report.head_hash[:16]}…")
        if load > 0:
            ok &= await _load(portal, load, say, step=8)
        return 0 if ok else 1
    finally:
        for node in reversed(nodes):
            await node.runner.cleanup()
            await node.gateway.aclose()


async def _start(name: str, config) -> Node:
    from aiohttp import web

    gw = await bootstrap.build(config)
    runner = web.AppRunner(bootstrap.create_app(gw), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.server.host, config.server.port).start()
    return Node(name, gw, runner)


async def _send(node: Node, type_id: str, record: dict, to: str, say, *, step: int):
    """Submit, deliver and wait for the partner's signed receipt."""
    gw = node.gateway
    try:
        msg = await gw.submit(type_id, record, to=to, client="demo")
    except GatewayError as exc:
        say(f"{step}. The {node.name} could not submit {type_id}: {exc}")
        return None
    msg = await gw.wait_final(msg.id, timeout=30)
    receipts = await gw.store.receipts(msg.id)
    ok = msg.state is State.ACKNOWLEDGED and receipts
    say(f"{step}. The {node.name} sent {type_id} {msg.message_uuid} to {to}: {msg.state.value}"
        + (f", signed receipt verified ({receipts[-1].detail})" if ok else f" ({msg.last_error})"))
    return msg if ok else None


async def _load(node: Node, count: int, say, *, step: int, inflight: int = 8) -> bool:
    """`count` applications from the portal, `inflight` submits at a time, delivered as they
    come; prints acknowledged exchanges/s and submit -> acknowledged p50/p99."""
    gw = node.gateway
    record = load_example(APPLICATION)
    say(f"{step}. Load: {count} applications from the {node.name} to {OFFICE}, {inflight} submits at a time")
    loop = asyncio.get_running_loop()
    started: dict[str, float] = {}
    queue = iter(range(count))
    submitting = True

    async def submitter() -> None:
        for i in queue:
            began = loop.time()
            msg = await gw.submit(APPLICATION, record, to=OFFICE, client="demo-load",
                                  client_ref=f"load-{began}-{i}")
            started[msg.id] = began

    async def deliverer() -> None:   # claims what is due as soon as it is there
        while True:
            finished = not submitting    # read before the drain: nothing submitted after it
            if await gw.drain_once(50):
                continue
            if finished:
                return
            await asyncio.sleep(0.01)

    start, load_start = loop.time(), os.getloadavg()[0]
    delivering = asyncio.ensure_future(deliverer())
    try:
        await asyncio.gather(*(submitter() for _ in range(inflight)))
    finally:
        submitting = False
    await asyncio.wait_for(delivering, timeout=60 + count)
    offset = loop.time() - datetime.now(timezone.utc).timestamp()   # wall clock -> loop clock
    latencies, states = [], {}
    for msg_id, began in started.items():
        msg = await gw.store.get(msg_id)
        states[msg.state.value] = states.get(msg.state.value, 0) + 1
        if msg.state is State.ACKNOWLEDGED:
            latencies.append(msg.updated_at.timestamp() + offset - began)
    elapsed = max((b + lat for b, lat in zip(started.values(), latencies)), default=loop.time()) - start
    latencies.sort()
    done = len(latencies)
    say(f"   {done} of {count} acknowledged in {elapsed:.1f} s: {done / max(elapsed, 1e-9):.0f} exchanges/s; "
        f"submit -> acknowledged p50 {_ms(latencies, 0.5)}, p99 {_ms(latencies, 0.99)} "
        f"({os.cpu_count()} cores, load average {load_start:.2f} -> {os.getloadavg()[0]:.2f})")
    if done < count:
        say("   not acknowledged: " + ", ".join(f"{n} {s}" for s, n in states.items() if s != "acknowledged"))
    return done == count


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    return f"{values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000:.0f} ms"


async def _read_inbound(node: Node, message_uuid: str, sender: str, say, *, step: int):
    """Find the received message, verify its signature again and read the signed record."""
    gw = node.gateway
    found = [m for m in await gw.store.list(direction=Direction.IN, limit=50)
             if m.message_uuid == message_uuid]
    if not found:
        say(f"{step}. The {node.name} has no message {message_uuid}")
        return None
    msg = found[0]
    payload = await gw.store.payload(msg.id)
    verified = gw.verifier.verify(payload, partner=sender, now=datetime.now(timezone.utc))
    _, record = gw.registry.parse(verified.tree, validate=False)
    say(f"{step}. The {node.name} received {msg.message_type} from {sender} ({msg.state.value}); "
        f"signed by {verified.signer.subject}")
    say("   " + _summary(msg.message_type, record))
    return record


def _summary(type_id: str, record: dict) -> str:
    if type_id == APPLICATION:
        who = record["antragsteller"]
        child = record["betroffenePerson"]
        return (f"{who['vornamen']} {who['familienname']} applies for a certificate "
                f"'{record['urkundenart']['code']}' for {child['vornamen']} {child['familienname']} "
                f"(born {child['geburt']['geburtsdatum']}), {record['anzahl']} copy, SEPA "
                f"{record['sepaLastschrift']['iban'][:4]}…")
    if "annahme" in record:
        fee = record["annahme"]["gebuehr"]
        return (f"accepted: fee {fee['value']} {fee.get('waehrung', 'EUR')}, "
                f"dispatch by post on {record['annahme']['versanddatum']}")
    return f"refused: {record.get('ablehnung', {}).get('begruendung', '')}"
