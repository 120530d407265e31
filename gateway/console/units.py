"""Mailbox units: which inbound messages a clerk sees. A unit ([console.units.NAME]) is a set
of message types and/or reader ids (the `leser` of the message header), shell-style patterns;
a message belongs to a unit when it matches every list the unit sets."""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from fnmatch import fnmatchcase

from .. import xml as hardened
from ..errors import GatewayError
from ..exchange.header import read_header
from ..model import Direction, Message, State

#: inbound states a clerk sees (rejected ones never reached the office)
MAILBOX_STATES = (State.VERIFIED, State.DELIVERED, State.ACKNOWLEDGED)


class Units:
    """The configured units and a cache of each message's reader (payloads never change)."""

    def __init__(self, specs, store, limits=hardened.DEFAULT_LIMITS, cache_size: int = 10_000,
                 read=read_header):
        self.specs = {spec.name: spec for spec in specs}
        self.store = store
        self.limits = limits
        self.read = read                       # the header reader (the gateway's standards' profiles)
        self.cache_size = cache_size
        self._readers: OrderedDict[str, str] = OrderedDict()

    def names(self) -> list[str]:
        """The configured unit names."""
        return list(self.specs)

    def title(self, name: str) -> str:
        """The unit's title (its name when none is set)."""
        spec = self.specs.get(name)
        return (spec.title or spec.name) if spec else name

    async def reader(self, msg: Message) -> str:
        """The reader id (leser kennung) of a stored message ('' when it has none)."""
        if msg.id not in self._readers:
            payload = await self.store.payload(msg.id)
            try:
                root = await asyncio.to_thread(lambda: hardened.parse(payload, self.limits).getroot())
                found = self.read(root).reader
            except GatewayError:
                found = ""
            self._readers[msg.id] = found
            while len(self._readers) > self.cache_size:
                self._readers.popitem(last=False)
        return self._readers[msg.id]

    async def of(self, msg: Message, names) -> bool:
        """True when the inbound message belongs to one of the units `names`."""
        if msg.direction is not Direction.IN or msg.state not in MAILBOX_STATES:
            return False
        for name in names:
            spec = self.specs.get(name)
            if spec is None:
                continue
            if spec.types and not any(fnmatchcase(msg.message_type, p) for p in spec.types):
                continue
            if spec.readers:
                reader = await self.reader(msg)
                if not any(fnmatchcase(reader, p) for p in spec.readers):
                    continue
            return True
        return False

    async def mailbox(self, names, *, limit: int, before_id: str | None = None,
                      rounds: int = 20) -> tuple[list[Message], str | None]:
        """Messages of the units `names`, newest first: (page, cursor of the next page)."""
        found: list[Message] = []
        before = before_id
        for _ in range(rounds):
            batch = await self.store.list(direction=Direction.IN, state=list(MAILBOX_STATES),
                                          limit=limit, before_id=before)
            for msg in batch:
                if await self.of(msg, names):
                    found.append(msg)
                    if len(found) == limit:
                        return found, msg.id
            if len(batch) < limit:
                return found, None
            before = batch[-1].id
        return found, before
