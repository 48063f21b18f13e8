"""Request ids for log lines: one per request, taken from ``X-Request-ID`` when it is well-formed, else new.

``RequestIdFilter`` puts it on every log record (``request_id``; ``-`` outside a request), so that a JSON or text
log line can be traced to the request and to the proxy's own log.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("configurations_request_id", default="-")
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id(given: str | None) -> str:
    """The request id a client sent, if well formed, else a fresh one."""
    return given if given and _WELL_FORMED.match(given) else uuid.uuid4().hex


def current() -> str:
    """The request id of the running request."""
    return _request_id.get()


def bind(request_id: str):
    """Make ``request_id`` the running request's id; returns the token for unbind."""
    return _request_id.set(request_id)


def unbind(token) -> None:
    """Forget the request id bound with ``token``."""
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds the running request's id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True
