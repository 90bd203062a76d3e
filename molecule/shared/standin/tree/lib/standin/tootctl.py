"""`bin/tootctl ...`: upstream's commands, with the file and database effects tests observe.

Every accepted invocation appends one JSON line to log/standin-tootctl.jsonl so a test can
see exactly which command and flags a timer or task ran.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from standin import email_checks, resolver, yamlish
from standin import env as envmod
from standin.auth import returning
from standin.cli_options import Invocation, UsageError, parse
from standin.db import Database, DatabaseError
from standin.env import ROOT, ContractError

LOG_NAME = "standin-tootctl.jsonl"
USERNAME_MAX = 30
IP_SEVERITIES = {"sign_up_requires_approval": 5000, "sign_up_block": 5500, "no_access": 9999}


def human_size(size: float) -> str:
    """Rails' number_to_human_size (1024 based, 3 significant digits)."""
    if size < 1024:
        return f"{int(size)} Bytes" if size != 1 else "1 Byte"
    for unit in ("KB", "MB", "GB", "TB", "PB"):
        size /= 1024.0
        if size < 1024 or unit == "PB":
            text = f"{size:.3g}"
            if "e" in text:
                text = f"{size:.0f}"
            return f"{text} {unit}"
    return f"{size} PB"


class Tootctl:
    def __init__(self, invocation: Invocation, root: Path, environ: dict[str, str]) -> None:
        self.inv = invocation
        self.opts = invocation.options
        self.root = root
        self.environ = environ
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.environ)
        return self._db

    @property
    def dry_suffix(self) -> str:
        return " (DRY RUN)" if self.opts.get("dry_run") else ""

    def fail(self, message: str) -> NoReturn:
        raise ContractError(message)

    # -- files --------------------------------------------------------------------
    def system_root(self) -> Path:
        configured = self.environ.get("PAPERCLIP_ROOT_PATH", "")
        if configured:
            return Path(configured.replace(":rails_root", str(self.root)))
        return self.root / "public" / "system"

    def prune_tree(self, relative: str, days: float) -> tuple[int, int]:
        """Delete regular files under cache/<relative> older than `days`; only inside the
        cache folder (remote copies), never local uploads. Returns (files, bytes)."""
        cache = self.system_root() / "cache"
        top = cache / relative
        if not top.is_dir() or top.is_symlink():
            return 0, 0
        cutoff = time.time() - float(days) * 86400
        files = total = 0
        for directory, _dirs, names in os.walk(top):
            for name in names:
                path = Path(directory) / name
                try:
                    info = path.lstat()
                except FileNotFoundError:
                    continue
                if path.is_symlink() or not path.is_file() or info.st_mtime >= cutoff:
                    continue
                if cache.resolve() not in path.resolve().parents:
                    continue
                files += 1
                total += info.st_size
                if self.opts.get("verbose"):
                    print(f"{'Would remove' if self.opts.get('dry_run') else 'Removed'} "
                          f"{path.relative_to(self.system_root())}")
                if not self.opts.get("dry_run"):
                    path.unlink()
        return files, total

    def report(self, files: int, size: int) -> None:
        dry = "true" if self.opts.get("dry_run") else "false"
        print(f"standin: removed_files={files} removed_bytes={size} dry_run={dry}")

    # -- media ----------------------------------------------------------------------
    def media_remove(self) -> None:
        o = self.opts
        if o["prune_profiles"] and o["remove_headers"]:
            self.fail("--prune-profiles and --remove-headers should not be specified "
                      "simultaneously")
        if o["include_follows"] and not (o["prune_profiles"] or o["remove_headers"]):
            self.fail("--include-follows can only be used with --prune-profiles or "
                      "--remove-headers")
        if o["prune_profiles"] or o["remove_headers"]:
            files, size = self.prune_tree("accounts/headers", o["days"])
            if o["prune_profiles"]:
                more, more_size = self.prune_tree("accounts/avatars", o["days"])
                files, size = files + more, size + more_size
            print(f"Visited {files} accounts and removed profile media totaling "
                  f"{human_size(size)}{self.dry_suffix}")
        else:
            files, size = self.prune_tree("media_attachments", o["days"])
            print(f"Removed {files} media attachments (approx. {human_size(size)})"
                  f"{self.dry_suffix}")
        self.report(files, size)

    def media_remove_orphans(self) -> None:
        print(f"Removed 0 orphans (approx. {human_size(0)}){self.dry_suffix}")

    def media_usage(self) -> None:
        system = self.system_root()

        def du(*parts: str) -> int:
            total = 0
            for part in parts:
                top = system / part
                if top.is_dir():
                    for directory, _dirs, names in os.walk(top):
                        for name in names:
                            path = Path(directory) / name
                            if path.is_file() and not path.is_symlink():
                                total += path.stat().st_size
            return total

        local_media = du("media_attachments")
        print(f"Attachments:\t{human_size(local_media + du('cache/media_attachments'))} "
              f"({human_size(local_media)} local)")
        emoji = du("custom_emojis")
        print(f"Custom emoji:\t{human_size(emoji + du('cache/custom_emojis'))} "
              f"({human_size(emoji)} local)")
        print(f"Preview cards:\t{human_size(du('cache/preview_cards', 'preview_cards'))}")
        for label, folder in (("Avatars", "avatars"), ("Headers", "headers")):
            local = du(f"accounts/{folder}")
            print(f"{label}:\t{human_size(local + du(f'cache/accounts/{folder}'))} "
                  f"({human_size(local)} local)")
        print(f"Backups:\t{human_size(du('backups'))}")
        print(f"Imports:\t{human_size(du('imports'))}")
        print(f"Settings:\t{human_size(du('site_uploads'))}")

    def preview_cards_remove(self) -> None:
        # No minimum --days, as upstream (lib/mastodon/cli/preview_cards.rb:26-31 at
        # 1440d55b); 14 days is only recommended in its help (l.18-21).
        files, size = self.prune_tree("preview_cards", self.opts["days"])
        link = "link-type " if self.opts["link"] else ""
        print(f"Removed {files} {link}preview cards (approx. {human_size(size)})"
              f"{self.dry_suffix}")
        self.report(files, size)

    # -- statuses, accounts, domains --------------------------------------------------
    def statuses_remove(self) -> None:
        if self.opts["batch_size"] < 1:
            self.fail("Cannot run with this batch_size setting, must be at least 1")
        if not self.opts["skip_status_remove"]:
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.opts["days"])
            removed = self.db.count_deleted(
                "DELETE FROM statuses WHERE local IS NOT TRUE AND uri IS NOT NULL"
                " AND created_at < :'cutoff'", {"cutoff": cutoff.isoformat()})
            print(f"Done after 0.0s, removed {removed} out of {removed} statuses.")
        if self.opts["compress_database"]:
            print("Run VACUUM FULL ANALYZE to statuses...")
            self.db.run("VACUUM FULL ANALYZE statuses;\n")
        else:
            print("Run ANALYZE to statuses...")
            self.db.run("ANALYZE statuses;\n")
        if not self.opts["skip_media_remove"]:
            print("Done after 0.0s, removed 0 out of 0 media_attachments.")

    def accounts_prune(self) -> None:
        query = ("FROM accounts a WHERE a.domain IS NOT NULL AND NOT EXISTS "
                 "(SELECT 1 FROM statuses s WHERE s.account_id = a.id)")
        if self.opts.get("dry_run"):
            count = self.db.value(f"SELECT count(*) AS n {query}")  # noqa: S608
        else:
            count = self.db.count_deleted(f"DELETE {query}")
        print(f"Visited {count} accounts, removed {count}{self.dry_suffix}")

    def _role_id(self, name: str) -> int:
        role = self.db.value("SELECT id FROM user_roles WHERE name = :'name'", {"name": name})
        if role is None:
            self.fail("Cannot find user role with that name")
        return int(role)

    def _local_account(self, username: str) -> dict[str, Any] | None:
        rows = self.db.rows(
            "SELECT a.id, u.id AS user_id FROM accounts a LEFT JOIN users u ON u.account_id = a.id"
            " WHERE lower(a.username) = lower(:'u') AND a.domain IS NULL", {"u": username})
        return rows[0] if rows else None

    def accounts_create(self) -> None:
        username = self.inv.args[0]
        email = self.opts["email"]
        role_id = self._role_id(self.opts["role"]) if self.opts.get("role") else None
        # report_errors (lib/mastodon/cli/accounts.rb l.601-610) prints each error's
        # attribute and type (the symbol, not the sentence).
        errors: list[tuple[str, str]] = []
        if not username or len(username) > USERNAME_MAX or not all(
                ch.isascii() and (ch.isalnum() or ch == "_") for ch in username):
            errors.append(("account.username", "invalid"))
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            errors.append(("email", "invalid"))
        else:
            # User.new(..., bypass_registration_checks: true) still validates email_mx
            # (app/models/user.rb l.91); UserEmailValidator only when not --confirmed (l.93).
            keys = email_checks.mx_errors(self.db, self.environ, resolver.load_table(), email)
            if not self.opts.get("confirmed"):
                keys += email_checks.configuration_errors(self.db, self.environ, email)
            errors += [("email", key) for key in dict.fromkeys(keys)]
        existing = self._local_account(username)
        if existing and self.opts.get("reattach"):
            if existing["user_id"] is not None and not self.opts.get("force"):
                print("The chosen username is currently in use")
                print("Use --force to reattach it anyway and delete the other user")
                return
            self.db.run("DELETE FROM accounts WHERE id = :'id';\n", {"id": existing["id"]})
            existing = None
        if existing:
            errors.append(("account.username", "taken"))
        if self.db.value("SELECT count(*) AS n FROM users WHERE lower(email) = lower(:'e')",
                         {"e": email}):
            errors.append(("email", "taken"))
        if errors:
            self.fail("".join(f"Failure/Error: {attr}\n    {kind}\n" for attr, kind in errors))
        password = secrets.token_hex(16)
        self.db.run(
            """
BEGIN;
WITH account AS (
  INSERT INTO accounts (username, created_at, updated_at) VALUES (:'username', now(), now())
  RETURNING id)
INSERT INTO users (email, encrypted_password, account_id, approved, confirmed_at, role_id,
                   created_at, updated_at)
SELECT :'email', :'hash', account.id, :'approved', NULLIF(:'confirmed', '')::timestamp,
       NULLIF(:'role_id', '')::bigint, now(), now()
FROM account;
COMMIT;
""",
            {
                "username": username,
                "email": email,
                "hash": "standin$" + secrets.token_hex(16),
                # upstream's User#set_approved: approved only with open registrations
                "approved": "true" if self.opts.get("approve")
                or self._registrations_mode() == "open" else "false",
                "confirmed": dt.datetime.now(dt.UTC).isoformat() if self.opts.get("confirmed")
                else "",
                "role_id": "" if role_id is None else role_id,
            },
        )
        print("OK")
        print(f"New password: {password}")

    def _registrations_mode(self) -> str:
        raw = self.db.value("SELECT value FROM settings WHERE var = 'registrations_mode'")
        return str(yamlish.load(raw) or "none")

    def accounts_modify(self) -> None:
        account = self._local_account(self.inv.args[0])
        if account is None or account["user_id"] is None:
            self.fail("No user with such username")
        o = self.opts
        sets: list[str] = []
        params: dict[str, Any] = {"id": account["user_id"]}
        if o.get("role"):
            params["role_id"] = self._role_id(o["role"])
            sets.append("role_id = :'role_id'")
        elif o.get("remove_role"):
            sets.append("role_id = NULL")
        if o.get("email"):
            params["email"] = o["email"]
            sets.append("email = :'email'")
        if o.get("enable"):
            sets.append("disabled = false")
        if o.get("disable"):
            sets.append("disabled = true")
        if o.get("approve"):
            sets.append("approved = true")
        if o.get("disable_2fa"):
            sets.append("otp_required_for_login = false")
        if o.get("confirm"):
            sets.append("confirmed_at = coalesce(confirmed_at, now())")
        password = secrets.token_hex(16) if o.get("reset_password") else None
        if password:
            params["hash"] = "standin$" + secrets.token_hex(16)
            sets.append("encrypted_password = :'hash'")
        sets.append("updated_at = now()")
        self.db.run(f"UPDATE users SET {', '.join(sets)} WHERE id = :'id';\n", params)  # noqa: S608
        print("OK")
        if password:
            print(f"New password: {password}")

    def _set(self, var: str, value: Any) -> None:
        self.db.run(
            "INSERT INTO settings (var, value, created_at, updated_at) "
            "VALUES (:'var', :'value', now(), now()) "
            "ON CONFLICT (var) DO UPDATE SET value = EXCLUDED.value, updated_at = now();\n",
            {"var": var, "value": yamlish.dump(value)})

    def registrations(self, mode: str) -> Callable[[], None]:
        def run() -> None:
            self._set("registrations_mode", mode)
            if mode == "approved" and self.opts.get("require_reason") is not None:
                self._set("require_invite_text", bool(self.opts["require_reason"]))
            print("OK")

        return run

    def email_domain_blocks_list(self) -> None:
        rows = self.db.rows("SELECT id, domain, parent_id FROM email_domain_blocks ORDER BY id")
        for parent in (r for r in rows if r["parent_id"] is None):
            print(parent["domain"])
            for child in (r for r in rows if r["parent_id"] == parent["id"]):
                print(f"  {child['domain']}")

    def email_domain_blocks_add(self) -> None:
        if not self.inv.args:
            self.fail("No domain(s) given")
        table = resolver.load_table() if self.opts.get("with_dns_records") else {}
        approval = "true" if self.opts.get("allow_with_approval") else "false"
        processed = skipped = 0
        # lib/mastodon/cli/email_domain_blocks.rb l.62-96: with --with-dns-records the
        # domain's MX hosts (DomainResource#mx, from the resolver table) become children.
        for domain in self.inv.args:
            if self._email_block_exists(domain):
                print(f"{domain} is already blocked.")
                skipped += 1
                continue
            (parent,) = returning(self.db,
                "INSERT INTO email_domain_blocks (domain, allow_with_approval, created_at, "
                "updated_at) VALUES (:'d', :'a', now(), now()) RETURNING id;\n",
                {"d": domain, "a": approval})
            processed += 1
            for host in dict.fromkeys(h for h in resolver.records(table, domain, "MX") if h):
                if self._email_block_exists(host):
                    print(f"{host} is already blocked.")
                    skipped += 1
                    continue
                self.db.run(
                    "INSERT INTO email_domain_blocks (domain, parent_id, allow_with_approval, "
                    "created_at, updated_at) VALUES (:'d', :'p', :'a', now(), now());\n",
                    {"d": host, "p": parent, "a": approval})
                processed += 1
        print(f"Added {processed}, skipped {skipped}")

    def _email_block_exists(self, domain: str) -> bool:
        return bool(self.db.value(
            "SELECT count(*) AS n FROM email_domain_blocks WHERE domain = :'d'", {"d": domain}))

    def email_domain_blocks_remove(self) -> None:
        if not self.inv.args:
            self.fail("No domain(s) given")
        processed = skipped = 0
        for domain in self.inv.args:
            removed = self.db.count_deleted(
                "DELETE FROM email_domain_blocks WHERE domain = :'d' "
                "OR parent_id IN (SELECT id FROM email_domain_blocks WHERE domain = :'d')",
                {"d": domain})
            if not removed:
                print(f"{domain} is not yet blocked.")
                skipped += 1
            processed += removed
        print(f"Removed {processed}, skipped {skipped}, failed 0")

    def ip_blocks_add(self) -> None:
        if not self.inv.args:
            self.fail("No IP(s) given")
        added = skipped = 0
        for ip in self.inv.args:
            if self.db.value("SELECT count(*) AS n FROM ip_blocks WHERE ip = :'ip'::inet",
                             {"ip": ip}) and not self.opts.get("force"):
                print(f"{ip} is already blocked")
                skipped += 1
                continue
            self.db.run(
                "INSERT INTO ip_blocks (ip, severity, comment, expires_at, created_at, updated_at)"
                " VALUES (:'ip'::inet, :'sev', :'comment', now() + make_interval(secs => "
                "NULLIF(:'duration', '')::double precision), now(), now()) "
                "ON CONFLICT (ip) DO UPDATE SET severity = EXCLUDED.severity, "
                "comment = EXCLUDED.comment, updated_at = now();\n",
                {"ip": ip, "sev": IP_SEVERITIES[self.opts["severity"]],
                 "comment": self.opts.get("comment") or "",
                 "duration": self.opts.get("duration") or ""})
            added += 1
        print(f"Added {added}, skipped {skipped}, failed 0")

    def ip_blocks_remove(self) -> None:
        if not self.inv.args:
            self.fail("No IP(s) given")
        removed = 0
        for ip in self.inv.args:
            removed += self.db.count_deleted(
                "DELETE FROM ip_blocks WHERE ip <<= :'ip'::inet", {"ip": ip})
        print(f"Removed {removed}, skipped 0")

    def domains_purge(self) -> None:
        domains = self.inv.args
        if not domains and not self.opts.get("limited_federation_mode"):
            self.fail("No domain(s) given")
        if self.opts.get("limited_federation_mode"):
            where, params = "domain IS NOT NULL", {}
        else:
            where = "domain IN (SELECT unnest(string_to_array(:'domains', ' ')))"
            params = {"domains": " ".join(domains)}
        if self.opts.get("dry_run"):
            count = self.db.value(f"SELECT count(*) AS n FROM accounts WHERE {where}", params)  # noqa: S608
        else:
            count = self.db.count_deleted(f"DELETE FROM accounts WHERE {where}", params)  # noqa: S608
        print(f"Removed {count} accounts{self.dry_suffix}")

    def simple(self, message: str) -> Callable[[], None]:
        def run() -> None:
            print(message)

        return run

    def search_deploy(self) -> None:
        if self.environ.get("ES_ENABLED", "") != "true":
            self.fail("Elasticsearch is not enabled (ES_ENABLED is not true)")
        print("Done! (the stand-in has no search index)")

    def fix_duplicates(self) -> None:
        for marker in (self.root / "tmp").glob("sidekiq-*.queues"):
            pid = marker.stem.split("-")[-1]
            if pid.isdigit() and Path(f"/proc/{pid}").exists():
                self.fail("It seems Sidekiq is running. All Mastodon processes need to be "
                          "stopped when using this script.")
        print("Finished!")

    def dispatch(self) -> Callable[[], None]:
        table: dict[tuple[str, ...], Callable[[], None]] = {
            ("media", "remove"): self.media_remove,
            ("media", "remove_orphans"): self.media_remove_orphans,
            ("media", "usage"): self.media_usage,
            ("preview_cards", "remove"): self.preview_cards_remove,
            ("statuses", "remove"): self.statuses_remove,
            ("accounts", "prune"): self.accounts_prune,
            ("accounts", "create"): self.accounts_create,
            ("accounts", "modify"): self.accounts_modify,
            ("settings", "registrations", "open"): self.registrations("open"),
            ("settings", "registrations", "approved"): self.registrations("approved"),
            ("settings", "registrations", "close"): self.registrations("none"),
            ("email_domain_blocks", "list"): self.email_domain_blocks_list,
            ("email_domain_blocks", "add"): self.email_domain_blocks_add,
            ("email_domain_blocks", "remove"): self.email_domain_blocks_remove,
            ("ip_blocks", "add"): self.ip_blocks_add,
            ("ip_blocks", "remove"): self.ip_blocks_remove,
            ("domains", "purge"): self.domains_purge,
            ("cache", "clear"): self.simple("OK"),
            ("feeds", "build"): self.simple("OK"),
            ("search", "deploy"): self.search_deploy,
            ("maintenance", "fix_duplicates"): self.fix_duplicates,
            ("version",): self.simple(envmod.version_string(self.root)),
        }
        return table[self.inv.command.path]


def log_invocation(root: Path, argv: list[str], invocation: Invocation) -> None:
    log_dir = root / "log"
    record = {
        "argv": argv,
        "command": list(invocation.command.path),
        "args": invocation.args,
        "options": invocation.options,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "user": os.environ.get("USER") or str(os.getuid()),
    }
    try:
        log_dir.mkdir(exist_ok=True)
        with (log_dir / LOG_NAME).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
    except OSError as error:
        # Upstream has no such log; a root-owned file left by a run as root must not break
        # the command, but the missing line will show in the tests that look for it.
        print(f"tootctl (stand-in): cannot append to log/{LOG_NAME}: {error}", file=sys.stderr)


def main(argv: list[str], root: Path = ROOT) -> int:
    environ = envmod.load(root)
    try:
        # Upstream's tootctl boots the whole application before Thor reads the arguments.
        envmod.check_boot(environ, root)
        version = envmod.version(root)
        words = ["version"] if argv in (["--version"], ["-v"]) else argv
        invocation = parse(words, version)
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 1
    except ContractError as error:
        print(f"tootctl: {error}", file=sys.stderr)
        return 1
    log_invocation(root, argv, invocation)
    try:
        Tootctl(invocation, root, environ).dispatch()()
    except (ContractError, DatabaseError) as error:
        print(str(error), file=sys.stderr)
        return 1
    return 0
