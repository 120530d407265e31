"""Reading request bodies within a limit, on every endpoint (HTTP, SOAP, backend API).

The body is streamed and counted; a compressed body (`Content-Encoding: gzip` or `deflate`)
is inflated here, chunk by chunk with a bound on each step, and the limit applies to the
*inflated* size, so a 284 KB gzip bomb costs at most `limit` bytes of memory, never 125 MiB.
aiohttp's own decompression is switched off for the whole server (`HANDLER_ARGS`): it would
inflate before any handler could count. Other encodings are refused (415); a body that is
not valid gzip/deflate is a client error (400), never a 500.
"""
from __future__ import annotations

import zlib

from aiohttp import web

from .problems import Problem, too_large

#: given to web.Application(handler_args=...): bodies reach the handlers as sent
HANDLER_ARGS = {"auto_decompress": False}
_CHUNK = 65536
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def encoding_problem(request: web.Request) -> Problem | None:
    """415 for a Content-Encoding we do not inflate (anything but identity, gzip, deflate)."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity") or encoding in _WBITS:
        return None
    return Problem(415, "unsupported-encoding",
                   f"Content-Encoding {encoding[:40]!r} is not accepted; send identity, gzip or deflate")


async def read_limited(request: web.Request, limit: int) -> bytes | Problem:
    """The request body (inflated when compressed), or a problem: 413 when it is larger than
    `limit` bytes, 415 for an unknown encoding, 400 for a corrupt compressed body."""
    problem = encoding_problem(request)
    if problem is not None:
        return problem
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    wbits = _WBITS.get(encoding)
    if wbits is None and request.content_length is not None and request.content_length > limit:
        return too_large(limit)
    inflater = zlib.decompressobj(wbits) if wbits is not None else None
    chunks, size, raw = [], 0, 0
    try:
        while chunk := await request.content.read(_CHUNK):
            raw += len(chunk)
            if raw > limit:   # compressed bytes count too (deflate never shrinks below 1/1032)
                return too_large(limit)
            pieces = [chunk] if inflater is None else _inflate(inflater, chunk, limit - size)
            for piece in pieces:
                size += len(piece)
                if size > limit:
                    return too_large(limit)
                chunks.append(piece)
        if inflater is not None:
            tail = inflater.flush()
            size += len(tail)
            if size > limit:
                return too_large(limit)
            if not inflater.eof:
                return _corrupt(encoding, "the compressed stream is truncated")
            if inflater.unused_data:
                return _corrupt(encoding, "data follows the compressed stream")
            chunks.append(tail)
    except zlib.error as exc:
        return _corrupt(encoding, str(exc))
    except _OverLimit:
        return too_large(limit)
    return b"".join(chunks)


class _OverLimit(Exception):
    pass


def _inflate(inflater, chunk: bytes, room: int) -> list[bytes]:
    """Inflate one received chunk, never producing more than `room` + one step of bytes."""
    out, data = [], chunk
    while data:
        piece = inflater.decompress(data, _CHUNK)
        out.append(piece)
        room -= len(piece)
        if room < 0:
            raise _OverLimit
        data = inflater.unconsumed_tail
    return out


def _corrupt(encoding: str, why: str) -> Problem:
    return Problem(400, "bad-encoding", f"the request body is not valid {encoding}: {why}")
