"""HTTP and SOAP adapters over TLS and mutual TLS against the real server app."""
from __future__ import annotations

import pytest
from adapter_contract import XML, outgoing
from peer_double import receipt_for, start
from tlscerts import TestCA

from adapters.http import HttpSender
from adapters.soap import SoapSender
from gateway.crypto import tls
from gateway.errors import RetryLater
from gateway.ports import ClientSettings
from gateway.server import create_app


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca = TestCA(folder)
    return ca, ca.issue("server", "gateway.test", server=True), ca.issue("client", "ags:09000009", server=False)


@pytest.fixture
async def tls_server(pki, inbound):
    ca, server, _ = pki
    ctx = tls.server_context(cert=server.cert, key=server.key, client_ca=ca.pem, require_client_cert=True)
    runner, url = await start(create_app(inbound), ssl_context=ctx)
    yield url
    await runner.cleanup()


def settings(pki, *, with_cert: bool) -> ClientSettings:
    ca, _, client = pki
    ctx = tls.client_context(ca_file=ca.pem, cert=client.cert if with_cert else None,
                             key=client.key if with_cert else None)
    return ClientSettings(timeout=3, ssl_for=lambda partner: ctx)


@pytest.mark.parametrize("kind, path", [(HttpSender, ""), (SoapSender, "/soap")])
async def test_mutual_tls_delivers_and_server_sees_the_client_cert(pki, tls_server, inbound, kind, path):
    sender = kind(settings(pki, with_cert=True))
    try:
        result = await sender.send(outgoing(tls_server + path))
    finally:
        await sender.aclose()
    assert result.receipt_xml == receipt_for(XML)
    peer = inbound.received[-1][1]
    assert peer.cert_der == pki[2].der
    assert peer.transport == ("soap" if path else "http")


@pytest.mark.parametrize("kind, path", [(HttpSender, ""), (SoapSender, "/soap")])
async def test_without_client_cert_the_handshake_fails_as_retry_later(pki, tls_server, inbound, kind, path):
    sender = kind(settings(pki, with_cert=False))
    try:
        with pytest.raises(RetryLater):
            await sender.send(outgoing(tls_server + path))
    finally:
        await sender.aclose()
    assert inbound.received == []


async def test_untrusted_server_certificate_is_retry_later(tmp_path, pki, tls_server, inbound):
    other = TestCA(tmp_path, "Other CA")
    ctx = tls.client_context(ca_file=other.pem)
    sender = HttpSender(ClientSettings(timeout=3, ssl_for=lambda partner: ctx))
    try:
        with pytest.raises(RetryLater) as info:
            await sender.send(outgoing(tls_server))
    finally:
        await sender.aclose()
    assert info.value.code in ("tls-certificate", "tls")
    assert inbound.received == []


def test_unreadable_tls_files_are_config_errors(tmp_path):
    from gateway.errors import ConfigError

    with pytest.raises(ConfigError, match="missing.pem"):
        tls.server_context(cert=tmp_path / "missing.pem", key=tmp_path / "missing.key")
    with pytest.raises(ConfigError, match="client_ca"):
        tls.server_context(cert=tmp_path / "c.pem", key=tmp_path / "c.key", require_client_cert=True)
