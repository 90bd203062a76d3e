"""OAuth bearer tokens, as Doorkeeper and Mastodon's Api::BaseController check them.

Tokens are rows of `oauth_access_tokens` (db/schema.rb l.876-890 at 1440d55b): `token`,
`resource_owner_id` (= users.id; NULL for an app token), `scopes` (space-separated),
`revoked_at`, `expires_in` (seconds after created_at; NULL never expires, as upstream
sets access_token_expires_in nil, config/initializers/doorkeeper.rb l.32).

A controller names the scopes that suffice (`doorkeeper_authorize! :write,
:'write:statuses'`); the token must hold at least one of them. That list, not a scope
hierarchy, is why `write` also covers `write:statuses`: Doorkeeper itself has none.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from standin.db import Database

# config/initializers/doorkeeper.rb l.72-119 (default_scopes, optional_scopes), and
# enforce_configured_scopes (l.61): an app may only ask for these.
DEFAULT_SCOPES = "read"
SERVER_SCOPES = frozenset({
    "read", "write", "follow", "push", "profile",
    *(f"write:{s}" for s in ("accounts", "blocks", "bookmarks", "collections",
                             "conversations", "favourites", "filters", "follows", "lists",
                             "media", "mutes", "notifications", "reports", "statuses")),
    *(f"read:{s}" for s in ("accounts", "blocks", "bookmarks", "collections", "favourites",
                            "filters", "follows", "lists", "mutes", "notifications",
                            "search", "statuses")),
    "admin:read", "admin:write",
    *(f"admin:{mode}:{s}" for mode in ("read", "write")
      for s in ("accounts", "reports", "domain_allows", "domain_blocks", "ip_blocks",
                "email_domain_blocks", "canonical_email_blocks")),
})
OOB_URI = "urn:ietf:wg:oauth:2.0:oob"
FORBIDDEN_SCHEMES = ("data", "vbscript", "javascript")  # doorkeeper.rb l.151
# Doorkeeper 5.9.2's config/locales/en.yml (doorkeeper.errors.messages).
INVALID_CLIENT = ("Client authentication failed due to unknown client, no client "
                  "authentication included, or unsupported authentication method.")
INVALID_SCOPE = "The requested scope is invalid, unknown, or malformed."
UNSUPPORTED_GRANT = "The authorization grant type is not supported by the authorization server."


@dataclass
class ApiError(Exception):
    """The request must be answered with this status and JSON body."""

    status: int
    body: dict[str, Any]


@dataclass
class Principal:
    token_id: int
    scopes: set[str]
    user_id: int | None
    account_id: int | None
    username: str | None


def bearer(header: str | None) -> str | None:
    """Doorkeeper's from_bearer_authorization: `Authorization: Bearer TOKEN`."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authorize(db: Database, header: str | None, *scopes: str) -> Principal:
    """doorkeeper_authorize!(*scopes): 401 without a valid token, 403 on wrong scopes.

    The error texts are Doorkeeper's invalid_token descriptions (unknown / revoked /
    expired) rendered by Api::BaseController#doorkeeper_unauthorized_render_options
    (app/controllers/api/base_controller.rb l.23-25) and the forbidden text of l.27-29.
    """
    token = bearer(header)
    if token is None:
        raise ApiError(401, {"error": "The access token is invalid"})
    rows = db.rows(
        "SELECT t.id, t.scopes, t.resource_owner_id AS user_id, "
        "t.revoked_at IS NOT NULL AND t.revoked_at <= now() AS revoked, "
        "t.expires_in IS NOT NULL AND t.created_at + make_interval(secs => t.expires_in) "
        "<= now() AS expired, u.account_id, a.username "
        "FROM oauth_access_tokens t LEFT JOIN users u ON u.id = t.resource_owner_id "
        "LEFT JOIN accounts a ON a.id = u.account_id WHERE t.token = :'token'",
        {"token": token})
    if not rows:
        raise ApiError(401, {"error": "The access token is invalid"})
    row = rows[0]
    if row["revoked"]:
        raise ApiError(401, {"error": "The access token was revoked"})
    if row["expired"]:
        raise ApiError(401, {"error": "The access token expired"})
    held = set((row["scopes"] or "").split())
    if not held & set(scopes):
        raise ApiError(403, {"error": "This action is outside the authorized scopes"})
    return Principal(token_id=int(row["id"]), scopes=held, user_id=row["user_id"],
                     account_id=row["account_id"], username=row["username"])


def require_user(db: Database, principal: Principal) -> None:
    """Api::BaseController#require_not_suspended! and #require_user! (l.61-77).

    On success upstream's update_user_sign_in (app/controllers/concerns/
    user_tracking_concern.rb l.14-20) refreshes current_sign_in_at at most once a day;
    FeedManager#push_to_home relies on it (app/lib/feed_manager.rb l.77).
    """
    if principal.user_id is None:
        raise ApiError(422, {"error": "This method requires an authenticated user"})
    rows = db.rows(
        "SELECT u.confirmed_at IS NOT NULL AS confirmed, u.approved, u.disabled, "
        "a.suspended_at IS NOT NULL AS suspended FROM users u "
        "JOIN accounts a ON a.id = u.account_id WHERE u.id = :'id'",
        {"id": principal.user_id})
    if not rows:
        # current_user rescues RecordNotFound to nil (l.47-51).
        raise ApiError(422, {"error": "This method requires an authenticated user"})
    user = rows[0]
    if user["suspended"]:
        raise ApiError(403, {"error": "Your login is currently disabled"})
    if not user["confirmed"]:
        raise ApiError(403, {"error": "Your login is missing a confirmed e-mail address"})
    if not user["approved"]:
        raise ApiError(403, {"error": "Your login is currently pending approval"})
    if user["disabled"]:
        raise ApiError(403, {"error": "Your login is currently disabled"})
    db.run(
        "UPDATE users SET last_sign_in_at = coalesce(current_sign_in_at, now()), "
        "current_sign_in_at = now() WHERE id = :'id' AND (current_sign_in_at IS NULL OR "
        "current_sign_in_at < now() - interval '24 hours');\n",
        {"id": principal.user_id})


def returning(db: Database, sql: str, params: dict[str, Any]) -> list[str]:
    """The fields of the one row an `INSERT ... RETURNING` printed (psql -At)."""
    lines = db.run(sql, params).strip().splitlines()
    return lines[-1].split("|") if lines else []


def _redirect_uri_error(uris: list[str]) -> str | None:
    """Doorkeeper::RedirectUriValidator's refusals (its en.yml texts); the out-of-band
    URI is accepted, plain http too (force_ssl_in_redirect_uri false, doorkeeper.rb l.144)."""
    if not uris:
        return "Redirect URI can't be blank"
    for uri in uris:
        if uri == OOB_URI:
            continue
        parts = urlsplit(uri)
        if parts.fragment:
            return "Redirect URI cannot contain a fragment."
        if not parts.scheme:
            return "Redirect URI must be an absolute URI."
        if parts.scheme.lower() in FORBIDDEN_SCHEMES:
            return "Redirect URI is forbidden by the server."
    return None


def create_app(db: Database, params: dict[str, Any], vapid_key: str) -> dict[str, Any]:
    """Api::V1::AppsController#create (app/controllers/api/v1/apps_controller.rb l.6-28)
    with Doorkeeper::Application's validations, answered by
    REST::CredentialApplicationSerializer (app/serializers/rest/
    credential_application_serializer.rb, application_serializer.rb)."""
    name = str(params.get("client_name") or "").strip()
    raw_uris = params.get("redirect_uris") or ""
    uris = ([str(u).strip() for u in raw_uris] if isinstance(raw_uris, list)
            else str(raw_uris).split())
    uris = [u for u in uris if u]
    scopes = str(params.get("scopes") or DEFAULT_SCOPES).split()
    website = str(params.get("website") or "")
    problems = []
    if not name:
        problems.append("Name can't be blank")
    uri_problem = _redirect_uri_error(uris)
    if uri_problem:
        problems.append(uri_problem)
    if not scopes or not set(scopes) <= SERVER_SCOPES:
        problems.append("Scopes doesn't match those configured on the server.")
    if problems:
        raise ApiError(422, {"error": "Validation failed: " + ", ".join(problems)})
    uid, secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    (app_id,) = returning(db,
        "INSERT INTO oauth_applications (name, uid, secret, redirect_uri, scopes, website, "
        "created_at, updated_at) VALUES (:'name', :'uid', :'secret', :'uri', :'scopes', "
        "NULLIF(:'website', ''), now(), now()) RETURNING id;\n",
        {"name": name, "uid": uid, "secret": secret, "uri": "\n".join(uris),
         "scopes": " ".join(dict.fromkeys(scopes)), "website": website})
    return {
        "id": app_id, "name": name, "website": website or None,
        "scopes": list(dict.fromkeys(scopes)), "redirect_uris": uris,
        "vapid_key": vapid_key, "redirect_uri": "\n".join(uris),
        "client_id": uid, "client_secret": secret, "client_secret_expires_at": 0,
    }


def _client_credentials(header: str | None, params: dict[str, Any]) -> tuple[str, str]:
    """Doorkeeper's client_credentials :from_basic, :from_params (the default order)."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            uid, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        return unquote(uid), unquote(secret)
    return str(params.get("client_id") or ""), str(params.get("client_secret") or "")


def issue_token(db: Database, header: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """POST /oauth/token. Only client_credentials is served here (upstream also grants
    authorization_code, doorkeeper.rb l.170, which needs a browser sign-in); errors as
    Doorkeeper::OAuth::ErrorResponse (401 for invalid_client, else 400). The scopes are
    Doorkeeper 5.9.2's BaseRequest#build_scopes and ClientCredentials::Validator:
    without `scope`, the app's scopes that are default scopes (`read`)."""
    grant = str(params.get("grant_type") or "")
    if grant == "authorization_code":
        raise ApiError(400, {"error": "invalid_grant", "error_description":
                             "The stand-in signs in no browser: use client_credentials"})
    if grant != "client_credentials":
        raise ApiError(400, {"error": "unsupported_grant_type",
                             "error_description": UNSUPPORTED_GRANT})
    uid, secret = _client_credentials(header, params)
    rows = db.rows("SELECT id, secret, scopes FROM oauth_applications WHERE uid = :'uid'",
                   {"uid": uid}) if uid else []
    if not rows or not secrets.compare_digest(rows[0]["secret"], secret):
        raise ApiError(401, {"error": "invalid_client", "error_description": INVALID_CLIENT})
    app = rows[0]
    app_scopes = (app["scopes"] or "").split()
    asked = str(params.get("scope") or "")
    wanted = asked.split() if asked.strip() else (
        [s for s in app_scopes if s in DEFAULT_SCOPES.split()] if app_scopes
        else DEFAULT_SCOPES.split())
    allowed = set(app_scopes) or SERVER_SCOPES
    if (app_scopes or wanted) and (not wanted or any(c in asked for c in "\n\r\t")
                                   or not set(wanted) <= allowed):
        raise ApiError(400, {"error": "invalid_scope", "error_description": INVALID_SCOPE})
    token = secrets.token_urlsafe(32)
    (created_at,) = returning(db,
        "INSERT INTO oauth_access_tokens (token, application_id, scopes, created_at) "
        "VALUES (:'token', :'app', :'scopes', now()) "
        "RETURNING extract(epoch FROM created_at)::bigint;\n",
        {"token": token, "app": app["id"], "scopes": " ".join(wanted)})
    return token_response(token, " ".join(wanted), int(created_at))


def token_response(token: str, scopes: str, created_at: int) -> dict[str, Any]:
    """Doorkeeper::OAuth::TokenResponse#body (5.9.2 lib/doorkeeper/oauth/
    token_response.rb l.14-23): expires_in and refresh_token are blank here, so left out."""
    return {"access_token": token, "token_type": "Bearer", "scope": scopes,
            "created_at": created_at}


def require_client_credentials(principal: Principal) -> None:
    """Api::BaseController#require_client_credentials! (l.53-55): an app token only."""
    if principal.user_id is not None:
        raise ApiError(403, {"error": "This method requires an client credentials "
                                      "authentication"})
