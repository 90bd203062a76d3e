"""The postgresql role refuses bad input before any change, naming the variable."""


import pytest
from conftest import changed_nothing, documented_inputs, preflight_of, refused

PASSWORD = "a-test-password-of-32-characters"  # throwaway, only for preflight
VALID = {"postgresql_mastodon_password": PASSWORD}



preflight = preflight_of("postgresql", VALID)


def test_valid_input_passes(preflight):
    result = preflight(
        postgresql_listen_addresses=["localhost", "10.0.0.2"],
        postgresql_allowed_networks=["10.0.0.0/24", "fd00::/64"],
        postgresql_ssl=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_nothing(result)


def test_missing_password_is_refused(run_preflight):
    result = run_preflight("postgresql", {})
    assert refused(result, "postgresql_mastodon_password", "vault")


def test_short_password_is_refused(preflight):
    result = preflight(postgresql_mastodon_password="short-secret")
    assert refused(result, "postgresql_mastodon_password", "at least 16 characters")


def test_non_integer_max_connections_is_refused(preflight):
    result = preflight(postgresql_max_connections="lots")
    assert refused(result, "postgresql_max_connections")


def test_unknown_local_auth_method_is_refused(preflight):
    result = preflight(postgresql_mastodon_local_auth="trust")
    assert refused(result, "postgresql_mastodon_local_auth", "scram-sha-256")


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0"])
def test_network_open_to_everyone_is_refused(preflight, network):
    result = preflight(
        postgresql_listen_addresses=["*"], postgresql_allowed_networks=[network]
    )
    assert refused(result, "postgresql_allowed_networks", network, "allows every address")


def test_malformed_network_is_refused(preflight):
    result = preflight(
        postgresql_listen_addresses=["10.0.0.2"], postgresql_allowed_networks=["10.0.0.5"]
    )
    assert refused(result, "postgresql_allowed_networks", "CIDR")


def test_listen_address_without_allowed_network_is_refused(preflight):
    result = preflight(postgresql_listen_addresses=["localhost", "10.0.0.2"])
    assert refused(result, "postgresql_listen_addresses", "10.0.0.2", "postgresql_allowed_networks")


def test_version_debian_does_not_ship_is_refused(preflight):
    result = preflight(postgresql_version="9")
    assert refused(result, "postgresql_version", "postgresql_source: pgdg")


def test_pgdg_without_repository_url_is_refused(preflight):
    result = preflight(postgresql_source="pgdg", postgresql_version="18")
    assert refused(result, "postgresql_pgdg_repo_url")


def test_zero_shared_buffers_is_refused(preflight):
    result = preflight(postgresql_shared_buffers_mb=0)
    assert refused(result, "postgresql_shared_buffers_mb", "positive integer")


def test_readme_defaults_and_argument_specs_list_the_same_variables(repo_root):
    assert documented_inputs(repo_root, "postgresql") == "consistent"


def test_client_addresses_are_accepted_with_a_private_listener(preflight):
    result = preflight(postgresql_listen_addresses=["localhost", "10.0.0.10"],
                       postgresql_client_addresses=["10.0.0.21", "fd00::31"], postgresql_ssl=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_nothing(result)


def test_client_addresses_work_alongside_allowed_networks(preflight):
    result = preflight(postgresql_listen_addresses=["localhost", "10.0.0.10"],
                       postgresql_allowed_networks=["10.0.1.0/24"],
                       postgresql_client_addresses=["10.0.0.21"])
    assert result.returncode == 0, result.stdout + result.stderr


NOT_ADDRESSES = ["10.0.0.0/24", "web1.example.coop", "10.0.0.300", "fe80::1%eth0"]


@pytest.mark.parametrize("value", NOT_ADDRESSES)
def test_a_client_that_is_not_an_address_is_refused(preflight, value):
    result = preflight(postgresql_listen_addresses=["localhost", "10.0.0.10"],
                       postgresql_client_addresses=[value])
    assert refused(result, "postgresql_client_addresses", value, "not an IP address",
                   "postgresql_allowed_networks")


@pytest.mark.parametrize("listen", [["localhost"], ["127.0.0.1", "::1"]])
def test_clients_with_a_loopback_only_listener_are_refused(preflight, listen):
    result = preflight(postgresql_listen_addresses=listen,
                       postgresql_client_addresses=["10.0.0.21"])
    assert refused(result, "postgresql_listen_addresses", "postgresql_client_addresses",
                   "add this host's private address")
