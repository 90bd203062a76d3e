"""The verdict on a backup taken now (tasks/run_now.yml): did *this* run complete?

herd-backup writes its status file (scripts/herd/cli/backup.py, `_backup`) as one JSON
object: `result` (success or failure), `backup_id`, `started_at` and `finished_at`
(ISO 8601 with offset), and on failure `kind`, `exit_code` and `error`; the OnFailure=
marker (`mark-failed`) turns it into a failure and adds `unit_failed_at`, keeping the
older fields. A success is this run's only when it started at or after the moment the
caller noted on the host's clock just before starting the unit: an older success (the
unit did not run, or a run already under way was joined) is not a backup of now.
"""

from __future__ import annotations

import json
from datetime import datetime


def _instant(text: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def backup_run_verdict(status_text: object, since: str, status_file: str = "the status file",
                       unit_message: str = "") -> dict[str, object]:
    """{'ok': bool, 'backup_id': str, 'message': str} for the status file's text after a
    run that was started at `since` (the host's clock, ISO 8601 with offset)."""
    after = f"; the unit said: {unit_message}" if unit_message else ""
    try:
        status = json.loads(str(status_text or ""))
    except ValueError:
        status = None
    if not isinstance(status, dict):
        return {"ok": False, "backup_id": "",
                "message": f"herd-backup recorded no run: {status_file} is missing or not "
                           f"JSON{after}"}
    backup_id = str(status.get("backup_id") or "")
    if status.get("result") != "success":
        fields = ", ".join(f"{name} {status[name]}" for name in ("result", "kind", "exit_code")
                           if status.get(name) is not None)
        return {"ok": False, "backup_id": backup_id,
                "message": f"herd-backup did not complete a backup (backup_id "
                           f"{backup_id or 'none'}, {fields}): "
                           f"{status.get('error') or 'no reason recorded'}{after}"}
    started, began = _instant(status.get("started_at")), _instant(since)
    if began is None:
        raise ValueError(f"backup_run_verdict: since is no ISO 8601 time with offset: {since!r}")
    if started is None or started < began:
        return {"ok": False, "backup_id": backup_id,
                "message": f"{status_file} names an older backup, {backup_id} started "
                           f"{status.get('started_at')}, not one of this run (started {since}): "
                           f"the unit did not run a new backup, or a scheduled one already "
                           f"under way was joined; run again{after}"}
    if not backup_id or not status.get("finished_at"):
        return {"ok": False, "backup_id": backup_id,
                "message": f"{status_file} says success without a backup id or finish time"
                           f"{after}"}
    return {"ok": True, "backup_id": backup_id,
            "message": f"backup {backup_id} complete (started {status['started_at']}, "
                       f"finished {status['finished_at']})"}


class FilterModule:
    def filters(self):
        return {"backup_run_verdict": backup_run_verdict}
