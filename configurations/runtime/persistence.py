"""Runtime snapshots saved on disk, so that a restart during a database outage still has values.

Off unless ``CONFIG_RUNTIME_SNAPSHOT_DIR`` is set. The whole file is sealed with the encryption key
(AES-256-GCM, bound to its environment): a file that was edited, truncated or copied from another environment
does not verify, is logged and is never served. Inside, rows are kept as stored (secrets stay encrypted
too). It is written atomically (a temporary file renamed over the old one) and readable by its owner only.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from .. import conf
from ..core import crypto

logger = logging.getLogger(__name__)
FORMAT = 3


class Saved(NamedTuple):
    """A snapshot as saved on disk: its rows, category versions, and the metadata it read (defaults, passwords)."""

    rows: list[tuple]
    category_versions: dict[str, int]
    metadata: list[tuple] = []


def enabled() -> bool:
    """Whether snapshots are saved (CONFIG_RUNTIME_SNAPSHOT_DIR is set)."""
    return bool(conf.runtime_snapshot_dir())


def _path(environment: str) -> Path | None:
    directory = conf.runtime_snapshot_dir()
    return Path(directory) / f"configurations-{environment}.json" if directory else None


def _purpose(environment: str) -> str:
    return f"configurations runtime snapshot v{FORMAT}: {environment}"


def save(environment: str, rows: list[tuple], category_versions: dict[str, int], metadata: list[tuple]) -> None:
    """Save an environment's snapshot for a restart during an outage (secrets stay encrypted)."""
    path = _path(environment)
    if path is None:
        return
    try:
        document = {"environment": environment, "rows": rows, "versions": category_versions, "metadata": metadata}
        payload = json.dumps(document).encode()
        document = {"format": FORMAT, **crypto.seal(payload, purpose=_purpose(environment))}
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-", suffix=".tmp")
        with os.fdopen(handle, "w") as out:
            json.dump(document, out)
        os.replace(temporary, path)  # mkstemp made it 0600
    except (OSError, crypto.EncryptionError) as error:
        logger.warning("Could not save the %s configuration snapshot to %s: %s", environment, path, error)


def load(environment: str) -> Saved | None:
    """The rows and versions saved for ``environment``, or None when there is no file or it does not verify."""
    path = _path(environment)
    if path is None or not path.exists():
        return None
    try:
        document = json.loads(path.read_text())
        data = json.loads(crypto.unseal(document, purpose=_purpose(environment)))
    except (OSError, ValueError, AttributeError, crypto.DecryptionError) as error:
        logger.error("Refusing the %s configuration snapshot %s: %s", environment, path, error)
        return None
    if data.get("environment") != environment:
        logger.error("Refusing the %s configuration snapshot %s: it is for another environment", environment, path)
        return None
    versions = {str(c): int(v) for c, v in data["versions"].items()}
    return Saved([tuple(row) for row in data["rows"]], versions, [tuple(row) for row in data.get("metadata", [])])
