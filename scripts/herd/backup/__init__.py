"""herd's backups: streamed, encrypted, checksummed, and restorable.

Layout of one backup under the target's prefix::

    <prefix>/<backup-id>/<part>...       encrypted parts, written first
    <prefix>/<backup-id>/manifest.json   written last; a backup without it is incomplete
"""
