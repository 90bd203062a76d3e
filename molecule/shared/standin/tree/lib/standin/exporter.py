"""`bin/prometheus_exporter -p PORT -b BIND [--prefix P]` (new in 4.6): a /metrics page,
and the clients that report to it.

Upstream's exporter is the prometheus_exporter gem's collector (2.3.1, Gemfile.lock:615
at 1440d55b): it serves its own metrics, plus whatever Puma and Sidekiq send it. They
send only when MASTODON_PROMETHEUS_EXPORTER_ENABLED is 'true' (config/puma.rb:19-43,
config/initializers/sidekiq.rb:26-47), process metrics typed 'puma' / 'sidekiq', to
PROMETHEUS_EXPORTER_HOST (default localhost) : PROMETHEUS_EXPORTER_PORT (default 9394)
(the gem's lib/prometheus_exporter/client.rb:55-56). An unreachable exporter does not
stop them. MASTODON_PROMETHEUS_EXPORTER_LOCAL (an in-process server) is not mimicked:
the roles run the separate exporter.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request
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
    own = (f"# HELP {prefix}standin_up The Mastodon stand-in exporter runs.\n"
           f"# TYPE {prefix}standin_up gauge\n"
           f'{prefix}standin_up{{version="{version}"}} 1\n')
    reported: dict[tuple[str, int], int] = {}  # (type, pid) -> RSS bytes, from clients
    lock = threading.Lock()

    class Metrics(BaseHTTPRequestHandler):
        def answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            if self.path.split("?")[0] != "/metrics":
                self.answer(404)
                return
            with lock:
                lines = [f'{prefix}rss{{type="{kind}",pid="{pid}"}} {rss}'
                         for (kind, pid), rss in sorted(reported.items())]
            text = own
            if lines:
                text += f"# HELP {prefix}rss Total RSS used by process.\n" \
                        f"# TYPE {prefix}rss gauge\n" + "\n".join(lines) + "\n"
            self.answer(200, text.encode())

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?")[0] != "/send-metrics":
                self.answer(404)
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                metric = json.loads(raw)
                key = (str(metric["custom_labels"]["type"]), int(metric["pid"]))
                rss = int(metric["rss"])
            except (ValueError, KeyError, TypeError):
                self.answer(400)
                return
            with lock:
                reported[key] = rss
            self.answer(200, b"OK")

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


REPORT_SECONDS = 30  # PrometheusExporter::Instrumentation::Process's default frequency


def _rss_bytes() -> int:
    resident = Path("/proc/self/statm").read_text(encoding="ascii").split()[1]
    return int(resident) * os.sysconf("SC_PAGE_SIZE")


def start_reporting(environ: dict[str, str], kind: str) -> None:
    """Puma's or Sidekiq's process metrics to the exporter, when enabled (a thread)."""
    if environ.get("MASTODON_PROMETHEUS_EXPORTER_ENABLED", "") != "true":
        return
    host = environ.get("PROMETHEUS_EXPORTER_HOST", "") or "localhost"
    port = environ.get("PROMETHEUS_EXPORTER_PORT", "") or "9394"
    url = f"http://{host}:{port}/send-metrics"

    def report() -> None:
        while True:
            metric = {"type": "process", "custom_labels": {"type": kind},
                      "pid": os.getpid(), "rss": _rss_bytes()}
            request = urllib.request.Request(  # noqa: S310 - the configured exporter
                url, data=json.dumps(metric).encode(), method="POST",
                headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                    pass
            except OSError as error:
                print(f"Prometheus Exporter, failed to send message {error}", file=sys.stderr,
                      flush=True)
            time.sleep(REPORT_SECONDS)

    threading.Thread(target=report, name="prometheus-exporter-client", daemon=True).start()
