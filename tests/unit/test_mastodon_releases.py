"""Upgrade order (roles/mastodon/filter_plugins/releases.py): a downgrade and a jump
over a minor series from 4.2 on are refused before any change, each with the
variable and the fix.

Expected values come from upstream: the tag names of mastodon/mastodon (v4.2.0 ...
v4.5.15, v4.6.0-beta.1, v4.6.5), lib/mastodon/version.rb at v4.6.5 (glitch-soc/mastodon
1440d55b, lines 1-24: `def major` 4, `def minor` 6, `def patch` 5,
`def default_prerelease` ''), and upstream's rule that every minor series from 4.2 on
is deployed on the way up (lib/tasks/db.rake lines 66-72 at 1440d55b refuse
zero-downtime migrations from before 4.2.0; the release notes ask for the skipped
releases' upgrade steps)."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "roles/mastodon/filter_plugins/releases.py"
spec = importlib.util.spec_from_file_location("mastodon_releases", PLUGIN)
releases = importlib.util.module_from_spec(spec)
spec.loader.exec_module(releases)

# Upstream's lib/mastodon/version.rb at v4.6.5 (1440d55b), the part that names it.
VERSION_RB_465 = """# frozen_string_literal: true

module Mastodon
  module Version
    module_function

    def major
      4
    end

    def minor
      6
    end

    def patch
      5
    end

    def default_prerelease
      ''
    end
"""

# `git ls-remote --tags --refs` of a repository with upstream's tag names, unsorted,
# with a tag that is no release.
LS_REMOTE = [f"{index:040x}\trefs/tags/{tag}" for index, tag in enumerate([
    "v4.5.15", "v4.2.0", "v4.1.9", "v4.3.0", "v4.2.21", "v4.4.3", "v4.4.0", "v4.5.0",
    "v4.6.0-beta.1", "v4.6.5", "v4.6.0", "standin-base", "v3.5.19", "v4.0.0",
])]
TAGS = ["v3.5.19", "v4.0.0", "v4.1.9", "v4.2.0", "v4.2.21", "v4.3.0", "v4.4.0", "v4.4.3",
        "v4.5.0", "v4.5.15", "v4.6.0-beta.1", "v4.6.0", "v4.6.5"]


def problems(current, target, tags=TAGS):
    return releases.mastodon_upgrade_order_problems(
        {"current": current, "target": target, "tags": tags})


def test_version_rb_names_the_release():
    assert releases.mastodon_version_rb(VERSION_RB_465) == "v4.6.5"


def test_version_rb_with_a_prerelease():
    text = VERSION_RB_465.replace("def default_prerelease\n      ''",
                                  "def default_prerelease\n      'beta.1'")
    assert releases.mastodon_version_rb(text) == "v4.6.5-beta.1"


def test_no_version_rb_is_no_release():
    assert releases.mastodon_version_rb("") == ""


def test_remote_tags_are_the_releases_oldest_first():
    # SemVer 2.0.0 section 11: 4.6.0-beta.1 < 4.6.0; numbers compare as numbers (4.2.21 > 4.2.0).
    assert releases.mastodon_remote_tags(LS_REMOTE) == TAGS


def test_the_next_minor_series_is_accepted():
    assert problems("v4.5.15", "v4.6.5") == []


def test_a_patch_release_is_accepted():
    assert problems("v4.5.0", "v4.5.15") == []


def test_the_same_release_is_accepted():
    assert problems("v4.6.5", "v4.6.5") == []


def test_a_host_without_a_release_installs():
    assert problems("", "v4.6.5") == []


def test_a_downgrade_is_refused_with_the_fix():
    [message] = problems("v4.6.5", "v4.5.15")
    assert message.startswith("mastodon_version: v4.5.15 is older than the running v4.6.5")
    assert "set mastodon_version to v4.6.5 or later" in message
    assert "playbooks/restore.yml" in message


def test_a_downgrade_to_a_prerelease_of_the_same_series_is_refused():
    assert problems("v4.6.0", "v4.6.0-beta.1") != []


def test_skipping_one_series_is_refused_naming_the_release_to_deploy_first():
    [message] = problems("v4.4.3", "v4.6.5")
    assert message.startswith("mastodon_version: v4.6.5 skips the 4.5 series (running v4.4.3)")
    # The newest release of the skipped series, from the repository's tags.
    assert "Upgrade through v4.5.15 first" in message


def test_skipping_several_series_names_each_in_order():
    [message] = problems("v4.2.21", "v4.6.5")
    assert "skips the 4.3, 4.4, 4.5 series" in message
    assert "v4.3.0, then v4.4.3, then v4.5.15" in message


def test_a_prerelease_does_not_count_as_a_series():
    # v4.6.0-beta.1 is no release of 4.6 an operator deploys: 4.5 -> 4.6 skips nothing.
    assert problems("v4.5.0", "v4.6.0", tags=TAGS) == []


def test_series_before_4_2_may_be_skipped():
    # Upstream's rule starts at 4.2: 3.5 -> 4.2 passes 4.0 and 4.1.
    assert problems("v3.5.19", "v4.2.21") == []


def test_4_2_itself_may_not_be_skipped():
    [message] = problems("v4.1.9", "v4.3.0")
    assert "skips the 4.2 series" in message and "v4.2.21" in message


def test_a_target_that_is_no_tag_of_the_repository_is_refused():
    [message] = problems("v4.5.15", "v4.6.9")
    assert message.startswith("mastodon_version: v4.6.9 is not a tag of mastodon_git_url")
    assert "v4.6.5" in message


@pytest.mark.parametrize("target", ["main", "stable-4.6", "4.6", "v4.6"])
def test_a_target_that_is_no_release_tag_is_refused(target):
    [message] = problems("v4.5.15", target)
    assert message.startswith(f"mastodon_version: '{target}' is not a release tag")


def test_tags_without_v_are_read_too():
    assert releases.release_key("4.6.5") == releases.release_key("v4.6.5")
