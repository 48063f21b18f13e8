"""The long-poll benchmark's client process (benchmarks/waiters.py) reports what it saw whole: its last line carries
every answer's time, hundreds of kilobytes, through a pipe its reader drains only now and then."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.servers import ROOT

# As benchmarks/waiters.py runs: the event loop (uvloop) first, then its outcome on standard output.
CHILD = """
import asyncio
import uvloop
from benchmarks.waiters import emit

async def main():
    emit({"event": "sent", "count": 1})
    await asyncio.sleep(0.05)

uvloop.run(main())
emit({"event": "done", "answers": [[1700000000.123456] * 15000 for _ in range(3)]})
"""


def test_a_large_last_line_reaches_a_slow_reader_whole():
    # Its standard input a pipe too, as when `make bench` runs under a CI runner: that is where the line was cut.
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.5)  # the reader is busy: the pipe fills up before it reads
    out, _ = child.communicate(input="", timeout=30)
    lines = out.splitlines()
    assert child.returncode == 0
    assert json.loads(lines[0]) == {"event": "sent", "count": 1}
    done = json.loads(lines[-1])
    assert [len(answers) for answers in done["answers"]] == [15000, 15000, 15000]
