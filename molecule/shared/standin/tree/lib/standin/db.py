"""PostgreSQL access through Debian's `psql` client (no driver gem or module needed).

Connection settings come from upstream's variables: DATABASE_URL wins, otherwise DB_HOST
(a directory means the Unix socket), DB_PORT, DB_NAME, DB_USER, DB_PASS, DB_SSLMODE.
Query parameters go through psql variables (`:'name'`), which psql quotes itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any


class DatabaseError(Exception):
    """psql failed: connection refused, authentication, SQL error."""


class Database:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.psql = shutil.which("psql") or "psql"

    def _command(self) -> tuple[list[str], dict[str, str]]:
        child = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        child["PGAPPNAME"] = "mastodon-standin"
        child.setdefault("PGCONNECT_TIMEOUT", "5")
        argv = [self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        url = self.env.get("DATABASE_URL", "").strip()
        if url:
            argv += ["-d", url]
        else:
            mapping = {
                "DB_HOST": "PGHOST",
                "DB_PORT": "PGPORT",
                "DB_NAME": "PGDATABASE",
                "DB_USER": "PGUSER",
                "DB_PASS": "PGPASSWORD",
                "DB_SSLMODE": "PGSSLMODE",
            }
            for ours, libpq in mapping.items():
                if self.env.get(ours, ""):
                    child[libpq] = self.env[ours]
        return argv, child

    def run(self, sql: str, params: dict[str, Any] | None = None) -> str:
        """Run an SQL script in one transaction-less psql session; return its output."""
        argv, child = self._command()
        for name, value in (params or {}).items():
            argv += ["-v", f"{name}={'' if value is None else value}"]
        argv += ["-f", "-"]
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                argv, input=sql, capture_output=True, text=True, env=child, timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DatabaseError(f"cannot run psql: {error}") from error
        if done.returncode != 0:
            raise DatabaseError(done.stderr.strip() or f"psql exited {done.returncode}")
        return done.stdout

    def rows(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of one SELECT as dicts (psql renders them as one JSON document)."""
        # The query text is the stand-in's own; values travel as psql variables.
        inner = query.rstrip().rstrip(";")
        wrapped = f"SELECT coalesce(json_agg(row_to_json(q)), '[]'::json) FROM ({inner}) AS q;\n"  # noqa: S608, E501
        out = self.run(wrapped, params).strip()
        return json.loads(out or "[]")

    def value(self, query: str, params: dict[str, Any] | None = None) -> Any:
        found = self.rows(query, params)
        if not found:
            return None
        return next(iter(found[0].values()))

    def count_deleted(self, delete: str, params: dict[str, Any] | None = None) -> int:
        """Run one DELETE statement and return how many rows it removed.

        PostgreSQL allows a data-modifying WITH only at the top level, so this
        cannot go through rows()' JSON wrapper.
        """
        # The statement is the stand-in's own; values travel as psql variables.
        out = self.run(f"WITH gone AS ({delete} RETURNING 1) SELECT count(*) FROM gone;\n",  # noqa: S608
                       params)
        return int(out.strip() or 0)

    def table_exists(self, name: str) -> bool:
        return bool(
            self.value("SELECT to_regclass(:'t') IS NOT NULL AS present", {"t": f"public.{name}"})
        )

    def settings(self) -> dict[str, str]:
        """Raw YAML text of every row of `settings`, keyed by `var`."""
        return {row["var"]: row["value"] for row in self.rows("SELECT var, value FROM settings")}
