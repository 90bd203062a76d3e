"""`bin/rails TASK...`: the rake tasks herd runs, with upstream's preconditions."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from standin import env as envmod
from standin.db import Database, DatabaseError
from standin.env import ROOT, ContractError

MIGRATION_NAME = re.compile(r"^(\d{14})_(\w+)\.sql$")
MINIMUM_POSTGRESQL = 140000


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def migrations(root: Path, *, post: bool) -> list[tuple[str, str, Path]]:
    """(version, name, path) of every migration, post-deployment ones only when `post`."""
    dirs = [root / "db" / "migrate"] + ([root / "db" / "post_migrate"] if post else [])
    found = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            match = MIGRATION_NAME.match(path.name)
            if match:
                found.append((match.group(1), match.group(2), path))
    return sorted(found)


def skip_post_deployment(environ: dict[str, str]) -> bool:
    return environ.get("SKIP_POST_DEPLOYMENT_MIGRATIONS", "") in ("true", "1", "yes")


class Tasks:
    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.environ = envmod.load(root)
        self._db: Database | None = None

    # -- boot -----------------------------------------------------------------------
    def boot(self) -> None:
        envmod.check_boot(self.environ, self.root)

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.environ)
        return self._db

    # -- generators (upstream runs these without booting the application) ----------
    def secret(self) -> None:
        print(secrets.token_hex(64))

    def encryption_init(self) -> None:
        keys = (
            "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY",
            "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
            "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
        )
        if any(key in os.environ for key in keys):
            print(
                "WARNING: It looks like encryption secrets have already been set. Please "
                "ensure you are not changing secrets for a Mastodon installation that already "
                "uses them, as this will cause data loss and other issues that are difficult "
                "to recover from."
            )
        alphabet = string.ascii_letters + string.digits
        print(
            "Add the following secret environment variables to your Mastodon environment "
            "(e.g. .env.production), ensure they are shared across all your nodes and do not "
            "change them after they are set: \n"
        )
        for key in keys:
            print(f"{key}={''.join(secrets.choice(alphabet) for _ in range(32))}")

    def generate_vapid_key(self) -> None:
        private, public = vapid_keypair()
        print(f"VAPID_PRIVATE_KEY={private}")
        print(f"VAPID_PUBLIC_KEY={public}")

    # -- database -------------------------------------------------------------------
    def server_version_num(self) -> int:
        return int(self.db.value("SELECT current_setting('server_version_num') AS v"))

    def pre_migration_check(self) -> None:
        self.boot()
        version = self.server_version_num()
        if version < MINIMUM_POSTGRESQL:
            raise ContractError(
                "This version of Mastodon requires PostgreSQL 14.0 or newer. Please update "
                f"PostgreSQL before updating Mastodon. (server_version_num={version})"
            )

    def _public_tables(self) -> list[str]:
        rows = self.db.rows(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        return [row["tablename"] for row in rows]

    def _create_database_if_missing(self) -> None:
        try:
            self.db.run("SELECT 1;")
        except DatabaseError as error:
            if "does not exist" not in str(error) or self.environ.get("DATABASE_URL"):
                raise
            name = self.environ["DB_NAME"]
            maintenance = Database({**self.environ, "DB_NAME": "postgres"})
            maintenance.run('CREATE DATABASE :"name";', {"name": name})
            print(f"Created database '{name}'")
        else:
            print(f"Database '{self.environ.get('DB_NAME', 'from DATABASE_URL')}' already exists")

    def _apply(self, version: str, name: str, path: Path) -> None:
        print(f"== {version} {_camel(name)}: migrating " + "=" * 20)
        # standin_migration_runs is the stand-in's own record (upstream has none): which
        # release applied each migration and when, in the migration's transaction, so a
        # scenario can check upstream's order (pre-deployment migrations before the
        # restart, post-deployment ones after it, each once).
        # The release's own migration file; values travel as psql variables.
        sql = (
            "BEGIN;\n" + path.read_text(encoding="utf-8")  # noqa: S608
            + "\nINSERT INTO schema_migrations (version) VALUES (:'version');\n"
            "CREATE TABLE IF NOT EXISTS standin_migration_runs (version character varying"
            " NOT NULL, release character varying NOT NULL, applied_at timestamptz NOT NULL"
            " DEFAULT clock_timestamp());\n"
            "INSERT INTO standin_migration_runs (version, release)"
            " VALUES (:'version', :'release');\n"
            "COMMIT;\n"
        )
        self.db.run(sql, {"version": version, "release": envmod.version_string(self.root)})
        print(f"== {version} {_camel(name)}: migrated " + "=" * 20 + "\n")

    def _ensure_bookkeeping(self) -> None:
        self.db.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version character varying "
            "PRIMARY KEY);\n"
            "CREATE TABLE IF NOT EXISTS ar_internal_metadata (key character varying PRIMARY KEY,"
            " value character varying, created_at timestamp(6) NOT NULL,"
            " updated_at timestamp(6) NOT NULL);\n"
        )

    def _stamp_environment(self) -> None:
        self.db.run(
            "INSERT INTO ar_internal_metadata (key, value, created_at, updated_at) "
            "VALUES ('environment', 'production', now(), now()) "
            "ON CONFLICT (key) DO NOTHING;\n"
        )

    def setup(self) -> None:
        """db:create + db:schema:load + db:seed, refusing a database that holds tables."""
        self.boot()
        self._create_database_if_missing()
        tables = self._public_tables()
        if tables:
            if "ar_internal_metadata" in tables:
                raise ContractError(
                    "ActiveRecord::ProtectedEnvironmentError: You are attempting to run a "
                    "destructive action against your 'production' database.\nIf you are sure "
                    "you want to continue, run the same command with the environment "
                    "variable:\nDISABLE_DATABASE_ENVIRONMENT_CHECK=1"
                )
            raise ContractError(
                f"database is not empty (tables: {', '.join(tables[:5])}...); db:setup loads "
                "the schema into a new database only"
            )
        self.db.run("CREATE TABLE schema_migrations (version character varying PRIMARY KEY);\n")
        # Upstream loads db/schema.rb, which already holds every migration, post-deployment
        # ones included; applying them all in order gives the same tables and versions.
        for version, name, path in migrations(self.root, post=True):
            self._apply(version, name, path)
        self._stamp_environment()
        self.seed()

    def seed(self) -> None:
        domain = self.environ["LOCAL_DOMAIN"]
        self.db.run(
            """
BEGIN;
INSERT INTO user_roles (id, name, position, permissions, highlighted, created_at, updated_at)
VALUES (-99, '', -1, 65536, false, now(), now()) ON CONFLICT (id) DO NOTHING;
INSERT INTO user_roles (name, position, permissions, highlighted, created_at, updated_at)
SELECT r.name, r.position, r.permissions, true, now(), now()
FROM (VALUES ('Moderator', 10, 1308), ('Admin', 100, 983036), ('Owner', 1000, 1))
  AS r(name, position, permissions)
WHERE NOT EXISTS (SELECT 1 FROM user_roles u WHERE u.name = r.name);
INSERT INTO accounts (id, username, actor_type, locked, created_at, updated_at)
VALUES (-99, :'domain', 'Application', true, now(), now()) ON CONFLICT (id) DO NOTHING;
COMMIT;
""",
            {"domain": domain},
        )

    def migrate(self) -> None:
        self.pre_migration_check()
        self._ensure_bookkeeping()
        applied = {row["version"] for row in self.db.rows("SELECT version FROM schema_migrations")}
        post = not skip_post_deployment(self.environ)
        for version, name, path in migrations(self.root, post=post):
            if version not in applied:
                self._apply(version, name, path)
        self._stamp_environment()

    def migrate_status(self) -> None:
        self.boot()
        applied = {row["version"] for row in self.db.rows("SELECT version FROM schema_migrations")}
        print(f"\ndatabase: {self.environ.get('DB_NAME', '(DATABASE_URL)')}\n")
        print(" Status   Migration ID    Migration Name")
        print("--------------------------------------------------")
        for version, name, _path in migrations(self.root, post=True):
            state = "up" if version in applied else "down"
            print(f"   {state:<4}   {version}  {_camel(name)}")

    def version(self) -> None:
        self.boot()
        current = self.db.value("SELECT max(version) AS v FROM schema_migrations") or 0
        print(f"Current version: {current}")

    # -- assets ---------------------------------------------------------------------
    def precompile(self) -> None:
        envmod.check_rails_env(self.environ)
        if self.environ.get("SECRET_KEY_BASE_DUMMY", "") != "1":
            self.boot()
        if not (self.root / "node_modules").is_dir():
            raise ContractError(
                "node_modules is missing: run `yarn install --immutable` before "
                "assets:precompile (vite is a JavaScript dependency)"
            )
        packs = self.root / "public" / "packs"
        digest = hashlib.sha256()
        for path in sorted((self.root / "app" / "javascript").rglob("*")):
            if path.is_file():
                digest.update(path.read_bytes())
        fingerprint = digest.hexdigest()[:16]
        (packs / ".vite").mkdir(parents=True, exist_ok=True)
        entry = f"assets/application-{fingerprint}.js"
        (packs / "assets").mkdir(exist_ok=True)
        source = self.root / "app" / "javascript" / "application.js"
        (packs / entry).write_bytes(source.read_bytes() if source.is_file() else b"")
        manifest = {
            "application.js": {"file": entry, "isEntry": True, "src": "application.js"},
            "standin": {"version": envmod.version_string(self.root)},
        }
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (packs / ".vite" / "manifest.json").write_text(text, encoding="utf-8")
        (packs / "manifest.json").write_text(text, encoding="utf-8")
        print(f"vite: built {entry} (public/packs/.vite/manifest.json)")


def vapid_keypair() -> tuple[str, str]:
    """An EC P-256 key pair encoded like the webpush gem: urlsafe base64 (padded) of the
    32-byte private scalar and of the 65-byte uncompressed public point."""
    with tempfile.TemporaryDirectory() as tmp:
        der = Path(tmp) / "key.der"
        subprocess.run(  # noqa: S603
            ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",  # noqa: S607
             "-outform", "DER", "-out", str(der)],
            check=True, capture_output=True,
        )
        data = der.read_bytes()
    # SEC1 ECPrivateKey for P-256: 30 77 02 01 01 04 20 <d:32> a0 0a <oid> a1 44 03 42 00 <Q:65>
    if data[:7] != bytes.fromhex("30770201010420") or data[-66] != 0 or data[-65] != 4:
        raise ContractError("openssl produced an unexpected EC key encoding")
    private, public = data[7:39], data[-65:]
    return base64.urlsafe_b64encode(private).decode(), base64.urlsafe_b64encode(public).decode()


def main(argv: list[str]) -> int:
    tasks = Tasks()
    table: dict[str, Callable[[], None]] = {
        "secret": tasks.secret,
        "db:encryption:init": tasks.encryption_init,
        "mastodon:webpush:generate_vapid_key": tasks.generate_vapid_key,
        "db:setup": tasks.setup,
        "db:migrate": tasks.migrate,
        "db:migrate:status": tasks.migrate_status,
        "db:version": tasks.version,
        "db:pre_migration_check": tasks.pre_migration_check,
        "assets:precompile": tasks.precompile,
    }
    if not argv:
        print("Usage: bin/rails TASK [TASK...] (stand-in tasks: " + ", ".join(table) + ")",
              file=sys.stderr)
        return 1
    if argv[0] in ("runner", "r", "console", "c", "dbconsole", "server", "s", "generate", "g"):
        print(f"bin/rails {argv[0]}: not implemented by the Mastodon stand-in", file=sys.stderr)
        return 1
    todo = []
    for task in argv:
        if task.startswith("-") or "=" in task:
            print(f"bin/rails: option or assignment {task!r} is not supported by the stand-in",
                  file=sys.stderr)
            return 1
        if task not in table:
            print(f"Unrecognized command \"{task}\" (Rails::Command::UnrecognizedCommandError)",
                  file=sys.stderr)
            return 1
        todo.append(table[task])
    try:
        for step in todo:
            step()
    except (ContractError, DatabaseError) as error:
        print(f"bin/rails aborted!\n{error}", file=sys.stderr)
        return 1
    return 0
