"""The stand-in's statuses, Sidekiq jobs and home feed against real redis-server and
PostgreSQL on loopback: a status reaches the author's home timeline only once a Sidekiq
process serving its queue ran DistributionWorker, as upstream's."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.dont_write_bytecode = True  # keep the stand-in source tree free of __pycache__

STANDIN = Path(__file__).resolve().parents[2] / "molecule" / "shared" / "standin"
sys.path.insert(0, str(STANDIN))
sys.path.insert(0, str(STANDIN / "tree" / "lib"))

import harness  # noqa: E402
from standin import resp  # noqa: E402


@pytest.fixture
def app(tmp_path: Path, postgres: Any, redis_env: dict[str, str],
        request: pytest.FixtureRequest) -> Iterator[harness.Instance]:
    database = "standin_" + request.node.name.replace("[", "_").replace("]", "")[:40]
    redis = resp.Redis(resp.settings(redis_env))
    redis.command("FLUSHALL")
    redis.close()
    with harness.instance(tmp_path, postgres, redis_env, database.lower()) as instance:
        yield instance


def redis_of(app: harness.Instance) -> resp.Redis:
    return resp.Redis(resp.settings(app.env))


def home(web: harness.WebProcess, token: str) -> list[dict[str, Any]]:
    answer = web.request("GET", "/api/v1/timelines/home", token)
    assert answer.status == 200, answer.body
    return answer.json()


def test_status_shows_in_home_timeline_only_after_sidekiq_ran(app: harness.Instance) -> None:
    token = app.create_user("alice", "read write")
    web = app.start_web()
    posted = web.post_json("/api/v1/statuses", {"status": "Hello <fediverse>"}, token)
    assert posted.status == 200, posted.body
    status = posted.json()
    assert status["content"] == "<p>Hello &lt;fediverse&gt;</p>"
    assert status["account"]["username"] == "alice"

    # Enqueued exactly as Sidekiq's client does, and nothing in the feed yet.
    redis = redis_of(app)
    assert redis.command("SMEMBERS", "queues") == [b"default"]
    queued = [json.loads(raw) for raw in redis.command("LRANGE", "queue:default", 0, -1)]
    assert [(job["class"], job["args"], job["queue"], job["retry"]) for job in queued] == \
        [("DistributionWorker", [int(status["id"])], "default", True)]
    assert len(queued[0]["jid"]) == 24 and isinstance(queued[0]["enqueued_at"], int)
    assert home(web, token) == []

    app.start_sidekiq("-c", "2", "-q", "default")
    harness.wait_until(lambda: home(web, token), 30, "status in the home timeline")
    assert [s["id"] for s in home(web, token)] == [status["id"]]
    assert redis.command("LLEN", "queue:default") == 0
    account_id = app.psql("SELECT account_id FROM users WHERE email = 'alice@example.test';")
    assert redis.command("ZRANGE", f"feed:home:{account_id.strip()}", 0, -1) == \
        [status["id"].encode()]


def test_job_on_a_queue_nobody_serves_stays_queued_until_a_process_serves_it(
        app: harness.Instance, tmp_path: Path, postgres: Any,
        redis_env: dict[str, str]) -> None:
    token = app.create_user("bob", "write:statuses read:statuses")
    web = app.start_web()
    app.start_sidekiq("-q", "push", "-q", "mailers")
    first = web.post_json("/api/v1/statuses", {"status": "one"}, token).json()
    time.sleep(3)  # longer than one BRPOP round (2 s)
    assert redis_of(app).command("LLEN", "queue:default") == 1
    assert home(web, token) == []

    # A Sidekiq process on another host (its own checkout) serving upstream's default
    # queues takes the job; both tiers only share PostgreSQL and Redis.
    with harness.instance(tmp_path / "host2", postgres, redis_env, app.env["DB_NAME"],
                          setup=False) as other:
        other.start_sidekiq()
        second = web.post_json("/api/v1/statuses", {"status": "two"}, token).json()
        harness.wait_until(lambda: len(home(web, token)) == 2, 30, "both statuses")
    # Newest first, like upstream's ZREVRANGEBYSCORE over the feed.
    assert [s["id"] for s in home(web, token)] == [second["id"], first["id"]]
    limited = web.request("GET", f"/api/v1/timelines/home?limit=1&max_id={second['id']}",
                          token)
    assert [s["id"] for s in limited.json()] == [first["id"]]


def test_statuses_and_timeline_refuse_what_upstream_refuses(app: harness.Instance) -> None:
    reader = app.create_user("carol", "read")
    writer = app.create_user("dave", "write:statuses")
    web = app.start_web()
    assert web.post_json("/api/v1/statuses", {"status": "x"}, None).status == 401
    assert web.request("GET", "/api/v1/timelines/home").status == 401
    bogus = web.post_json("/api/v1/statuses", {"status": "x"}, "not-a-token")
    assert (bogus.status, bogus.json()) == (401, {"error": "The access token is invalid"})
    wrong_scope = web.post_json("/api/v1/statuses", {"status": "x"}, reader)
    assert wrong_scope.status == 403
    assert wrong_scope.json() == {"error": "This action is outside the authorized scopes"}
    assert web.request("GET", "/api/v1/timelines/home", writer).status == 403
    blank = web.post_json("/api/v1/statuses", {"status": "  "}, writer)
    assert (blank.status, blank.json()) == (422, {"error": "Validation failed: Text can't "
                                                           "be blank"})
    assert web.post_json("/api/v1/statuses", {"status": "x" * 501}, writer).status == 422
    # Form-encoded, as most clients post.
    form = web.request("POST", "/api/v1/statuses", writer, b"status=form+post",
                       "application/x-www-form-urlencoded")
    assert form.status == 200 and form.json()["content"] == "<p>form post</p>"

    app.psql("UPDATE oauth_access_tokens SET revoked_at = now() WHERE token = :'t';",
             {"t": writer})
    revoked = web.post_json("/api/v1/statuses", {"status": "x"}, writer)
    assert (revoked.status, revoked.json()) == (401, {"error": "The access token was "
                                                               "revoked"})
    app.psql("UPDATE users SET confirmed_at = NULL WHERE email = 'carol@example.test';")
    unconfirmed = web.request("GET", "/api/v1/timelines/home", reader)
    assert unconfirmed.status == 403


def test_sidekiq_with_a_wrong_redis_password_runs_nothing(app: harness.Instance) -> None:
    token = app.create_user("erin", "read write")
    web = app.start_web()
    right = app.env["REDIS_PASSWORD"]
    app.env["REDIS_PASSWORD"] = "wrong-password-for-redis"
    sidekiq = app.start_sidekiq("-q", "default")
    app.env["REDIS_PASSWORD"] = right
    web.post_json("/api/v1/statuses", {"status": "waits"}, token)
    harness.wait_until(lambda: "Redis" in sidekiq.output(), 15, "a Redis error logged")
    assert redis_of(app).command("LLEN", "queue:default") == 1
    assert home(web, token) == []


def test_sidekiq_reports_to_the_exporter_only_when_enabled(app: harness.Instance) -> None:
    """config/initializers/sidekiq.rb:26-38 at 1440d55b: process metrics typed 'sidekiq'
    go to PROMETHEUS_EXPORTER_HOST:PROMETHEUS_EXPORTER_PORT only with
    MASTODON_PROMETHEUS_EXPORTER_ENABLED=true."""
    port = harness.free_port()
    exporter = subprocess.Popen(
        [sys.executable, str(app.root / "lib" / "standin" / "cli.py"), "prometheus_exporter",
         "-p", str(port), "-b", "127.0.0.1", "--prefix", "mastodon_"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def metrics() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",  # noqa: S310
                                        timeout=5) as answer:
                return answer.read().decode()
        except OSError:
            return ""

    try:
        harness.wait_until(metrics, 30, "the exporter answers")
        app.env.update(PROMETHEUS_EXPORTER_HOST="127.0.0.1", PROMETHEUS_EXPORTER_PORT=str(port))
        quiet = app.start_sidekiq("-q", "default")
        app.env["MASTODON_PROMETHEUS_EXPORTER_ENABLED"] = "true"
        loud = app.start_sidekiq("-q", "default")
        harness.wait_until(lambda: f'type="sidekiq",pid="{loud.process.pid}"' in metrics(),
                           30, "the enabled Sidekiq's metrics")
        assert f'pid="{quiet.process.pid}"' not in metrics()
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
