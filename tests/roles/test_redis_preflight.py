"""The redis role refuses bad input before any change, naming the variable."""


import pytest
from conftest import changed_nothing, documented_inputs, preflight_of, refused

PASSWORD = "a-test-password-of-32-characters"  # throwaway, only for preflight
VALID = {"redis_password": PASSWORD}



preflight = preflight_of("redis", VALID)


def test_valid_input_passes(preflight):
    result = preflight(redis_bind=["127.0.0.1", "10.0.0.3"], redis_maxmemory="2gb",
                       redis_client_addresses=["10.0.0.21", "fd00::31"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_nothing(result)


def test_missing_password_is_refused(run_preflight):
    result = run_preflight("redis", {})
    assert refused(result, "redis_password", "vault")


def test_short_password_is_refused(preflight):
    result = preflight(redis_password="too-short")
    assert refused(result, "redis_password", "at least 16 characters")


def test_password_with_space_is_refused(preflight):
    result = preflight(redis_password="sixteen chars or more")
    assert refused(result, "redis_password", "spaces")


# Wildcard binds are the input under test here.
@pytest.mark.parametrize("address", ["0.0.0.0", "*", "::"])  # noqa: S104
def test_wildcard_bind_is_refused(preflight, address):
    result = preflight(redis_bind=[address])
    assert refused(result, "redis_bind", "redis_allow_wildcard_bind")


def test_wildcard_bind_with_allowance_passes(preflight):
    result = preflight(redis_bind=["0.0.0.0"], redis_allow_wildcard_bind=True,  # noqa: S104
                       redis_client_addresses=["10.0.0.21"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_evicting_policy_name_typo_is_refused(preflight):
    result = preflight(redis_maxmemory_policy="no-eviction")
    assert refused(result, "redis_maxmemory_policy", "noeviction")


def test_bad_snapshot_rule_is_refused(preflight):
    result = preflight(redis_save=["every hour"])
    assert refused(result, "redis_save", "<seconds> <changes>")


def test_bad_maxmemory_is_refused(preflight):
    result = preflight(redis_maxmemory="lots")
    assert refused(result, "redis_maxmemory", "2gb")


def test_readme_defaults_and_argument_specs_list_the_same_variables(repo_root):
    assert documented_inputs(repo_root, "redis") == "consistent"


def test_loopback_only_bind_needs_no_clients(preflight):
    result = preflight(redis_bind=["127.0.0.1", "-::1"], redis_client_addresses=[])
    assert result.returncode == 0, result.stdout + result.stderr


# A wildcard bind is reachable too: the firewall must have someone to admit.
@pytest.mark.parametrize("bind", [["127.0.0.1", "10.0.0.10"], ["-fd00::10"], ["0.0.0.0"]])  # noqa: S104
def test_reachable_bind_without_clients_is_refused(preflight, bind):
    result = preflight(redis_bind=bind, redis_allow_wildcard_bind=True)
    assert refused(result, "redis_bind", "redis_client_addresses", "list the app hosts")


NOT_ADDRESSES = ["10.0.0.0/24", "web1.example.coop", "10.0.0.300", "fe80::1%eth0"]


@pytest.mark.parametrize("value", NOT_ADDRESSES)
def test_a_client_that_is_not_an_address_is_refused(preflight, value):
    result = preflight(redis_bind=["127.0.0.1", "10.0.0.10"], redis_client_addresses=[value])
    assert refused(result, "redis_client_addresses", value, "not an IP address", "e.g. 10.0.0.21")


def test_clients_with_a_loopback_only_bind_are_refused(preflight):
    result = preflight(redis_bind=["127.0.0.1"], redis_client_addresses=["10.0.0.21"])
    assert refused(result, "redis_bind", "redis_client_addresses",
                   "add this host's private address")
