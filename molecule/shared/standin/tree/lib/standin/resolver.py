"""DNS for the stand-in: the records a scenario declares, looked up as upstream does.

Upstream's EmailMxValidator asks the host's resolver (Ruby's Resolv::DNS) for MX, then A
and AAAA records (app/validators/email_mx_validator.rb l.42-59 at 1440d55b). Test
containers reach no DNS, so the answers come from a table each scenario declares: a JSON
file at STANDIN_RESOLVER_TABLE, else /etc/standin/resolver.json (a scenario's prepare
writes it; the roles never know about it). Its shape is one object per name:

    {"lab.members.herd.test": {"MX": ["mx.members.herd.test"]},
     "mx.members.herd.test": {"A": ["192.0.2.25"]}}

A missing file or name answers nothing, as a resolver that cannot reach its servers:
upstream then refuses the address (`ERR_UNREACHABLE`). An MX of "." (or "") is a null MX
(RFC 7505): upstream's l.50 stops there, so such a domain is unreachable too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from standin.env import ContractError

TABLE_VARIABLE = "STANDIN_RESOLVER_TABLE"
DEFAULT_TABLE = Path("/etc/standin/resolver.json")
RECORD_TYPES = ("MX", "A", "AAAA")

Table = dict[str, dict[str, list[str]]]


def _name(value: str) -> str:
    return value.strip().lower().rstrip(".")


def load_table(environ: Mapping[str, str] | None = None) -> Table:
    """The declared records, names lower-cased without the trailing dot."""
    source = os.environ if environ is None else environ
    path = Path(source.get(TABLE_VARIABLE) or DEFAULT_TABLE)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ContractError(f"resolver table {path}: {error}") from error
    if not isinstance(raw, dict):
        raise ContractError(f"resolver table {path}: expected an object of names")
    table: Table = {}
    for name, records in raw.items():
        if not isinstance(records, dict) or any(
                kind not in RECORD_TYPES or not isinstance(values, list)
                for kind, values in records.items()):
            raise ContractError(f"resolver table {path}: {name}: expected lists under "
                                f"{', '.join(RECORD_TYPES)}")
        table[_name(str(name))] = {kind: [str(v) for v in values]
                                   for kind, values in records.items()}
    return table


def records(table: Table, name: str, kind: str) -> list[str]:
    values = table.get(_name(name), {}).get(kind, [])
    if kind == "MX":
        # Resolv's exchange.to_s drops the root's dot: the null MX "." reads as "".
        return [_name(value) for value in values]
    return list(values)


def resolve_mx(table: Table, domain: str) -> tuple[list[str], list[str]]:
    """(addresses, MX host names) as EmailMxValidator#resolve_mx (l.42-59): the MX hosts,
    then A and AAAA of the domain itself and of each MX host; none after a null MX."""
    exchanges = records(table, domain, "MX")
    if exchanges == [""]:
        return [], exchanges
    addresses: list[str] = []
    for host in dict.fromkeys([_name(domain), *exchanges]):
        addresses += records(table, host, "A") + records(table, host, "AAAA")
    return addresses, exchanges
