"""What users and operators of a split-tier instance notice."""

import json
import secrets
import subprocess
import time

import pytest
from conftest import (
    ADDRESS,
    ALL,
    APP_HOSTS,
    STREAMING_PORTS,
    WEB_HOSTS,
    https,
    on,
    playbook,
    status_and_body,
)

CONNINFO = (f"host={ADDRESS['db1']} dbname=mastodon_production user=mastodon sslmode=require "
            f"password={ALL['vault_postgresql_mastodon_password']}")


@pytest.mark.parametrize("web_host", WEB_HOSTS)
def test_each_web_host_serves_the_instance_over_https(web_host):
    status, body = status_and_body(https(web_host, "/api/v1/instance"))
    assert status == 200
    assert ALL["mastodon_local_domain"] in body


@pytest.mark.parametrize("web_host", WEB_HOSTS)
@pytest.mark.parametrize("target", [(host, port) for host in WEB_HOSTS
                                    for port in STREAMING_PORTS])
def test_every_streaming_instance_is_reached_through_each_nginx(web_host, target):
    """With every other streaming instance stopped, nginx still reaches this one."""
    others = [(host, port) for host in WEB_HOSTS for port in STREAMING_PORTS
              if (host, port) != target]
    for host, port in others:
        on(host, "systemctl", "stop", f"mastodon-streaming@{port}.service")
    try:
        status, body = status_and_body(https(web_host, "/api/v1/streaming/health"))
        assert (status, body.strip()) == (200, "OK")
    finally:
        for host, port in others:
            # These starts come faster than systemd's start limit allows (5 in 10 s):
            # reset the counter, as an operator restarting by hand would.
            on(host, "systemctl", "reset-failed", f"mastodon-streaming@{port}.service",
               check=False)
            on(host, "systemctl", "start", f"mastodon-streaming@{port}.service")
        for host, port in others:
            wait_for_streaming(host, port)


def wait_for_streaming(host: str, port: int) -> None:
    """Until the instance answers its health check where it listens (BIND)."""
    for _ in range(60):
        answer = on(host, "curl", "-sf", f"http://{ADDRESS[host]}:{port}/api/v1/streaming/health",
                    check=False)
        if answer.returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{host}: mastodon-streaming@{port} does not answer")


def test_postgresql_refuses_a_host_that_is_not_an_app_host():
    # The control node sits on the scenario network's gateway: not an app host.
    result = subprocess.run(["psql", f"{CONNINFO} connect_timeout=10", "-c", "SELECT 1"],
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode != 0
    assert "no pg_hba.conf entry" in result.stderr


def test_postgresql_admits_the_app_hosts():
    result = on("worker1", "psql", CONNINFO, "-XAtc", "SELECT 1")
    assert result.stdout.strip() == "1"


def test_redis_refuses_a_host_that_is_not_an_app_host():
    # The redis role's firewall drops the control node (the network's gateway).
    try:
        answer = subprocess.run(
            ["redis-cli", "-h", ADDRESS["db1"], "-p", "6379", "--no-auth-warning",
             "-a", ALL["vault_redis_password"], "PING"],
            capture_output=True, text=True, check=False, timeout=15).stdout
    except subprocess.TimeoutExpired:
        answer = "(dropped)"
    assert "PONG" not in answer


def test_redis_admits_the_app_hosts():
    # Debian's redis-tools are not on the app hosts; bash's /dev/tcp speaks enough RESP.
    script = (f"exec 3<>/dev/tcp/{ADDRESS['db1']}/6379; "
              f"printf 'AUTH {ALL['vault_redis_password']}\\r\\nPING\\r\\n' >&3; "
              "timeout 5 head -c 12 <&3")
    assert "+PONG" in on("web2", "bash", "-c", script).stdout


def test_self_check_passes():
    result = playbook("self-check.yml")
    assert result.returncode == 0, result.stdout[-3000:]


def test_self_check_names_the_host_and_unit_that_stopped():
    on("web2", "systemctl", "stop", "mastodon-streaming@4001.service")
    try:
        result = playbook("self-check.yml")
    finally:
        on("web2", "systemctl", "start", "mastodon-streaming@4001.service")
    assert result.returncode != 0
    # Ansible prints the message on stderr, and wraps it in the task result on stdout.
    words = " ".join((result.stdout + result.stderr).split())
    assert "web2: mastodon-streaming@4001.service not running" in words


def test_maintenance_arms_the_pruning_timers_on_exactly_one_host():
    result = playbook("maintenance.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    armed = [host for host in APP_HOSTS
             if on(host, "systemctl", "is-enabled", "herd-media-remove.timer",
                   check=False).stdout.strip() == "enabled"]
    assert armed == ["worker1"]


def test_backup_to_s3_then_restore_into_a_fresh_database(sql):
    title = sql("SELECT value FROM settings WHERE var = 'site_title'")
    result = playbook("backup.yml")
    assert result.returncode == 0, result.stdout[-3000:]

    # A fresh database: the app hosts stopped, the database gone.
    for host in APP_HOSTS:
        on(host, "bash", "-c", "systemctl stop 'mastodon-*'")
    on("db1", "runuser", "-u", "postgres", "--", "dropdb", "mastodon_production")
    result = playbook("restore.yml", "-e", "restore_confirm=true", "-e", "restore_parts=database")
    assert result.returncode == 0, result.stdout[-3000:]

    assert sql("SELECT value FROM settings WHERE var = 'site_title'") == title
    # restore.yml started exactly the units the mastodon role runs on each app host.
    for host in APP_HOSTS:
        for _ in range(30):
            if on(host, "systemctl", "is-failed", "--quiet", "mastodon-*", check=False).returncode:
                break
            time.sleep(1)
    assert on("web1", "systemctl", "is-active", "mastodon-web.service").stdout.strip() == "active"
    assert on("worker1", "systemctl", "is-active", "mastodon-sidekiq-default.service",
              "mastodon-sidekiq-scheduler.service").stdout.split() == ["active", "active"]
    for web_host in WEB_HOSTS:
        for _ in range(30):
            if status_and_body(https(web_host, "/health"))[0] == 200:
                break
            time.sleep(2)
        assert status_and_body(https(web_host, "/health"))[0] == 200


@pytest.fixture(scope="module")
def token(sql):
    """A user's access token, as the OAuth authorization-code flow leaves it in upstream's
    oauth_access_tokens table (molecule/shared/standin/README.md)."""
    value = secrets.token_hex(16)
    sql("BEGIN;"  # noqa: S608 - our own hex token
        "INSERT INTO accounts (username, created_at, updated_at) VALUES ('alice', now(), now());"
        "INSERT INTO users (email, account_id, confirmed_at, approved, created_at, updated_at)"
        " SELECT 'alice@herd.test', id, now(), true, now(), now() FROM accounts"
        " WHERE username = 'alice' AND domain IS NULL;"
        "INSERT INTO oauth_access_tokens (token, resource_owner_id, scopes, created_at)"
        f" SELECT '{value}', id, 'read write', now() FROM users WHERE email = 'alice@herd.test';"
        "COMMIT;")
    return value


def test_an_upload_through_web1_is_served_by_web2(token, tmp_path):
    image = tmp_path / "herd.png"
    image.write_bytes(bytes.fromhex("89504e470d0a1a0a") + secrets.token_bytes(2048))
    bearer = f"Authorization: Bearer {token}"
    status, body = status_and_body(https("web1", "/api/v2/media", "-H", bearer,
                                         "-F", f"file=@{image};type=image/png"))
    assert status in (200, 202), body
    media_id = json.loads(body)["id"]
    status, body = status_and_body(https("web2", f"/api/v1/media/{media_id}",
                                         "-H", f"Authorization: Bearer {token}"))
    assert status == 200, body
    url = json.loads(body)["url"]
    fetched = subprocess.run(["curl", "-sf", "--max-time", "20", url], capture_output=True,
                             check=True, timeout=60).stdout
    assert fetched == image.read_bytes()


def home_timeline(web_host: str, token: str) -> list[str]:
    status, body = status_and_body(https(web_host, "/api/v1/timelines/home",
                                         "-H", f"Authorization: Bearer {token}"))
    assert status == 200, body
    return [entry["content"] for entry in json.loads(body)]


def test_sidekiq_on_the_worker_runs_the_job_the_web_tier_enqueued(token):
    # Also a guard for upstream's headers: a home timeline is `private, no-store`
    # (ApplicationController), so nginx's proxy cache must never serve a stale one.
    text = f"hello from web1 {secrets.token_hex(4)}"
    on("worker1", "systemctl", "stop", "mastodon-sidekiq-default.service")
    try:
        bearer = f"Authorization: Bearer {token}"
        status, body = status_and_body(https("web1", "/api/v1/statuses", "-H", bearer,
                                             "-d", f"status={text}"))
        assert status == 200, body
        time.sleep(5)
        # No Sidekiq serves the default queue: the distribution job waits in Redis.
        assert not any(text in content for content in home_timeline("web2", token))
    finally:
        on("worker1", "systemctl", "start", "mastodon-sidekiq-default.service")
    for _ in range(30):
        if any(text in content for content in home_timeline("web2", token)):
            break
        time.sleep(1)
    assert any(text in content for content in home_timeline("web2", token))
