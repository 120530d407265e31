"""The zeep transport for one XTA account: local WSDL only, configured endpoints only.

zeep loads the WSDL and its XSDs through `load`, which here reads local files and refuses
any URL; operations go through `post`, which refuses every address that is not one of the
account's configured endpoints, sends with explicit (connect, read) timeouts and the client
certificate, ignores proxy settings from the environment, and stops reading a response at
`max_response_bytes`.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import requests
import zeep

from gateway.errors import Refused, RetryLater

from .settings import XtaSettings


class PinnedTransport(zeep.Transport):
    """A zeep Transport bound to one account's endpoints and local contract files."""

    def __init__(self, settings: XtaSettings):
        session = requests.Session()
        session.trust_env = False              # no proxies or CA bundles from the environment
        if settings.proxy:
            session.proxies = {"http": settings.proxy, "https": settings.proxy}
        if settings.client_cert:
            session.cert = (settings.client_cert, settings.client_key)
        session.verify = settings.ca_bundle or True
        super().__init__(session=session, timeout=settings.connect_timeout,
                         operation_timeout=(settings.connect_timeout, settings.read_timeout))
        self._close_session = True
        session.headers["User-Agent"] = "xoev-gateway XTA adapter"
        self.allowed = settings.endpoints
        self.max_bytes = settings.max_response_bytes

    def load(self, url: str) -> bytes:
        """Read a contract file from disk; URLs (http, https, file://) are refused."""
        if urlsplit(url).scheme not in ("", "file") or url.startswith("file:"):
            raise Refused(f"XTA contract refers to {url!r}: only local files are loaded",
                          code="xta:remote-contract")
        return Path(url).expanduser().read_bytes()

    def get(self, address, params, headers):
        """XTA never needs GET; refused."""
        raise Refused(f"XTA transport: GET {address} refused", code="xta:endpoint-refused")

    def post(self, address, message, headers):
        """POST a SOAP message to a configured endpoint, reading at most max_bytes."""
        if address not in self.allowed:
            raise Refused(f"XTA transport: {address!r} is not a configured endpoint",
                          code="xta:endpoint-refused")
        response = self.session.post(address, data=message, headers=headers,
                                     timeout=self.operation_timeout, stream=True)
        chunks, size = [], 0
        with response:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.max_bytes:
                    raise RetryLater(f"XTA response from {address} exceeds {self.max_bytes} bytes",
                                     code="xta:response-too-large")
                chunks.append(chunk)
        response._content = b"".join(chunks)
        return response
