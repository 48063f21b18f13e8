"""Where a webhook may be sent (server-side request forgery guard), checked when an endpoint is saved and again
before every delivery, since DNS can change between the two.

- https only, unless the URL's host is listed in ``CONFIG_WEBHOOK_ALLOWED_HOSTS``;
- no user name or password in the URL;
- every address the host resolves to must be public: loopback, private, link-local (the cloud metadata address
  169.254.169.254 among them), multicast, reserved and unspecified addresses are refused, unless
  ``CONFIG_WEBHOOK_ALLOW_PRIVATE=true``.

``resolve`` returns the checked addresses: the sender connects to one of them (never resolving again), so a DNS
answer cannot change between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import NamedTuple
from urllib.parse import urlsplit

from ... import conf


class UnsafeTarget(ValueError):
    """The URL may not receive webhooks; the message says why."""


class Target(NamedTuple):
    """A checked URL: scheme, host (for Host and TLS), port, path with query, and the addresses to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def check_url(url: str) -> tuple[str, str, int, str]:
    """The URL's scheme, host, port and path, or UnsafeTarget (no DNS lookup)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeTarget(f"not a valid URL: {error}") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("https", "http") or not host:
        raise UnsafeTarget("the URL must be https://HOST/...")
    if parts.username or parts.password:
        raise UnsafeTarget("the URL may not carry a user name or password")
    if scheme == "http" and host not in conf.webhook_allowed_hosts():
        raise UnsafeTarget(f"http:// is allowed only for hosts in CONFIG_WEBHOOK_ALLOWED_HOSTS; use https://{host}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(url: str) -> Target:
    """The checked target of ``url`` with the addresses it resolves to now, or UnsafeTarget."""
    scheme, host, port, path = check_url(url)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise UnsafeTarget(f"{host} does not resolve: {error}") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in found))
    if not conf.webhook_allow_private():
        for address in addresses:
            refused = _refusal(ipaddress.ip_address(address.split("%")[0]))
            if refused:
                raise UnsafeTarget(
                    f"{host} resolves to {address}, a {refused} address (CONFIG_WEBHOOK_ALLOW_PRIVATE is off)"
                )
    return Target(scheme, host, port, path, addresses)


def _refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    for kind, refused in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata)", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("non-global", not address.is_global),
    ):
        if refused:
            return kind
    return ""
