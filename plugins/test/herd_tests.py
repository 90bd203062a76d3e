"""Tests every role shares, so one input means the same to all of them."""

from __future__ import annotations

import re

# A DNS host name as the instance's names must be: at least two dot-separated labels
# (LOCAL_DOMAIN ends up in handles like @alice@example.coop, which other servers
# resolve, and in certificates), each 1-63 letters, digits or inner hyphens, 253
# characters at most. No scheme, port, trailing dot, wildcard or underscore.
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+"
                      r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


def hostname(value: object) -> bool:
    """`x is herd_hostname`: a fully qualified DNS name such as social.example.coop."""
    if not isinstance(value, str) or HOSTNAME.match(value) is None:
        return False
    # An all-digit last label is an IPv4 address, not a name.
    return not value.rsplit(".", 1)[-1].isdigit()


class TestModule:
    def tests(self):
        return {"herd_hostname": hostname}
