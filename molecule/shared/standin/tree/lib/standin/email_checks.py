"""Upstream's checks of a new user's e-mail address (v4.6.5, 1440d55b), shared by sign-up
(web.py) and `tootctl accounts create` (tootctl.py).

- User validates `email_mx` when the address changed and the environment is not local
  (app/models/user.rb l.91, l.519-521 and l.146-148): EmailMxValidator
  (app/validators/email_mx_validator.rb).
- UserEmailValidator (app/validators/user_email_validator.rb) only for a user not yet
  confirmed (user.rb l.93): `tootctl accounts create --confirmed` skips it, sign-up not.
- The resolver is standin.resolver's declared table.

Each check returns upstream's error keys (`invalid`, `unreachable`, `blocked`), which
ValidationErrorFormatter turns into `ERR_<KEY>` (app/lib/validation_error_formatter.rb
l.22); the texts are config/locales/activerecord.en.yml l.66-68.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from standin import resolver
from standin.db import Database

DESCRIPTIONS = {
    "invalid": "is invalid",
    "unreachable": "does not seem to exist",
    "blocked": "uses a disallowed e-mail provider",
    "taken": "has already been taken",
}


def allowlist(environ: Mapping[str, str]) -> str:
    """config/initializers/email_domains_lists.rb l.5: the raw string, `|`-separated."""
    return environ.get("EMAIL_DOMAIN_ALLOWLIST") or environ.get("EMAIL_DOMAIN_WHITELIST", "")


def denylist(environ: Mapping[str, str]) -> str:
    return environ.get("EMAIL_DOMAIN_DENYLIST") or environ.get("EMAIL_DOMAIN_BLACKLIST", "")


def normalize_domain(domain: str) -> str | None:
    """TagManager#normalize_domain (app/lib/tag_manager.rb l.17-23): Addressable's
    normalized host, lower case and IDNA (Python's IDNA 2003 codec: close, not equal)."""
    host = domain.strip().removesuffix("/")
    if not host:
        return None
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def email_domain(email: str) -> str | None:
    """EmailMxValidator#get_domain (l.26-34)."""
    _, sep, domain = email.partition("@")
    return normalize_domain(domain) if sep else None


def domain_variants(domain: str) -> list[str]:
    """DomainNormalizable.domain_variants (app/models/concerns/domain_normalizable.rb
    l.21-24): the domain and each parent, `a.b.c`, `b.c`, `c`."""
    segments = domain.split(".")
    return [".".join(segments[i:]) for i in range(len(segments))]


def domain_blocked(db: Database, domains: Iterable[str | None], *,
                   allow_with_approval: bool = False) -> bool:
    """EmailDomainBlock::Matcher#match? (app/models/email_domain_block.rb l.46-82): a
    block with that allow_with_approval flag on any variant of any domain (an address's
    part after `@`), or a domain that is no host at all."""
    hosts = []
    for value in domains:
        host = normalize_domain(value.split("@", 1)[-1]) if value else None
        if host is None:
            return True
        hosts.append(host)
    variants = sorted({v for host in hosts for v in domain_variants(host)})
    return bool(db.value(
        "SELECT count(*) AS n FROM email_domain_blocks WHERE allow_with_approval = :'flag' "
        "AND domain IN (SELECT unnest(string_to_array(:'d', ' ')))",
        {"flag": "true" if allow_with_approval else "false", "d": " ".join(variants)}))


def on_allowlist(allowed: str, domain: str) -> bool:
    """EmailMxValidator#on_allowlist? (l.36-40): a plain substring test on the raw string,
    so `lab.members.coop` is not on `members.coop` (it is resolved), `coop` is."""
    return bool(allowed.strip()) and domain in allowed


def mx_errors(db: Database, environ: Mapping[str, str], table: resolver.Table,
              email: str) -> list[str]:
    """EmailMxValidator#validate_each (l.6-22)."""
    if not email.strip():
        return []
    domain = email_domain(email)
    if not domain or ".." in domain:
        return ["invalid"]
    if on_allowlist(allowlist(environ), domain):
        return []
    addresses, exchanges = resolver.resolve_mx(table, domain)
    if not addresses:
        return ["unreachable"]
    if domain_blocked(db, [domain, *exchanges]):
        return ["blocked"]
    return []


def _list_regexp(setting: str, anchored: bool) -> re.Pattern[str] | None:
    """user_email_validator.rb l.28-29 and l.37-38: only dots are escaped; the allowlist's
    pattern ends at `$`, the denylist's does not."""
    if not setting.strip():
        return None
    return re.compile(r"@(.+\.)?(" + setting.replace(".", r"\.") + ")" + ("$" if anchored
                      else ""), re.IGNORECASE)


def configuration_errors(db: Database, environ: Mapping[str, str], email: str) -> list[str]:
    """UserEmailValidator#validate (l.4-15), without invitations and canonical blocks."""
    if not email.strip():
        return []
    allow = _list_regexp(allowlist(environ), anchored=True)
    deny = _list_regexp(denylist(environ), anchored=False)
    if (domain_blocked(db, [email]) or (deny is not None and deny.search(email))
            or (allow is not None and not allow.search(email))):
        return ["blocked"]
    return []


def requires_approval(db: Database, table: resolver.Table, email: str) -> bool:
    """User#sign_up_email_requires_approval? (user.rb l.464-474): an allow-with-approval
    block on the domain or on one of its MX hosts (DomainResource#mx, app/lib/
    domain_resource.rb l.12-20, drops the null MX)."""
    domain = email_domain(email)
    if not domain:
        return False
    exchanges = [host for host in resolver.records(table, domain, "MX") if host]
    return domain_blocked(db, [*exchanges, domain], allow_with_approval=True)
