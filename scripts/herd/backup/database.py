"""PostgreSQL client programs, run as argument lists with the configured connection."""

import os

from herd.backup.config import Database
from herd.log import StepLog
from herd.process import Stream, run


def _prefix(db: Database) -> list[str]:
    return ["runuser", "-u", db.os_user, "--"] if db.os_user else []


def connection_args(db: Database) -> list[str]:
    args = []
    if db.host:
        args += ["-h", db.host]
    if db.port:
        args += ["-p", str(db.port)]
    if db.user:
        args += ["-U", db.user]
    return args


def env() -> dict[str, str]:
    # Never prompt for a password (a timer has no terminal): fail instead.
    return {**os.environ, "PGCONNECT_TIMEOUT": "10"}


def command(db: Database, program: str, *args: str) -> list[str]:
    return [*_prefix(db), program, *connection_args(db), "-w", *args]


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def query(db: Database, log: StepLog, sql: str, database: str | None = None) -> list[str]:
    """Rows of a one-column query, as text."""
    result = run(command(db, "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                         "-d", database or db.name, "-c", sql), log, env=env())
    return [line for line in result.stdout.splitlines() if line]


def server_version(db: Database, log: StepLog) -> str:
    return query(db, log, "SHOW server_version", "postgres")[0]


def exists(db: Database, log: StepLog, name: str) -> bool:
    sql = f"SELECT 1 FROM pg_database WHERE datname = {quote_literal(name)}"  # noqa: S608 - quoted
    return bool(query(db, log, sql, "postgres"))


TABLES_SQL = ("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
              "WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' ORDER BY 1")

USER_OBJECTS_SQL = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'")


EXTENSIONS_SQL = ("SELECT e.extname || ' ' || n.nspname FROM pg_extension e "
                  "JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY e.extname")


def quote_ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def extensions(db: Database, log: StepLog, name: str) -> list[dict[str, str]]:
    """The database's extensions and their schemas: pg_restore -n public leaves them out."""
    return [dict(zip(("name", "schema"), row.split(" ", 1), strict=True))
            for row in query(db, log, EXTENSIONS_SQL, name)]


def available_extensions(db: Database, log: StepLog) -> set[str]:
    return set(query(db, log, "SELECT name FROM pg_available_extensions", "postgres"))


def create_extensions(db: Database, log: StepLog, name: str,
                      wanted: list[dict[str, str]]) -> None:
    """Before pg_restore: the extensions (in their schemas) the restored objects use."""
    if not wanted:
        return
    sql = "".join(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(e['schema'])}; "
                  f"CREATE EXTENSION IF NOT EXISTS {quote_ident(e['name'])} "
                  f"WITH SCHEMA {quote_ident(e['schema'])}; "
                  for e in wanted if e["schema"] != "pg_catalog")
    sql += "".join(f"CREATE EXTENSION IF NOT EXISTS {quote_ident(e['name'])}; "
                   for e in wanted if e["schema"] == "pg_catalog")  # plpgsql
    query(db, log, sql, name)


def tables(db: Database, log: StepLog, name: str) -> list[str]:
    return query(db, log, TABLES_SQL, name)


def object_count(db: Database, log: StepLog, name: str) -> int:
    return int(query(db, log, USER_OBJECTS_SQL, name)[0])


def row_count(db: Database, log: StepLog, name: str, table: str) -> int:
    ident = '"' + table.replace('"', '""') + '"'
    sql = f"SELECT count(*) FROM public.{ident}"  # noqa: S608 - identifier quoted
    return int(query(db, log, sql, name)[0])


def createdb(db: Database, log: StepLog, name: str, dry_run: bool = False) -> None:
    # template0 like upstream's move guide: no local additions to template1 leak in.
    run(command(db, "createdb", "-T", "template0", "-E", "UTF8", "-O", db.owner, name),
        log, env=env(), dry_run=dry_run)


def dropdb(db: Database, log: StepLog, name: str) -> None:
    run(command(db, "dropdb", "--if-exists", name), log, env=env())


def dump(db: Database, log: StepLog) -> Stream:
    return Stream(command(db, "pg_dump", "-Fc", "-d", db.name), log, mode="read", env=env())


def restore_args(db: Database, name: str, jobs: int, clean: bool) -> list[str]:
    # Upstream's move guide: pg_restore -Fc -j N -n public --no-owner --role=mastodon.
    args = ["-Fc", "-n", "public", "--no-owner", f"--role={db.owner}", "-d", name,
            "--exit-on-error"]
    if jobs > 1:
        args += ["-j", str(jobs)]
    if clean:
        args += ["--clean", "--if-exists"]
    return args


def restore_from_file(db: Database, log: StepLog, name: str, path: str, jobs: int,
                      clean: bool) -> None:
    run(command(db, "pg_restore", *restore_args(db, name, jobs, clean), path), log, env=env())


def restore_from_stdin(db: Database, log: StepLog, name: str, clean: bool) -> Stream:
    return Stream(command(db, "pg_restore", *restore_args(db, name, 1, clean)), log,
                  mode="write", env=env())

