"""A local webhook receiver for figure 9, run as its own process: answers 200 to every POST and
appends one line per request to a file: arrival time (epoch seconds), then the raw body.

    python -m bench.webhook_sink LOGFILE      (prints "ready PORT" once listening)
"""

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    out = open(sys.argv[1], "ab", buffering=0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            line = f"{time.time():.6f} ".encode() + body.replace(b"\n", b" ") + b"\n"
            with lock:
                out.write(line)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # set before listen(): several workers send 8 requests at once each

    server = Server(("127.0.0.1", 0), Handler)
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
