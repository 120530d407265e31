"""Prometheus metrics of one gateway, in its own registry (two gateways in one process
do not collide), served at `/metrics` (docs/operations.md lists every metric).

Counters and histograms are updated where things happen; the gauges that describe the
store (messages by state, oldest message, backlogs, nodes, breakers, stuck messages,
certificates) are
set by `sampler`, an async callable the operations floor installs, run before each scrape.
Label values are bounded: partner ids come from the partner directory, states and outcomes
from fixed sets, feedback codes through `bounded_code`; never a message id.
"""
from __future__ import annotations

import platform
import re
from typing import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
JOB_BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0)
MAX_CODES = 64                    # distinct feedback codes kept as label values; more become "other"
_CODE = re.compile(r"[A-Za-z0-9._:-]{1,40}")


class Metrics:
    """Every metric of a gateway node."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.sampler: Callable[[], Awaitable[None]] | None = None
        self._codes: set[str] = set()
        # traffic
        self.inbound = Counter("gateway_inbound_messages", "Messages received, by transport and outcome",
                               ["transport", "outcome"], registry=r)
        self.inbound_seconds = Histogram("gateway_inbound_seconds", "Time from request to receipt",
                                         ["transport"], registry=r)
        self.outbound = Counter("gateway_outbound_messages", "Delivery attempts, by transport and outcome",
                                ["transport", "outcome"], registry=r)
        self.outbound_seconds = Histogram("gateway_outbound_seconds", "Time of one delivery attempt",
                                          ["transport"], registry=r)
        self.requests = Counter("gateway_http_requests", "HTTP requests, by route and status",
                                ["route", "status"], registry=r)
        self.outbox = Gauge("gateway_outbox_due", "Outbound messages due at the last scan", registry=r)
        # deliveries per partner
        self.deliveries = Counter("gateway_deliveries", "Messages a partner's transport took",
                                  ["partner", "transport"], registry=r)
        self.delivery_failures = Counter("gateway_delivery_failures",
                                         "Failed delivery attempts (retry: to try again; refused: final)",
                                         ["partner", "transport", "kind"], registry=r)
        self.delivery_seconds = Histogram("gateway_delivery_duration_seconds",
                                          "Time of one delivery attempt to a partner",
                                          ["partner", "transport"], buckets=LATENCY_BUCKETS, registry=r)
        self.receipts = Counter("gateway_receipts", "Receipts received from partners and sent to them, "
                                "by result and feedback code", ["direction", "result", "code"], registry=r)
        # jobs
        self.job_runs = Counter("gateway_job_runs", "Scheduler job runs by outcome (ok, failed, skipped: "
                                "the slot ran on another node)", ["job", "outcome"], registry=r)
        self.job_seconds = Histogram("gateway_job_duration_seconds", "Duration of a job run", ["job"],
                                     buckets=JOB_BUCKETS, registry=r)
        # sampled from the store before each scrape
        self.messages = Gauge("gateway_messages", "Stored messages by direction, state and partner",
                              ["direction", "state", "partner"], registry=r)
        self.oldest = Gauge("gateway_oldest_message_age_seconds",
                            "Age of the oldest message in a non-final state (since its last change)",
                            ["direction", "state"], registry=r)
        self.webhook_backlog = Gauge("gateway_webhook_backlog", "Webhook events not yet delivered", registry=r)
        self.folder_backlog = Gauge("gateway_dropfolder_backlog",
                                    "Received messages not yet handed to the backend (inbound folders "
                                    "or API fetch)", registry=r)
        self.nodes = Gauge("gateway_nodes_live", "Gateway nodes with a recent heartbeat in the store", registry=r)
        self.breaker = Gauge("gateway_breaker_state", "Circuit breaker per partner and transport: 1 for its "
                             "current state (closed, open, probing), 0 for the others", ["partner", "transport", "state"],
                             registry=r)
        self.stuck = Gauge("gateway_stuck_messages", "Messages longer in a non-final state than the "
                           "[sanitizer] threshold of that state", ["direction", "state"], registry=r)
        self.audit_ok = Gauge("gateway_audit_chain_ok", "1 when the last audit-chain verification (job audit) "
                              "found the chain intact, 0 when broken", registry=r)
        self.cert_days = Gauge("gateway_certificate_expiry_days", "Days until a certificate or CRL runs out "
                               "(negative: expired)", ["role", "owner"], registry=r)
        self.scrape_errors = Counter("gateway_metrics_sample_errors", "Failed samplings of the store",
                                     registry=r)
        self.build = Gauge("gateway_build_info", "Version of the gateway and Python", ["version", "python"],
                           registry=r)
        from .. import __version__
        self.build.labels(__version__, platform.python_version()).set(1)

    def code(self, code: str) -> str:
        """A feedback code as a label value: kept when well-formed and among the first
        MAX_CODES seen, else "other" (a partner cannot grow the label set without bound)."""
        if not _CODE.fullmatch(code):
            return "other"
        if code not in self._codes:
            if len(self._codes) >= MAX_CODES:
                return "other"
            self._codes.add(code)
        return code

    async def sample(self) -> None:
        """Refresh the sampled gauges (a failure is counted, the scrape goes on)."""
        if self.sampler is None:
            return
        try:
            await self.sampler()
        except Exception:  # noqa: BLE001 - a scrape must answer even when the store does not
            self.scrape_errors.inc()

    def render(self) -> bytes:
        """Text exposition of every metric."""
        return generate_latest(self.registry)
