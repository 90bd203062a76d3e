"""The web process (`bundle exec puma -C config/puma.rb`): a small HTTP server honouring
what herd's roles and tests see of upstream's Rails application.

Upstream behaviour kept on purpose:
- BIND (127.0.0.1) and PORT (3000) choose the listening socket; SIGUSR1 is a phased
  restart (the stand-in re-executes itself, keeping its PID and listening socket, so new
  code checked out by an upgrade is served); SIGTERM stops it.
- Host authorization: only LOCAL_DOMAIN, WEB_DOMAIN and ALTERNATE_DOMAINS are served
  (403 otherwise); `/health` is exempt.
- force_ssl: a request not marked `X-Forwarded-Proto: https` is redirected (301) to https;
  `/health` is exempt. nginx sets that header in front of the backend.
- Statuses, the home timeline and media uploads with bearer tokens (standin.auth,
  standin.jobs, standin.media; the README lists each contract and its upstream source).
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from standin import email_checks, exporter, jobs, media, resolver, resp, yamlish
from standin import env as envmod
from standin.auth import (
    ApiError,
    Principal,
    authorize,
    create_app,
    issue_token,
    require_client_credentials,
    require_user,
    returning,
    token_response,
)
from standin.db import Database, DatabaseError
from standin.env import ROOT, ContractError

FD_VARIABLE = "STANDIN_PUMA_LISTEN_FD"
USERNAME = re.compile(r"^[a-z0-9_]+$", re.IGNORECASE)
EMAIL = re.compile(r"^[^@\s]+@([^@\s]+\.[^@\s]+)$")
MEDIA_PATH = re.compile(r"^/api/v1/media/([0-9]+)$")
# Status::Visibility's enum (app/models/concerns/status/visibility.rb l.7-10).
VISIBILITIES = {"public": 0, "unlisted": 1, "private": 2, "direct": 3, "limited": 4}
VISIBILITY_NAMES = {value: name for name, value in VISIBILITIES.items()}
STATUS_MAX_CHARS = 500  # StatusLengthValidator::MAX_CHARS (app/validators/... l.4)
MEDIA_ATTACHMENTS_LIMIT = 4  # Status::MEDIA_ATTACHMENTS_LIMIT (app/models/status.rb l.62)
DEFAULT_STATUSES_LIMIT = 20  # Api::BaseController (app/controllers/api/base_controller.rb l.4)

# Cache-Control (1440d55b). ApplicationController#set_cache_control_defaults (app/
# controllers/application_controller.rb l.32, l.140-142) for every answer, replaced by
# Api::CachingConcern#cache_even_if_authenticated! (app/controllers/concerns/api/
# caching_concern.rb l.10-12: 5 minutes, public, stale-while-revalidate 30 s,
# stale-if-error 1 day; not in limited federation mode) on the instance endpoints
# (api/v1/instances_controller.rb l.9, api/v2/instances_controller.rb l.15,
# api/v1/instances/rules_controller.rb l.14). HealthController is an
# ActionController::Base, so /health gets Rails' own default for an ETagged answer.
CACHE_PRIVATE = "private, no-store"
CACHE_PUBLIC = "public, max-age=300, stale-while-revalidate=30, stale-if-error=86400"
CACHE_HEALTH = "max-age=0, private, must-revalidate"
# HomeController#index (app/controllers/home_controller.rb l.6-8) for a visitor without a
# session (the stand-in has no sessions), Vary from WebAppControllerConcern (l.7).
CACHE_HOME = {"Cache-Control": "public, max-age=15, stale-while-revalidate=30, "
                               "stale-if-error=86400", "Vary": "Accept, Accept-Language, Cookie"}
# CacheConcern#render_with_cache (app/controllers/concerns/cache_concern.rb l.28-47):
# the body under "<controller>/<action>:<presenter cache_key>" for 3 minutes in
# Rails.cache (the Redis cache store, namespace `cache`: lib/mastodon/
# redis_configuration.rb l.18-29). InstancePresenter's cache_key is
# ActiveModelSerializers::Model's: "instancepresenter/instancepresenter-<mtime of that
# gem file>"; the stand-in's own file's mtime stands in for it.
INSTANCE_CACHE_SECONDS = 180
INSTANCE_PATHS = {"/api/v1/instance": "api/v1/instances", "/api/v2/instance": "api/v2/instances"}


def presenter_stamp() -> str:
    import datetime as dt

    mtime = Path(__file__).stat().st_mtime_ns
    when = dt.datetime.fromtimestamp(mtime // 1_000_000_000, dt.UTC)
    return when.strftime("%Y%m%d%H%M%S") + f"{mtime % 1_000_000_000:09d}"


def instance_cache_key(controller: str) -> str:
    return (f"cache:{controller}/show:instancepresenter/instancepresenter-"
            f"{presenter_stamp()}")


class App:
    def __init__(self, root: Path, environ: dict[str, str]) -> None:
        self.root = root
        self.environ = environ
        self.version = envmod.version_string(root)
        self.db = Database(environ)
        hosts = [environ.get("LOCAL_DOMAIN", ""), environ.get("WEB_DOMAIN", "")]
        hosts += environ.get("ALTERNATE_DOMAINS", "").split(",")
        self.hosts = {host.strip().lower() for host in hosts if host.strip()}
        self.local_domain = environ["LOCAL_DOMAIN"]
        self.web_domain = environ.get("WEB_DOMAIN") or self.local_domain
        self.storage = media.Storage(root, environ)
        self._redis = threading.local()

    def redis(self, prefix: str = "") -> resp.Redis:
        """One connection per request thread and Redis (base or SIDEKIQ_)."""
        name = f"conn_{prefix or 'base'}"
        conn = getattr(self._redis, name, None)
        if conn is None:
            conn = resp.Redis(resp.settings(self.environ, prefix))
            setattr(self._redis, name, conn)
        return conn

    # -- settings ---------------------------------------------------------------------
    def settings(self) -> Settings:
        return Settings(self.db.settings())

    def registrations_mode(self, settings: Settings) -> str:
        if self.environ.get("SINGLE_USER_MODE", "") == "true":
            return "none"
        return str(settings.get("registrations_mode") or "none")

    def rules(self) -> list[dict[str, Any]]:
        rows = self.db.rows(
            "SELECT id, text, hint FROM rules WHERE deleted_at IS NULL "
            "ORDER BY priority ASC, id ASC"
        )
        out = []
        for row in rows:
            translations = self.db.rows(
                "SELECT language, text, hint FROM rule_translations WHERE rule_id = :'id' "
                "ORDER BY language", {"id": row["id"]})
            out.append({
                "id": str(row["id"]), "text": row["text"], "hint": row["hint"],
                "translations": {t["language"]: {"text": t["text"], "hint": t["hint"]}
                                 for t in translations},
            })
        return out

    def contact_account(self, settings: Settings) -> dict[str, Any] | None:
        username = settings.get("site_contact_username")
        if not username:
            return None
        rows = self.db.rows(
            "SELECT id, username, display_name, created_at FROM accounts "
            "WHERE lower(username) = lower(:'u') AND domain IS NULL", {"u": str(username)})
        if not rows:
            return None
        row = rows[0]
        return {
            "id": str(row["id"]), "username": row["username"], "acct": row["username"],
            "display_name": row["display_name"],
            "url": f"https://{self.web_domain}/@{row['username']}",
            "created_at": row["created_at"],
        }

    def user_count(self) -> int:
        return int(self.db.value("SELECT count(*) AS n FROM users") or 0)

    def instance_v1(self) -> dict[str, Any]:
        settings = self.settings()
        mode = self.registrations_mode(settings)
        short = settings.get("site_short_description") or ""
        return {
            "uri": self.local_domain,
            "title": settings.get("site_title") or "Mastodon",
            "short_description": short,
            "description": short,
            "email": settings.get("site_contact_email") or "",
            "version": self.version,
            "urls": {"streaming_api": f"wss://{self.web_domain}"},
            "stats": {"user_count": self.user_count(), "status_count": 0, "domain_count": 0},
            "thumbnail": f"https://{self.web_domain}/packs/media/images/preview.png",
            "languages": ["en"],
            "registrations": mode != "none",
            "approval_required": mode == "approved",
            "invites_enabled": False,
            "configuration": {"accounts": {"max_featured_tags": 10}},
            "contact_account": self.contact_account(settings),
            "rules": [{k: r[k] for k in ("id", "text", "hint")} for r in self.rules()],
        }

    def instance_v2(self) -> dict[str, Any]:
        settings = self.settings()
        mode = self.registrations_mode(settings)
        return {
            "domain": self.local_domain,
            "title": settings.get("site_title") or "Mastodon",
            "version": self.version,
            "source_url": "",
            "description": settings.get("site_short_description") or "",
            "usage": {"users": {"active_month": 0}},
            "languages": ["en"],
            "configuration": {"urls": {"streaming": f"wss://{self.web_domain}"}},
            "registrations": {
                "enabled": mode != "none",
                "approval_required": mode == "approved",
                "message": settings.get("closed_registrations_message") if mode == "none"
                else None,
            },
            "contact": {
                "email": settings.get("site_contact_email") or "",
                "account": self.contact_account(settings),
            },
            "rules": self.rules(),
        }

    def instance_body(self, path: str) -> bytes:
        """The instance document, from Rails.cache when there (render_with_cache). A
        failing cache store reads as a miss: RedisCacheStore rescues connection errors."""
        key = instance_cache_key(INSTANCE_PATHS[path])
        cache = self.redis("CACHE_")
        try:
            cached = cache.command("GET", key)
        except resp.RedisError:
            cached = None
        if isinstance(cached, bytes):
            return cached
        document = self.instance_v1() if path == "/api/v1/instance" else self.instance_v2()
        body = json.dumps(document).encode()
        try:
            cache.command("SET", key, body, "EX", INSTANCE_CACHE_SECONDS)
        except resp.RedisError as error:
            print(f"web: cache store unavailable: {error}", file=sys.stderr)
        return body

    def public_cache(self) -> dict[str, str]:
        """cache_even_if_authenticated!: not in limited federation mode (l.11)."""
        if self.environ.get("LIMITED_FEDERATION_MODE", "") == "true":
            return {}
        return {"Cache-Control": CACHE_PUBLIC}

    # -- sign-up ----------------------------------------------------------------------
    def register(self, principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        """Api::V1::AccountsController#create (app/controllers/api/v1/accounts_controller.rb
        l.10-18, l.35-45) -> AppSignUpService (app/services/app_sign_up_service.rb):
        an app token (client credentials) with `write` or `write:accounts`, sign-up open,
        then User's validations; the new user's token carries the app's scopes (l.29-37).
        """
        require_client_credentials(principal)
        settings = self.settings()
        mode = self.registrations_mode(settings)
        if mode == "none":
            raise ApiError(403, {"error": "This action is not allowed"})
        username = str(params.get("username") or "")
        email = str(params.get("email") or "").strip()
        password = str(params.get("password") or "")
        agreement = str(params.get("agreement") or "").lower() in ("true", "1")
        details: dict[str, list[dict[str, str]]] = {}

        def error(field: str, code: str, description: str) -> None:
            details.setdefault(field, []).append({"error": code, "description": description})

        if not username:
            error("username", "ERR_BLANK", "can't be blank")
        elif not USERNAME.match(username) or len(username) > 30:
            error("username", "ERR_INVALID", "must contain only letters, numbers and underscores")
        elif self.db.value("SELECT count(*) AS n FROM accounts WHERE lower(username) = "
                           "lower(:'u') AND domain IS NULL", {"u": username}):
            error("username", "ERR_TAKEN", "is already taken")
        approved = mode == "open"
        if not email:
            error("email", "ERR_BLANK", "can't be blank")
        elif not EMAIL.match(email):
            error("email", "ERR_INVALID", "is invalid")
        else:
            # user.rb l.91 (email_mx) before l.93 (UserEmailValidator): both report.
            table = resolver.load_table()
            keys = email_checks.mx_errors(self.db, self.environ, table, email)
            keys += email_checks.configuration_errors(self.db, self.environ, email)
            if self.db.value("SELECT count(*) AS n FROM users WHERE lower(email) = "
                             "lower(:'e')", {"e": email}):
                keys.append("taken")
            for key in dict.fromkeys(keys):
                error("email", f"ERR_{key.upper()}", email_checks.DESCRIPTIONS[key])
            if not keys and email_checks.requires_approval(self.db, table, email):
                approved = False
        if len(password) < 8:
            error("password", "ERR_TOO_SHORT", "is too short (minimum is 8 characters)")
        elif len(password) > 72:
            error("password", "ERR_TOO_LONG", "is too long (maximum is 72 characters)")
        if not agreement:
            error("agreement", "ERR_ACCEPTED", "must be accepted")
        if mode == "approved" and settings.get("require_invite_text") is True \
                and not str(params.get("reason") or "").strip():
            error("reason", "ERR_BLANK", "can't be blank")
        if details:
            summary = ", ".join(f"{field.capitalize()} {item['description']}"
                                for field, items in details.items() for item in items)
            raise ApiError(422, {"error": f"Validation failed: {summary}", "details": details})
        app = self.db.rows(
            "SELECT a.id, a.scopes FROM oauth_access_tokens t JOIN oauth_applications a "
            "ON a.id = t.application_id WHERE t.id = :'id'", {"id": principal.token_id})
        app_id, scopes = (app[0]["id"], app[0]["scopes"]) if app else ("", "read")
        token = secrets.token_urlsafe(32)
        (created_at,) = returning(
            self.db,
            """
BEGIN;
WITH account AS (
  INSERT INTO accounts (username, created_at, updated_at) VALUES (:'username', now(), now())
  RETURNING id),
usr AS (
  INSERT INTO users (email, encrypted_password, account_id, approved, locale, reason,
                     created_at, updated_at)
  SELECT :'email', :'hash', account.id, :'approved', :'locale', NULLIF(:'reason', ''),
         now(), now() FROM account RETURNING id)
INSERT INTO oauth_access_tokens (token, resource_owner_id, application_id, scopes, created_at)
SELECT :'token', usr.id, NULLIF(:'app', '')::bigint, :'scopes', now() FROM usr
RETURNING extract(epoch FROM created_at)::bigint;
COMMIT;
""",
            {"username": username, "email": email, "hash": "standin$" + secrets.token_hex(16),
             "approved": "true" if approved else "false",
             "locale": str(params.get("locale") or "en"),
             "reason": str(params.get("reason") or ""), "token": token, "app": app_id,
             "scopes": scopes})
        return token_response(token, scopes, int(created_at))

    # -- statuses and the home feed ----------------------------------------------------
    def status_json(self, row: dict[str, Any]) -> dict[str, Any]:
        """The REST::StatusSerializer fields a client needs to recognise its post."""
        paragraphs = [p for p in re.split(r"\n{2,}", row["text"]) if p]
        content = "".join("<p>" + html.escape(p).replace("\n", "<br />") + "</p>"
                          for p in paragraphs)
        attachments = self.db.rows(
            "SELECT id, type, file_file_name, description, blurhash, remote_url FROM "
            "media_attachments WHERE status_id = :'id' ORDER BY id", {"id": row["id"]})
        return {
            "id": str(row["id"]), "created_at": row["created_at"], "in_reply_to_id": None,
            "in_reply_to_account_id": None, "sensitive": row["sensitive"],
            "spoiler_text": row["spoiler_text"],
            "visibility": VISIBILITY_NAMES.get(row["visibility"], "public"),
            "language": row["language"], "uri": row["uri"], "url": row["url"],
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
            "content": content, "reblog": None,
            "account": {"id": str(row["account_id"]), "username": row["username"],
                        "acct": row["username"],
                        "url": f"https://{self.web_domain}/@{row['username']}"},
            "media_attachments": [self.media_json(m) for m in attachments],
            "mentions": [], "tags": [], "emojis": [],
        }

    def post_status(self, principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
        """Api::V1::StatusesController#create -> PostStatusService#call (1440d55b:
        app/controllers/api/v1/statuses_controller.rb l.30-53, app/services/
        post_status_service.rb l.42-67): validate, save, then postprocess_status!
        enqueues DistributionWorker (l.166) for the fan-out into home feeds."""
        text = str(params.get("status") or "")
        spoiler = str(params.get("spoiler_text") or "")
        media_ids = params.get("media_ids") or []
        if not isinstance(media_ids, list):
            media_ids = []  # validate_media! ignores a non-list (l.187-191)
        if len(media_ids) > MEDIA_ATTACHMENTS_LIMIT:
            raise ApiError(422, {"error": "Cannot attach more than 4 files"})
        ids = [int(str(i)) for i in media_ids if str(i).isdigit()]
        found = {row["id"] for row in self.db.rows(
            "SELECT id FROM media_attachments WHERE account_id = :'a' AND status_id IS NULL "
            "AND id IN (SELECT unnest(string_to_array(NULLIF(:'ids', ''), ',')::bigint[]))",
            {"a": principal.account_id, "ids": ",".join(map(str, ids))})} if ids else set()
        missing = [str(i) for i in media_ids if not str(i).isdigit() or int(str(i)) not in found]
        if missing:
            raise ApiError(422, {"error": f"Media {', '.join(missing)} not found or already "
                                         "attached to another post"})
        if not text and spoiler:
            text, spoiler = spoiler, ""  # preprocess_attributes! (l.74)
        visibility = str(params.get("visibility") or "public")
        errors = []
        if visibility not in VISIBILITIES:
            errors.append("Visibility is not included in the list")
        if not text.strip() and not found:
            errors.append("Text can't be blank")  # app/models/status.rb l.121
        if len(text) + len(spoiler) > STATUS_MAX_CHARS:
            errors.append(f"Text character limit of {STATUS_MAX_CHARS} exceeded")
        if errors:
            raise ApiError(422, {"error": "Validation failed: " + ", ".join(errors)})
        sensitive = str(params.get("sensitive") or "").lower() in ("true", "1", "on") \
            or bool(spoiler)
        out = self.db.run(
            """
BEGIN;
WITH n AS (SELECT nextval(pg_get_serial_sequence('statuses', 'id')) AS id),
ins AS (
  INSERT INTO statuses (id, uri, url, text, local, account_id, visibility, sensitive,
                        spoiler_text, language, created_at, updated_at)
  SELECT n.id, :'uri' || n.id, :'url' || n.id, :'text', true, :'account', :'visibility',
         :'sensitive', :'spoiler', NULLIF(:'language', ''), now(), now() FROM n
  RETURNING id)
UPDATE media_attachments SET status_id = (SELECT id FROM ins), updated_at = now()
WHERE id IN (SELECT unnest(string_to_array(NULLIF(:'media', ''), ',')::bigint[]))
RETURNING (SELECT id FROM ins);
SELECT currval(pg_get_serial_sequence('statuses', 'id'));
COMMIT;
""",
            {"uri": f"https://{self.web_domain}/users/{principal.username}/statuses/",
             "url": f"https://{self.web_domain}/@{principal.username}/", "text": text,
             "account": principal.account_id, "visibility": VISIBILITIES[visibility],
             "sensitive": "true" if sensitive else "false", "spoiler": spoiler,
             "language": str(params.get("language") or ""),
             "media": ",".join(map(str, sorted(found)))})
        status_id = int(out.split()[-1])
        # DistributionWorker.perform_async(@status.id): Sidekiq's Redis, default queue.
        jobs.push(self.redis("SIDEKIQ_"), "DistributionWorker", [status_id])
        return self.status_json(self.status_rows([status_id])[0])

    def status_rows(self, ids: list[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        rows = self.db.rows(
            "SELECT s.id, s.uri, s.url, s.text, s.account_id, s.visibility, s.sensitive, "
            "s.spoiler_text, s.language, "
            "to_char(s.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at, "
            "a.username FROM statuses s JOIN accounts a ON a.id = s.account_id "
            "WHERE s.deleted_at IS NULL AND s.id IN "
            "(SELECT unnest(string_to_array(:'ids', ',')::bigint[]))",
            {"ids": ",".join(map(str, ids))})
        order = {status_id: n for n, status_id in enumerate(ids)}
        return sorted(rows, key=lambda row: order[row["id"]])

    def home_timeline(self, principal: Principal, query: dict[str, list[str]]) -> list[Any]:
        """Api::V1::Timelines::HomeController#show -> HomeFeed#get -> Feed#from_redis
        (app/models/feed.rb l.11-32): ids from `feed:home:ACCOUNT_ID`, newest first,
        then the rows from PostgreSQL; `limit` defaults to 20, at most 40
        (Api::BaseController#limit_param, l.33-37)."""
        def number(name: str) -> str | None:
            value = (query.get(name) or [""])[-1]
            return str(int(value)) if value.lstrip("-").isdigit() else None

        limit = DEFAULT_STATUSES_LIMIT
        if number("limit") is not None:
            limit = min(abs(int(number("limit") or 0)), DEFAULT_STATUSES_LIMIT * 2)
        key = jobs.feed_key("home", principal.account_id or 0)
        max_id = number("max_id")
        min_id = number("min_id")
        if min_id is None:
            since = number("since_id")
            ids = self.redis().command("ZREVRANGEBYSCORE", key, f"({max_id}" if max_id
                                       else "+inf", f"({since}" if since else "-inf",
                                       "LIMIT", 0, limit)
        else:
            ids = self.redis().command("ZRANGEBYSCORE", key, f"({min_id}",
                                       f"({max_id}" if max_id else "+inf", "LIMIT", 0, limit)
        return [self.status_json(row) for row in self.status_rows([int(i) for i in ids])]

    # -- media -------------------------------------------------------------------------
    def media_json(self, row: dict[str, Any]) -> dict[str, Any]:
        """REST::MediaAttachmentSerializer (app/serializers/rest/
        media_attachment_serializer.rb l.8-50)."""
        return {
            "id": str(row["id"]), "type": media.TYPE_NAMES.get(row["type"], "unknown"),
            "url": self.storage.url(int(row["id"]), row["file_file_name"]),
            "preview_url": None, "remote_url": row["remote_url"] or None,
            "preview_remote_url": None, "text_url": None, "meta": {},
            "description": row["description"], "blurhash": row["blurhash"],
        }

    def create_media(self, principal: Principal, fields: dict[str, Any]) -> dict[str, Any]:
        """Api::V2::MediaController#create (app/controllers/api/v2/media_controller.rb
        l.4-12): the row and the stored original are one unit, as Paperclip writes the
        file in the record's save; a failed write leaves neither."""
        upload = fields.get("file")
        content_type, problem = media.validate(upload if isinstance(upload, media.Upload)
                                               else None)
        if problem or content_type is None or not isinstance(upload, media.Upload):
            raise ApiError(422, {"error": problem or "Validation failed: File can't be blank"})
        name = media.stored_name(upload.filename)
        description = str(fields.get("description") or "") or None
        out = self.db.run(
            "INSERT INTO media_attachments (account_id, file_file_name, file_file_size, "
            "file_content_type, file_updated_at, file_storage_schema_version, processing, "
            "type, description, created_at, updated_at) VALUES (:'account', :'name', "
            ":'size', :'ctype', now(), 1, 2, :'type', NULLIF(:'description', ''), now(), "
            "now()) RETURNING id;\n",
            {"account": principal.account_id, "name": name, "size": len(upload.data),
             "ctype": content_type, "type": media.TYPES[media.media_type(content_type)],
             "description": description or ""})
        media_id = int(out.split()[-1])
        try:
            self.storage.save(media_id, name, content_type, upload.data)
        except (media.StorageError, media.StorageUnavailableError, OSError):
            self.db.run("DELETE FROM media_attachments WHERE id = :'id';\n", {"id": media_id})
            raise
        return self.show_media(principal, media_id)

    def show_media(self, principal: Principal, media_id: int) -> dict[str, Any]:
        """Api::V1::MediaController#show: the owner's unattached media only
        (app/controllers/api/v1/media_controller.rb l.43-45), else 404."""
        rows = self.db.rows(
            "SELECT id, type, file_file_name, description, blurhash, remote_url "
            "FROM media_attachments WHERE id = :'id' AND account_id = :'account' "
            "AND status_id IS NULL", {"id": media_id, "account": principal.account_id})
        if not rows:
            raise ApiError(404, {"error": "Record not found"})
        return self.media_json(rows[0])


class Settings:
    """`Setting[var]` as upstream reads it, one variable at a time (app/models/setting.rb
    l.76-81 at 1440d55b): a row's value goes through Psych when a page asks for it
    (l.100-102), so a value Psych refuses fails exactly the pages that read it
    (yamlish.YamlError, answered as a 500 by Handler.route); no row: the default."""

    def __init__(self, rows: dict[str, str]) -> None:
        self._rows = rows

    def get(self, var: str, default: Any = None) -> Any:
        return yamlish.load(self._rows[var]) if var in self._rows else default


class Handler(BaseHTTPRequestHandler):
    server_version = "Mastodon-standin"
    protocol_version = "HTTP/1.1"
    app: App

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        sys.stdout.write(f"web: {self.address_string()} {format % args}\n")
        sys.stdout.flush()

    def send(self, status: int, body: bytes, content_type: str,
             headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        if urlsplit(self.path).path == "/health":
            headers.setdefault("Cache-Control", CACHE_HEALTH)
        headers.setdefault("Cache-Control", CACHE_PRIVATE)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_exception_page(self, status: int) -> None:
        """ActionDispatch::PublicExceptions (actionpack 8.1.3, Gemfile.lock l.16), Rails'
        exceptions app in production: `{status, error}` as JSON when the request's
        first format is JSON (from its Accept header; a browser-like one with `*/*`
        counts as HTML), else public/<status>.html. Rails sets no Cache-Control on it."""
        accept = self.headers.get("Accept") or ""
        first = accept.split(",")[0].split(";")[0].strip().lower()
        if first == "application/json" and "*/*" not in accept:
            body = json.dumps({"status": status, "error": HTTPStatus(status).phrase}).encode()
            kind = "application/json; charset=utf-8"
        else:
            body = (self.app.root / "public" / f"{status}.html").read_bytes()
            kind = "text/html; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        # Api::BaseController's vary_by 'Authorization' (l.19); the instance controllers
        # replace it with an empty Vary (vary_by '').
        self.send(status, payload if isinstance(payload, bytes) else json.dumps(payload).encode(),
                  "application/json; charset=utf-8", headers or {"Vary": "Authorization"})

    def guard(self, path: str) -> bool:
        """Host authorization and force_ssl, as upstream's production configuration."""
        if path == "/health":
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in self.app.hosts:
            self.send(403, f"Blocked hosts: {host}".encode(), "text/plain; charset=utf-8")
            return False
        if self.headers.get("X-Forwarded-Proto", "").lower() != "https":
            self.send(301, b"", "text/html; charset=utf-8",
                      {"Location": f"https://{self.headers.get('Host')}{self.path}"})
            return False
        return True

    def route(self, method: str) -> None:
        path = urlsplit(self.path).path
        if not self.guard(path):
            return
        try:
            if method in ("GET", "HEAD"):
                if path == "/health":
                    self.send(200, b"OK", "text/plain; charset=utf-8")
                elif path in INSTANCE_PATHS:
                    self.send_json(200, self.app.instance_body(path), self.app.public_cache())
                elif path == "/api/v1/instance/rules":
                    self.send_json(200, [{k: r[k] for k in ("id", "text", "hint",
                                                            "translations")}
                                         for r in self.app.rules()], self.app.public_cache())
                elif path == "/":
                    title = self.app.settings().get("site_title") or "Mastodon"
                    self.send(200, f"<!DOCTYPE html><title>{title}</title>"
                              f"<p>Mastodon stand-in {self.app.version}</p>".encode(),
                              "text/html; charset=utf-8", CACHE_HOME)
                elif not self.api(method, path):
                    self.send_json(404, {"error": "Record not found"})
            elif not self.api(method, path):
                self.send_json(404, {"error": "Record not found"})
        except ApiError as refusal:
            self.send_json(refusal.status, refusal.body)
        except yamlish.YamlError as error:
            # Psych::SyntaxError is rescued by no controller (api/error_handling.rb,
            # error_responses.rb): Rails' exceptions app answers.
            print(f"web: {error}", file=sys.stderr)
            self.send_exception_page(500)
        except DatabaseError as error:
            print(f"web: database error: {error}", file=sys.stderr)
            self.send_json(500, {"error": "database unavailable"})
        except resp.RedisError as error:
            # Redis::CannotConnectError is not rescued upstream: Rails answers 500.
            print(f"web: Redis error: {error}", file=sys.stderr)
            self.send_json(500, {"error": "Internal Server Error"})
        except media.StorageUnavailableError as error:
            print(f"web: storage unreachable: {error}", file=sys.stderr)
            self.send_json(503, {"error": "There was a temporary problem serving your "
                                          "request, please try again"})
        except media.StorageError as error:
            # Aws::S3::Errors::* are not rescued by Api::ErrorHandling: a 500.
            print(f"web: storage error: {error}", file=sys.stderr)
            self.send_json(500, {"error": "Internal Server Error"})

    def api(self, method: str, path: str) -> bool:
        """The token-protected endpoints; False when none matches."""
        app, auth = self.app, self.headers.get("Authorization")
        if method == "POST" and path == "/api/v1/apps":
            # apps_controller.rb l.4: no token needed
            self.send_json(200, create_app(app.db, self.params(),
                                           app.environ.get("VAPID_PUBLIC_KEY", "")))
        elif method == "POST" and path == "/oauth/token":
            self.send_json(200, issue_token(app.db, auth, self.params()))
        elif method == "POST" and path == "/api/v1/accounts":
            # accounts_controller.rb l.10 and l.13
            principal = authorize(app.db, auth, "write", "write:accounts")
            self.send_json(200, app.register(principal, self.params()))
        elif method == "POST" and path == "/api/v1/statuses":
            # statuses_controller.rb l.8-9
            principal = authorize(app.db, auth, "write", "write:statuses")
            require_user(app.db, principal)
            self.send_json(200, app.post_status(principal, self.params()))
        elif method in ("GET", "HEAD") and path == "/api/v1/timelines/home":
            # app/controllers/api/v1/timelines/home_controller.rb l.6-7
            principal = authorize(app.db, auth, "read", "read:statuses")
            require_user(app.db, principal)
            self.send_json(200, app.home_timeline(principal, parse_qs(urlsplit(self.path).query)))
        elif method == "POST" and path in ("/api/v1/media", "/api/v2/media"):
            # media_controller.rb l.4-5 (v2 inherits them)
            principal = authorize(app.db, auth, "write", "write:media")
            require_user(app.db, principal)
            kind = self.headers.get("Content-Type") or ""
            body = self.raw_body()
            fields: dict[str, Any] = (media.parse_multipart(kind, body)
                                      if kind.lower().startswith("multipart/form-data")
                                      else {})
            # v2 answers 202 only while processing is delayed; nothing is delayed here.
            self.send_json(200, app.create_media(principal, fields))
        elif method in ("GET", "HEAD") and MEDIA_PATH.match(path):
            # GET needs write/write:media too (media_controller.rb l.4: every action)
            principal = authorize(app.db, auth, "write", "write:media")
            require_user(app.db, principal)
            match = MEDIA_PATH.match(path)
            assert match is not None
            self.send_json(200, app.show_media(principal, int(match.group(1))))
        else:
            return False
        return True

    def raw_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def params(self) -> dict[str, Any]:
        """Form or JSON parameters; `name[]` form fields become lists (Rack's rule)."""
        raw = self.raw_body()
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError as error:
                raise ApiError(400, {"error": "Error occurred while parsing request "
                                             "parameters"}) from error
            return parsed if isinstance(parsed, dict) else {}
        out: dict[str, Any] = {}
        for key, values in parse_qs(raw.decode("utf-8", "replace"),
                                    keep_blank_values=True).items():
            if key.endswith("[]"):
                out[key[:-2]] = values
            else:
                out[key] = values[-1]
        return out

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.route("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self.route("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self.route("POST")


def listening_socket(environ: dict[str, str]) -> socket.socket:
    inherited = os.environ.pop(FD_VARIABLE, "")
    if inherited:
        return socket.socket(fileno=int(inherited))
    bind = environ.get("BIND", "") or "127.0.0.1"
    port = int(environ.get("PORT", "") or "3000")
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind.strip("[]"), port))
    sock.listen(128)
    return sock


def main(argv: list[str], root: Path = ROOT) -> int:
    if "-C" not in argv or argv.index("-C") + 1 >= len(argv):
        print("puma (stand-in): expected -C config/puma.rb", file=sys.stderr)
        return 1
    config = Path(argv[argv.index("-C") + 1])
    if not (config if config.is_absolute() else Path.cwd() / config).is_file():
        print(f"puma (stand-in): configuration file {config} not found", file=sys.stderr)
        return 1
    environ = envmod.load(root)
    try:
        envmod.check_boot(environ, root)
    except ContractError as error:
        print(f"puma (stand-in): refusing to boot: {error}", file=sys.stderr)
        return 1
    sock = listening_socket(environ)
    Handler.app = App(root, environ)
    server = ThreadingHTTPServer(sock.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    restart = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    def phased_restart(_signum: int, _frame: Any) -> None:
        restart.set()
        stop(_signum, _frame)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, phased_restart)
    exporter.start_reporting(environ, "puma")
    host, port = sock.getsockname()[:2]
    print(f"* Puma stand-in (Mastodon {Handler.app.version}) listening on "
          f"http://{host}:{port} pid={os.getpid()}", flush=True)
    server.serve_forever()
    if restart.is_set():
        print("* phased restart: re-executing with the code now on disk", flush=True)
        os.set_inheritable(sock.fileno(), True)
        os.environ[FD_VARIABLE] = str(sock.fileno())
        os.execv(sys.executable, [sys.executable, *sys.argv])  # noqa: S606
    print("* Puma stand-in stopped", flush=True)
    return 0
