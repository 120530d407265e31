"""Two wired gateways over the memory transport for the drop-folder and scheduler tests:
A (the portal, with folders configured) sends to B (the office); B counts every delivery."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from exchange_pair import OFFICE, PORTAL, pair_tables

from adapters.memory import MemoryNetwork, MemorySender
from gateway import bootstrap
from gateway import config as cfg
from gateway.ports import ClientSettings, Peer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LETTER = "korrespondenz.schreiben.0200"


def example(type_id: str = LETTER) -> dict:
    """An example record without its reader (the gateway fills it from the directory)."""
    record = json.loads((EXAMPLES / f"{type_id}.json").read_text())
    record.get("nachrichtenkopfG2g", {}).pop("leser", None)
    return record


def merge(raw: dict, extra: dict) -> dict:
    """raw with the tables of `extra` merged in (one level deep)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for key, value in extra.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


class Pair:
    """Raw configs of A and B, the network, and B's delivery counter (by message UUID)."""

    def __init__(self, root: Path):
        self.root = root
        self.net = MemoryNetwork()
        self.raw_a, self.raw_b = pair_tables(root, transport="memory", endpoint_a="memory://a",
                                             endpoint_b="memory://b")
        self.deliveries: Counter[str] = Counter()
        self.gateways: list = []

    async def build(self, raw: dict, folder: Path, **extra):
        """A wired gateway for `raw` (+ `extra` tables) living in `folder`."""
        config = cfg.from_dict(merge(raw, extra), base_dir=folder)
        gw = await bootstrap.build(config, senders={"memory": MemorySender(ClientSettings(timeout=10), self.net)})
        self.gateways.append(gw)
        return gw

    async def a(self, **extra):
        """Gateway A (portal); `extra` tables e.g. folders=..., store=..."""
        return await self.build(self.raw_a, self.root / "a", **extra)

    async def b(self, **extra):
        """Gateway B (office), listening on memory://b and counting what arrives."""
        gw = await self.build(self.raw_b, self.root / "b", **extra)

        async def handler(xml: bytes) -> bytes:
            result = await gw.inbound.receive(xml, Peer("memory"))
            self.deliveries[result.message_uuid] += 1
            return result.receipt_xml

        self.net.listen("b", handler)
        return gw

    async def aclose(self) -> None:
        for gw in self.gateways:
            await gw.aclose()


__all__ = ["Pair", "example", "merge", "LETTER", "OFFICE", "PORTAL"]
