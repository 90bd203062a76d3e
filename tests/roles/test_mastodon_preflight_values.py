"""The mastodon role's preflight refuses values upstream's parsers cannot read back,
naming the variable, before any change (the rules themselves are property-tested in
tests/unit/test_mastodon_setting_values.py and test_mastodon_dotenv_values.py)."""

import pytest
from conftest import preflight_of

VALID = {"mastodon_local_domain": "social.example.coop"}

preflight = preflight_of("mastodon", VALID)


def test_emoji_and_quotes_in_settings_pass(preflight):
    result = preflight(mastodon_site_title="Our coop \U0001F418 'x' \"y\" # $HOME \\",
                       mastodon_site_extended_description="line one\nline two\x7f")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variable", ["mastodon_site_title", "mastodon_site_terms"])
def test_setting_that_is_not_text_is_refused(preflight, variable):
    result = preflight(**{variable: 2024})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{variable}: the value is a number, not text; quote it" in output
