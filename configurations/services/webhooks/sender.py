"""One HTTP POST of a webhook, safely: to an address checked just before (targets.resolve, never resolved again),
https verified, no redirect followed, connect and read timeouts, at most 64 KiB of the answer read."""

from __future__ import annotations

import http.client
import socket
from typing import NamedTuple

from . import targets

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "configurations-webhooks/1"


class Answer(NamedTuple):
    """What came of an attempt: the HTTP status (None: no answer) and, unless 2xx, why it failed."""

    status: int | None
    error: str

    @property
    def ok(self) -> bool:
        """The receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


class _Pinned(http.client.HTTPConnection):
    """HTTP to one checked address, with the URL's host in the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to one checked address; the certificate is verified against the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Answer:
    """POST ``body`` to ``url``; the first address that accepts the connection gets it (once)."""
    try:
        target = targets.resolve(url)
    except targets.UnsafeTarget as error:
        return Answer(None, f"refused: {error}")
    kind = _PinnedTLS if target.scheme == "https" else _Pinned
    error = "no address to connect to"
    for address in target.addresses:
        connection = kind(target.host, target.port, address, timeout)
        try:
            connection.connect()
        except OSError as failure:
            error = f"connection to {address} failed: {failure}"
            connection.close()
            continue
        try:
            return _send(connection, target.path, body, headers)
        except (OSError, http.client.HTTPException) as failure:
            return Answer(None, f"{type(failure).__name__}: {failure}")
        finally:
            connection.close()
    return Answer(None, error)


def _send(connection: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> Answer:
    sent = {**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT}
    connection.request("POST", path, body=body, headers=sent)
    response = connection.getresponse()
    response.read(MAX_RESPONSE_BYTES)
    if 200 <= response.status < 300:
        return Answer(response.status, "")
    if 300 <= response.status < 400:
        return Answer(response.status, f"HTTP {response.status}: redirects are not followed")
    return Answer(response.status, f"HTTP {response.status}")
