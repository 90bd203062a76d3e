"""The mastodon role's preflight refuses values upstream's parsers cannot read back,
naming the variable, before any change (the rules themselves are property-tested in
tests/unit/test_mastodon_setting_values.py and test_mastodon_dotenv_values.py)."""

import pytest
from conftest import MASTODON_LOCAL_SOURCES, preflight_of

VALID = {**MASTODON_LOCAL_SOURCES, "mastodon_local_domain": "social.example.coop"}

preflight = preflight_of("mastodon", VALID)


def test_emoji_and_quotes_in_settings_pass(preflight):
    result = preflight(mastodon_site_title="Our coop \U0001F418 'x' \"y\" # $HOME \\",
                       mastodon_site_extended_description="line one\nline two\x7f")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variable", ["mastodon_site_title", "mastodon_site_privacy_policy"])
def test_setting_that_is_not_text_is_refused(preflight, variable):
    result = preflight(**{variable: 2024})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{variable}: the value is a number, not text; quote it" in output


def test_secrets_with_quotes_hash_dollar_and_backslash_pass(preflight):
    result = preflight(mastodon_db_password="pa#ss$HOME\\x`y`",
                       mastodon_redis_password="it's \"fine\"",
                       mastodon_extra_env={"RAILS_SERVE_STATIC_FILES": True, "NOTE": "a # b"})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variable", [
    "mastodon_db_password", "mastodon_smtp_password", "mastodon_s3_secret_access_key",
    "mastodon_secret_key_base"])
def test_secret_no_line_carries_is_refused(preflight, variable):
    result = preflight(**{variable: "it's $ecret"})
    assert result.returncode != 0
    assert f"{variable}: the value mixes a single quote" in result.stdout + result.stderr
    assert "$ecret" not in result.stdout + result.stderr


def test_extra_env_bad_name_and_value_are_refused(preflight):
    result = preflight(mastodon_extra_env={"BAD-NAME": "x", "OK_NAME": "line\nbreak"})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "mastodon_extra_env.BAD-NAME: the name is not a variable name" in output
    assert "mastodon_extra_env.OK_NAME: the value contains a line break" in output
