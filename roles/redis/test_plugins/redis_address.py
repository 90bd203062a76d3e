"""Address tests of the redis role.

`x is redis_ip_address`: one host's IPv4 or IPv6 address (what nftables matches).
`x is redis_loopback`: a redis.conf bind entry that only this host reaches.
ansible.utils' ipaddr needs netaddr on the control node; Python's ipaddress does not.
"""

from __future__ import annotations

import ipaddress


def ip_address(value: object) -> bool:
    """True for 10.0.0.21 or fd00::31; False for a network, a name or a zone (fe80::1%eth0)."""
    if not isinstance(value, str) or "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def loopback(value: object) -> bool:
    """True for 127.0.0.1, -::1 ("-" marks an optional bind) or localhost."""
    if not isinstance(value, str):
        return False
    address = value.removeprefix("-")
    if address == "localhost":
        return True
    return ip_address(address) and ipaddress.ip_address(address).is_loopback


class TestModule:
    def tests(self):
        return {"redis_ip_address": ip_address, "redis_loopback": loopback}
