"""What the instance tests share: the operator's fleet files, the co-op's order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MACHINES = {"machines": {
    "big.example.net": {"address": "192.0.2.10", "memory_mb": 16000, "disk_gb": 300,
                        "max_instances": 3},
    "small.example.net": {"address": "192.0.2.20", "memory_mb": 4000, "disk_gb": 100},
}}
PLANS = {"plans": {
    "community": {"memory_mb": 6000, "disk_gb": 80,
                  "variables": {"mastodon_web_concurrency": 2, "mastodon_max_threads": 5}},
    "tiny": {"memory_mb": 1000, "disk_gb": 10, "variables": {"mastodon_web_concurrency": 1}},
}}
# A co-op's members-only server (issue 13): approval sign-ups, a four-domain allowlist.
ORDER: dict[str, Any] = {
    "name": "coop",
    "domain": "coop.example.org",
    "web_domain": "social.coop.example.org",
    "admin": {"username": "alice_admin", "email": "alice@coop.example.org"},
    "plan": "community",
    "registrations": "approved",
    "email_domain_allowlist": ["coop.example.org", "members.example.net",
                               "staff.example.com", "friends.example.edu"],
    "rules": [{"text": "Be kind.", "hint": "No harassment."}, {"text": "No spam."}],
    "site": {"title": "The Co-op", "short_description": "Our members' server."},
    "placement": {"host": "big.example.net"},
}
PASSWORD = "a fleet's vault password"


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (links as their target's name), to prove nothing changed."""
    return {str(path.relative_to(root)): (path.read_bytes() if not path.is_symlink()
                                          else b"-> " + str(path.readlink()).encode())
            for path in sorted(root.rglob("*")) if path.is_file() or path.is_symlink()}
