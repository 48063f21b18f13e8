"""Apply the approved change requests whose scheduled time has come (one pass; --loop keeps running)."""

from __future__ import annotations

import time

from configurations import services
from configurations.management.auditing import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Apply every approved change request whose apply_at has come, each all or nothing; one that can no longer "
        "apply becomes conflicted. With --loop, pass again every --interval seconds until stopped."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--loop", action="store_true", help="Keep running, one pass every --interval seconds.")
        parser.add_argument("--interval", type=float, default=30.0, help="Seconds between passes (default 30).")

    def handle(self, *args, loop: bool, interval: float, **options):
        while True:
            for request in services.apply_due():
                detail = f": {request.conflicts}" if request.state == "conflicted" else ""
                self.stdout.write(f"#{request.pk} {request.title}: {request.state}{detail}")
            if not loop:
                return
            time.sleep(max(0.1, interval))
