"""Sidekiq jobs: the client side the web tier uses and the workers Sidekiq runs.

Wire format of Sidekiq 8.1.6 (upstream's Gemfile.lock l.819 at 1440d55b), so a real
Sidekiq could read what the stand-in writes and the other way round:
- push (Sidekiq::Client#raw_push, lib/sidekiq/client.rb of the gem): in one pipeline
  `SADD queues QUEUE` and `LPUSH queue:QUEUE JSON`, the JSON holding `class`, `args`,
  `queue`, `retry`, `jid` (24 hex chars), `created_at` and `enqueued_at` (Sidekiq 8
  writes epoch milliseconds as integers).
- fetch (Sidekiq::BasicFetch, lib/sidekiq/fetch.rb): `BRPOP queue:a queue:b ... 2`.
- a failing job with `retry` true goes to the sorted set `retry` (Sidekiq::JobRetry),
  scored by the time it is due, with `retry_count`, `error_class`, `error_message`,
  `failed_at`.

Workers implemented (everything else is unknown and fails like a NameError in Sidekiq):
- DistributionWorker (app/workers/distribution_worker.rb l.3-15: default queue, since it
  sets no sidekiq_options): FanOutOnWriteService#call (app/services/
  fan_out_on_write_service.rb l.12-25) delivered to the author's own home feed
  (deliver_to_self!, l.71-73). The stand-in has no follows, lists or streaming, so that is
  the whole fan-out.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

from standin.db import Database
from standin.resp import Redis

# app/lib/feed_manager.rb l.10 (MAX_ITEMS) and l.29-33 (key).
FEED_MAX_ITEMS = 800


def feed_key(kind: str, account_id: int | str, subtype: str | None = None) -> str:
    """FeedManager#key: `feed:home:ACCOUNT_ID` (app/lib/feed_manager.rb l.29-33)."""
    base = f"feed:{kind}:{account_id}"
    return f"{base}:{subtype}" if subtype else base


def now_ms() -> int:
    return int(time.time() * 1000)


def push(redis: Redis, worker: str, args: list[Any], queue: str = "default",
         retry: bool | int = True) -> str:
    """Sidekiq::Client#push (perform_async): returns the job id."""
    stamp = now_ms()
    jid = secrets.token_hex(12)
    payload = {"retry": retry, "queue": queue, "args": args, "class": worker, "jid": jid,
               "created_at": stamp, "enqueued_at": stamp}
    redis.pipeline(["SADD", "queues", queue],
                   ["LPUSH", f"queue:{queue}", json.dumps(payload, separators=(",", ":"))])
    return jid


class UnknownWorkerError(Exception):
    pass


def distribution_worker(db: Database, redis: Redis, environ: dict[str, str],
                        status_id: Any, *_options: Any) -> None:
    """DistributionWorker#perform -> FanOutOnWriteService -> FeedManager#push_to_home."""
    rows = db.rows(
        "SELECT s.id, s.account_id, a.domain IS NULL AS local, "
        "a.suspended_at IS NOT NULL AS suspended, u.current_sign_in_at IS NOT NULL AND "
        "u.current_sign_in_at >= now() - make_interval(days => :'days') AS recent "
        "FROM statuses s JOIN accounts a ON a.id = s.account_id "
        "LEFT JOIN users u ON u.account_id = a.id "
        "WHERE s.id = :'id' AND s.deleted_at IS NULL",
        {"id": int(status_id), "days": int(environ.get("USER_ACTIVE_DAYS") or 7)})
    if not rows:
        return  # RecordNotFound is swallowed (distribution_worker.rb l.12-13)
    status = rows[0]
    # fan_out_on_write_service.rb l.17: nothing for a suspended author; l.72: self only
    # when local; feed_manager.rb l.77 (User::Activity ACTIVE_DURATION, USER_ACTIVE_DAYS
    # default 7, app/models/concerns/user/activity.rb l.12): only recently signed-in users.
    if status["suspended"] or not status["local"] or not status["recent"]:
        return
    key = feed_key("home", status["account_id"])
    # add_to_feed (feed_manager.rb l.537-574) for a non-reblog: skip when the status is
    # known as a reblogged original, else score and member are both the status id; then
    # trim (l.399-404) to the newest MAX_ITEMS.
    if redis.command("ZSCORE", feed_key("home", status["account_id"], "reblogs"),
                     status["id"]) is not None:
        return
    redis.command("ZADD", key, status["id"], status["id"])
    redis.command("ZREMRANGEBYRANK", key, 0, -(FEED_MAX_ITEMS + 1))


WORKERS: dict[str, Callable[..., None]] = {
    "DistributionWorker": distribution_worker,
}


def perform(db: Database, redis: Redis, environ: dict[str, str], payload: dict[str, Any]) -> None:
    worker = WORKERS.get(str(payload.get("class")))
    if worker is None:
        raise UnknownWorkerError(f"uninitialized constant {payload.get('class')}")
    worker(db, redis, environ, *payload.get("args", []))


def schedule_retry(redis: Redis, payload: dict[str, Any], error: Exception) -> str:
    """Sidekiq::JobRetry: `retry` sorted set while attempts remain, else `dead`."""
    allowed = payload.get("retry", True)
    if allowed is False:
        return "discarded"  # retry: false drops the job, it never reaches `dead`
    limit = 25 if allowed is True else int(allowed or 0)
    count = int(payload.get("retry_count", -1)) + 1
    failed = {**payload, "error_class": type(error).__name__,
              "error_message": str(error)[:500], "retry_count": count}
    failed.setdefault("failed_at", now_ms())
    failed["retried_at" if count else "failed_at"] = now_ms()
    body = json.dumps(failed, separators=(",", ":"))
    if count < limit:
        # Sidekiq's default delay: count**4 + 15 + rand(10) * (count + 1) seconds.
        due = time.time() + count ** 4 + 15 + random.randint(0, 9) * (count + 1)  # noqa: S311
        redis.command("ZADD", "retry", f"{due:.3f}", body)
        return "retry"
    redis.command("ZADD", "dead", f"{time.time():.3f}", body)
    return "dead"
