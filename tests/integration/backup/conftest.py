"""Fixtures of the backup tests; the helpers they use live in support.py."""

from support import proxy, s3_target, seeded, sftp_target, site  # noqa: F401 - fixtures
