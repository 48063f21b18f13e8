"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request, answers a chosen status, can go down
and come back on the same port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """``url`` takes POSTs; ``received`` holds (headers, body bytes); ``status`` is what it answers."""

    def __init__(self, status: int = 204, path: str = "/hooks"):
        self.status = status
        self.path = path
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.extra_headers: dict[str, str] = {}
        self.response_body = b""
        self.on_receive = None  # called with (headers, body) as each request arrives
        self._lock = threading.Lock()
        self._server = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> None:
        """Listen (again, on the same port once it had one)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append((dict(self.headers.items()), body))
                if receiver.on_receive is not None:
                    receiver.on_receive(receiver.received[-1])
                self.send_response(receiver.status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.response_body)))
                self.end_headers()
                self.wfile.write(receiver.response_body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Go down: connections are refused until ``start``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def documents(self) -> list[dict]:
        """The JSON bodies received, in order."""
        with self._lock:
            return [json.loads(body) for _, body in self.received]
