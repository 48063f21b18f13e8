"""Real gunicorn servers for tests and benchmarks: started on a free loopback port, stopped afterwards, and a
small HTTP client with cookies and admin form submission (standard library only)."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """``python -m gunicorn`` with the repository's config file; ``env`` is the whole environment. ASGI (uvicorn
    workers) as `make serve` runs it, or with ``asgi=False`` gthread workers of ``threads`` threads."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 1,
        threads: int = 1,
        extra: tuple[str, ...] = (),
        port: int = 0,
        asgi: bool = True,
    ):
        self.port = port or free_port()  # a restart: the port of the server before
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_dir = tempfile.mkdtemp(prefix="test-metrics-")
        env = {
            **env, "DJANGO_SETTINGS_MODULE": "tests.serving_settings", "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir,
            "CONFIG_SERVER": "asgi" if asgi else "wsgi",
        }  # fmt: skip
        command = [
            sys.executable, "-m", "gunicorn", "-c", "config_site/gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--threads", str(threads), *extra,
        ]  # fmt: skip
        self.log: list[str] = []
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._collect, daemon=True).start()
        self.wait_until(lambda: get(self.url + "/healthz").status == 200, timeout=30, what="gunicorn answering")

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.log.append(line.rstrip("\n"))

    def wait_until(self, predicate, *, timeout: float, what: str, interval: float = 0.01):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited ({self.process.returncode}):\n" + "\n".join(self.log[-40:]))
            with contextlib.suppress(OSError):
                result = predicate()
                if result:
                    return result
            time.sleep(interval)
        raise AssertionError(f"not within {timeout}s: {what}\n" + "\n".join(self.log[-40:]))

    def worker_pids(self) -> set[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return {int(pid) for pid in children}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Response:
    def __init__(self, status: int, headers, body: bytes, url: str) -> None:
        self.status, self.headers, self.body, self.url = status, headers, body, url

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """Cookies, CSRF and admin forms over real HTTP. Redirects are not followed: tests see them."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> Response:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            request.add_header("Referer", self.base_url + path)
        try:
            with self.opener.open(request, timeout=30) as answer:
                return Response(answer.status, answer.headers, answer.read(), answer.url)
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read(), request.full_url)

    def get(self, path: str, headers: dict | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def login(self, username: str, password: str) -> None:
        form = self.form("/admin/login/")
        answer = self.request("POST", "/admin/login/", {**form, "username": username, "password": password})
        assert answer.status == 302, answer.text[:2000]

    def form(self, path: str) -> dict[str, str | list[str]]:
        """The fields of the page's main POST form, as a browser would send them unchanged."""
        page = self.get(path)
        assert page.status == 200, (page.status, page.text[:2000])
        parser = _FormParser()
        parser.feed(page.text)
        return parser.main_form()

    def submit(self, path: str, changes: dict[str, str]) -> Response:
        return self.request("POST", path, {**self.form(path), **changes})


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._current: dict | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._current = {}
            self.forms.append(self._current)
        if self._current is None:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self._current.setdefault(name, []).append(a.get("value", "on" if a.get("type") == "checkbox" else ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self._current[name] = [""]
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self._current.setdefault(self._select, []).append(a.get("value", ""))

    def handle_data(self, data):
        if self._textarea and self._current is not None:
            self._current[self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._current = None

    def main_form(self) -> dict:
        forms = [f for f in self.forms if "csrfmiddlewaretoken" in f and len(f) > 1]
        biggest = max(forms, key=len)
        return {name: values[0] if len(values) == 1 else values for name, values in biggest.items()}


def get(url: str, headers: dict | None = None, timeout: float = 10) -> Response:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, answer.headers, answer.read(), url)
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read(), url)


def put_json(url: str, body: dict, headers: dict | None = None, timeout: float = 10) -> Response:
    """PUT a JSON body."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="PUT",
                                     headers={**(headers or {}), "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, answer.headers, answer.read(), url)
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read(), url)
