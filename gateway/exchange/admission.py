"""Admission for the CPU-heavy work an unauthenticated request causes (canonicalization and
signature verification, before anything is proven): bounded and fair.

At most `slots` verifications run at once (in threads, off the event loop). The others wait
in one queue per claimed partner, and a freed slot goes to the partners in turn (round
robin), so a flood claiming one partner delays another partner's message by at most one
verification per busy partner, never by the length of the flood. No sender — a claimed
partner id, or a remote address — may hold more than `per_sender` places (running or
waiting): one more is refused at once with RetryLater("overloaded") (HTTP 429, SOAP Receiver
fault, with Retry-After). A request whose client has gone by the time its turn comes is
dropped without the work (RetryLater "client-gone").
"""
from __future__ import annotations

import asyncio
import os
from collections import Counter, OrderedDict, deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

from ..errors import RetryLater
from ..ports import Peer


class Admission:
    """A bounded gate for verification work, fair between claimed partners."""

    def __init__(self, slots: int = 0, per_sender: int = 16):
        self.slots = slots or os.cpu_count() or 2
        self.per_sender = per_sender
        self._running = 0
        self._waiting: OrderedDict[str, deque[asyncio.Future]] = OrderedDict()
        self._held: Counter[str] = Counter()

    def holding(self, key: str) -> int:
        """Places (running or waiting) held by a sender key ('partner:ID', 'address:IP')."""
        return self._held[key]

    @asynccontextmanager
    async def turn(self, partner: str, peer: Peer) -> AsyncIterator[None]:
        """Wait for a turn to verify a message claimed by `partner` from `peer`."""
        keys = [f"partner:{partner}"] + ([f"address:{peer.remote}"] if peer.remote else [])
        full = next((k for k in keys if self._held[k] >= self.per_sender), None)
        if full:
            kind, _, who = full.partition(":")
            raise RetryLater(f"too many messages in verification for {kind} {who} (at most "
                             f"{self.per_sender}); try again shortly", code="overloaded")
        self._held.update(keys)
        try:
            await self._acquire(keys[0])
            try:
                if peer.gone():
                    raise RetryLater("the client has gone; the message was not verified", code="client-gone")
                yield
            finally:
                self._release()
        finally:
            self._held.subtract(keys)
            for k in keys:
                if self._held[k] <= 0:
                    del self._held[k]

    async def _acquire(self, queue: str) -> None:
        if self._running < self.slots and not self._waiting:
            self._running += 1
            return
        ticket = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(queue, deque()).append(ticket)
        try:
            await ticket                    # resolved: a slot was handed over to us
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self._release()             # handed over just as we were cancelled: pass it on
            else:
                self._forget(queue, ticket)
            raise

    def _release(self) -> None:
        """Hand the slot to the next partner's first waiter (round robin), or free it."""
        while self._waiting:
            queue, tickets = next(iter(self._waiting.items()))
            ticket = tickets.popleft()
            if tickets:
                self._waiting.move_to_end(queue)
            else:
                del self._waiting[queue]
            if not ticket.done():
                ticket.set_result(None)
                return
        self._running -= 1

    def _forget(self, queue: str, ticket: asyncio.Future) -> None:
        tickets = self._waiting.get(queue)
        if tickets is not None and ticket in tickets:
            tickets.remove(ticket)
            if not tickets:
                del self._waiting[queue]
