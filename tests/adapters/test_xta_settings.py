"""XTA options: parsed from a real config file into XtaSettings, with clear ConfigErrors;
the "xta" transport routes by partner options and groups partners into mailboxes."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from support.xta_fake import load_schema, problems, wsdl_path
from support.xta_fake.helpers import AUTHOR, READER, message

import adapters
from adapters.xta import XtaSettings, XtaTransport, mailboxes
from adapters.xta.order import Party, TransportOrder
from adapters.xta.v3 import V3
from adapters.xta.v5 import V5
from gateway import config as gconfig
from gateway.errors import ConfigError, Refused

WHERE = '[partners."ags:09000009"].options'


def options(reference_dir: Path, version: str = "3", **extra) -> dict:
    base = {"version": version, "wsdl": str(wsdl_path(reference_dir, "5" if version == "5" else "3")),
            "endpoint": "https://xta.example.org/ws", "account": AUTHOR,
            "business_scenario": "XGATEWAY_TEST", "service": "urn:xoev-de:svc"}
    return {**base, **extra}


def parse(opts: dict, base_dir: Path = Path(".")) -> XtaSettings:
    return XtaSettings.from_options(opts, where=WHERE, base_dir=base_dir)


def test_defaults_and_typed_values(reference_dir):
    s = parse(options(reference_dir, mode="sync", create_message_id="False", read_timeout="2.5",
                      sync_types="['a.1', 'b.2']", **{"service.a.1": "urn:other"}))
    assert (s.version, s.mode, s.create_message_id, s.read_timeout) == ("3", "sync", False, 2.5)
    assert s.sync_types == ("a.1", "b.2") and s.service_for("a.1") == "urn:other"
    assert s.service_for("x") == "urn:xoev-de:svc"
    assert s.endpoint_for("mailbox") == "https://xta.example.org/ws"
    assert s.endpoints == {"https://xta.example.org/ws"}


@pytest.mark.parametrize("change, expected", [
    ({"versoin": "3"}, "unknown XTA option 'versoin' (did you mean 'version'?)"),
    ({"version": "4"}, "'version' must be one of 3, 5"),
    ({"business_scenario": ""}, "'business_scenario' is required"),
    ({"service": ""}, "version 3 needs option 'service'"),
    ({"wsdl": "missing.wsdl"}, "no such file"),
    ({"endpoint": "http://xta.example.org/ws"}, "plain http is only allowed to a loopback"),
    ({"endpoint": "ftp://x"}, "must be an https URL"),
    ({"lookup_before_send": "maybe"}, "must be true or false"),
    ({"read_timeout": "soon"}, "must be a number"),
    ({"read_timeout": "0"}, "must be positive"),
    ({"client_cert": __file__}, "client_cert and client_key go together"),
    ({"mode": "batch"}, "'mode' must be one of async, sync"),
])
def test_bad_options_are_config_errors_naming_partner_and_key(reference_dir, change, expected):
    with pytest.raises(ConfigError) as caught:
        parse(options(reference_dir, **change))
    assert expected in str(caught.value) and WHERE in str(caught.value)


def test_relative_paths_resolve_against_the_config_folder(reference_dir):
    s = parse(options(reference_dir, wsdl="xta2-v5/wsdl/xta-core.wsdl", version="5", service=""),
              base_dir=reference_dir)
    assert s.wsdl == reference_dir / "xta2-v5/wsdl/xta-core.wsdl"


def _config(tmp_path: Path, reference_dir: Path) -> gconfig.Config:
    toml = f'''
[gateway]
authority_id = "{AUTHOR}"
authority_name = "Amt A"

[partners."{READER}"]
transport = "xta"
endpoints = ["http://127.0.0.1:9/xta"]
accepts = ["*"]
[partners."{READER}".options]
version = "5"
wsdl = "{wsdl_path(reference_dir, "5")}"
business_scenario = "XGATEWAY_TEST"
lookup_before_send = false
sync_types = ["test.frage.0200"]

[partners."ags:05000005"]
transport = "xta"
endpoints = ["http://127.0.0.1:9/xta"]
[partners."ags:05000005".options]
version = "5"
wsdl = "{wsdl_path(reference_dir, "5")}"
business_scenario = "XGATEWAY_TEST"
'''
    path = tmp_path / "gateway.toml"
    path.write_text(toml)
    return gconfig.load(path, environ={})


def test_transport_from_real_config_builds_adapters_and_shares_mailboxes(tmp_path, reference_dir):
    config = _config(tmp_path, reference_dir)
    transport = adapters.load("xta")(None, config=config)
    assert isinstance(transport, XtaTransport)
    spec = config.partners[READER]
    adapter = transport.adapter_for(spec.id, dict(spec.options), spec.endpoints[0])
    assert adapter.settings.account == AUTHOR and adapter.account.name == "Amt A"
    assert adapter.settings.sync_types == ("test.frage.0200",)
    assert adapter.settings.lookup_before_send is False
    boxes = mailboxes(config)
    assert len(boxes) == 1 and boxes[0].settings.account == AUTHOR


async def test_bad_options_at_send_time_are_refused(reference_dir):
    transport = XtaTransport()
    bad = message()
    bad = type(bad)(**{**{f: getattr(bad, f) for f in bad.__slots__}, "options": {"version": "9"}})
    with pytest.raises(Refused) as caught:
        await transport.send(bad)
    assert caught.value.code == "xta:config"
    await transport.aclose()


@pytest.mark.parametrize("version", ["3", "5"])
@pytest.mark.parametrize("scenario_list", ["urn:de:xta:codeliste:business.scenario", ""])
def test_metadata_builders_fit_the_real_schemas(reference_dir, version, scenario_list):
    schema = load_schema(reference_dir, version)
    order = TransportOrder(
        message_id="urn:de:xta:messageid:x:1", author=Party(AUTHOR, "Amt A", "Standesamt"),
        reader=Party(READER), service="urn:xoev-de:svc" if version == "3" else "",
        business_scenario="XGATEWAY_TEST", business_scenario_list_uri=scenario_list,
        business_scenario_list_version="1", message_type="Antrag",
        message_type_list_uri="urn:de:payloadSchema:elementName", message_type_list_version="1.0",
        payload_schema="urn:example:ns", size=10, origin=datetime(2025, 1, 2, 3, 4, 5),
        message_uuid="6f1c1d9e-0000-4000-8000-000000000000", test=True)
    profile = V3() if version == "3" else V5(directory="DVDV")
    for element in profile.send_headers(order) + profile.account_headers(order.author):
        assert problems(schema, element) == []
    broken = profile.metadata(order)
    broken.remove(broken[0])
    assert problems(schema, broken) != []                 # the schema check has teeth
