"""Release ordering: which upgrades upstream Mastodon supports, judged before any change.

Upstream's rules this module enforces (read at v4.6.5, glitch-soc/mastodon 1440d55b):
- Migrations only go forward: a release's schema has the migrations of every older one,
  and no release ships down-migrations an operator can run to go back to an older code
  base. Going back is a restore of the pre-upgrade backup (docs: admin/backups).
- Upgrade notes of every release since v4.2.0 ask to deploy at least one release of
  every minor series ("If you are upgrading directly from an earlier release, please
  carefully read the upgrade notes for the skipped releases", mastodon/documentation
  issue 1356, and docs.joinmastodon.org/admin/upgrading); `lib/tasks/db.rake` lines 66-72
  aborts pre-deployment migrations from a schema older than 4.2.0 (2023_09_07_150100):
  "Zero-downtime migrations from Mastodon versions earlier than 4.2.0 are not supported."
  So every minor series from 4.2 on that lies between the running release and the
  target must have been deployed.
- A release names itself in `lib/mastodon/version.rb` (`def major`, `def minor`,
  `def patch`, `def default_prerelease`), and its tags are `vMAJOR.MINOR.PATCH` with an
  optional `-PRERELEASE` (v4.6.0-beta.1, v4.6.0-rc.1).
"""

from __future__ import annotations

import re

_TAG = re.compile(r"^v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:-([0-9A-Za-z.-]+))?$")
# The first series whose every release must be deployed on the way up (see above).
FIRST_SERIES_NOT_TO_SKIP = (4, 2)


def release_parse(tag: str) -> tuple[int, int, int, str]:
    """vMAJOR.MINOR.PATCH[-PRE] as (major, minor, patch, pre); ValueError otherwise."""
    match = _TAG.match(str(tag).strip())
    if not match:
        raise ValueError(f"not a release tag (vMAJOR.MINOR.PATCH): {tag!r}")
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch), pre or ""


def _pre_key(pre: str) -> tuple:
    """SemVer 2.0.0 section 11: a release sorts after its pre-releases; pre-release
    identifiers compare numerically when numeric, else as text, numbers first."""
    if not pre:
        return (1,)
    parts = []
    for part in pre.split("."):
        parts.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return (0, *parts)


def release_key(tag: str) -> tuple:
    major, minor, patch, pre = release_parse(tag)
    return (major, minor, patch, _pre_key(pre))


def mastodon_version_rb(text: str) -> str:
    """The release a checkout holds, from upstream's lib/mastodon/version.rb, as a tag
    ("v4.6.5", "v4.6.0-beta.1"); "" when the file says no version (no checkout)."""
    numbers = {}
    for name in ("major", "minor", "patch"):
        match = re.search(rf"def {name}\s*\n?\s*([0-9]+)\s*\n?\s*end", text or "")
        if not match:
            return ""
        numbers[name] = match.group(1)
    pre = re.search(r"def default_prerelease\s*\n?\s*'([^']*)'", text or "")
    tag = f"v{numbers['major']}.{numbers['minor']}.{numbers['patch']}"
    return f"{tag}-{pre.group(1)}" if pre and pre.group(1) else tag


def mastodon_remote_tags(ls_remote: list[str]) -> list[str]:
    """The release tags of `git ls-remote --tags --refs URL` lines ("<sha>\trefs/tags/v4.6.5"),
    oldest first; tags that are not releases are left out."""
    tags = []
    for line in ls_remote or []:
        ref = line.split()[-1] if line.split() else ""
        name = ref.removeprefix("refs/tags/")
        try:
            release_parse(name)
        except ValueError:
            continue
        tags.append(name)
    return sorted(set(tags), key=release_key)


def mastodon_upgrade_order_problems(facts: dict) -> list[str]:
    """Refusals of an upgrade from facts.current (the running release's tag, "" on a
    host without a release) to facts.target (mastodon_version), given facts.tags (the
    release tags of mastodon_git_url, mastodon_remote_tags). Each names the variable
    and the fix."""
    current, target = facts.get("current", ""), str(facts.get("target", ""))
    tags = list(facts.get("tags") or [])
    try:
        target_key = release_key(target)
    except ValueError:
        return [f"mastodon_version: '{target}' is not a release tag (vMAJOR.MINOR.PATCH); "
                "playbooks/upgrade.yml checks the order of releases, so set mastodon_version "
                "to one of upstream's release tags."]
    if tags and target not in tags:
        newest = tags[-1]
        return [f"mastodon_version: {target} is not a tag of mastodon_git_url (its newest release "
                f"is {newest}); set mastodon_version to a release tag the repository holds, or "
                "point mastodon_git_url at a mirror that has it."]
    if not current:
        return []
    try:
        current_key = release_key(current)
    except ValueError:
        return [f"mastodon_version: the running checkout is not a release ({current!r}); "
                "playbooks/upgrade.yml cannot judge the order from it. Check out the release "
                "it runs as a tag first."]
    if target_key < current_key:
        return [f"mastodon_version: {target} is older than the running {current}. Upstream's "
                "migrations only go forward, so a downgrade would run old code on a newer "
                f"schema: set mastodon_version to {current} or later. To go back, restore the "
                "backup taken before the upgrade (playbooks/restore.yml)."]
    start, end = current_key[:2], target_key[:2]
    skipped: dict[tuple, str] = {}
    for tag in tags:
        major, minor, _, pre = release_parse(tag)
        series = (major, minor)
        if pre or not (start < series < end) or series < FIRST_SERIES_NOT_TO_SKIP:
            continue
        skipped[series] = tag  # tags are oldest first: the last one is the newest
    if not skipped:
        return []
    steps = [skipped[series] for series in sorted(skipped)]
    names = ", ".join(f"{m}.{n}" for m, n in sorted(skipped))
    return [f"mastodon_version: {target} skips the {names} series (running {current}); upstream "
            "asks to deploy at least one release of every minor series from 4.2 on. Upgrade "
            f"through {', then '.join(steps)} first (set mastodon_version to each in turn and "
            f"run playbooks/upgrade.yml), then to {target}."]


class FilterModule:
    def filters(self):
        return {
            "mastodon_version_rb": mastodon_version_rb,
            "mastodon_remote_tags": mastodon_remote_tags,
            "mastodon_upgrade_order_problems": mastodon_upgrade_order_problems,
        }
