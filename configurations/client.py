"""A small client for services outside Django: the Python standard library alone (no Django, no settings), one file
to vendor if need be (docs/client.md).

    from configurations.client import ConfigClient
    config = ConfigClient("https://config.example.com", TOKEN, "production", cache_path="/var/cache/app/config.json")
    config.start()                       # from the server; if it is down, from the cache file or a bootstrap file
    config.get_int("smtp", "port", 25)
    config.on_change(lambda changed: print("changed:", changed))

- An in-memory snapshot of every category the token may read, kept fresh by the API's long poll (``changes/``)
  and revalidated with the ETag (``If-None-Match``): an unchanged environment costs no body.
- A last-known-good cache file, written atomically (a temporary file, fsync, rename; 0600) and checksummed
  (SHA-256); a file that does not verify is ignored. Secrets go in it only encrypted by the ``cache_cipher`` the
  caller gives (an object with ``encrypt(bytes) -> bytes`` and ``decrypt(bytes) -> bytes``, e.g.
  ``cryptography.fernet.Fernet(key)``); without one they are left out.
- If the server is down at start: the cache file, then ``bootstrap_path`` (a file in the API's ``configurations/``
  answer's shape). Errors while following are retried with exponential backoff and jitter; the last values keep
  being served meanwhile (``stale`` says so).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import random
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("configurations.client")
FORMAT = 1
_MISSING = object()


class ClientUnavailable(RuntimeError):
    """Neither the server, nor a cache file, nor a bootstrap file gave values."""


class ConfigClient:
    """Typed reads of one environment's configurations, kept fresh by a background long poll."""

    def __init__(self, base_url: str, token: str, environment: str, *, cache_path: str | None = None,
                 cache_cipher=None, bootstrap_path: str | None = None, timeout: float = 10.0, wait: int = 30,
                 max_backoff: float = 30.0):  # fmt: skip
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"base_url must be http(s)://...; got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.environment = environment
        self.cache_path, self.cache_cipher, self.bootstrap_path = cache_path, cache_cipher, bootstrap_path
        self.timeout, self.wait, self.max_backoff = timeout, wait, max_backoff
        self._token = token
        self._categories: dict[str, dict[str, Any]] = {}
        self._secret_keys: dict[str, list[str]] = {}
        self.version = 0
        self.source: str | None = None  # "server", "cache" or "bootstrap"
        self.stale = True
        self._etag: str | None = None
        self._callbacks: list[Callable[[list[str]], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------- reading

    def get(self, category: str, key: str, default: Any = _MISSING) -> Any:
        """The key's value (typed as stored; a JSON value is a copy), else ``default`` (KeyError without one)."""
        value = self._categories.get(category, {}).get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(f"{category}.{key}")
            return default
        return json.loads(json.dumps(value)) if isinstance(value, dict | list) else value

    def get_bool(self, category: str, key: str, default: Any = _MISSING) -> bool:
        """A boolean value; TypeError if the stored one is not."""
        return self._typed(category, key, default, bool)

    def get_int(self, category: str, key: str, default: Any = _MISSING) -> int:
        """A whole number; TypeError otherwise."""
        return self._typed(category, key, default, int)

    def get_float(self, category: str, key: str, default: Any = _MISSING) -> float:
        """A number, as a float; TypeError otherwise."""
        return float(self._typed(category, key, default, (int, float)))

    def get_str(self, category: str, key: str, default: Any = _MISSING) -> str:
        """A string; TypeError otherwise."""
        return self._typed(category, key, default, str)

    def get_json(self, category: str, key: str, default: Any = _MISSING) -> Any:
        """A JSON value (object, list, or scalar), copied."""
        return self.get(category, key, default)

    def get_category(self, category: str) -> dict[str, Any]:
        """Every key of the category, copied."""
        return json.loads(json.dumps(self._categories.get(category, {})))

    def on_change(self, callback: Callable[[list[str]], None]) -> None:
        """Call ``callback(changed_categories)`` after each change is applied (in the client's thread)."""
        self._callbacks.append(callback)

    def _typed(self, category, key, default, kind):
        value = self.get(category, key, default)
        if value is default and default is not _MISSING:
            return value
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise TypeError(f"{category}.{key} is {type(value).__name__}, not {getattr(kind, '__name__', 'a number')}")
        return value

    # ----------------------------------------------------------------------------------------- lifecycle

    def start(self, *, follow: bool = True) -> ConfigClient:
        """Load the values (server, else cache file, else bootstrap file), then follow changes in a thread."""
        try:
            self._fetch()
        except (OSError, ValueError) as error:
            logger.warning("configurations: the server is unreachable at start (%s)", error)
            if not (self._load_cache() or self._load_bootstrap()):
                raise ClientUnavailable(
                    f"no values: the server is unreachable ({error}) and no file to start from"
                ) from error
        if follow:
            self._thread = threading.Thread(target=self._follow, daemon=True, name="configurations-client")
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop following (the values stay readable)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + self.wait + 1)

    def _follow(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                changed = self._poll()
                if changed is not None:
                    self._fetch(changed)
                failures = 0
            except (OSError, ValueError) as error:
                self.stale = True
                failures += 1
                delay = min(self.max_backoff, 0.5 * 2 ** (failures - 1))
                logger.warning("configurations: %s; retrying in about %.1f s", error, delay)
                self._stop.wait(delay / 2 + random.uniform(0, delay / 2))  # jitter

    # ---------------------------------------------------------------------------------------------- HTTP

    def _request(self, path: str, headers: dict[str, str] | None = None, timeout: float | None = None):
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked: http or https
            f"{self.base_url}/api/v1/environments/{self.environment}/{path}",
            headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as answer:  # noqa: S310 - http(s)
                return answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            if error.code == 304:
                return 304, error.headers, b""
            raise OSError(f"HTTP {error.code} from the configuration server") from None

    def _poll(self) -> list[str] | None:
        """Wait for a change after our version; the categories changed, or None if none came."""
        status, _, body = self._request(f"changes/?since={self.version}&wait={self.wait}",
                                        timeout=self.wait + self.timeout)  # fmt: skip
        return None if status == 304 else json.loads(body)["changed"]

    def _fetch(self, changed: list[str] | None = None) -> None:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        status, answer_headers, body = self._request("configurations/", headers)
        self.stale = False
        if status == 304:
            return
        document = json.loads(body)
        self._etag = answer_headers.get("ETag")
        self._install(document, "server")
        self._save_cache()
        for callback in list(self._callbacks) if changed is not None else []:
            try:
                callback(changed)
            except Exception:  # a callback's failure must not stop the client
                logger.exception("configurations: an on_change callback failed")

    def _install(self, document: dict, source: str) -> None:
        categories = document.get("categories", {})
        self._categories = {c: dict(body.get("values", {})) for c, body in categories.items()}
        self._secret_keys = {c: list(body.get("secret_keys", [])) for c, body in categories.items()}
        self.version = int(document.get("version", 0))
        self.source = source

    # --------------------------------------------------------------------------------------------- files

    def _save_cache(self) -> None:
        if not self.cache_path:
            return
        body = {"format": FORMAT, "environment": self.environment, "version": self.version, "categories": {}}
        for category, values in self._categories.items():
            secret = set(self._secret_keys.get(category, []))
            plain = {k: v for k, v in values.items() if k not in secret}
            sealed = {}
            if self.cache_cipher is not None:
                sealed = {k: base64.b64encode(self.cache_cipher.encrypt(json.dumps(v).encode())).decode()
                          for k, v in values.items() if k in secret and v is not None}  # fmt: skip
            body["categories"][category] = {"values": plain, "sealed": sealed, "secret_keys": sorted(secret)}
        text = json.dumps(body, sort_keys=True)
        document = json.dumps({"checksum": hashlib.sha256(text.encode()).hexdigest(), "body": text})
        directory = os.path.dirname(os.path.abspath(self.cache_path))
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".config-cache-")
        try:
            with os.fdopen(handle, "w") as file:  # mkstemp's file is 0600
                file.write(document)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.cache_path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _load_cache(self) -> bool:
        if not self.cache_path or not os.path.exists(self.cache_path):
            return False
        try:
            with open(self.cache_path) as file:
                outer = json.load(file)
            text = outer["body"]
            if hashlib.sha256(text.encode()).hexdigest() != outer["checksum"]:
                raise ValueError("the checksum does not match")
            body = json.loads(text)
            if body.get("format") != FORMAT or body.get("environment") != self.environment:
                raise ValueError("another format or environment")
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("configurations: ignoring the cache file %s (%s)", self.cache_path, error)
            return False
        for entry in body["categories"].values():
            for key, sealed in entry.get("sealed", {}).items():
                if self.cache_cipher is not None:
                    entry["values"][key] = json.loads(self.cache_cipher.decrypt(base64.b64decode(sealed)))
        self._install(body, "cache")
        return True

    def _load_bootstrap(self) -> bool:
        if not self.bootstrap_path or not os.path.exists(self.bootstrap_path):
            return False
        with open(self.bootstrap_path) as file:
            self._install(json.load(file), "bootstrap")
        return True
