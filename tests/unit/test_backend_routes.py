"""Start-up check: received messages must not fall to both the webhook and an inbound folder
by chance (gateway.backend.routes.check_inbound_routes)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway import config as cfg
from gateway.backend.routes import Route, check_inbound_routes, common, overlap
from gateway.errors import ConfigError

T1, T2 = "personenstand.urkundenantrag.0100", "korrespondenz.schreiben.0200"
P1, P2 = "ags:09162000", "ags:09162001"


def config(webhooks: dict | None = None, **folders: dict) -> cfg.Config:
    raw: dict = {"folders": {"inbound": {name: {"path": f"in-{name}", **table} for name, table in folders.items()}}}
    if webhooks is not None:
        raw["webhooks"] = {"url": "https://efile.example/hooks", "secret": "env:S", **webhooks}
    return cfg.from_dict(raw, base_dir=Path("/tmp"))


@pytest.mark.parametrize("a, b, expected", [
    (["*"], ["*"], ("*",)),
    (["*"], [T1, T2], (T1, T2)),
    ([T1], ["*"], (T1,)),
    ([T1, T2], [T2], (T2,)),
    ([T1], [T2], ()),
    ([], ["*"], ()),
])
def test_common(a, b, expected):
    assert common(a, b) == expected


def test_overlap_needs_both_a_type_and_a_partner_in_common():
    hook = Route("[webhooks]", ("*",), (P1,))
    assert overlap(hook, Route("f", (T1,), (P2,))) is None
    found = overlap(hook, Route("f", (T1,), ("*",)))
    assert (found.types, found.partners) == ((T1,), (P1,))


def test_default_webhook_and_default_folder_overlap_on_everything():
    with pytest.raises(ConfigError) as info:
        check_inbound_routes(config({}, registry={}))
    text = str(info.value)
    assert '[webhooks] and [folders.inbound."registry"]' in text
    assert "type * (any) from partner * (any)" in text
    assert 'allow_webhook_overlap = true in [folders.inbound."registry"]' in text


def test_the_message_names_the_overlapping_pattern_of_each_folder():
    with pytest.raises(ConfigError) as info:
        check_inbound_routes(config({"types": [T1, T2], "partners": [P1]},
                                    registry={"types": [T1]}, letters={"types": [T2], "partners": [P1, P2]},
                                    other={"types": [T1], "partners": [P2]}))
    text = str(info.value)
    assert f'[folders.inbound."registry"] both deliver received messages of type {T1} from partner {P1}' in text
    assert f'[folders.inbound."letters"] both deliver received messages of type {T2} from partner {P1}' in text
    assert '"other"' not in text  # disjoint partner: no overlap


@pytest.mark.parametrize("webhooks, folder", [
    (None, {}),                                           # no webhooks at all
    ({"inbound": False}, {}),                             # webhooks for status events only
    ({"types": [T1]}, {"types": [T2]}),                   # disjoint types
    ({"partners": [P1]}, {"partners": [P2]}),             # disjoint partners
    ({"types": []}, {}),                                  # the webhook takes no received message
    ({}, {"allow_webhook_overlap": True}),                # marked as intended
])
def test_no_refusal(webhooks, folder):
    allowed = check_inbound_routes(config(webhooks, registry=folder))
    assert [o.second.name for o in allowed] == (['[folders.inbound."registry"]']
                                                 if folder.get("allow_webhook_overlap") else [])


def test_a_marked_folder_does_not_excuse_another_one():
    with pytest.raises(ConfigError) as info:
        check_inbound_routes(config({}, shared={"types": [T1], "allow_webhook_overlap": True},
                                    registry={"types": [T2]}))
    assert '"registry"' in str(info.value) and '"shared"] both' not in str(info.value)


def test_the_marker_is_a_checked_config_key():
    with pytest.raises(ConfigError, match="allow_webhook_overlap: expected bool"):
        config({}, registry={"allow_webhook_overlap": "yes"})

