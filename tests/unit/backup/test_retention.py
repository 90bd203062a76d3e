"""Retention keeps the newest backup of the last N days, weeks and months, and always
the newest one."""

from datetime import UTC, datetime, timedelta

from herd.backup.manifest import Manifest, id_time, new_id, to_keep


def backup(at: datetime) -> Manifest:
    return Manifest(id=new_id(at), started_at=at.isoformat(), finished_at=at.isoformat(),
                    host="h", key_id="k", mastodon_release="4.3.2",
                    postgresql_server_version="15", database="db")


START = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
# Two backups a day for 120 days.
HISTORY = [backup(START + timedelta(hours=12 * i)) for i in range(240)]


def test_daily_keeps_the_newest_of_each_recent_day():
    kept = to_keep(HISTORY, daily=3, weekly=1, monthly=1)
    days = sorted({HISTORY[-1].finished.date() - timedelta(days=d) for d in range(3)})
    newest_per_day = {max((m for m in HISTORY if m.finished.date() == day),
                          key=lambda m: m.finished).id for day in days}
    assert newest_per_day <= kept
    assert len(kept) == 3  # the week's and month's newest is today's newest


def test_weekly_and_monthly_reach_further_back():
    kept = sorted(to_keep(HISTORY, daily=1, weekly=4, monthly=4))
    times = [id_time(i) for i in kept]
    assert len(kept) == 1 + 3 + 3
    assert min(t for t in times if t) < HISTORY[-1].finished - timedelta(days=80)


def test_newest_is_always_kept_even_with_minimal_counts():
    assert HISTORY[-1].id in to_keep(HISTORY, 1, 1, 1)
    assert to_keep([], 1, 1, 1) == set()


def test_order_of_input_does_not_matter():
    assert to_keep(list(reversed(HISTORY)), 7, 4, 6) == to_keep(HISTORY, 7, 4, 6)


def test_id_time_round_trips_and_ignores_foreign_names():
    assert id_time(new_id(START)) == START
    assert id_time("lost+found") is None
