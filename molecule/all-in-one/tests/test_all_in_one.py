"""All tiers on one host: what a user and an operator notice, over HTTPS through nginx.

Expected values come from this scenario's molecule.yml (the inventory),
side_effect.yml (the changed rule list) and resolver.json (the DNS records the
scenario declares), never copied here, or from upstream v4.6.5 (cited).
"""

import json
import re
import secrets
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
INVENTORY = yaml.safe_load((SCENARIO / "molecule.yml").read_text())["provisioner"]["inventory"]
CONFIG = INVENTORY["group_vars"]["all"]
DOMAIN = CONFIG["mastodon_local_domain"]
RECORDS = "/root/herd-side-effect"
RESOLVER = json.loads((SCENARIO / "resolver.json").read_text())
# Api::CachingConcern#cache_even_if_authenticated! (app/controllers/concerns/api/
# caching_concern.rb l.10-12 at 1440d55b), on the instance endpoints.
PUBLIC_CACHE = "public, max-age=300, stale-while-revalidate=30, stale-if-error=86400"
# ApplicationController#set_cache_control_defaults (application_controller.rb l.140-142).
PRIVATE_CACHE = "private, no-store"


def side_effect_rules() -> list[dict]:
    plays = yaml.safe_load((SCENARIO / "side_effect.yml").read_text())
    for task in plays[0]["tasks"]:
        facts = task.get("ansible.builtin.set_fact", {})
        if "mastodon_server_rules" in facts:
            return facts["mastodon_server_rules"]
    raise AssertionError("side_effect.yml sets no mastodon_server_rules")


def https(host, path, method="GET", payload=None, token=None, form=None):
    """(status, body) of a request to the instance through nginx on 443."""
    command = ["curl", "-sk", "--resolve", f"{DOMAIN}:443:127.0.0.1", "-o", "/dev/stderr",
               "-w", "%{http_code}", "-X", method]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    if payload is not None:
        command += ["-H", "Content-Type: application/json", "--data", json.dumps(payload)]
    for key, value in (form or {}).items():
        command += ["--data-urlencode", f"{key}={value}"]
    result = host.run(" ".join(_quote(part) for part in command + [f"https://{DOMAIN}{path}"]))
    return int(result.stdout), result.stderr


def response_headers(host, path, method="GET"):
    """The header lines of an answer through nginx, names lower-cased."""
    result = host.run(" ".join(_quote(part) for part in [
        "curl", "-sk", "--resolve", f"{DOMAIN}:443:127.0.0.1", "-o", "/dev/null", "-D", "-",
        "-X", method, f"https://{DOMAIN}{path}"]))
    headers = {}
    for line in result.stdout.splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def app_token(host):
    """An app token the way a client gets one before sign-up: register an app, then
    client credentials (upstream's accounts_controller.rb l.10 and l.13 require it)."""
    status, body = https(host, "/api/v1/apps", "POST", form={
        "client_name": "herd verify", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
        "scopes": "read write:accounts"})
    assert status == 200, body
    client = json.loads(body)
    status, body = https(host, "/oauth/token", "POST", form={
        "grant_type": "client_credentials", "client_id": client["client_id"],
        "client_secret": client["client_secret"], "scope": "write:accounts"})
    assert status == 200, body
    return json.loads(body)["access_token"]


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


def test_health_through_nginx(host):
    status, body = https(host, "/health")
    assert (status, body.strip()) == (200, "OK")


def test_the_release_and_node_the_inventory_names(host):
    """The release built is the inventory's, with the Node.js release it names (the
    binary source), first on the PATH the build and the units use."""
    result = host.run("cd /home/mastodon/live && runuser -u mastodon -- env RAILS_ENV=production "
                      "bundle exec bin/tootctl version")
    assert (result.rc, result.stdout.strip()) == (0, CONFIG["mastodon_version"].removeprefix("v"))
    node = host.run("runuser -u mastodon -- env PATH=/usr/local/bin:/usr/bin:/bin node --version")
    assert node.stdout.strip() == "v" + CONFIG["mastodon_node_version"]


def test_the_local_fact_records_the_release_built(host):
    """What `herd instance list --facts` shows as the instance's release."""
    fact = json.loads(host.file("/etc/ansible/facts.d/herd_mastodon.fact").content_string)
    assert fact["release"] == CONFIG["mastodon_version"]
    assert re.fullmatch(r"[0-9a-f]{40}", fact["commit"]), fact["commit"]


def test_instance_title_and_description(host):
    status, body = https(host, "/api/v1/instance")
    instance = json.loads(body)
    assert status == 200
    assert instance["title"] == CONFIG["mastodon_site_title"]
    assert instance["short_description"] == CONFIG["mastodon_site_short_description"]
    assert instance["email"] == CONFIG["mastodon_site_contact_email"]


def test_registrations_mode_applied(host):
    instance = json.loads(https(host, "/api/v1/instance")[1])
    assert CONFIG["mastodon_registrations_mode"] == "open"
    assert instance["registrations"] is True
    assert instance["approval_required"] is False


def test_rules_follow_the_list(host):
    status, body = https(host, "/api/v1/instance/rules")
    assert status == 200
    served = [(rule["text"], rule["hint"]) for rule in json.loads(body)]
    assert served == [(rule["text"], rule.get("hint", "")) for rule in side_effect_rules()]


def _rules(host, name):
    return {row["id"]: row for row in json.loads(host.file(f"{RECORDS}/{name}").content_string)}


def test_changed_rule_list_changes_exactly_those_rules(host):
    before, after = _rules(host, "rules-before.json"), _rules(host, "rules-after.json")
    configured = CONFIG["mastodon_server_rules"]
    wanted = side_effect_rules()
    kept_before = sorted((r for r in before.values() if r["deleted_at"] is None),
                         key=lambda r: (r["priority"], r["id"]))
    assert [r["text"] for r in kept_before] == [r["text"] for r in configured]
    assert set(after) == set(before), "no rule row is added or removed, only edited or soft-deleted"
    first, second, third = (row["id"] for row in kept_before)
    assert after[first] == before[first], "an unchanged rule is not touched"
    assert after[second]["text"] == wanted[1]["text"], "the edited rule keeps its id"
    assert after[second]["updated_at"] != before[second]["updated_at"]
    assert after[second]["deleted_at"] is None
    assert after[third]["deleted_at"] is not None, "a rule left out is soft-deleted"
    assert after[third]["text"] == before[third]["text"]


def test_only_the_edited_rule_loses_its_translation(host):
    # side_effect.yml translates every kept rule into French first, as an admin would.
    # Upstream serves a stored translation as is (Rule#translation_for, app/models/rule.rb
    # at 1440d55b), so the edited rule's would show its old text.
    before = _rules(host, "rules-before.json")
    kept = sorted((r for r in before.values() if r["deleted_at"] is None),
                  key=lambda r: (r["priority"], r["id"]))
    first, second, third = (row["id"] for row in kept)
    translations = json.loads(host.file(f"{RECORDS}/rule-translations-after.json").content_string)
    by_rule = {row["rule_id"]: row["text"] for row in translations}
    assert by_rule == {first: "FR: " + before[first]["text"],
                       third: "FR: " + before[third]["text"]}
    assert second not in by_rule


def _resolves(domain):
    """Whether the scenario's resolver gives the domain an address (MX hosts' A/AAAA,
    or its own), upstream's EmailMxValidator#resolve_mx (l.42-59)."""
    hosts = [domain, *RESOLVER.get(domain, {}).get("MX", [])]
    return any(RESOLVER.get(h, {}).get(kind) for h in hosts for kind in ("A", "AAAA"))


def test_signup_follows_the_allowlist_and_the_mx_check(host):
    allowed = CONFIG["mastodon_email_domain_allowlist"][0]
    with_mx = [name for name in RESOLVER if name.endswith("." + allowed) and _resolves(name)]
    assert with_mx, "resolver.json gives no subdomain of the allowlisted domain an MX"
    tag = secrets.token_hex(3)
    token = app_token(host)

    def sign_up(user, email, bearer=token):
        return https(host, "/api/v1/accounts", "POST", {
            "username": f"{user}{tag}", "email": email, "password": "a-long-password-1",
            "agreement": True, "locale": "en"}, token=bearer)

    assert sign_up("anon", f"anon{tag}@{allowed}", bearer=None)[0] == 401
    assert sign_up("member", f"member{tag}@{allowed}")[0] == 200
    # A subdomain matches the allowlist pattern but is no substring of it, so it is
    # resolved (email_mx_validator.rb l.36-40): it passes only with the declared MX.
    status, body = sign_up("sub", f"sub{tag}@{with_mx[0]}")
    assert status == 200, body
    unknown = f"attic{tag}.{allowed}"
    assert not _resolves(unknown)
    status, body = sign_up("attic", f"attic{tag}@{unknown}")
    assert status == 422 and "ERR_UNREACHABLE" in body
    status, body = sign_up("outsider", f"outsider{tag}@elsewhere.example")
    assert status == 422 and "ERR_BLOCKED" in body


@pytest.mark.parametrize("path", ["/api/v1/instance", "/api/v2/instance",
                                  "/api/v1/instance/rules"])
def test_instance_endpoints_cacheable_five_minutes(host, path):
    assert response_headers(host, path).get("cache-control") == PUBLIC_CACHE


def test_other_api_answers_not_cacheable(host):
    assert response_headers(host, "/api/v1/apps", "POST").get("cache-control") == PRIVATE_CACHE


def test_cached_instance_document_dropped_after_the_rule_change(host):
    cached = host.file(f"{RECORDS}/instance-cache-before").content_string.split()
    assert cached, "side_effect.yml found no cached /api/v1/instance body"
    after = json.loads(host.file(f"{RECORDS}/instance-after.json").content_string)
    assert [rule["text"] for rule in after["rules"]] == \
        [rule["text"] for rule in side_effect_rules()]


def test_allowlist_written_pipe_separated(host):
    env = host.file("/home/mastodon/live/.env.production")
    assert env.user == "mastodon" and env.mode == 0o600
    line = "EMAIL_DOMAIN_ALLOWLIST=" + "|".join(CONFIG["mastodon_email_domain_allowlist"])
    assert line in env.content_string.splitlines()


def test_email_domain_blocks_in_sync(host):
    result = host.run("cd /home/mastodon/live && runuser -u mastodon -- env RAILS_ENV=production "
                      "bundle exec bin/tootctl email_domain_blocks list")
    assert result.rc == 0, result.stderr
    listed = [line for line in result.stdout.splitlines() if line and not line[0].isspace()]
    assert listed == CONFIG["mastodon_email_domain_blocks"]


def test_secrets_identical_after_rerun(host):
    before = host.file(f"{RECORDS}/secrets-before").content_string
    after = host.file(f"{RECORDS}/secrets-after").content_string
    assert before.strip() and before == after
    stored = yaml.safe_load(host.file("/etc/mastodon/secrets.yml").content_string)
    env = host.file("/home/mastodon/live/.env.production").content_string
    for name, value in stored.items():
        assert f"{name}={value}" in env.splitlines()
    store = host.file("/etc/mastodon/secrets.yml")
    assert (store.user, store.mode) == ("root", 0o600)


def test_changed_local_domain_refused(host):
    message = host.file(f"{RECORDS}/local-domain-change").content_string
    assert "mastodon_local_domain" in message and DOMAIN in message


def test_changed_secret_refused(host):
    message = host.file(f"{RECORDS}/secret-change").content_string
    assert "SECRET_KEY_BASE" in message and "mastodon_rotate_secrets" in message


def test_owner_password_root_only(host):
    secret = host.file("/root/mastodon-owner-password")
    assert (secret.user, secret.mode) == ("root", 0o600)
    assert re.fullmatch(r"\S{16,}", secret.content_string.strip())


@pytest.mark.parametrize("unit", ["mastodon-web", "mastodon-sidekiq", "mastodon-streaming",
                                  "mastodon-streaming@4000"])
def test_services_active(host, unit):
    assert host.run(f"systemctl is-active {unit}").stdout.strip() == "active"


# Upstream's dist/ units measure 1.6 for web and Sidekiq; streaming, which also
# denies @memlock and @resources and re-allows no @chown, measures 1.3 (systemd 257).
EXPOSURE_BOUNDS = {"mastodon-web": 1.6, "mastodon-sidekiq": 1.6, "mastodon-streaming@4000": 1.3}


@pytest.mark.parametrize("unit", sorted(EXPOSURE_BOUNDS))
def test_unit_exposure_no_worse_than_upstream(host, unit):
    result = host.run(f"systemd-analyze security --no-pager {unit}.service")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= EXPOSURE_BOUNDS[unit]
