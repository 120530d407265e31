"""The alert rules and the Grafana dashboard in deploy/ use only metrics the gateway exports
(names from a live Metrics registry, with the _total/_bucket/_count/_sum series Prometheus
derives), and the files are what Prometheus and Grafana read (YAML rule groups, JSON panels)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from gateway.server.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\b(gateway_[a-z0-9_]+)")
BUILTIN = {"up"}


def exported() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(family.type, [])
        names.update(family.name + s for s in suffixes)
    return names


def used(exprs) -> set[str]:
    return {m for e in exprs for m in NAME.findall(e)}


def alert_exprs() -> list[str]:
    doc = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert rules and all(r["alert"] and r["expr"] and r["labels"]["severity"] for r in rules)
    return [r["expr"] for r in rules]


def dashboard_exprs() -> list[str]:
    doc = json.loads((ROOT / "deploy/grafana/gateway.json").read_text())
    assert doc["uid"] and doc["panels"]
    return [t["expr"] for p in doc["panels"] for t in p["targets"]]


def test_every_metric_the_alerts_use_exists():
    names = used(alert_exprs())
    assert names and names <= exported(), sorted(names - exported())


def test_every_metric_the_dashboard_uses_exists():
    names = used(dashboard_exprs())
    assert names and names <= exported(), sorted(names - exported())


def test_the_alerts_cover_what_the_issue_asks():
    alerts = {r["alert"] for g in yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())["groups"]
              for r in g["rules"]}
    assert {"GatewayPartnerDown", "GatewayBacklogGrowing", "GatewayOldestMessageTooOld", "GatewayDeadLetters",
            "GatewayCertificateExpiring", "GatewayAuditChainBroken"} <= alerts


def test_metric_names_follow_prometheus_conventions():
    for family in Metrics().registry.collect():
        assert re.fullmatch(r"gateway_[a-z0-9_]+", family.name), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name       # unit in the name
        for sample in family.samples:
            assert not {"id", "message_id", "message_uuid", "uuid"} & set(sample.labels), family.name
