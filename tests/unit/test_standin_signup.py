"""The stand-in's sign-up, e-mail checks and instance caches against real PostgreSQL and
redis-server on loopback, as upstream v4.6.5 (1440d55b) does them:

- sign-up (`POST /api/v1/accounts`) needs an app token got the way a client gets one,
  `POST /api/v1/apps` then `POST /oauth/token` with grant_type=client_credentials
  (app/controllers/api/v1/accounts_controller.rb l.10 and l.13);
- EmailMxValidator (app/validators/email_mx_validator.rb) resolves MX, then A/AAAA, for a
  domain that is no substring of the allowlist string, from the resolver table the test
  declares (standin.resolver), in sign-up and in `tootctl accounts create`;
- the instance endpoints' Cache-Control and their Rails.cache bodies, which the mastodon
  role drops after it changes settings or rules.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.dont_write_bytecode = True  # keep the stand-in source tree free of __pycache__

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "molecule" / "shared" / "standin"
sys.path.insert(0, str(STANDIN))
sys.path.insert(0, str(STANDIN / "tree" / "lib"))

import harness  # noqa: E402
from standin import resolver, resp  # noqa: E402

ALLOWED = "members.herd.test"
# The records a scenario would declare. Expected outcomes below follow from upstream's
# rules applied to this table by hand, not from the stand-in.
TABLE = {
    "lab.members.herd.test": {"MX": ["mx.members.herd.test"]},
    "mx.members.herd.test": {"A": ["192.0.2.25"]},
    "a-only.example": {"A": ["192.0.2.30"]},  # no MX: A of the domain itself (l.52-55)
    "v6-only.example": {"AAAA": ["2001:db8::30"]},
    "nullmx.example": {"MX": ["."], "A": ["192.0.2.31"]},  # RFC 7505 null MX (l.50)
    "dangling.example": {"MX": ["mx.nowhere.example"]},  # MX host without address
    "relay.example": {"MX": ["mx.spam.herd.test"]},
    "mx.spam.herd.test": {"A": ["192.0.2.66"]},
}
# Api::CachingConcern#cache_even_if_authenticated! (app/controllers/concerns/api/
# caching_concern.rb l.10-12): expires_in(5.minutes, public: true,
# stale_while_revalidate: 30.seconds, stale_if_error: 1.day), rendered by Rails.
PUBLIC = "public, max-age=300, stale-while-revalidate=30, stale-if-error=86400"
# ApplicationController#set_cache_control_defaults (application_controller.rb l.140-142).
PRIVATE = "private, no-store"


@pytest.fixture
def table_file(tmp_path: Path) -> Path:
    path = tmp_path / "resolver.json"
    path.write_text(json.dumps(TABLE))
    return path


def _instance(tmp_path: Path, postgres: Any, redis_env: dict[str, str], name: str,
              extra: dict[str, str]) -> Any:
    redis = resp.Redis(resp.settings(redis_env))
    redis.command("FLUSHALL")
    redis.close()
    # One database per test: parametrized names share their first 40 characters.
    database = "standin_" + "".join(c for c in name.lower() if c.isalnum())[:30] + "_" \
        + uuid.uuid4().hex[:8]
    return harness.instance(tmp_path / "app", postgres, redis_env, database, extra=extra)


@pytest.fixture
def app(tmp_path: Path, postgres: Any, redis_env: dict[str, str], table_file: Path,
        request: pytest.FixtureRequest) -> Iterator[harness.Instance]:
    extra = {"EMAIL_DOMAIN_ALLOWLIST": ALLOWED, resolver.TABLE_VARIABLE: str(table_file)}
    with _instance(tmp_path, postgres, redis_env, request.node.name, extra) as instance:
        instance.psql("INSERT INTO settings (var, value, created_at, updated_at) VALUES "
                      "('registrations_mode', '--- open', now(), now());\n")
        yield instance


@pytest.fixture
def open_app(tmp_path: Path, postgres: Any, redis_env: dict[str, str], table_file: Path,
             request: pytest.FixtureRequest) -> Iterator[harness.Instance]:
    """No allowlist: every domain goes through the MX check."""
    extra = {resolver.TABLE_VARIABLE: str(table_file)}
    with _instance(tmp_path, postgres, redis_env, request.node.name, extra) as instance:
        instance.psql("INSERT INTO settings (var, value, created_at, updated_at) VALUES "
                      "('registrations_mode', '--- open', now(), now());\n")
        yield instance


def call(web: harness.WebProcess, method: str, path: str, token: str | None = None,
         form: dict[str, str] | None = None, json_body: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """(status, headers, decoded JSON body) of one request to the web process."""
    sent = {"Host": web.host, "X-Forwarded-Proto": "https", **(headers or {})}
    data = None
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        f"http://127.0.0.1:{web.port}{path}", data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def register_app(web: harness.WebProcess, scopes: str = "read write:accounts") -> dict[str, Any]:
    status, _, created = call(web, "POST", "/api/v1/apps", form={
        "client_name": "herd tests", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
        "scopes": scopes})
    assert status == 200, created
    return created


def app_token(web: harness.WebProcess, scopes: str = "read write:accounts",
              scope: str | None = "write:accounts") -> str:
    """What a client does before sign-up (docs: "Register an account")."""
    client = register_app(web, scopes)
    form = {"grant_type": "client_credentials", "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "redirect_uri": "urn:ietf:wg:oauth:2.0:oob"}
    if scope is not None:
        form["scope"] = scope
    status, _, token = call(web, "POST", "/oauth/token", form=form)
    assert status == 200, token
    return token["access_token"]


def sign_up(web: harness.WebProcess, token: str | None, user: str, email: str
            ) -> tuple[int, Any]:
    status, _, body = call(web, "POST", "/api/v1/accounts", token, json_body={
        "username": user, "email": email, "password": "a-long-password-1",
        "agreement": True, "locale": "en"})
    return status, body


def email_errors(body: Any) -> list[str]:
    return [item["error"] for item in body.get("details", {}).get("email", [])]


# -- tokens --------------------------------------------------------------------------

def test_sign_up_needs_an_app_token_with_write_accounts(app: harness.Instance) -> None:
    web = app.start_web()
    # doorkeeper_authorize! :write, :'write:accounts' (accounts_controller.rb l.10)
    assert sign_up(web, None, "anon", f"anon@{ALLOWED}")[0] == 401
    # ... a token holding neither scope is outside the authorized scopes
    read_only = app_token(web, scopes="read", scope="read")
    status, body = sign_up(web, read_only, "reader", f"reader@{ALLOWED}")
    assert (status, body) == (403, {"error": "This action is outside the authorized scopes"})
    # require_client_credentials! (l.13; api/base_controller.rb l.53-55): no user token
    user_token = app.create_user("alice", "read write")
    status, body = sign_up(web, user_token, "viauser", f"viauser@{ALLOWED}")
    assert status == 403 and "client credentials" in body["error"]

    status, body = sign_up(web, app_token(web), "member", f"member@{ALLOWED}")
    assert status == 200, body
    # Doorkeeper's TokenResponse; the user's token has the app's scopes
    # (app_sign_up_service.rb l.29-37).
    assert body["token_type"] == "Bearer" and body["scope"] == "read write:accounts"
    owner = app.psql("SELECT u.email FROM oauth_access_tokens t JOIN users u ON "
                     "u.id = t.resource_owner_id WHERE t.token = :'t';\n",
                     {"t": body["access_token"]}).strip()
    assert owner == f"member@{ALLOWED}"


def test_token_endpoint_follows_doorkeeper(app: harness.Instance) -> None:
    web = app.start_web()
    client = register_app(web, "read write:accounts")
    assert client["client_secret_expires_at"] == 0 and client["scopes"] == ["read",
                                                                          "write:accounts"]

    def token(**form: str) -> tuple[int, Any]:
        status, _, body = call(web, "POST", "/oauth/token", form=form)
        return status, body

    good = {"client_id": client["client_id"], "client_secret": client["client_secret"]}
    # Without `scope`: the app's scopes that are default scopes, i.e. `read`
    # (Doorkeeper 5.9.2 BaseRequest#build_scopes; doorkeeper.rb l.72 default_scopes :read).
    status, body = token(grant_type="client_credentials", **good)
    assert (status, body["scope"]) == (200, "read")
    status, body = token(grant_type="client_credentials", scope="write:statuses", **good)
    assert (status, body["error"]) == (400, "invalid_scope")
    status, body = token(grant_type="client_credentials", client_id=client["client_id"],
                         client_secret="wrong", scope="write:accounts")
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = token(grant_type="password", scope="write:accounts", **good)
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    # HTTP Basic client authentication is Doorkeeper's first method.
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode())
    status, _, body = call(web, "POST", "/oauth/token", form={
        "grant_type": "client_credentials", "scope": "write:accounts"},
        headers={"Authorization": "Basic " + basic.decode()})
    assert (status, body["scope"]) == (200, "write:accounts")


def test_app_registration_validates_like_doorkeeper(app: harness.Instance) -> None:
    web = app.start_web()
    status, _, body = call(web, "POST", "/api/v1/apps", form={"client_name": "x"})
    assert status == 422 and "Redirect URI can't be blank" in body["error"]
    status, _, body = call(web, "POST", "/api/v1/apps", form={
        "client_name": "x", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
        "scopes": "read write:everything"})
    assert status == 422 and "Scopes" in body["error"]


# -- the MX check --------------------------------------------------------------------

@pytest.mark.parametrize(("address", "outcome"), [
    # On the allowlist string as a substring (email_mx_validator.rb l.36-40): no look-up.
    (f"m@{ALLOWED}", None),
    # A subdomain is no substring of "members.herd.test", so it is resolved (l.13-14):
    ("m@lab.members.herd.test", None),            # MX with an address
    ("m@attic.members.herd.test", "ERR_UNREACHABLE"),  # nothing declared
])
def test_allowlisted_subdomain_passes_only_with_dns(app: harness.Instance, address: str,
                                                    outcome: str | None) -> None:
    web = app.start_web()
    status, body = sign_up(web, app_token(web), "m" + str(abs(hash(address)))[:8], address)
    if outcome is None:
        assert status == 200, body
    else:
        assert status == 422 and outcome in email_errors(body), body


@pytest.mark.parametrize(("domain", "outcome"), [
    ("a-only.example", None),
    ("v6-only.example", None),
    ("nullmx.example", "ERR_UNREACHABLE"),
    ("dangling.example", "ERR_UNREACHABLE"),
    ("unknown.example", "ERR_UNREACHABLE"),
    # The MX host name is checked against e-mail domain blocks (l.18, l.61-63).
    ("relay.example", "ERR_BLOCKED"),
])
def test_mx_check_without_allowlist(open_app: harness.Instance, domain: str,
                                    outcome: str | None) -> None:
    open_app.psql("INSERT INTO email_domain_blocks (domain, created_at, updated_at) "
                  "VALUES ('spam.herd.test', now(), now());\n")
    web = open_app.start_web()
    status, body = sign_up(web, app_token(web), "u" + domain.split(".")[0].replace("-", "_"),
                           f"someone@{domain}")
    if outcome is None:
        assert status == 200, body
    else:
        assert status == 422 and email_errors(body) == [outcome], body


def test_missing_table_resolves_nothing(tmp_path: Path, postgres: Any,
                                        redis_env: dict[str, str]) -> None:
    """No table declared: like a resolver that reaches no server, so every domain off
    the allowlist is refused (`ERR_UNREACHABLE`), as upstream on such a host."""
    extra = {resolver.TABLE_VARIABLE: str(tmp_path / "absent.json")}
    with _instance(tmp_path, postgres, redis_env, "missing_table", extra) as instance:
        instance.psql("INSERT INTO settings (var, value, created_at, updated_at) VALUES "
                      "('registrations_mode', '--- open', now(), now());\n")
        web = instance.start_web()
        status, body = sign_up(web, app_token(web), "x", "x@a-only.example")
        assert status == 422 and email_errors(body) == ["ERR_UNREACHABLE"]


def test_tootctl_accounts_create_runs_the_mx_check(app: harness.Instance) -> None:
    app.psql("INSERT INTO email_domain_blocks (domain, created_at, updated_at) "
             "VALUES ('spam.herd.test', now(), now());\n")

    def create(user: str, email: str, *flags: str) -> Any:
        return app.cli("tootctl", "accounts", "create", user, "--email", email, *flags)

    # report_errors (lib/mastodon/cli/accounts.rb l.601-610): attribute and error type.
    done = create("ghost", "ghost@attic.members.herd.test", "--confirmed")
    assert done.returncode == 1 and "Failure/Error: email\n    unreachable" in done.stderr
    # --confirmed skips UserEmailValidator (user.rb l.93), not the MX check's blocks.
    done = create("relayed", "r@relay.example", "--confirmed")
    assert done.returncode == 1 and "Failure/Error: email\n    blocked" in done.stderr
    done = create("outside", "o@a-only.example", "--confirmed")
    assert done.returncode == 0, done.stderr
    # Not confirmed: the allowlist applies too.
    done = create("outside2", "o2@a-only.example")
    assert done.returncode == 1 and "    blocked" in done.stderr
    done = create("admin", f"admin@{ALLOWED}", "--confirmed", "--role", "Owner")
    assert done.returncode == 0 and "New password: " in done.stdout


def test_email_domain_blocks_with_dns_records(app: harness.Instance) -> None:
    done = app.cli("tootctl", "email_domain_blocks", "add", "relay.example",
                   "--with-dns-records")
    assert done.returncode == 0, done.stderr
    listed = app.cli("tootctl", "email_domain_blocks", "list").stdout.splitlines()
    assert listed == ["relay.example", "  mx.spam.herd.test"]


# -- caches --------------------------------------------------------------------------

def test_instance_endpoints_send_upstreams_cache_control(app: harness.Instance) -> None:
    web = app.start_web()
    for path in ("/api/v1/instance", "/api/v2/instance", "/api/v1/instance/rules"):
        status, headers, _ = call(web, "GET", path)
        assert (status, headers.get("Cache-Control")) == (200, PUBLIC), path
    token = app.create_user("bob", "read")
    status, headers, _ = call(web, "GET", "/api/v1/timelines/home", token)
    assert (status, headers.get("Cache-Control")) == (200, PRIVATE)
    status, headers, _ = call(web, "POST", "/oauth/token", form={"grant_type": "password"})
    assert headers.get("Cache-Control") == PRIVATE


def test_limited_federation_mode_keeps_instance_private(
        tmp_path: Path, postgres: Any, redis_env: dict[str, str]) -> None:
    # cache_even_if_authenticated! does nothing in limited federation mode (l.11).
    extra = {"LIMITED_FEDERATION_MODE": "true"}
    with _instance(tmp_path, postgres, redis_env, "limited", extra) as instance:
        web = instance.start_web()
        status, headers, _ = call(web, "GET", "/api/v1/instance")
        assert (status, headers.get("Cache-Control")) == (200, PRIVATE)


def _role_cache_patterns() -> list[str]:
    """The key patterns the mastodon role drops after changing settings or rules."""
    tasks = yaml.safe_load((REPO / "roles" / "mastodon" / "tasks" / "instance.yml").read_text())
    for task in tasks[0]["block"]:
        patterns = task.get("vars", {}).get("__mastodon_instance_cache_patterns")
        if patterns:
            return list(patterns)
    raise AssertionError("instance.yml drops no instance cache keys")


def test_instance_bodies_stay_cached_until_the_role_drops_them(app: harness.Instance) -> None:
    web = app.start_web()
    first = {path: call(web, "GET", path)[2] for path in ("/api/v1/instance", "/api/v2/instance")}
    app.psql("INSERT INTO settings (var, value, created_at, updated_at) VALUES "
             "('site_title', '--- Renamed', now(), now());\n")
    # render_with_cache keeps the body 3 minutes (cache_concern.rb l.32), so the old title
    # is served on; that is what the role must clear.
    for path, before in first.items():
        assert call(web, "GET", path)[2]["title"] == before["title"] == "Mastodon"
    redis = resp.Redis(resp.settings(app.env))
    try:
        keys = [k.decode() for k in redis.command("KEYS", "cache:*")]
        assert sorted(k.split("/show:")[0] for k in keys) == ["cache:api/v1/instances",
                                                              "cache:api/v2/instances"]
        ttl = redis.command("TTL", keys[0])
        assert 0 < ttl <= 180
        for pattern in _role_cache_patterns():
            for key in redis.command("KEYS", pattern):
                redis.command("UNLINK", key)
    finally:
        redis.close()
    for path in first:
        assert call(web, "GET", path)[2]["title"] == "Renamed"


# -- settings Psych refuses ------------------------------------------------------------

def raw_get(web: harness.WebProcess, path: str, accept: str | None = None
            ) -> tuple[int, str, bytes]:
    """(status, Content-Type, body) of one GET; None: no Accept header (as urllib)."""
    headers = {"Host": web.host, "X-Forwarded-Proto": "https"}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        f"http://127.0.0.1:{web.port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_a_setting_psych_refuses_fails_the_pages_that_read_it(app: harness.Instance) -> None:
    """Setting#value is YAML.safe_load (app/models/setting.rb:100-102 at 1440d55b); Psych
    refuses a surrogate escape (what `--- ` + json.dumps wrote for an emoji), nothing
    rescues Psych::SyntaxError (app/controllers/concerns/api/error_handling.rb,
    error_responses.rb), so Rails' exceptions app answers 500: JSON to a JSON client,
    else public/500.html (actionpack 8.1.3, Gemfile.lock:16, PublicExceptions)."""
    app.psql("INSERT INTO settings (var, value, created_at, updated_at) VALUES "
             "('site_title', '--- \"\\ud83d\\udc18\"', now(), now());\n")
    web = app.start_web()
    page = (app.root / "public" / "500.html").read_bytes()
    status, kind, body = raw_get(web, "/api/v1/instance", "application/json")
    assert (status, kind.split(";")[0]) == (500, "application/json")
    assert json.loads(body) == {"status": 500, "error": "Internal Server Error"}
    for path in ("/api/v2/instance", "/"):
        assert raw_get(web, path) == (500, "text/html; charset=utf-8", page), path
    # Pages that read no setting keep working; the web process keeps serving.
    assert raw_get(web, "/api/v1/instance/rules")[0] == 200
    assert raw_get(web, "/health")[:1] == (200,)
    # Once the row holds what Psych reads, the pages come back (nothing was cached).
    app.psql("UPDATE settings SET value = '--- \"\\U0001F418\"' WHERE var = 'site_title';\n")
    status, _kind, body = raw_get(web, "/api/v1/instance", "application/json")
    assert (status, json.loads(body)["title"]) == (200, "\U0001F418")
