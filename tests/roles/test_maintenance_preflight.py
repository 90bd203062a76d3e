"""roles/maintenance refuses bad input in preflight, before any change, naming the
variable."""

import pytest
from conftest import preflight_of

preflight = preflight_of("maintenance", {})


def test_defaults_pass(preflight):
    result = preflight()
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize(("extra_vars", "needles"), [
    ({"maintenance_media_remove_extra_options": ["--frobnicate"]},
     ["maintenance_media_remove_extra_options", "--frobnicate", "--concurrency"]),
    ({"maintenance_preview_cards_remove_extra_options": ["--days=3"]},
     ["maintenance_preview_cards_remove_extra_options", "set by herd"]),
    ({"maintenance_accounts_prune_extra_options": ["--concurrency"]},
     ["maintenance_accounts_prune_extra_options", "--concurrency"]),
    ({"maintenance_media_remove_include_follows": True},
     ["maintenance_media_remove_include_follows", "maintenance_media_remove_prune_profiles"]),
    ({"maintenance_media_remove_extra_options": ["--include-follows"]},
     ["maintenance_media_remove_extra_options", "--include-follows without"]),
    ({"maintenance_media_remove_prune_profiles": True,
      "maintenance_media_remove_extra_options": ["--remove-headers"]},
     ["maintenance_media_remove_extra_options", "or both of those"]),
    ({"maintenance_media_remove_days": 0}, ["maintenance_media_remove_days", "positive"]),
    ({"maintenance_cache_cleanup_low_water": 90, "maintenance_cache_cleanup_high_water": 90},
     ["maintenance_cache_cleanup_low_water", "below"]),
    ({"maintenance_cache_cleanup_nginx_cache_dir": "/home/mastodon/live/public"},
     ["maintenance_cache_cleanup_nginx_cache_dir", "apart from"]),
    ({"maintenance_accounts_prune_on_calendar": "every tuesday-ish"},
     ["maintenance_accounts_prune_on_calendar", "calendar"]),
    ({"maintenance_cpu_scheduling_policy": "fifo"}, ["maintenance_cpu_scheduling_policy"]),
])
def test_bad_input_is_refused_naming_the_variable(preflight, extra_vars, needles):
    result = preflight(**extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and all(needle in output for needle in needles), output[-3000:]


@pytest.mark.parametrize("variable", ["maintenance_preview_cards_remove_days",
                                      "maintenance_cache_cleanup_preview_cards_days"])
def test_young_preview_cards_are_refused_as_herds_policy_not_upstreams(preflight, variable):
    # Upstream's tootctl accepts any --days (lib/mastodon/cli/preview_cards.rb:9, default
    # 180, no check) and only recommends keeping the last 14 days (lines 18-21). The
    # refusal is herd's own rule and must say so, with its reason, and claim nothing
    # upstream does not do.
    result = preflight(**{variable: 13})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert all(needle in output for needle in (variable, "13", "14", "herd's policy",
                                               "thumbnail")), output[-3000:]
    assert "upstream's tootctl refuses" not in output
    assert "upstream refuses" not in output.lower()


@pytest.mark.parametrize(("variable", "days"), [
    ("maintenance_preview_cards_remove_days", 14),
    ("maintenance_cache_cleanup_preview_cards_days", 0),
    ("maintenance_cache_cleanup_preview_cards_days", 14),
])
def test_preview_card_days_from_14_pass(preflight, variable, days):
    result = preflight(**{variable: days})
    assert result.returncode == 0, result.stdout[-3000:]
