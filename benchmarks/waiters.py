"""Thousands of long-poll clients in one process (asyncio on raw sockets), for benchmarks/long_polls.py.

``python -m benchmarks.waiters PORT PATH SINCE COUNT TOKEN [TOKEN ...]`` opens COUNT connections, each sending
``GET PATH?since=SINCE&wait=60`` with the tokens in turn, and polls again after a 304 (the wait ran out), so that
COUNT polls stay open. Each connection's first 200 ends it. It prints one JSON line when every connection got its
200 or after 120 seconds: the wall-clock time of each 200 and the statuses seen. Standard library only (uvloop
when installed).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

CONNECT_AT_ONCE = 200  # connections opened at a time: the server's listen backlog is finite


async def _poll(port: int, request: bytes, answers: list, statuses: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            if length:
                await reader.readexactly(length)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                answers.append(time.time())
                return
            if status == 429:
                await asyncio.sleep(1)
    finally:
        writer.close()


async def main(port: int, path: str, since: int, count: int, tokens: list[str]) -> dict:
    answers: list[float] = []
    statuses: dict[int, int] = {}
    tasks = []
    for n in range(count):
        request = (
            f"GET {path}?since={since}&wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {tokens[n % len(tokens)]}\r\n\r\n"
        ).encode()
        tasks.append(asyncio.ensure_future(_poll(port, request, answers, statuses)))
        if n % CONNECT_AT_ONCE == CONNECT_AT_ONCE - 1:
            await asyncio.sleep(0.05)
    print(json.dumps({"event": "sent", "count": count}), flush=True)
    done, pending = await asyncio.wait(tasks, timeout=120)
    for task in pending:
        task.cancel()
    errors = sum(1 for task in done if task.exception() is not None)
    return {"answers": answers, "statuses": statuses, "errors": errors, "unanswered": len(pending)}


if __name__ == "__main__":
    port, path, since, count, *tokens = sys.argv[1:]
    try:
        import uvloop  # the server's own event loop, if installed: a cheaper client leaves the server more CPU
    except ImportError:
        result = asyncio.run(main(int(port), path, int(since), int(count), tokens))
    else:
        result = uvloop.run(main(int(port), path, int(since), int(count), tokens))
    print(json.dumps({"event": "done", **result}), flush=True)
