"""The mastodon role refuses bad input before any change, naming the variable.

Checks against the host's stored state (a changed LOCAL_DOMAIN, a changed
secret) need an installed server: molecule/all-in-one covers them.
"""


import pytest
from conftest import MASTODON_LOCAL_SOURCES, changed_nothing, preflight_of, refused

VALID = {
    **MASTODON_LOCAL_SOURCES,
    "mastodon_local_domain": "social.example.coop",
    "mastodon_email_domain_allowlist": ["example.coop", "members.example.org"],
    "mastodon_registrations_mode": "open",
    "mastodon_server_rules": [{"text": "Be kind.", "hint": "No harassment."}, {"text": "No spam."}],
    "mastodon_site_contact_username": "admin",
    "mastodon_site_contact_email": "admin@example.coop",
    "mastodon_sidekiq_processes": [
        {"name": "default", "concurrency": 10, "queues": ["default", "push", "ingress"]},
        {"name": "scheduler", "concurrency": 5, "queues": ["scheduler", "mailers", "pull"]},
    ],
}


preflight = preflight_of("mastodon", VALID)


def test_valid_input_passes(preflight):
    result = preflight()
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_nothing(result)


def test_upstream_single_sidekiq_default_passes(run_preflight):
    """The role's default (one process, upstream's full queue list) owns the scheduler."""
    result = run_preflight("mastodon", {**MASTODON_LOCAL_SOURCES,
                                        "mastodon_local_domain": "social.example.coop"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_local_domain_is_refused(run_preflight):
    result = run_preflight("mastodon", {})
    assert refused(result, "mastodon_local_domain")


@pytest.mark.parametrize(
    "entry", ["@example.coop", "*.example.coop", "https://example.coop", "a b.coop"])
def test_allowlist_entry_not_a_hostname_is_refused(preflight, entry):
    result = preflight(mastodon_email_domain_allowlist=["example.coop", entry])
    assert refused(result, "mastodon_email_domain_allowlist", entry, "not a host name")


def test_rule_over_300_characters_is_refused(preflight):
    rules = [{"text": "Be kind."}, {"text": "x" * 301}]
    result = preflight(mastodon_server_rules=rules)
    assert refused(result, "mastodon_server_rules[1]", "301", "300")


def test_rule_of_300_characters_passes(preflight):
    result = preflight(mastodon_server_rules=[{"text": "x" * 300}])
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_registrations_mode_is_refused(preflight):
    result = preflight(mastodon_registrations_mode="closed")
    assert refused(result, "mastodon_registrations_mode", "closed", "open, approved, none")


def test_two_scheduler_owners_are_refused(preflight):
    processes = [
        {"name": "a", "concurrency": 5, "queues": ["scheduler", "default"]},
        {"name": "b", "concurrency": 5, "queues": []},
    ]
    result = preflight(mastodon_sidekiq_processes=processes)
    assert refused(result, "mastodon_sidekiq_processes", "2 processes run the `scheduler` queue")


def test_no_scheduler_owner_is_refused(preflight):
    processes = [{"name": "a", "concurrency": 5, "queues": ["default", "push"]}]
    result = preflight(mastodon_sidekiq_processes=processes)
    assert refused(result, "mastodon_sidekiq_processes", "0 processes run the `scheduler` queue")


def test_contact_username_without_email_is_refused(preflight):
    result = preflight(mastodon_site_contact_email=None)
    assert refused(result, "mastodon_site_contact_username", "set mastodon_site_contact_email")


def test_short_description_over_200_characters_is_refused(preflight):
    result = preflight(mastodon_site_short_description="d" * 201)
    assert refused(result, "mastodon_site_short_description", "200")


@pytest.mark.parametrize(
    "variable", ["mastodon_ip_retention_period", "mastodon_session_retention_period"])
def test_retention_below_two_days_is_refused(preflight, variable):
    result = preflight(**{variable: 86400})
    assert refused(result, variable, "172800")


def test_unknown_secret_to_rotate_is_refused(preflight):
    result = preflight(mastodon_rotate_secrets=["OTP_SECRET"])
    assert refused(result, "mastodon_rotate_secrets", "OTP_SECRET")


def test_site_terms_is_refused_naming_the_privacy_policy(preflight):
    # settings.site_terms is upstream's Privacy Policy (app/models/privacy_policy.rb:10 at
    # 1440d55b); an inventory written for the old name must not be silently ignored.
    result = preflight(mastodon_site_terms="Our terms")
    assert refused(result, "mastodon_site_terms", "mastodon_site_privacy_policy")


def test_privacy_policy_passes(preflight):
    result = preflight(mastodon_site_privacy_policy="# Privacy\n\nWe keep IPs 30 days.")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("variable", "value"), [
    ("mastodon_node_version", "24"), ("mastodon_node_version", "v24.17.0"),
    ("mastodon_node_dist_url", "nodejs.org/dist")])
def test_binary_node_needs_an_exact_release_and_a_url(preflight, variable, value):
    """The release's files are named by its full version (nodejs.org/dist/v24.17.0/)."""
    result = preflight(mastodon_node_source="binary", **{variable: value})
    assert refused(result, variable, value)
