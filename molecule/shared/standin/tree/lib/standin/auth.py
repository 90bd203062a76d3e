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

from dataclasses import dataclass
from typing import Any

from standin.db import Database


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
