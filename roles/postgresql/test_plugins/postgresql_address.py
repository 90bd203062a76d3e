"""`x is postgresql_ip_address`: one host's IPv4 or IPv6 address, as pg_hba needs it.

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


class TestModule:
    def tests(self):
        return {"postgresql_ip_address": ip_address}
