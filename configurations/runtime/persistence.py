"""Runtime snapshots saved on disk, so that a restart during a database outage still has values.

Off unless ``CONFIG_RUNTIME_SNAPSHOT_DIR`` is set. The file holds the rows as stored: secrets stay encrypted.
It is written atomically (a temporary file renamed over the old one) and readable by its owner only.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from ..core import conf

logger = logging.getLogger(__name__)
FORMAT = 1


def _path(environment: str) -> Path | None:
    directory = conf.runtime_snapshot_dir()
    return Path(directory) / f"configurations-{environment}.json" if directory else None


def save(environment: str, rows: list[tuple]) -> None:
    path = _path(environment)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-", suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump({"format": FORMAT, "environment": environment, "rows": rows}, out)
        os.replace(temporary, path)  # mkstemp made it 0600
    except OSError as error:
        logger.warning("Could not save the %s configuration snapshot to %s: %s", environment, path, error)


def load(environment: str) -> list[tuple] | None:
    path = _path(environment)
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        logger.warning("Could not read the %s configuration snapshot %s: %s", environment, path, error)
        return None
    if data.get("format") != FORMAT or data.get("environment") != environment:
        return None
    return [tuple(row) for row in data["rows"]]
