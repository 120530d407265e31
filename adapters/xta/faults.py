"""The one table that decides what an XTA failure means: retry later or refused.

Every exception raised while talking to a provider passes through `translate`, which turns
it into `gateway.errors.RetryLater` or `Refused` with the provider's code and text kept:
`code` is "<ExceptionName>:<Fehlernummer>" for XTA faults (e.g. "PermissionDeniedException:9011")
and "http:<status>", "timeout", "connection", "tls", ... for transport failures; `detail`
holds the provider's own words. Version 3 and 5 name their faults the same way, except the
technical problem (v3 XTAWSTechnicalProblemException, v5 TechnicalProblemException).
"""
from __future__ import annotations

import requests
import zeep.exceptions
from lxml import etree

from gateway.errors import DeliveryError, GatewayError, Refused, RetryLater

RETRY, REFUSE = RetryLater, Refused

# XTA fault (detail element local name) -> what the caller does next, and why.
FAULTS: dict[str, tuple[type[DeliveryError], str]] = {
    "XTAWSTechnicalProblemException": (RETRY, "technical problem at the provider"),
    "TechnicalProblemException": (RETRY, "technical problem at the provider"),
    "ExternalServiceUnavailableException": (RETRY, "a service the provider needs is unavailable"),
    "PermissionDeniedException": (REFUSE, "permission denied (account, certificate or service booking)"),
    "ParameterIsNotValidException": (REFUSE, "a parameter is not valid"),
    "ParameterNotSupportedException": (REFUSE, "a parameter is not supported by the provider"),
    "MessageSchemaViolationException": (REFUSE, "the message violates its schema"),
    "MessageVirusDetectionException": (REFUSE, "malicious content detected"),
    "InvalidMessageIDException": (REFUSE, "the message id is unknown to the provider"),
    "SyncAsyncException": (REFUSE, "synchronous/asynchronous mismatch for this service"),
    "CancelDeniedException": (REFUSE, "cancel denied"),
    "NotImplementedException": (REFUSE, "the provider does not implement this operation"),
    "UnsupportedExtensionException": (REFUSE, "the provider does not support an extension used"),
}

# Fehlernummern that say "try again later" whatever exception carries them.
RETRY_CODES = {"9030": "internal error at the provider", "9031": "directory service error",
               "9032": "delivery error"}

# HTTP status without a SOAP fault -> action.
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}

# SOAP 1.2 fault codes (no XTA detail): the receiver failed -> retry; the sender erred -> refused.
SOAP_CODES = {"Receiver": RETRY, "Server": RETRY, "Sender": REFUSE, "Client": REFUSE,
              "VersionMismatch": REFUSE, "MustUnderstand": REFUSE, "DataEncodingUnknown": REFUSE}


def translate(exc: BaseException, operation: str) -> DeliveryError:
    """The RetryLater/Refused for any exception raised by an XTA call."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, zeep.exceptions.Fault):
        return _fault(exc, operation)
    if isinstance(exc, requests.exceptions.SSLError):
        return RetryLater(f"XTA {operation}: TLS handshake failed", code="tls", detail=str(exc))
    if isinstance(exc, requests.exceptions.Timeout):
        return RetryLater(f"XTA {operation}: timed out", code="timeout", detail=str(exc))
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return RetryLater(f"XTA {operation}: connection failed", code="connection", detail=str(exc))
    if isinstance(exc, zeep.exceptions.TransportError):
        status = exc.status_code or 0
        if 200 <= status < 300:          # zeep: "Server returned response ... with invalid XML"
            return RetryLater(f"XTA {operation}: unusable response from the provider",
                              code="xta:bad-response", detail=_clip(exc.message))
        kind = RETRY if status in RETRY_STATUS or status >= 500 else REFUSE
        return kind(f"XTA {operation}: HTTP {status}", code=f"http:{status}",
                    detail=_clip(exc.content or exc.message))
    if isinstance(exc, zeep.exceptions.ValidationError):
        return Refused(f"XTA {operation}: request does not fit the contract: {exc}",
                       code="xta:request-invalid", detail=str(exc.path or ""))
    if isinstance(exc, (zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError,
                        zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden,
                        etree.XMLSyntaxError, GatewayError)):
        return RetryLater(f"XTA {operation}: unusable response from the provider",
                          code="xta:bad-response", detail=_clip(str(exc)))
    if isinstance(exc, (requests.exceptions.RequestException, zeep.exceptions.Error, OSError)):
        return RetryLater(f"XTA {operation}: {type(exc).__name__}", code="connection",
                          detail=_clip(str(exc)))
    raise exc                       # a bug in the adapter: let it surface


def _fault(fault: zeep.exceptions.Fault, operation: str) -> DeliveryError:
    name, number, text = _detail(fault.detail)
    reason = " ".join((fault.message or "").split())
    if name in FAULTS:
        kind, meaning = FAULTS[name]
        if number in RETRY_CODES:
            kind, meaning = RETRY, RETRY_CODES[number]
        code = f"{name}:{number}" if number else name
        detail = "; ".join(x for x in (text, reason) if x)
        return kind(f"XTA {operation}: {meaning} ({code})", code=code, detail=detail)
    local = (fault.code or "").rpartition(":")[2]
    kind = SOAP_CODES.get(local, RETRY)
    return kind(f"XTA {operation}: SOAP fault {local or '?'}: {reason}",
                code=f"soap:{local or 'unknown'}", detail=reason)


def _detail(detail) -> tuple[str, str, str]:
    """(exception name, Fehlernummer, provider text) from a fault's Detail element."""
    if detail is None or not isinstance(detail, etree._Element):
        return "", "", ""
    for child in detail:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        number = (child.findtext(".//code") or "").strip()
        words = [(child.findtext(".//name") or "").strip()]
        words += [(e.text or "").strip() for e in child if etree.QName(e).localname == "Detail"]
        return name, number, " ".join(w for w in words if w)
    return "", "", ""


def _clip(value, limit: int = 500) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    value = " ".join(str(value or "").split())
    return value if len(value) <= limit else value[:limit] + "…"
