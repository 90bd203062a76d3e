"""Settings refused before any change, each with a message naming the setting."""

from pathlib import Path

import pytest
from herd.cache.config import CleanupConfig, validate
from herd.cache.tootctl import validate_options
from herd.errors import ConfigError

ROOT = Path("/srv/mastodon/live")


def config(**overrides: object) -> CleanupConfig:
    return CleanupConfig(mastodon_root=ROOT, **overrides)  # type: ignore[arg-type]


def test_defaults_are_valid():
    validate(config())


@pytest.mark.parametrize(("overrides", "named"), [
    ({"high_water": 80, "low_water": 80}, "low_water"),
    ({"high_water": 70, "low_water": 80}, "low_water"),
    ({"high_water": 120}, "high_water"),
    ({"days_steps": (30, 0)}, "days"),
    ({"days_steps": (30, -7)}, "days"),
    ({"floor_days": 0}, "floor_days"),
    ({"floor_days": 60}, "floor_days"),
    ({"days_steps": ()}, "days_steps"),
    ({"preview_cards_days": 13}, "preview_cards_days"),
    ({"cache_quota_bytes": 0}, "cache_quota_bytes"),
    ({"media_cache_dir": Path("/var/cache/mastodon")}, "media_cache_dir"),
    ({"media_cache_dir": ROOT / "../elsewhere"}, "media_cache_dir"),
    ({"nginx_cache_dir": ROOT / "public"}, "nginx_cache_dir"),
    ({"nginx_cache_dir": Path("/srv")}, "nginx_cache_dir"),
    ({"nginx_cache_dir": Path("/")}, "nginx_cache_dir"),
    ({"media_remove_options": ("--frobnicate",)}, "media_remove_options"),
])
def test_bad_settings_are_refused_naming_the_setting(overrides, named):
    with pytest.raises(ConfigError, match=named):
        validate(config(**overrides))


def test_preview_cards_at_upstream_minimum_is_accepted():
    validate(config(preview_cards_days=14))


@pytest.mark.parametrize("options", [
    ["--concurrency=2"], ["--prune-profiles", "--include-follows"],
    ["--remove_headers", "--include_follows"], ["--keep-interacted", "--verbose"],
])
def test_upstream_media_remove_options_pass(options):
    assert validate_options("media remove", options, variable="v") == options


@pytest.mark.parametrize(("options", "reason"), [
    (["--include-follows"], "only works together"),
    (["--prune-profiles", "--remove-headers"], "exclude each other"),
    (["--days=3"], "set by herd"),
    (["--dry-run"], "set by herd"),
    (["--concurrency"], "needs a value"),
    (["--verbose=yes"], "takes no value"),
    (["--link"], "not an option of `tootctl media remove`"),
    (["-v"], "not an option"),
])
def test_bad_media_remove_options_are_refused(options, reason):
    with pytest.raises(ConfigError, match=reason):
        validate_options("media remove", options, variable="v")


def test_each_scheduled_command_knows_its_own_options():
    validate_options("preview_cards remove", ["--link"], variable="v")
    validate_options("statuses remove", ["--clean-followed", "--batch-size=500"], variable="v")
    validate_options("media remove-orphans", ["--prefix=cache"], variable="v")
    validate_options("accounts prune", ["--concurrency=1"], variable="v")
    with pytest.raises(ConfigError):
        validate_options("accounts prune", ["--days=3"], variable="v")
