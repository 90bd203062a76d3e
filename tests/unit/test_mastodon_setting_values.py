"""Setting values survive upstream's parser: what herd writes to `settings.value`
is YAML that Ruby's Psych (Debian's ruby; upstream reads the column with Psych)
reads back to exactly the inventory's text, and a second run plans nothing.

Expected values are the inventory's own strings, and what real Psych answers."""

import importlib.util
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rubyparsers import Ruby

PLUGIN = Path(__file__).resolve().parents[2] / "roles/mastodon/filter_plugins/mastodon.py"
spec = importlib.util.spec_from_file_location("mastodon_filters", PLUGIN)
filters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(filters)
# The settings the role manages (settings.var names), from the role itself.
SETTINGS = sorted(yaml.safe_load(
    (PLUGIN.parents[1] / "vars/main.yml").read_text())["__mastodon_site_settings"])


@pytest.fixture(scope="module")
def ruby():
    process = Ruby()
    yield process
    process.close()


def written(value):
    """The settings.value text herd writes for a site_title the stored row lacks."""
    [change] = filters.mastodon_settings_changes([], {"site_title": value})
    return change["value"]


@pytest.mark.parametrize("title", [
    "Our coop \U0001F418",          # above U+FFFF: JSON wrote \ud83d\udc18, Psych refuses
    "rub\x7fout",                    # DEL: libyaml refuses it raw
    "tab\tand\nnewline",
    'quotes \' " and \\ # $HOME',
    " padded ",
    "yes",                           # a YAML 1.1 boolean when plain
    "\u0085\u2028\u2029\ufeff",      # YAML line breaks and the BOM
    "",
])
def test_psych_reads_back_the_inventory_value(ruby, title):
    assert ruby.yaml_load(written(title)) == {"value": title}


@pytest.mark.parametrize("title", ["Our coop \U0001F418", "rub\x7fout", "plain"])
def test_second_run_plans_nothing(title):
    rows = [{"var": "site_title", "value": written(title)}]
    assert filters.mastodon_settings_changes(rows, {"site_title": title}) == []


@pytest.mark.parametrize("title", ["Our coop \U0001F418", "rub\x7fout", "caf\u00e9 'x'"])
def test_value_written_by_rails_counts_as_unchanged(ruby, title):
    """The admin UI stores Ruby's own `to_yaml`: same text, nothing to write."""
    rows = [{"var": "site_title", "value": ruby.to_yaml(title)}]
    assert filters.mastodon_settings_changes(rows, {"site_title": title}) == []


def test_row_psych_refuses_is_rewritten(ruby):
    """A row written by an older herd (surrogate escapes) is broken upstream: rewrite it."""
    broken = '--- "Our coop \\ud83d\\udc18"\n'
    assert "error" in ruby.yaml_load(broken)
    changes = filters.mastodon_settings_changes(
        [{"var": "site_title", "value": broken}], {"site_title": "Our coop \U0001F418"})
    assert [change["var"] for change in changes] == ["site_title"]


def test_unreadable_row_does_not_stop_the_plan():
    rows = [{"var": "site_title", "value": "--- !ruby/object:Foo {}\n"}]
    assert [c["var"] for c in filters.mastodon_settings_changes(rows, {"site_title": "x"})] \
        == ["site_title"]


@pytest.mark.parametrize(("value", "reason"), [
    ("nul\x00byte", "U+0000"),         # PostgreSQL text cannot hold NUL
    ("lone \ud83d surrogate", "U+D83D"),  # no UTF-8 form; Psych refuses the escape
    (42, "text"),
    (["a"], "text"),
])
def test_values_psych_cannot_carry_are_refused(value, reason):
    assert reason in filters.mastodon_setting_refusal(value)
    with pytest.raises(ValueError, match="site_title"):
        filters.mastodon_settings_changes([], {"site_title": value})


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SETTINGS), st.text(st.characters(exclude_categories=["Cs"]), max_size=40))
def test_any_text_round_trips_through_psych_or_is_refused(ruby, var, value):
    refusal = filters.mastodon_setting_refusal(value)
    if refusal:
        assert "\x00" in value
        return
    [change] = filters.mastodon_settings_changes([], {var: value})
    assert ruby.yaml_load(change["value"]) == {"value": value}
    for stored in (change["value"], ruby.to_yaml(value)):
        assert filters.mastodon_settings_changes(
            [{"var": var, "value": stored}], {var: value}) == []
