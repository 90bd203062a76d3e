"""Access logs keep no full client address and are kept a bounded number of days."""

import re

from conftest import VARS, WEB_DOMAIN, role_defaults

NGINX = role_defaults("nginx")
ACCESS_LOG = f"/var/log/nginx/{NGINX['nginx_site_name']}-access.log"
RETENTION_DAYS = VARS.get("nginx_log_retention_days", NGINX["nginx_log_retention_days"])


def client_addresses(host) -> list[str]:
    lines = host.file(ACCESS_LOG).content_string.splitlines()
    return [line.split(" ", 1)[0] for line in lines if line]


def test_ipv4_clients_are_logged_without_their_last_octet(host, https):
    https(WEB_DOMAIN, "/assets/x")
    client = host.check_output("ip route show default").split()[2]
    logged = client_addresses(host)
    assert client not in logged
    assert re.sub(r"\.[0-9]+$", ".0", client) in logged


def test_ipv6_clients_are_logged_without_their_last_80_bits(host):
    host.run_test(
        f"curl -sk -o /dev/null -g --resolve '{WEB_DOMAIN}:443:[::1]' https://{WEB_DOMAIN}/assets/x"
    )
    logged = client_addresses(host)
    assert "::1" not in logged
    assert "::" in logged


def test_logs_are_rotated_daily_and_kept_a_bounded_number_of_days(host):
    config = host.file("/etc/logrotate.d/nginx").content_string
    assert "daily" in config
    # Rotate more often than the retention allows, as that many days would
    # (one shell command: each remote command costs seconds).
    request = f"curl -sk -o /dev/null --resolve '{WEB_DOMAIN}:443:127.0.0.1' https://{WEB_DOMAIN}/assets/x"
    rotate = "logrotate --force --state /tmp/herd-logrotate.state /etc/logrotate.d/nginx"
    host.run_test(f"for day in $(seq {RETENTION_DAYS + 2}); do {request} && {rotate}; done")
    kept = host.check_output(f"ls {ACCESS_LOG}.* | wc -l")
    assert int(kept) == RETENTION_DAYS
