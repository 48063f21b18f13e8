"""A reader process for the cross-process runtime tests and benchmark.

Reads ``runtime.get(category, key)`` in a tight loop and prints ``<value> <monotonic time>`` whenever the
value it sees changes, until it reads ``stop`` or ``--seconds`` pass. ``heartbeat`` lines prove that reads go
on (for the outage test).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--category", default="runtime")
    parser.add_argument("--key", default="probe")
    parser.add_argument("--environment", default="test")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--heartbeat", type=float, default=0)
    parser.add_argument("--memory", action="store_true", help="print 'rss <bytes before> <bytes after>' the load")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from configurations import runtime

    if args.memory:
        before = _rss()
        runtime.get(args.category, args.key, None, environment=args.environment)
        print(f"rss {before} {_rss()}", flush=True)
    seen = object()
    deadline = time.monotonic() + args.seconds
    next_beat = time.monotonic() + args.heartbeat if args.heartbeat else float("inf")
    print("ready", flush=True)
    while time.monotonic() < deadline:
        value = runtime.get(args.category, args.key, None, environment=args.environment)
        now = time.monotonic()
        if value != seen:
            seen = value
            print(f"{value} {now:.6f}", flush=True)
            if value == "stop":
                return 0
        if now >= next_beat:
            print(f"heartbeat {value} {now:.6f}", flush=True)
            next_beat = now + args.heartbeat
        time.sleep(0.0005)
    return 0


def _rss() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


if __name__ == "__main__":
    sys.exit(main())
