"""Every XTA fault and transport failure ends as RetryLater or Refused, provider reason kept.

The faults come from the fake provider as real SOAP 1.2 faults whose detail validates
against the version's XSDs; the adapter's zeep client is built from the real WSDL.
"""
from __future__ import annotations

import socket

import pytest
import zeep.exceptions
from lxml import etree
from support.xta_fake import FakeProvider
from support.xta_fake.helpers import AUTHOR, READER, SERVICE, message, settings_for

from adapters.xta import XtaAdapter, faults
from adapters.xta.transport import PinnedTransport
from gateway.errors import ConfigError, Refused, RetryLater

COMMON = [
    ("PermissionDeniedException", "9013", Refused),
    ("ParameterIsNotValidException", "9022", Refused),
    ("ParameterIsNotValidException", "9031", RetryLater),     # directory service error
    ("MessageSchemaViolationException", "9050", Refused),
    ("MessageVirusDetectionException", "9060", Refused),
    ("SyncAsyncException", "9080", Refused),
    ("InvalidMessageIDException", "9070", Refused),
]
BY_VERSION = {
    "3": COMMON + [("XTAWSTechnicalProblemException", "9030", RetryLater),
                   ("CancelDeniedException", "9100", Refused)],
    "5": COMMON + [("TechnicalProblemException", "9030", RetryLater),
                   ("ExternalServiceUnavailableException", "9031", RetryLater),
                   ("NotImplementedException", "9000", Refused),
                   ("ParameterNotSupportedException", "9000", Refused),
                   ("UnsupportedExtensionException", "9000", Refused)],
}
CASES = [(v, *case) for v, cases in BY_VERSION.items() for case in cases]


def test_every_fault_in_the_table_is_exercised():
    tested = {name for _, name, _, _ in CASES}
    assert set(faults.FAULTS) == tested


@pytest.fixture
async def provider(request, reference_dir):
    async with FakeProvider(reference_dir, request.param) as fake:
        fake.add_account(AUTHOR)
        fake.add_account(READER)
        fake.offer(READER, SERVICE)
        yield fake


@pytest.fixture
async def adapter(provider):
    sender = XtaAdapter(settings_for(provider, AUTHOR, read_timeout="1"))
    yield sender
    await sender.aclose()


@pytest.mark.parametrize("provider, name, code, expected",
                         [pytest.param(v, n, c, e, id=f"v{v}-{n}-{c}") for v, n, c, e in CASES],
                         indirect=["provider"])
async def test_xta_fault_on_send_is_mapped(provider, adapter, name, code, expected):
    provider.fail_next("sendMessage", name, code, text="Grund vom Provider")
    with pytest.raises((RetryLater, Refused)) as caught:
        await adapter.send(message())
    assert type(caught.value) is expected
    assert caught.value.code == f"{name}:{code}"
    assert "Grund vom Provider" in caught.value.detail


@pytest.mark.parametrize("provider", ["3", "5"], indirect=True)
@pytest.mark.parametrize("operation, call", [
    ("getStatusList", lambda a: a.fetch(5)),
    ("checkAccountActive", lambda a: a.health()),
    ("lookupService", lambda a: a.accepts(READER, "t")),
])
async def test_technical_problem_on_other_operations_means_retry(provider, adapter, operation, call):
    provider.fail_next(operation, provider.codec.technical, "9030")
    with pytest.raises(RetryLater) as caught:
        await call(adapter)
    assert caught.value.code == f"{provider.codec.technical}:9030"


@pytest.mark.parametrize("provider", ["3", "5"], indirect=True)
@pytest.mark.parametrize("status, expected", [(503, RetryLater), (429, RetryLater), (502, RetryLater),
                                              (404, Refused), (403, Refused)])
async def test_http_status_without_soap_fault(provider, adapter, status, expected):
    provider.http_error_next("sendMessage", status)
    with pytest.raises((RetryLater, Refused)) as caught:
        await adapter.send(message())
    assert type(caught.value) is expected and caught.value.code == f"http:{status}"


@pytest.mark.parametrize("provider", ["3", "5"], indirect=True)
async def test_slow_provider_times_out_as_retry(provider, adapter):
    provider.delay_next("getStatusList", 2.0)          # read_timeout is 1 s
    with pytest.raises(RetryLater) as caught:
        await adapter.fetch(1)
    assert caught.value.code == "timeout"


@pytest.mark.parametrize("provider", ["3", "5"], indirect=True)
async def test_garbage_answer_is_retry(provider, adapter):
    provider.garbage_next("checkAccountActive")
    with pytest.raises(RetryLater) as caught:
        await adapter.health()
    assert caught.value.code == "xta:bad-response"


@pytest.mark.parametrize("provider", ["3", "5"], indirect=True)
async def test_answer_with_entity_declaration_is_not_parsed(provider, adapter):
    hostile = (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>&x;</e:Body>'
               b'</e:Envelope>')
    provider.raw_next("checkAccountActive", hostile)
    with pytest.raises(RetryLater) as caught:
        await adapter.health()
    assert caught.value.code == "xta:bad-response"
    assert "root:" not in caught.value.detail            # the entity was never expanded


@pytest.mark.parametrize("provider", ["3", "5"], indirect=True)
async def test_oversized_answer_is_cut_off(provider):
    small = XtaAdapter(settings_for(provider, READER, max_response_bytes="2000"))
    big = XtaAdapter(settings_for(provider, AUTHOR))
    try:
        await big.send(message(body="x" * 5000))
        with pytest.raises(RetryLater) as caught:
            await small.fetch(1)
        assert caught.value.code == "xta:response-too-large"
    finally:
        await small.aclose()
        await big.aclose()


@pytest.mark.parametrize("provider", ["3", "5"], indirect=True)
async def test_unreachable_provider_is_retry(provider):
    with socket.socket() as s:                           # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/xta"
    adapter = XtaAdapter(settings_for(provider, AUTHOR, endpoint=url, send_endpoint=url,
                                      mailbox_endpoint=url, management_endpoint=url))
    try:
        with pytest.raises(RetryLater) as caught:
            await adapter.health()
        assert caught.value.code == "connection"
    finally:
        await adapter.aclose()


def test_soap_faults_without_xta_detail_follow_the_soap_code():
    receiver = zeep.exceptions.Fault("busy", code="env:Receiver")
    sender = zeep.exceptions.Fault("bad", code="env:Sender")
    assert isinstance(faults.translate(receiver, "sendMessage"), RetryLater)
    refused = faults.translate(sender, "sendMessage")
    assert isinstance(refused, Refused) and refused.code == "soap:Sender" and refused.detail == "bad"


def test_bugs_are_not_disguised_as_delivery_errors():
    with pytest.raises(KeyError):
        faults.translate(KeyError("bug"), "sendMessage")


@pytest.mark.parametrize("provider", ["3"], indirect=True)
def test_transport_refuses_other_addresses_and_remote_contracts(provider):
    transport = PinnedTransport(settings_for(provider, AUTHOR))
    with pytest.raises(Refused) as caught:
        transport.post("http://127.0.0.1:1/elsewhere", b"<x/>", {})
    assert caught.value.code == "xta:endpoint-refused"
    for url in ("https://example.org/x.xsd", "file:///etc/hostname"):
        with pytest.raises(Refused):
            transport.load(url)


@pytest.mark.parametrize("provider", ["3"], indirect=True)
def test_wsdl_importing_a_remote_schema_is_a_config_error(provider, tmp_path):
    wsdl = etree.parse(str(provider.wsdl))
    schema = wsdl.getroot().find("{http://schemas.xmlsoap.org/wsdl/}types/"
                                 "{http://www.w3.org/2001/XMLSchema}schema")
    imp = etree.SubElement(schema, "{http://www.w3.org/2001/XMLSchema}import",
                           namespace="urn:remote", schemaLocation="http://example.invalid/remote.xsd")
    schema.insert(0, imp)
    for f in provider.wsdl.parent.iterdir():              # the contract, next to the changed WSDL
        if f.is_file() and f.name != provider.wsdl.name:
            (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "XTA.wsdl").write_bytes(etree.tostring(wsdl))
    with pytest.raises(ConfigError) as caught:
        XtaAdapter(settings_for(provider, AUTHOR, wsdl=str(tmp_path / "XTA.wsdl")))
    assert "example.invalid" in str(caught.value)
