"""Tests every role shares, so one input means the same to all of them."""

from __future__ import annotations

import ipaddress
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


def ip_address(value: object) -> bool:
    """`x is herd_ip_address`: one host's IPv4 or IPv6 address (10.0.0.21, fd00::31), as
    pg_hba and nftables match it; not a network, a name or a zone (fe80::1%eth0).
    Python's ipaddress, because ansible.utils' ipaddr needs netaddr on the control node."""
    if not isinstance(value, str) or "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def loopback(value: object) -> bool:
    """`x is herd_loopback`: a bind address only this host reaches: 127.0.0.1, ::1 or
    localhost, with or without redis.conf's "-" (optional address) marker."""
    if not isinstance(value, str):
        return False
    address = value.removeprefix("-")
    if address == "localhost":
        return True
    return ip_address(address) and ipaddress.ip_address(address).is_loopback


class TestModule:
    def tests(self):
        return {"herd_hostname": hostname, "herd_ip_address": ip_address,
                "herd_loopback": loopback}
