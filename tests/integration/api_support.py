"""Helpers for the backend API and webhook tests: two wired gateways over the memory
transport, the office's full application on a real aiohttp server on 127.0.0.1, a client
that checks every request and response against the shipped OpenAPI document, and a webhook
receiver."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from exchange_pair import OFFICE, PORTAL, pair_tables
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from adapters.memory import MemoryNetwork, MemorySender
from gateway import bootstrap
from gateway import config as cfg
from gateway.backend.api.catalog import document
from gateway.ports import ClientSettings, Peer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOC_URI = "urn:xoev-gateway:openapi"
ENVIRON = {"WEBHOOK_SECRET": "s" * 32, "OPERATOR_TOKEN": "operator-token-from-env-0123456789"}
__all__ = ["OFFICE", "PORTAL", "example", "OpenApi", "ApiClient", "Pair", "start_pair", "Receiver"]


def example(type_id: str) -> dict:
    """An example record without reader (the gateway fills it from the directory)."""
    record = json.loads((EXAMPLES / f"{type_id}.json").read_text())
    record.get("nachrichtenkopfG2g", {}).pop("leser", None)
    return record


class OpenApi:
    """The shipped OpenAPI 3.1 document as a checker: operation lookup and JSON Schema
    validation of bodies against the schemas inside the document (refs resolved in it)."""

    def __init__(self, doc: dict | None = None):
        self.doc = doc or document()
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC_URI, resource)
        self.checked: set[tuple[str, str, str]] = set()

    def validate(self, pointer: str, instance: Any, what: str) -> None:
        """Validate `instance` against the schema at `pointer` inside the document (its refs
        resolve in the document); AssertionError listing every violation."""
        validator = Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{what}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)

    def at(self, pointer: str) -> Any:
        """The document node at a JSON pointer."""
        node: Any = self.doc
        for part in pointer.lstrip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def resolve(self, pointer: str) -> str:
        """Follow local $refs from `pointer`; the pointer of the final node."""
        while "$ref" in self.at(pointer):
            pointer = self.at(pointer)["$ref"].lstrip("#")
        return pointer

    def operation(self, method: str, path: str) -> tuple[str, str]:
        """(path template, pointer of the operation object) for a concrete request path."""
        path = path.split("?")[0]
        for template, item in self.doc["paths"].items():
            parts, want = template.split("/"), path.split("/")
            if len(parts) == len(want) and all(p.startswith("{") or p == w for p, w in zip(parts, want)):
                assert method.lower() in item, f"{method} {template} is not in the OpenAPI document"
                return template, f"/paths/{_esc(template)}/{method.lower()}"
        raise AssertionError(f"{method} {path} matches no path of the OpenAPI document")

    def check_request(self, method: str, path: str, body: Any) -> None:
        """A JSON request body must match the operation's request schema."""
        _, op = self.operation(method, path)
        if body is None:
            assert not self.at(op).get("requestBody", {}).get("required"), f"{method} {path} needs a body"
            return
        self.validate(f"{op}/requestBody/content/application~1json/schema", body, f"request {method} {path}")

    def check_response(self, method: str, path: str, status: int, content_type: str,
                       headers: Any, body: bytes) -> None:
        """The status must be documented for the operation, the media type listed, a JSON
        body valid against its schema, and documented headers present."""
        template, op = self.operation(method, path)
        answers = self.at(op)["responses"]
        key = next((k for k in (str(status), f"{str(status)[0]}XX", "default") if k in answers), None)
        assert key is not None, f"{method} {template}: status {status} is not documented"
        pointer = self.resolve(f"{op}/responses/{key}")
        spec = self.at(pointer)
        content = spec.get("content", {})
        assert content_type in content, f"{method} {template} {status}: {content_type} not in {list(content)}"
        for name in spec.get("headers", {}):
            assert name in headers, f"{method} {template} {status}: header {name} missing"
        if content_type.endswith("json"):
            self.validate(f"{pointer}/content/{_esc(content_type)}/schema", json.loads(body),
                          f"response {method} {template} {status}")
        self.checked.add((method.upper(), template, str(status)))


def _esc(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@dataclass
class Reply:
    """One API answer."""

    status: int
    headers: Any
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)


class ApiClient:
    """Calls the API with a token; every request and answer is checked against the OpenAPI
    document."""

    def __init__(self, url: str, token: str | None, spec: OpenApi):
        self.url, self.token, self.spec = url, token, spec

    def with_token(self, token: str | None) -> "ApiClient":
        return ApiClient(self.url, token, self.spec)

    async def call(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
                   headers: dict | None = None, check_request: bool = True) -> Reply:
        headers = dict(headers or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if json_body is not None and check_request:
            self.spec.check_request(method, path, json_body)
        async with aiohttp.ClientSession() as s:
            async with s.request(method, self.url + path, json=json_body, data=data, headers=headers) as r:
                body = await r.read()
                reply = Reply(r.status, r.headers, body, r.content_type)
        self.spec.check_response(method, path, reply.status, reply.content_type, reply.headers, body)
        return reply


@dataclass
class Pair:
    """Portal gateway A and office gateway B; B's application served on 127.0.0.1."""

    a: Any
    b: Any
    url: str
    operator: str
    runner: Any
    spec: OpenApi = field(default_factory=OpenApi)

    def client(self, token: str | None) -> ApiClient:
        return ApiClient(self.url, token, self.spec)

    async def receive_at_b(self, type_id: str = "korrespondenz.schreiben.0200") -> Any:
        """Send a message from A to B; return B's stored inbound message."""
        msg = await self.a.submit(type_id, example(type_id), to=OFFICE)
        done = await self.a.wait_final(msg.id, timeout=15)
        assert done.state.value == "acknowledged", done.last_error
        from gateway.model import Direction
        return await self.b.store.find(Direction.IN, msg.message_uuid)

    async def aclose(self) -> None:
        await self.runner.cleanup()
        for gw in (self.a, self.b):
            await gw.aclose()


async def start_pair(root: Path, *, store_url: str = "", office_extra: dict | None = None) -> Pair:
    """Build A and B (B with `office_extra` config tables merged in) and serve B's app."""
    net = MemoryNetwork()
    raw_a, raw_b = pair_tables(root, transport="memory", endpoint_a="memory://a", endpoint_b="memory://b")
    if store_url:
        raw_b["store"] = {"url": store_url}
    for key, table in (office_extra or {}).items():
        raw_b[key] = {**raw_b.get(key, {}), **table}
    gws = []
    for raw, folder in ((raw_a, root / "a"), (raw_b, root / "b")):
        config = cfg.from_dict(raw, base_dir=folder, environ=ENVIRON)
        gws.append(await bootstrap.build(config, senders={"memory": MemorySender(ClientSettings(timeout=10), net)}))
    a, b = gws
    for name, gw in (("a", a), ("b", b)):
        net.listen(name, lambda xml, gw=gw: _receipt(gw, xml))
    runner = web.AppRunner(bootstrap.create_app(b))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    file = root / "b" / "data" / "api-token"
    operator = file.read_text().strip() if file.exists() else ENVIRON["OPERATOR_TOKEN"]
    return Pair(a, b, f"http://127.0.0.1:{port}", operator, runner)


async def _receipt(gw, xml: bytes) -> bytes:
    return (await gw.inbound.receive(xml, Peer("memory"))).receipt_xml


class Receiver:
    """A backend's webhook endpoint on 127.0.0.1: records every push and answers with the
    next status of `answers` (the last one repeats)."""

    def __init__(self, answers: list[int] | None = None):
        self.answers = list(answers or [204])
        self.pushes: list[tuple[dict, bytes]] = []
        self.runner = None
        self.url = ""

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"
        return self

    async def _hook(self, request: web.Request) -> web.Response:
        self.pushes.append((dict(request.headers), await request.read()))
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return web.Response(status=status)

    async def aclose(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
