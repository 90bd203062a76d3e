"""Restore keeps the source database's extensions: pg_restore -n public (upstream's move
guide) leaves out CREATE EXTENSION, so an extension and what depends on it (a trigram
index) would be lost. Mastodon itself only enables plpgsql (db/schema.rb:15 at v4.6.5,
1440d55b), which template0 has; admins add others, pg_trgm for search being common."""

import contextlib
import json

import pytest
from support import OWNER, run_cli

pytestmark = pytest.mark.integration

SOURCE, TARGET = "mastodon_with_extensions", "mastodon_extensions_restored"

SCHEMA_SQL = """
CREATE EXTENSION pg_trgm;
CREATE SCHEMA extensions;
CREATE EXTENSION unaccent SCHEMA extensions;
CREATE TABLE accounts (id bigserial PRIMARY KEY, username text NOT NULL);
CREATE TABLE statuses (id bigserial PRIMARY KEY, text text);
CREATE TABLE users (id bigserial PRIMARY KEY);
CREATE INDEX index_accounts_on_username_trgm ON accounts USING gin (username gin_trgm_ops);
INSERT INTO accounts (username) VALUES ('alice'), ('bob'), ('alicia');
"""


@pytest.fixture
def with_extensions(site):
    pg = site.pg
    for name in (SOURCE, TARGET):
        pg.psql(f"DROP DATABASE IF EXISTS {name}")
    pg.psql(f"CREATE DATABASE {SOURCE} OWNER {OWNER}")
    pg.psql(SCHEMA_SQL, SOURCE)
    site.database = SOURCE
    yield site
    for name in (SOURCE, TARGET):
        with contextlib.suppress(Exception):
            pg.psql(f"DROP DATABASE IF EXISTS {name}")


def extensions(pg, database: str) -> str:
    return pg.psql("SELECT string_agg(e.extname || '@' || n.nspname, ',' ORDER BY e.extname) "
                   "FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace", database)


@pytest.mark.parametrize("jobs", [1, 2])
def test_restore_keeps_the_extensions_of_the_source(with_extensions, tmp_path, jobs):
    site = with_extensions
    config = site.config({"type": "local", "path": str(tmp_path / "store")},
                         restore={"work_dir": str(tmp_path / "work"), "jobs": jobs})
    made = run_cli(config, "backup")
    assert made.returncode == 0, made.stderr

    restored = run_cli(config, "restore", "--parts", "database", "--database", TARGET)
    assert restored.returncode == 0, restored.stderr
    assert extensions(site.pg, TARGET) == extensions(site.pg, SOURCE) == \
        "pg_trgm@public,plpgsql@pg_catalog,unaccent@extensions"
    assert site.pg.psql("SELECT indexname FROM pg_indexes WHERE tablename = 'accounts' "
                        "AND indexdef LIKE '%gin_trgm_ops%'", TARGET) == \
        "index_accounts_on_username_trgm"
    assert site.pg.psql("SELECT string_agg(username, ',' ORDER BY username) FROM accounts "
                        "WHERE username % 'alic'", TARGET) == "alice,alicia"


def test_verify_restores_the_extensions_too(with_extensions, tmp_path):
    site = with_extensions
    config = site.config({"type": "local", "path": str(tmp_path / "store")})
    assert run_cli(config, "backup").returncode == 0
    checked = run_cli(config, "verify")
    assert checked.returncode == 0, checked.stderr


def test_an_extension_the_server_lacks_is_refused_before_any_change(site, tmp_path):
    store = tmp_path / "store"
    config = site.config({"type": "local", "path": str(store)})
    assert run_cli(config, "backup").returncode == 0
    [manifest] = store.glob("*/manifest.json")
    data = json.loads(manifest.read_text())
    data["extensions"].append({"name": "herd_no_such_extension", "schema": "public"})
    manifest.write_text(json.dumps(data))

    result = run_cli(config, "restore", "--database", TARGET)
    assert result.returncode == 2, result.stderr
    assert "herd_no_such_extension" in result.stderr and "postgresql-contrib" in result.stderr
    assert site.pg.psql("SELECT count(*) FROM pg_database WHERE datname = "
                        "'mastodon_extensions_restored'") == "0"
