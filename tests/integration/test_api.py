"""The backend API against a real aiohttp server on 127.0.0.1 and a real store (SQLite file,
and PostgreSQL where the store matters). Every request and answer is checked against the
shipped OpenAPI document by ApiClient."""
from __future__ import annotations

import pytest
from api_support import OFFICE, PORTAL, OpenApi, example, start_pair
from lxml import etree

from gateway.backend.api import routes
from gateway.backend.tokens import Tokens
from gateway.model import State

LETTER = "korrespondenz.schreiben.0200"
APPLICATION = "personenstand.urkundenantrag.0100"


@pytest.fixture
async def pair(tmp_path):
    p = await start_pair(tmp_path)
    yield p
    await p.aclose()


@pytest.fixture
async def pg_pair(tmp_path, db_url):
    p = await start_pair(tmp_path, store_url="" if db_url.startswith("sqlite") else db_url)
    yield p
    await p.aclose()


async def token(pair, name: str, types=("*",), partners=("*",)) -> str:
    return await Tokens(pair.b.store).create(name, types=types, partners=partners, actor="test")


def test_openapi_document_covers_exactly_the_routes():
    spec = OpenApi()
    doc = spec.doc
    assert doc["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    served = {(method, "/api" + path) for method, path, _ in routes()}
    assert documented == served
    # every local $ref resolves, every operation has an id and documents 401 unless public
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert refs and all(spec.at(r.lstrip("#")) is not None for r in refs)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["operationId"]
            public = op.get("security") == []
            assert ("401" in op["responses"]) is not public, (method, path)
    assert set(doc["webhooks"]) == {"messageReceived", "messageStatus"}


async def test_health_and_openapi_are_public_everything_else_needs_a_token(pair):
    anonymous = pair.client(None)
    served = await anonymous.call("GET", "/api/openapi.json")
    assert served.status == 200 and served.json() == OpenApi().doc
    calls = [("GET", "/api/messages/" + "0" * 32), ("POST", "/api/messages"), ("GET", "/api/inbound"),
             ("GET", "/api/inbound/" + "0" * 32), ("POST", "/api/inbound/" + "0" * 32 + "/ack"),
             ("GET", "/api/partners"), ("GET", f"/api/partners/{PORTAL}"), ("GET", f"/api/schemas/{LETTER}"),
             ("GET", "/api/messages/" + "0" * 32 + "/receipts/1")]
    revoked = await token(pair, "gone")
    await Tokens(pair.b.store).revoke("gone", actor="test")
    for who, tok in (("none", None), ("wrong", "gwt_" + "x" * 43), ("revoked", revoked), ("basic", None)):
        client = pair.client(tok)
        headers = {"Authorization": "Basic b3BlcmF0b3I6eA=="} if who == "basic" else None
        for method, path in calls:
            reply = await client.call(method, path, headers=headers, check_request=False)
            assert reply.status == 401, (who, method, path)
            problem = reply.json()
            assert problem["type"] == "urn:xoev-gateway:problem:unauthenticated" and problem["instance"] == path
            challenge = reply.headers["WWW-Authenticate"]
            assert challenge.startswith('Bearer realm="xoev-gateway"')
            assert ('error="invalid_token"' in challenge) is (who in ("wrong", "revoked"))
    import aiohttp
    async with aiohttp.ClientSession() as s, s.get(pair.url + "/health") as r:
        assert r.status == 200


async def test_submit_status_and_receipts_idempotent_by_client_ref(pg_pair):
    pair = pg_pair
    api = pair.client(await token(pair, "registry", types=["korrespondenz.*"], partners=[PORTAL]))
    body = {"type": LETTER, "to": PORTAL, "record": example(LETTER), "client_ref": "AZ-2026-17"}
    first = await api.call("POST", "/api/messages", json_body=body)
    assert first.status == 201
    msg = first.json()
    assert first.headers["Location"] == f"/api/messages/{msg['id']}"
    assert (msg["state"], msg["type"], msg["partner"], msg["client_ref"]) == ("ready", LETTER, PORTAL, "AZ-2026-17")
    again = await api.call("POST", "/api/messages", json_body=body)
    assert again.status == 200 and again.json()["id"] == msg["id"]
    outside = await api.call("POST", "/api/messages", json_body=dict(body, to=OFFICE))
    assert outside.status == 403 and outside.json()["type"].endswith(":forbidden")
    operator = pair.client(pair.operator)
    # the same reference from another backend system is another message
    other_system = pair.client(await token(pair, "portal-2"))
    second = await other_system.call("POST", "/api/messages", json_body=body)
    assert second.status == 201 and second.json()["id"] != msg["id"]

    done = await pair.b.wait_final(msg["id"], timeout=15)
    assert done.state is State.ACKNOWLEDGED, done.last_error
    status = (await api.call("GET", f"/api/messages/{msg['id']}")).json()
    assert status["state"] == "acknowledged"
    assert [(s["from"], s["to"]) for s in status["timeline"] if s["from"] != s["to"]] == [
        (None, "ready"), ("ready", "sending"), ("sending", "acknowledged")]
    (receipt,) = status["receipts"]
    assert receipt["positive"] is True
    xml = await api.call("GET", receipt["href"])
    assert xml.status == 200 and xml.content_type == "application/xml"
    assert etree.QName(etree.fromstring(xml.body)).localname == "transport.quittung.0900"
    missing = await api.call("GET", f"/api/messages/{msg['id']}/receipts/999999")
    assert missing.status == 404
    # others' messages: another system gets 404 as for an unknown id (issue 14: a scoped
    # token must not learn which ids exist), the operator sees everything
    foreign = await other_system.call("GET", f"/api/messages/{msg['id']}")
    assert foreign.status == 404 and foreign.json()["detail"] == f"message {msg['id']}"
    assert (await operator.call("GET", f"/api/messages/{msg['id']}")).status == 200
    unknown = await api.call("GET", "/api/messages/" + "f" * 32)
    assert unknown.status == 404 and unknown.json()["type"].endswith(":not-found")
    assert unknown.json()["detail"] == "message " + "f" * 32
    assert set(foreign.json()) == set(unknown.json()) and foreign.json()["type"] == unknown.json()["type"]


async def test_submit_conflicting_client_ref_is_409(pair):
    api = pair.client(await token(pair, "registry"))
    body = {"type": LETTER, "to": PORTAL, "record": example(LETTER), "client_ref": "AZ-1"}
    assert (await api.call("POST", "/api/messages", json_body=body)).status == 201
    reused = await api.call("POST", "/api/messages", json_body=dict(body, type=APPLICATION,
                                                                   record=example(APPLICATION)))
    assert reused.status == 409 and "AZ-1" in reused.json()["detail"]


async def test_submit_problems_name_the_field(pair):
    api = pair.client(await token(pair, "portal", types=["korrespondenz.*", "nosuch.*"], partners=[PORTAL, "ags:0*"]))
    record = example(LETTER)
    record["betreff"] = ""
    record["unbekannt"] = 1
    bad = await api.call("POST", "/api/messages", json_body={"type": LETTER, "to": PORTAL, "record": record})
    assert bad.status == 422 and bad.content_type == "application/problem+json"
    problem = bad.json()
    assert problem["type"] == "urn:xoev-gateway:problem:invalid-record" and problem["instance"] == "/api/messages"
    paths = {e["path"] for e in problem["errors"]}
    assert "unbekannt" in paths and "betreff" in paths, problem

    record = example(LETTER)
    record["nachrichtenkopfG2g"]["autor"] = {"verzeichnisdienst": {"code": "DVDV"}, "kennung": "xyz", "name": "X"}
    rule = await api.call("POST", "/api/messages", json_body={"type": LETTER, "to": PORTAL, "record": record})
    assert rule.status == 422
    assert any(e["path"].startswith("nachrichtenkopfG2g.autor") for e in rule.json()["errors"]), rule.json()

    cases = [
        ({"type": LETTER, "to": PORTAL}, 400, {"record"}),
        ({"type": LETTER, "record": {}, "extra": 1}, 400, {"to", "extra"}),
        ({"type": "nosuch.type.0001", "to": PORTAL, "record": {}}, 422, {"type"}),
        ({"type": LETTER, "to": "ags:09999999", "record": {}}, 422, {"to"}),
        ({"type": APPLICATION, "to": PORTAL, "record": {}}, 403, set()),
        ({"type": LETTER, "to": "psw:12345678", "record": {}}, 403, set()),
    ]
    for body, status, fields in cases:
        reply = await api.call("POST", "/api/messages", json_body=body, check_request=False)
        assert reply.status == status, (body, reply.json())
        assert {e["path"] for e in reply.json().get("errors", [])} >= fields
    not_json = await api.call("POST", "/api/messages", data=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status == 400
    text = await api.call("POST", "/api/messages", data=b"type=x", headers={"Content-Type": "text/plain"})
    assert text.status == 415
    limit = pair.b.config.server.max_body_bytes
    huge = {"type": LETTER, "to": PORTAL, "record": {"betreff": "x" * limit}}
    assert (await api.call("POST", "/api/messages", json_body=huge)).status == 413
    # client input never makes a 500 (issue 14, item 6): JSON nested 10,000 deep, compressed
    # bodies that are corrupt, bombs or in an encoding we do not read
    deep = await api.call("POST", "/api/messages", data=b"[" * 10_000 + b"]" * 10_000,
                          headers={"Content-Type": "application/json"})
    assert deep.status == 400 and "nested too deeply" in deep.json()["detail"]
    import gzip
    for data, encoding, status in ((b"\x1f\x8b\x08 not gzip", "gzip", 400), (b"{}", "br", 415),
                                   (gzip.compress(b" " * (limit + 1)), "gzip", 413)):
        reply = await api.call("POST", "/api/messages", data=data, headers={
            "Content-Type": "application/json", "Content-Encoding": encoding})
        assert reply.status == status, reply.json()
    zipped = await api.call("POST", "/api/messages", data=gzip.compress(b'{"type": 1}'), headers={
        "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert zipped.status == 400 and {e["path"] for e in zipped.json()["errors"]} == {"type", "to", "record"}
    import aiohttp
    async with aiohttp.ClientSession() as s, s.delete(pair.url + "/api/messages", headers={
            "Authorization": f"Bearer {api.token}"}) as r:     # not an operation: still a problem answer
        assert r.status == 405 and r.content_type == "application/problem+json"
    assert pair.b.store and not await pair.b.store.list()          # nothing was stored


async def test_inbound_list_fetch_as_record_or_xml_and_acknowledge(pg_pair):
    pair = pg_pair
    first = await pair.receive_at_b(LETTER)
    second = await pair.receive_at_b(APPLICATION)
    api = pair.client(await token(pair, "efile", types=["korrespondenz.*", "personenstand.*"], partners=[PORTAL]))
    narrow = pair.client(await token(pair, "letters", types=["korrespondenz.*"], partners=[PORTAL]))

    page = (await api.call("GET", "/api/inbound?state=verified")).json()
    assert [m["id"] for m in page["items"]] == [second.id, first.id] and page["next_cursor"] is None
    one = (await api.call("GET", "/api/inbound?limit=1")).json()
    assert [m["id"] for m in one["items"]] == [second.id] and one["next_cursor"] == second.id
    rest = (await api.call("GET", f"/api/inbound?limit=1&cursor={one['next_cursor']}")).json()
    assert [m["id"] for m in rest["items"]] == [first.id]
    assert [m["id"] for m in (await narrow.call("GET", "/api/inbound")).json()["items"]] == [first.id]
    typed = (await api.call("GET", f"/api/inbound?type={LETTER}&partner={PORTAL}&since=2000-01-01T00:00:00Z")).json()
    assert [m["id"] for m in typed["items"]] == [first.id]
    assert (await narrow.call("GET", f"/api/inbound?type={APPLICATION}")).status == 403
    for query in ("state=bogus", "limit=0", "since=yesterday", "cursor=xyz"):
        assert (await api.call("GET", f"/api/inbound?{query}")).status == 400, query

    fetched = (await api.call("GET", f"/api/inbound/{first.id}")).json()
    assert fetched["message"]["state"] == "verified" and fetched["message"]["direction"] == "in"
    assert fetched["record"]["betreff"] == example(LETTER)["betreff"]
    assert fetched["record"]["nachrichtenkopfG2g"]["autor"]["kennung"] == PORTAL
    stored = await pair.b.store.payload(first.id)
    for how in ({"headers": {"Accept": "application/xml"}}, {"path": "?format=xml"},
                {"headers": {"Accept": "application/json;q=0.5, application/xml"}}):
        xml = await api.call("GET", f"/api/inbound/{first.id}{how.get('path', '')}", headers=how.get("headers"))
        assert xml.status == 200 and xml.content_type == "application/xml" and xml.body == stored
    assert (await api.call("GET", f"/api/inbound/{first.id}", headers={"Accept": "text/html"})).status == 406
    assert (await narrow.call("GET", f"/api/inbound/{second.id}")).status == 404
    outbound = await pair.b.submit(LETTER, example(LETTER), to=PORTAL)
    assert (await api.call("GET", f"/api/inbound/{outbound.id}")).status in (403, 404)

    status = (await api.call("GET", f"/api/messages/{first.id}")).json()     # our receipt to the sender
    (sent,) = status["receipts"]
    assert sent["kind"] == "receipt-sent" and sent["positive"] is True
    assert (await api.call("GET", sent["href"])).content_type == "application/xml"

    acked = await api.call("POST", f"/api/inbound/{first.id}/ack", json_body={"note": "Akte 4711"})
    assert acked.status == 200
    data = acked.json()
    assert data["state"] == "acknowledged"
    moves = [(s["from"], s["to"], s["actor"]) for s in data["timeline"] if s["from"] != s["to"]]
    assert moves[-2:] == [("verified", "delivered", "api:efile"), ("delivered", "acknowledged", "api:efile")]
    assert "Akte 4711" in data["timeline"][-1]["detail"]
    again = await api.call("POST", f"/api/inbound/{first.id}/ack")
    assert again.status == 200 and again.json()["state"] == "acknowledged"
    assert (await pair.b.store.get(first.id)).state is State.ACKNOWLEDGED
    verified = (await api.call("GET", "/api/inbound?state=verified")).json()["items"]
    assert [m["id"] for m in verified] == [second.id]
    assert (await api.call("POST", f"/api/inbound/{second.id}/ack", json_body={"note": 5},
                          check_request=False)).status == 400


async def test_ack_of_a_rejected_message_is_409(pair):
    from gateway.model import Direction
    msg = await pair.a.submit(LETTER, example(LETTER), to=OFFICE)
    xml = await pair.a.store.payload(msg.id)
    stored = await pair.b.store.record_inbound(message_uuid="u-1", message_type=LETTER, partner=PORTAL,
                                               payload=xml, actor="test", state=State.REJECTED)
    api = pair.client(pair.operator)
    reply = await api.call("POST", f"/api/inbound/{stored.message.id}/ack")
    assert reply.status == 409 and "rejected" in reply.json()["detail"]
    assert (await pair.b.store.get(stored.message.id)).direction is Direction.IN


async def test_partners_and_schemas_within_scope(pair):
    api = pair.client(await token(pair, "letters", types=["korrespondenz.*"], partners=[PORTAL]))
    partners = (await api.call("GET", "/api/partners")).json()
    assert [p["id"] for p in partners] == [PORTAL]
    assert (await api.call("GET", f"/api/partners/{PORTAL}")).json()["id"] == PORTAL
    assert (await api.call("GET", "/api/partners/ags:01234567")).status == 404
    schema = await api.call("GET", f"/api/schemas/{LETTER}")
    assert schema.status == 200 and schema.json() == pair.b.registry.json_schema(LETTER)
    assert (await api.call("GET", f"/api/schemas/{APPLICATION}")).status == 403
    everything = pair.client(pair.operator)
    assert (await everything.call("GET", "/api/schemas/korrespondenz.nosuch.0200")).status == 404


@pytest.mark.parametrize("accepted", [True, False])
async def test_operator_token_from_env_and_switched_off(tmp_path, accepted):
    pair = await start_pair(tmp_path, office_extra={"server": {"api_token": "env:OPERATOR_TOKEN"},
                                                    "api": {"operator_token": accepted}})
    try:
        assert not (tmp_path / "b" / "data" / "api-token").exists()
        reply = await pair.client(pair.operator).call("GET", "/api/partners")
        assert reply.status == (200 if accepted else 401)
        ok = await pair.client(await token(pair, "portal")).call("GET", "/api/partners")
        assert ok.status == 200
    finally:
        await pair.aclose()
