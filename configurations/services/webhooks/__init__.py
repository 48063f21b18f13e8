"""Webhooks: every change announced to other systems, signed, at least once, through a transactional outbox
(docs/webhooks.md). The triggers write the events; these services manage the endpoints and deliver."""

from .dispatch import backoff, claim, fan_out, prune, replay
from .endpoints import (
    add_endpoint,
    live_secrets,
    remove_endpoint,
    rotate_secret,
    save_endpoint,
    send_test_event,
)
from .runner import Report, deliver_due, run
from .targets import UnsafeTarget

__all__ = [
    "Report",
    "UnsafeTarget",
    "add_endpoint",
    "backoff",
    "claim",
    "deliver_due",
    "fan_out",
    "live_secrets",
    "prune",
    "remove_endpoint",
    "replay",
    "rotate_secret",
    "run",
    "save_endpoint",
    "send_test_event",
]
