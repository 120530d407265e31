"""End to end over XTA 2 (versions 3 and 5): two gateways wired by bootstrap, each with its
own store, keys and mailbox at ONE fake provider (per version) that validates every request
against the real XSDs. The gateways run their real scheduler jobs (outbox, poll): A's
application goes into B's mailbox, B's poll stores it and only then closes it, B's signed
receipt travels back through the provider as a message, and A's message is acknowledged
with the transport report in its routing slip.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from exchange_pair import OFFICE, PORTAL, pair_tables
from support.xta_fake import FakeProvider

from gateway import bootstrap
from gateway import config as cfg
from gateway import xml as hardened
from gateway.errors import ConfigError
from gateway.exchange.header import read_header
from gateway.exchange.receipt_flow import RECEIPT_CLIENT
from gateway.exchange.receipts import RECEIPT_TYPE
from gateway.model import Direction, State
from gateway.operations.scheduler import for_gateway

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
APPLICATION = "personenstand.urkundenantrag.0100"
SERVICE = "urn:xoev-de:xpersonenstand:test:antrag"
FAST = {"poll_interval": 0.1, "folders_interval": 1, "inbound_interval": 1, "certificates_time": ""}


@pytest.fixture(params=["3", "5"], ids=["v3", "v5"])
async def fake(request, reference_dir):
    """One fake provider of the version, with a mailbox (account) per gateway."""
    async with FakeProvider(reference_dir, request.param) as provider:
        for party in (PORTAL, OFFICE):
            provider.add_account(party)
            provider.offer(party, SERVICE)
        yield provider
        assert provider.rejected == [], "a gateway sent requests that violate the XTA XSDs"


def xta_configs(root: Path, fake, **options: str) -> tuple[cfg.Config, cfg.Config]:
    """Gateway A (portal) and B (registry office), every partner reached through `fake`."""
    raw_a, raw_b = pair_tables(root, transport="xta", endpoint_a=fake.url("send"), endpoint_b=fake.url("send"))
    configs = []
    for raw, folder in ((raw_a, root / "a"), (raw_b, root / "b")):
        raw["scheduler"] = dict(FAST)
        raw["delivery"].update(drain_interval=0.1)
        for partner in raw["partners"].values():
            partner["options"] = {       # no "account": it defaults to [gateway] authority_id
                "version": fake.version, "wsdl": str(fake.wsdl),
                "send_endpoint": fake.url("send"), "mailbox_endpoint": fake.url("mailbox"),
                "management_endpoint": fake.url("management"),
                "business_scenario": "XPERSONENSTAND_TEST", "service": SERVICE, **options}
        configs.append(cfg.from_dict(raw, base_dir=folder))
    return configs[0], configs[1]


class Node:
    """One wired gateway with its scheduler (the jobs `gateway serve` runs)."""

    def __init__(self, config: cfg.Config):
        self.config = config

    async def __aenter__(self) -> "Node":
        self.gw = await bootstrap.build(self.config)
        self.sched, self.jobs = for_gateway(self.gw, self.config)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.sched.aclose()
        await self.jobs.aclose()
        await self.gw.aclose()


def application() -> dict:
    record = json.loads((EXAMPLES / f"{APPLICATION}.json").read_text())
    record["nachrichtenkopfG2g"].pop("leser", None)
    return record


async def until(check, timeout: float = 30.0, what: str = ""):
    """Await `check()` until it returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


async def state_is(gw, msg_id: str, state: State):
    msg = await gw.store.get(msg_id)
    return msg if msg.state is state else None


async def test_application_arrives_through_the_mailbox_and_the_receipt_comes_back(fake, tmp_path):
    config_a, config_b = xta_configs(tmp_path, fake)
    async with Node(config_a) as a, Node(config_b) as b:
        assert {n.name for n in a.jobs.sources} == {f"xta:{PORTAL}"}    # account from [gateway]
        await a.sched.start()
        await b.sched.start()
        msg = await a.gw.submit(APPLICATION, application(), to=OFFICE)

        done = await until(lambda: state_is(a.gw, msg.id, State.ACKNOWLEDGED), what="A acknowledged")

        # B: stored (verified, waiting for its backend), closed at the provider afterwards
        got = await b.gw.store.find(Direction.IN, msg.message_uuid)
        assert got is not None and got.state is State.VERIFIED and got.partner == PORTAL
        assert await b.gw.store.payload(got.id) == await a.gw.store.payload(msg.id)
        xta_id = done.transport_id
        assert fake.sent[xta_id].closed and fake.sent[xta_id].reader == OFFICE
        b_slip = [h.detail for h in await b.gw.store.history(got.id)]
        assert any(d.startswith("xta-fetched: ") and xta_id in d for d in b_slip)
        assert any("receipt" in d and "queued to go back" in d for d in b_slip)
        assert b_slip[-1] == f"settled at xta:{OFFICE} ({xta_id})"          # closed after storing
        (given,) = [r for r in await b.gw.store.receipts(got.id) if r.kind == "receipt-sent"]

        # B's receipt went out as B's own outbound message, done once the provider took it
        (back,) = await b.gw.store.list(direction=Direction.OUT)
        assert (back.message_type, back.partner, back.client) == (RECEIPT_TYPE, PORTAL, RECEIPT_CLIENT)
        await until(lambda: state_is(b.gw, back.id, State.ACKNOWLEDGED), what="B's receipt handed over")
        assert fake.sent[(await b.gw.store.get(back.id)).transport_id].closed    # A took it

        # A: the routing slip tells the whole story; the receipt is B's, verified and stored
        slip = await a.gw.store.history(msg.id)
        assert [h.to_state for h in slip if h.from_state != h.to_state] == [
            State.READY, State.SENDING, State.SENT, State.ACKNOWLEDGED]
        details = [h.detail for h in slip]
        assert any(d.startswith("provider-accepted: ") and OFFICE in d for d in details)
        assert any(d.startswith("transport-report: ") and "status 0 (open)" in d for d in details)
        receipts = {r.kind: r for r in await a.gw.store.receipts(msg.id)}
        assert set(receipts) == {"transport-report", "receipt"}
        assert b"TransportReport" in receipts["transport-report"].xml
        assert receipts["receipt"].positive and receipts["receipt"].xml == given.xml

        # no receipt loop: A stored no inbound message and sent nothing back
        assert await a.gw.store.list(direction=Direction.IN) == []
        assert [m.message_type for m in await a.gw.store.list(direction=Direction.OUT)] == [APPLICATION]
        await asyncio.sleep(0.5)                                  # a few more polls: still quiet
        assert len(fake.sent) == 2 and fake.mailbox(PORTAL) == [] == fake.mailbox(OFFICE)


async def test_crash_between_fetch_and_close_redelivers_and_stores_once(fake, tmp_path):
    config_a, config_b = xta_configs(tmp_path, fake)
    async with Node(config_a) as a:
        msg = await a.gw.submit(APPLICATION, application(), to=OFFICE)
        assert await a.sched.run("outbox") == 1
        sent = await a.gw.store.get(msg.id)
        assert sent.state is State.SENT and len(fake.mailbox(OFFICE)) == 1

        async with Node(config_b) as b:                      # B fetches and stores, then the
            fake.fail_next("close", fake.codec.technical, "9030")  # close never happens
            assert "0 accepted, 0 rejected, 1 left" in await b.sched.run("poll")
            got = await b.gw.store.find(Direction.IN, msg.message_uuid)
            assert got is not None and got.state is State.VERIFIED
        assert len(fake.mailbox(OFFICE)) == 1                # B is gone; the provider kept it

        async with Node(config_b) as b:                      # B restarted: offered again
            assert "1 accepted" in await b.sched.run("poll")
            assert fake.sent[sent.transport_id].fetches == 2 and fake.mailbox(OFFICE) == []
            (only,) = await b.gw.store.list(direction=Direction.IN)
            assert only.id == got.id
            assert any("duplicate" in h.detail for h in await b.gw.store.history(got.id))
            (back,) = await b.gw.store.list(direction=Direction.OUT)   # one receipt, not two
            await b.sched.run("outbox")

        assert [m.author for m in fake.sent.values()].count(OFFICE) == 1
        await a.sched.run("poll")
        done = await a.gw.store.get(msg.id)
        assert done.state is State.ACKNOWLEDGED, done.last_error
        assert fake.mailbox(PORTAL) == []


async def test_a_lost_receipt_is_sent_again_when_the_sender_sends_again(fake, tmp_path):
    """B's receipt is lost on the way: A's receipt deadline passes, A sends the message
    again, B recognises the duplicate (stores nothing new) and sends a new receipt, which
    acknowledges A's message. Each step is one run of the node's real jobs."""
    config_a, config_b = xta_configs(tmp_path, fake)
    config_a = replace(config_a, sections={**config_a.sections, "delivery": replace(
        config_a.delivery, receipt_timeout=4, backoff_initial=0.1)})
    async with Node(config_a) as a, Node(config_b) as b:
        assert "receipts" in a.sched.jobs
        msg = await a.gw.submit(APPLICATION, application(), to=OFFICE)
        assert await a.sched.run("outbox") == 1
        first_send = await a.gw.store.get(msg.id)
        assert "1 accepted" in await b.sched.run("poll")
        assert await b.sched.run("outbox") == 1              # B's receipt handed to the provider ...
        (lost,) = fake.mailbox(PORTAL)
        lost.closed = True                                   # ... and lost before A fetched it
        assert await a.sched.run("poll") == "nothing"
        assert await a.sched.run("receipts") == "0 overdue: 0 to be sent again, 0 dead, 0 changed meanwhile"

        await asyncio.sleep(4.1)                             # A's deadline passes (4 s: room for a loaded machine)
        assert (await a.sched.run("receipts")).startswith("1 overdue: 1 to be sent again")
        waiting = await a.gw.store.get(msg.id)
        assert waiting.state is State.RETRY_WAIT and waiting.last_error == "no receipt within 4 s"
        await asyncio.sleep(0.2)                             # backoff 0.1 s
        assert await a.sched.run("outbox") == 1              # sent again: a new XTA message
        resent = await a.gw.store.get(msg.id)
        assert resent.state is State.SENT and resent.attempts == 2
        assert resent.transport_id != first_send.transport_id

        assert "1 accepted" in await b.sched.run("poll")     # a duplicate for B ...
        (got,) = await b.gw.store.list(direction=Direction.IN)
        assert any("duplicate" in h.detail for h in await b.gw.store.history(got.id))
        assert await b.sched.run("outbox") == 1              # ... answered with a new receipt
        await a.sched.run("poll")
        done = await a.gw.store.get(msg.id)
        assert done.state is State.ACKNOWLEDGED, done.last_error

        backs = {m.client_ref: m for m in await b.gw.store.list(direction=Direction.OUT)}
        assert set(backs) == {got.id, f"{got.id}/2"}
        assert backs[got.id].message_uuid != backs[f"{got.id}/2"].message_uuid
        assert all(m.state is State.ACKNOWLEDGED and m.client == RECEIPT_CLIENT for m in backs.values())
        (receipt,) = [r for r in await a.gw.store.receipts(msg.id) if r.kind == "receipt"]
        assert receipt.xml == await b.gw.store.payload(backs[f"{got.id}/2"].id)
        slip = [h.detail for h in await a.gw.store.history(msg.id)]
        assert "attempt 1 failed, retry in 0s: no receipt within 4 s" in slip
        assert [h.to_state for h in await a.gw.store.history(msg.id) if h.from_state != h.to_state] == [
            State.READY, State.SENDING, State.SENT, State.RETRY_WAIT, State.SENDING, State.SENT,
            State.ACKNOWLEDGED]

        for node in (b, a, b, a):                            # quiet afterwards: nothing more goes back
            await node.sched.run("poll")
            await node.sched.run("outbox")
        assert len(await b.gw.store.list(direction=Direction.OUT)) == 2
        assert await a.gw.store.list(direction=Direction.IN) == []
        assert fake.mailbox(PORTAL) == [] == fake.mailbox(OFFICE)


async def test_sync_reply_is_processed_right_after_the_send(fake, tmp_path):
    config_a, config_b = xta_configs(tmp_path, fake, mode="sync")
    fake.offer(OFFICE, SERVICE, sync=True)                   # the office answers synchronously
    async with Node(config_a) as a, Node(config_b) as b:
        def answer(order: dict) -> bytes:                    # B's signed receipt as the reply
            uuid = read_header(hardened.parse(order["content"]).getroot()).message_uuid
            now = datetime.now(timezone.utc)
            return b.gw.receipts.build(refers_to=uuid, reader=PORTAL, reader_name="Bürgerportal",
                                       accepted=True, feedback=(), received_at=now, now=now)

        fake.sync_responder = answer
        msg = await a.gw.submit(APPLICATION, application(), to=OFFICE)
        assert await a.sched.run("outbox") == 1
        done = await a.gw.store.get(msg.id)
        assert done.state is State.ACKNOWLEDGED, done.last_error
        kinds = sorted(r.kind for r in await a.gw.store.receipts(msg.id))
        assert kinds == ["receipt", "sync-reply", "transport-report"]
        assert any("sync reply" in h.detail and "processed: accepted" in h.detail
                   for h in await a.gw.store.history(msg.id))
        assert await a.gw.store.list(direction=Direction.IN) == []          # a receipt: no message

        fake.sync_responder = None                            # the fake's own echo: no gateway message
        other = await a.gw.submit(APPLICATION, application(), to=OFFICE)
        await a.sched.run("outbox")
        waiting = await a.gw.store.get(other.id)
        assert waiting.state is State.SENT                    # still waits for a receipt
        (reply,) = [r for r in await a.gw.store.receipts(other.id) if r.kind == "sync-reply"]
        assert b"inReplyTo" in reply.xml
        assert any("no gateway message" in h.detail for h in await a.gw.store.history(other.id))


async def test_bad_xta_options_refuse_to_start(fake, tmp_path):
    config_a, _ = xta_configs(tmp_path, fake, buisness_scenario="typo")
    with pytest.raises(ConfigError, match="did you mean 'business_scenario'"):
        await bootstrap.build(config_a)
