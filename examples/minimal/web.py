"""A tiny HTTP server: GET / greets, GET /healthz answers "ok", POST /jobs enqueues a job."""

import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

QUEUE = Path(os.environ.get("QUEUE_DIR", "var/queue"))
NAME = f"web.{os.environ.get('PRODSERVER_INSTANCE', '1')}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._reply(200, "ok\n")
        elif self.path == "/":
            self._reply(200, f"{os.environ.get('GREETING', 'hello')} from {NAME}\n")
        else:
            self._reply(404, "not found\n")

    def do_POST(self) -> None:
        if self.path != "/jobs":
            self._reply(404, "not found\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") or "empty"
        name = f"{time.time_ns()}.job"
        tmp = QUEUE / f".{name}"
        tmp.write_text(body, encoding="utf-8")
        tmp.rename(QUEUE / name)  # the worker never sees a half-written job
        self._reply(202, f"queued {name}\n")

    def _reply(self, status: int, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}")


def main() -> None:
    port = int(os.environ["PORT"])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    # SIGTERM (prodserver's stop signal for a plain command) ends serve_forever cleanly.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(f"serving on http://127.0.0.1:{port}/")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        print("stopped")


if __name__ == "__main__":
    main()
