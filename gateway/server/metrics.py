"""Prometheus metrics of one gateway, in its own registry (two gateways in one process
do not collide), served at `/metrics`."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST


class Metrics:
    """Counters and timings of inbound and outbound traffic."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter("gateway_inbound_messages", "Messages received, by transport and outcome",
                               ["transport", "outcome"], registry=self.registry)
        self.inbound_seconds = Histogram("gateway_inbound_seconds", "Time from request to receipt",
                                         ["transport"], registry=self.registry)
        self.outbound = Counter("gateway_outbound_messages", "Delivery attempts, by transport and outcome",
                                ["transport", "outcome"], registry=self.registry)
        self.outbound_seconds = Histogram("gateway_outbound_seconds", "Time of one delivery attempt",
                                          ["transport"], registry=self.registry)
        self.requests = Counter("gateway_http_requests", "HTTP requests, by route and status",
                                ["route", "status"], registry=self.registry)
        self.outbox = Gauge("gateway_outbox_due", "Outbound messages due at the last scan",
                            registry=self.registry)

    def render(self) -> bytes:
        """Text exposition of every metric."""
        return generate_latest(self.registry)
