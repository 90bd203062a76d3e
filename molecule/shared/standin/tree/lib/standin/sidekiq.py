"""The Sidekiq process (`bundle exec sidekiq -c N [-q queue[,weight]]...`).

It validates its command line like Sidekiq's CLI, boots with the same checks as the web
process, announces the queues it serves (log line plus tmp/sidekiq-<pid>.queues, removed
on exit) and idles until SIGTERM (TSTP is accepted, as Sidekiq's "quiet").
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from standin import env as envmod
from standin.env import ROOT, ContractError

# Upstream's config/sidekiq.yml queues, used when no -q is given.
DEFAULT_QUEUES = [("default", 8), ("push", 6), ("ingress", 4), ("mailers", 2), ("pull", 1),
                  ("scheduler", 1), ("fasp", 1)]
QUEUE = re.compile(r"^[a-z0-9_-]+$")


class ArgumentError(Exception):
    pass


def parse(argv: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"concurrency": 5, "queues": [], "environment": None,
                               "config": None}
    i = 0
    while i < len(argv):
        flag = argv[i]
        i += 1
        name, _, inline = flag.partition("=")
        if name in ("-c", "--concurrency", "-q", "--queue", "-e", "--environment",
                    "-C", "--config", "-t", "--timeout", "-g", "--tag", "-r", "--require"):
            if inline:
                value = inline
            elif i < len(argv):
                value = argv[i]
                i += 1
            else:
                raise ArgumentError(f"missing argument: {name}")
        elif name in ("-v", "--verbose"):
            continue
        else:
            raise ArgumentError(f"invalid option: {flag}")
        if name in ("-c", "--concurrency"):
            if not value.isdigit() or int(value) < 1:
                raise ArgumentError(f"invalid argument: {name} {value}")
            options["concurrency"] = int(value)
        elif name in ("-q", "--queue"):
            queue, _, weight = value.partition(",")
            if not QUEUE.match(queue) or (weight and not weight.isdigit()):
                raise ArgumentError(f"invalid argument: {name} {value}")
            options["queues"].append((queue, int(weight) if weight else 1))
        elif name in ("-e", "--environment"):
            options["environment"] = value
        elif name in ("-C", "--config"):
            options["config"] = value
    return options


def main(argv: list[str], root: Path = ROOT) -> int:
    try:
        options = parse(argv)
    except ArgumentError as error:
        print(f"sidekiq (stand-in): {error}", file=sys.stderr)
        return 1
    environ = envmod.load(root)
    if options["environment"]:
        environ["RAILS_ENV"] = options["environment"]
    try:
        envmod.check_boot(environ, root)
    except ContractError as error:
        print(f"sidekiq (stand-in): refusing to boot: {error}", file=sys.stderr)
        return 1
    queues = options["queues"] or DEFAULT_QUEUES
    names = [name for name, _weight in queues]
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    marker = tmp / f"sidekiq-{os.getpid()}.queues"
    marker.write_text(json.dumps({
        "pid": os.getpid(), "concurrency": options["concurrency"], "queues": names,
        "weights": dict(queues), "db_pool": environ.get("DB_POOL", ""),
        "version": envmod.version_string(root)}) + "\n", encoding="utf-8")
    print(f"Booted Sidekiq stand-in (Mastodon {envmod.version_string(root)}) with "
          f"concurrency={options['concurrency']} queues={','.join(names)} pid={os.getpid()}",
          flush=True)
    done = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        done.set()

    def quiet(_signum: int, _frame: Any) -> None:
        print("Sidekiq stand-in: quiet (TSTP), no new jobs", flush=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTSTP, quiet)
    try:
        while not done.wait(3600):
            pass
    finally:
        marker.unlink(missing_ok=True)
    print("Sidekiq stand-in: shut down", flush=True)
    return 0
