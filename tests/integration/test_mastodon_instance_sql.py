"""The SQL of roles/mastodon/tasks/instance.yml, run as the role runs it (psycopg2 with
named arguments, as community.postgresql.postgresql_query does) on a real PostgreSQL
holding the stand-in's schema, which models upstream's tables at v4.6.5 (1440d55b).

The session's time zone is not UTC on purpose: Debian's PostgreSQL takes the host's
zone as its default `timezone`, while Rails reads and writes timestamp columns as UTC
(ActiveRecord's default_timezone :utc), so a row written in local time would be hours
off for Mastodon.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import psycopg2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = sorted((REPO / "molecule/shared/standin/tree/db/migrate").glob("*.sql"))
ZONE = "Pacific/Auckland"  # UTC+12 or +13: never mistaken for UTC


def task(name: str) -> dict:
    tasks = yaml.safe_load((REPO / "roles/mastodon/tasks/instance.yml").read_text())
    (block,) = [t for t in tasks if "block" in t]
    (found,) = [t for t in block["block"] if t.get("name") == name]
    return found


SETTINGS_SQL = task("Write the changed settings")["community.postgresql.postgresql_query"]["query"]
RULE_SQL = task("Change the server rules that differ")["vars"]["__mastodon_rule_sql"]


@pytest.fixture
def db(postgres_server, request):
    name = "herd_" + request.node.name.lower().replace("[", "_").replace("]", "")[:50]
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name}")
    postgres_server.psql(f"CREATE DATABASE {name}")
    for migration in SCHEMA:
        postgres_server.program("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", name,
                                "-f", str(migration))
    connection = psycopg2.connect(host=postgres_server.socket_dir, port=postgres_server.port,
                                  user=postgres_server.user, dbname=name,
                                  options=f"-c TimeZone={ZONE}")
    connection.autocommit = True
    yield connection.cursor()
    connection.close()


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def assert_utc(*stamps: datetime.datetime) -> None:
    for stamp in stamps:
        assert abs(stamp - utc_now()) < datetime.timedelta(minutes=5), (
            f"{stamp} is not the UTC time {utc_now()}: written in the session's zone")


def test_the_session_zone_is_not_utc(db):
    # Without this, the tests below could not tell UTC from local time.
    db.execute("SELECT now()::timestamp - (now() AT TIME ZONE 'UTC')")
    assert abs(db.fetchone()[0]) >= datetime.timedelta(hours=12)


def test_settings_are_stamped_in_utc(db):
    db.execute(SETTINGS_SQL, {"var": "site_title", "value": "--- Our coop\n"})
    db.execute(SETTINGS_SQL, {"var": "site_title", "value": "--- Our co-op\n"})
    db.execute("SELECT created_at, updated_at FROM settings WHERE var = 'site_title'")
    assert_utc(*db.fetchone())


def test_rules_are_stamped_in_utc(db):
    rule = {"text": "Be kind", "hint": "", "priority": 0}
    db.execute(RULE_SQL["insert"], rule)
    db.execute("SELECT id, created_at, updated_at FROM rules")
    rule_id, *stamps = db.fetchone()
    assert_utc(*stamps)
    for op in ("edit", "move", "delete"):
        db.execute(RULE_SQL[op], {**rule, "id": rule_id, "text": f"Be kind ({op})"})
        db.execute("SELECT updated_at, deleted_at FROM rules WHERE id = %s", (rule_id,))
        assert_utc(*[stamp for stamp in db.fetchone() if stamp is not None])


def _rule_with_translation(db) -> int:
    db.execute(RULE_SQL["insert"], {"text": "No ads", "hint": "Ask first", "priority": 0})
    db.execute("SELECT id FROM rules")
    rule_id = db.fetchone()[0]
    # As the admin UI stores one (rule_translations: rule_id, language, text, hint).
    db.execute("INSERT INTO rule_translations (rule_id, language, text, hint, created_at,"
               " updated_at) VALUES (%s, 'fr', 'Pas de pub', 'Demandez', now(), now())",
               (rule_id,))
    return rule_id


def test_an_edited_rule_drops_its_stale_translations(db):
    rule_id = _rule_with_translation(db)
    db.execute(RULE_SQL["edit"], {"id": rule_id, "text": "No advertising", "hint": "Ask first",
                                  "priority": 0})
    db.execute("SELECT text FROM rules WHERE id = %s", (rule_id,))
    assert db.fetchone()[0] == "No advertising"
    db.execute("SELECT count(*) FROM rule_translations WHERE rule_id = %s", (rule_id,))
    assert db.fetchone()[0] == 0


@pytest.mark.parametrize("op", ["move", "delete"])
def test_a_moved_or_soft_deleted_rule_keeps_its_translations(db, op):
    # A soft delete keeps the row and its translations, as upstream's `discard` does.
    rule_id = _rule_with_translation(db)
    db.execute(RULE_SQL[op], {"id": rule_id, "text": "No ads", "hint": "Ask first",
                              "priority": 3})
    db.execute("SELECT language, text FROM rule_translations WHERE rule_id = %s", (rule_id,))
    assert db.fetchall() == [("fr", "Pas de pub")]
