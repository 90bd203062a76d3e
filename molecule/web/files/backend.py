#!/usr/bin/env python3
"""Stand-in for Mastodon's Puma: answers every request with its headers as JSON.

`/cacheable` answers with a public Cache-Control so nginx's proxy cache stores
it; every other path says no-store, as Rails does for pages.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
        body = json.dumps(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        cache = "public, max-age=600" if self.path == "/cacheable" else "no-store"
        self.send_header("Cache-Control", cache)
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), EchoHandler).serve_forever()
