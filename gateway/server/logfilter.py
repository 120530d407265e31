"""Client input never puts a traceback in the log: aiohttp logs a request it cannot parse
(bad Content-Length, chunk size, header characters) as an ERROR with a traceback, so any
client could fill the log. This filter turns those records into one WARNING line."""
from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError


class BadRequestLine(logging.Filter):
    """On the `aiohttp.server` logger: HTTP parse errors become one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            reason = " ".join(str(exc.message or "").split())[:200]
            record.msg, record.args = "refused a malformed HTTP request: %s %s", (exc.code, reason)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_FILTER = BadRequestLine()


def install() -> None:
    """Add the filter to aiohttp's server logger (once)."""
    logger = logging.getLogger("aiohttp.server")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
