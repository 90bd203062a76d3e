"""The Sidekiq process (`bundle exec sidekiq -c N [-q queue[,weight]]...`).

It validates its command line like Sidekiq's CLI, boots with the same checks as the web
process, announces the queues it serves (log line plus tmp/sidekiq-<pid>.queues, removed
on exit) and then runs jobs until SIGTERM: `concurrency` threads each BRPOP the queues it
serves from the Sidekiq Redis (SIDEKIQ_REDIS_*, else REDIS_*, as upstream's
config/initializers/sidekiq.rb l.7 with lib/mastodon/redis_configuration.rb l.14-16) and
run the worker (standin.jobs). TSTP is Sidekiq's "quiet": no new jobs are fetched.

Queue order as Sidekiq::BasicFetch: with equal weights strictly in the given order,
otherwise each fetch draws a weighted random order (every queue listed `weight` times,
shuffled, duplicates dropped), so a light queue is not starved.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from standin import env as envmod
from standin import exporter, jobs, resp
from standin.db import Database, DatabaseError
from standin.env import ROOT, ContractError

# Sidekiq::BasicFetch::TIMEOUT: BRPOP blocks at most this long, so shutdown is prompt.
FETCH_TIMEOUT = 2

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


def fetch_order(queues: list[tuple[str, int]]) -> list[str]:
    """The `queue:NAME` keys of one BRPOP, in BasicFetch's order."""
    if len({weight for _name, weight in queues}) <= 1:
        names = [name for name, _weight in queues]
    else:
        pool = [name for name, weight in queues for _ in range(max(weight, 1))]
        random.shuffle(pool)
        names = list(dict.fromkeys(pool))
    return [f"queue:{name}" for name in names]


def work(environ: dict[str, str], queues: list[tuple[str, int]], done: threading.Event,
         quiet: threading.Event) -> None:
    """One processor thread: fetch, perform, retry on failure; reconnect when Redis drops."""
    db = Database(environ)
    redis = resp.Redis(resp.settings(environ, "SIDEKIQ_"))
    feeds = resp.Redis(resp.settings(environ))  # FeedManager writes to the base Redis
    failing = False
    while not done.is_set():
        if quiet.is_set():
            done.wait(1)
            continue
        try:
            reply = redis.command("BRPOP", *fetch_order(queues), FETCH_TIMEOUT,
                                  timeout=FETCH_TIMEOUT + 5)
        except resp.RedisError as error:
            if not failing:  # once per outage and thread, not once a second
                print(f"Sidekiq stand-in: Redis: {error}", file=sys.stderr, flush=True)
            failing = True
            redis.close()
            done.wait(1)
            continue
        if failing:
            print("Sidekiq stand-in: Redis reachable again", flush=True)
            failing = False
        if reply is None:
            continue
        _key, raw = reply
        try:
            payload = json.loads(raw)
        except ValueError:
            # Sidekiq cannot parse it either; it keeps the raw job in `dead`.
            redis.command("ZADD", "dead", f"{time.time():.3f}", raw)
            continue
        started = time.monotonic()
        try:
            jobs.perform(db, feeds, environ, payload)
        except (jobs.UnknownWorkerError, DatabaseError, resp.RedisError, ValueError,
                TypeError) as error:
            where = jobs.schedule_retry(redis, payload, error)
            print(f"Sidekiq stand-in: {payload.get('class')} JID-{payload.get('jid')} "
                  f"fail: {type(error).__name__}: {error} -> {where}", flush=True)
            continue
        print(f"Sidekiq stand-in: {payload.get('class')} JID-{payload.get('jid')} done: "
              f"{time.monotonic() - started:.3f} sec", flush=True)


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
    try:
        resp.settings(environ, "SIDEKIQ_")
    except resp.RedisError as error:
        print(f"sidekiq (stand-in): refusing to boot: {error}", file=sys.stderr)
        return 1
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
    quieted = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        done.set()

    def quiet(_signum: int, _frame: Any) -> None:
        quieted.set()
        print("Sidekiq stand-in: quiet (TSTP), no new jobs", flush=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTSTP, quiet)
    threads = [threading.Thread(target=work, args=(environ, queues, done, quieted),
                                name=f"processor-{n}", daemon=True)
               for n in range(options["concurrency"])]
    for thread in threads:
        thread.start()
    exporter.start_reporting(environ, "sidekiq")
    try:
        while not done.wait(3600):
            pass
        # A job in progress finishes (Sidekiq waits up to its -t timeout, 25 s).
        for thread in threads:
            thread.join(25)
    finally:
        marker.unlink(missing_ok=True)
    print("Sidekiq stand-in: shut down", flush=True)
    return 0
