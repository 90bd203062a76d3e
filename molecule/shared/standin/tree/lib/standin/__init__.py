"""Test-only stand-in for Mastodon (see molecule/shared/standin/README.md in herd)."""
