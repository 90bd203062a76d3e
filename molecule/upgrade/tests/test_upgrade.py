"""An upgrade from v4.5.15 to the shipped inventories' release, as an operator runs it.

Data is created through the API at the old release, then `playbooks/upgrade.yml -e
mastodon_version=...` runs once for every test here (the `upgraded` fixture). Expected
values come from this scenario's inventory (molecule.yml), the shipped production
inventory (the target release), the data created here, and upstream's release notes
and lib/mastodon/version.rb (the stand-in's tags mirror them: its README's table).
"""

import hashlib
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
REPO = SCENARIO.parents[1]
sys.path.insert(0, str(SCENARIO.parent / "shared"))
import herd_rerun  # noqa: E402

MOLECULE = yaml.safe_load((SCENARIO / "molecule.yml").read_text())
HOST = MOLECULE["platforms"][0]["name"]
CONFIG = MOLECULE["provisioner"]["inventory"]["group_vars"]["all"]
DOMAIN = CONFIG["mastodon_local_domain"]
TARGET = yaml.safe_load(
    (REPO / "inventories/production/group_vars/mastodon/main.yml").read_text())["mastodon_version"]
# The stand-in's migrations at the target (its README's table, after upstream's 4.6
# layout): one regular (pre-deployment) and one post-deployment migration.
PRE_DEPLOYMENT = "20260415000000"
POST_DEPLOYMENT = "20260416000000"
# systemd's "unit started" journal message (sd-messages.h SD_MESSAGE_UNIT_STARTED).
UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"


def on(*argv: str, stdin: bytes | None = None, check: bool = True) -> str:
    done = subprocess.run(["podman", "exec", "-i", HOST, *argv], input=stdin,
                          capture_output=True, check=False, timeout=300)
    if check and done.returncode:
        raise AssertionError(f"{argv}: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def sql(query: str) -> str:
    return on("runuser", "-u", "postgres", "--", "psql", "-XAt", "-v", "ON_ERROR_STOP=1",
              "-d", "mastodon_production", "-c", query).strip()


def api(path: str, *curl: str) -> tuple[int, str]:
    """(status, body) through nginx over HTTPS, as a client on the Internet sees it."""
    out = on("curl", "-sk", "--max-time", "30", "--resolve", f"{DOMAIN}:443:127.0.0.1",
             "-w", "\n%{http_code}", *curl, f"https://{DOMAIN}{path}")
    body, _, status = out.rpartition("\n")
    return int(status or 0), body


def tootctl_version() -> str:
    return on("bash", "-c", "cd /home/mastodon/live && runuser -u mastodon -- env "
              "RAILS_ENV=production bundle exec bin/tootctl version").strip()


def in_home_timeline(token: str, text: str) -> bool:
    """Whether a status holding `text` is in the user's home timeline."""
    status, body = api("/api/v1/timelines/home", "-H", f"Authorization: Bearer {token}")
    assert status == 200, body
    return any(text in entry["content"] for entry in json.loads(body))


def create_user_token() -> str:
    """A user's access token, as the OAuth flow leaves it (upstream's tables)."""
    value = secrets.token_hex(16)
    sql("BEGIN;"  # noqa: S608 - our own hex token
        "INSERT INTO accounts (username, created_at, updated_at) VALUES ('alice', now(), now());"
        "INSERT INTO users (email, account_id, confirmed_at, approved, created_at, updated_at)"
        " SELECT 'alice@members.herd.test', id, now(), true, now(), now() FROM accounts"
        " WHERE username = 'alice' AND domain IS NULL;"
        "INSERT INTO oauth_access_tokens (token, resource_owner_id, scopes, created_at)"
        f" SELECT '{value}', id, 'read write', now() FROM users"
        " WHERE email = 'alice@members.herd.test';"
        "COMMIT;")
    return value


@pytest.fixture(scope="module")
def before() -> dict:
    """What the instance holds at the old release: a user, a status, an upload."""
    assert tootctl_version() == CONFIG["mastodon_version"].removeprefix("v")
    token = create_user_token()
    bearer = f"Authorization: Bearer {token}"
    # Characters a careless shell or template would break (none that HTML escapes).
    text = f"written before the upgrade {secrets.token_hex(4)} #herd $HOME \U0001F418"
    status, body = api("/api/v1/statuses", "-H", bearer, "--data-urlencode", f"status={text}")
    assert status == 200, body
    image = bytes.fromhex("89504e470d0a1a0a") + secrets.token_bytes(4096)
    on("bash", "-c", "cat > /root/upgrade-upload.png", stdin=image)
    status, body = api("/api/v2/media", "-H", bearer,
                       "-F", "file=@/root/upgrade-upload.png;type=image/png")
    assert status in (200, 202), body
    for _ in range(60):
        if in_home_timeline(token, text):
            break
        time.sleep(1)
    assert in_home_timeline(token, text)
    return {"token": token, "text": text, "media": json.loads(body)["id"],
            "image": hashlib.sha256(image).hexdigest(),
            "secrets": on("sha256sum", "/etc/mastodon/secrets.yml").split()[0]}


@pytest.fixture(scope="module")
def upgraded(before):
    result = herd_rerun.playbook(SCENARIO, REPO / "playbooks/upgrade.yml",
                                 "-e", f"mastodon_version={TARGET}")
    assert result.returncode == 0, result.stdout[-4000:]
    return result


def test_the_target_release_serves(upgraded):
    status, body = api("/api/v2/instance")
    assert status == 200, body
    assert json.loads(body)["version"] == TARGET.removeprefix("v")
    assert tootctl_version() == TARGET.removeprefix("v")


def test_the_status_written_before_is_still_in_the_home_timeline(upgraded, before):
    assert in_home_timeline(before["token"], before["text"])


def test_the_upload_made_before_is_served_unchanged(upgraded, before):
    status, body = api(f"/api/v1/media/{before['media']}",
                       "-H", f"Authorization: Bearer {before['token']}")
    assert status == 200, body
    url = json.loads(body)["url"]
    fetched = on("bash", "-c", f"curl -sfk --resolve {DOMAIN}:443:127.0.0.1 '{url}' | sha256sum")
    assert fetched.split()[0] == before["image"]


def test_settings_rules_and_secrets_are_kept(upgraded, before):
    status, body = api("/api/v2/instance")
    assert json.loads(body)["title"] == CONFIG["mastodon_site_title"]
    status, body = api("/api/v1/instance/rules")
    assert [rule["text"] for rule in json.loads(body)] == \
        [rule["text"] for rule in CONFIG["mastodon_server_rules"]]
    assert on("sha256sum", "/etc/mastodon/secrets.yml").split()[0] == before["secrets"]


def last_start_us(unit_glob: str) -> dict[str, int]:
    """Each matching unit's last start (journal, microseconds since the epoch)."""
    units = on("systemctl", "list-units", "--plain", "--no-legend", "--type=service",
               unit_glob).split()
    found = {}
    for unit in (name for name in units if name.endswith(".service")):
        lines = on("journalctl", "-o", "json", f"UNIT={unit}",
                   f"MESSAGE_ID={UNIT_STARTED}").splitlines()
        assert lines, f"no start of {unit} in the journal"
        found[unit] = int(json.loads(lines[-1])["__REALTIME_TIMESTAMP"])
    assert found, f"no unit matches {unit_glob}"
    return found


def applied(version: str) -> list[tuple[str, int]]:
    """(release, applied at in microseconds) of each run of a migration."""
    rows = sql("SELECT release || ' ' || (extract(epoch FROM applied_at) * 1000000)::bigint"  # noqa: S608
               f" FROM standin_migration_runs WHERE version = '{version}'"
               " ORDER BY applied_at")
    return [(release, int(at)) for release, at in (row.split() for row in rows.splitlines())]


def test_migrations_run_in_upstream_order_each_once(upgraded):
    """Upstream's upgrade notes: pre-deployment migrations (SKIP_POST_DEPLOYMENT_MIGRATIONS
    =true), then the restart on the new code, then the post-deployment migrations."""
    target = TARGET.removeprefix("v")
    (pre_release, pre_at), = applied(PRE_DEPLOYMENT)
    (post_release, post_at), = applied(POST_DEPLOYMENT)
    assert (pre_release, post_release) == (target, target)
    restarted = last_start_us("mastodon-sidekiq*") | last_start_us("mastodon-streaming*")
    for unit, started in restarted.items():
        assert pre_at < started < post_at, unit
    assert sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts'"
               " AND column_name = 'standin_legacy_note'") == "0"


def test_the_same_upgrade_again_changes_nothing(upgraded):
    result = herd_rerun.playbook(SCENARIO, REPO / "playbooks/upgrade.yml",
                                 "-e", f"mastodon_version={TARGET}")
    assert result.returncode == 0, result.stdout[-4000:]
    counts = herd_rerun.recap(result)
    assert counts and all(host["changed"] == 0 for host in counts.values()), counts
    assert len(applied(POST_DEPLOYMENT)) == 1
