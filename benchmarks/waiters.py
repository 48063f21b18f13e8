"""Thousands of long-poll clients in one process (asyncio protocols on raw sockets), for benchmarks/long_polls.py.

``python -m benchmarks.waiters PORT PATH SINCE COUNT ROUNDS TOKEN [TOKEN ...]`` opens COUNT connections, each
sending ``GET PATH?since=SINCE&wait=60`` with the tokens in turn. A 304 (the wait ran out) polls again with the same
``since``; a 200 is recorded and, until ROUNDS of them, polls again on the same connection with the version it
answered, as a client following the changes does. It prints one JSON line when every connection had its ROUNDS
answers or after 300 seconds: per round, the wall-clock time of each 200; and the statuses seen. Before that, a
line as soon as every connection had a round's answer. Standard library
only (uvloop when installed).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

CONNECT_AT_ONCE = 200  # connections opened at a time: the server's listen backlog is finite


def emit(event: dict) -> None:
    """One JSON line on standard output, written whole. After uvloop has run, with standard input a pipe (as under a
    CI runner), a large ``print`` to the stdout pipe was cut short without an error: its one write came back short,
    at 62 KB of 300 KB, and the rest was dropped (tests/benchmarks/test_waiters.py). ``os.write`` until every byte
    is out loses nothing."""
    data = (json.dumps(event) + "\n").encode()
    while data:
        data = data[os.write(sys.stdout.fileno(), data) :]


class _Poll(asyncio.Protocol):
    """One connection following the changes for ``rounds`` answers. A protocol, not a stream: the client shares the
    cores with the server, so it does as little as it can per answer."""

    def __init__(self, path: str, since: int, token: str, rounds: int, results: dict, done: asyncio.Future) -> None:
        self.path, self.since, self.token, self.rounds = path, since, token, rounds
        self.results, self.done, self.round, self.buffer = results, done, 0, b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._ask()

    def _ask(self) -> None:
        self.transport.write(
            f"GET {self.path}?since={self.since}&wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {self.token}\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
            length = next(
                (int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:"), 0
            )
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self._answered(int(head[9:12]), rest[:length])

    def _answered(self, status: int, body: bytes) -> None:
        at = time.time()
        statuses = self.results["statuses"]
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            answers = self.results["answers"][self.round]
            answers.append(at)
            if len(answers) == self.results["count"]:
                emit({"event": "answered", "round": self.round + 1})
            self.round += 1
            if self.round == self.rounds:
                if not self.done.done():
                    self.done.set_result(None)
                return
            self.since = int(body[11 : body.index(b",")])  # b'{"version":N,...': cheaper than json.loads here
            self._ask()
        elif status == 429:
            asyncio.get_running_loop().call_later(1, self._ask)
        else:
            self._ask()

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed before its last answer"))


async def main(port: int, path: str, since: int, count: int, rounds: int, tokens: list[str]) -> dict:
    """Open every poll, wait for every answer of every round (300 s at most); what was seen."""
    loop = asyncio.get_running_loop()
    results: dict = {"answers": [[] for _ in range(rounds)], "statuses": {}, "count": count}
    transports, waits = [], []
    for n in range(count):
        done = loop.create_future()
        poll = _Poll(path, since, tokens[n % len(tokens)], rounds, results, done)
        transport, _ = await loop.create_connection(lambda p=poll: p, "127.0.0.1", port)
        transports.append(transport)
        waits.append(done)
        if n % CONNECT_AT_ONCE == CONNECT_AT_ONCE - 1:
            await asyncio.sleep(0.05)
    emit({"event": "sent", "count": count})
    finished, pending = await asyncio.wait(waits, timeout=300)
    for transport in transports:
        transport.close()
    errors = sum(1 for done in finished if done.exception() is not None)
    return {**results, "errors": errors, "unanswered": len(pending)}


if __name__ == "__main__":
    port, path, since, count, rounds, *tokens = sys.argv[1:]
    arguments = (int(port), path, int(since), int(count), int(rounds), tokens)
    try:
        import uvloop  # the server's own event loop, if installed: a cheaper client leaves the server more CPU
    except ImportError:
        outcome = asyncio.run(main(*arguments))
    else:
        outcome = uvloop.run(main(*arguments))
    emit({"event": "done", **outcome})
