"""`bin/prometheus_exporter -p PORT -b BIND [--prefix P]` (new in 4.6): a /metrics page."""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standin import env as envmod
from standin.env import ROOT

VALUE_OPTIONS = {"-p": "port", "--port": "port", "-b": "bind", "--bind": "bind",
                 "--prefix": "prefix"}


def parse(argv: list[str]) -> dict[str, str]:
    options = {"port": "9394", "bind": "localhost", "prefix": "ruby_"}
    i = 0
    while i < len(argv):
        name, _, inline = argv[i].partition("=")
        i += 1
        if name not in VALUE_OPTIONS:
            raise ValueError(f"invalid option: {argv[i - 1]}")
        if not inline:
            if i >= len(argv):
                raise ValueError(f"missing argument: {name}")
            inline = argv[i]
            i += 1
        options[VALUE_OPTIONS[name]] = inline
    if not options["port"].isdigit():
        raise ValueError(f"invalid argument: --port {options['port']}")
    return options


def main(argv: list[str], root: Path = ROOT) -> int:
    try:
        options = parse(argv)
    except ValueError as error:
        print(f"prometheus_exporter (stand-in): {error}", file=sys.stderr)
        return 1
    prefix, version = options["prefix"], envmod.version_string(root)
    body = (f"# HELP {prefix}standin_up The Mastodon stand-in exporter runs.\n"
            f"# TYPE {prefix}standin_up gauge\n"
            f'{prefix}standin_up{{version="{version}"}} 1\n').encode()

    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            found = self.path.split("?")[0] == "/metrics"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer((options["bind"], int(options["port"])), Metrics)

    def stop(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Prometheus exporter stand-in listening on {options['bind']}:{options['port']}",
          flush=True)
    server.serve_forever()
    return 0
