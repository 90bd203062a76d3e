"""A manifest that cannot be read (written by another tool, a newer herd, a hand edit, or
an attacker with bucket access) is reported and skipped: list, restore, prune and backup
keep working on the other backups, and prune never deletes what it cannot read."""

import json

import pytest
from support import listed, run_cli

pytestmark = pytest.mark.integration

# Old enough that prune would treat each as a stale leftover (older than a day).
BAD = {
    "20240101T030000Z": lambda m: {**m, "finished_at": "2024-01-01T03:05:00"},  # no offset
    "20240102T030000Z": lambda m: {**m, "finished_at": ""},
    "20240103T030000Z": lambda m: {**m, "format": 2},
    "20240104T030000Z": None,  # not JSON at all
    "20240105T030000Z": lambda m: ["a", "list"],
}


def plant(client, bucket: str, prefix: str, good_id: str) -> None:
    """Copies of the good backup under older ids, each with a broken manifest."""
    good = json.loads(client.get_object(
        Bucket=bucket, Key=f"{prefix}/{good_id}/manifest.json")["Body"].read())
    names = [item["Key"].rsplit("/", 1)[1] for item in client.list_objects_v2(
        Bucket=bucket, Prefix=f"{prefix}/{good_id}/")["Contents"]]
    for backup_id, breaking in BAD.items():
        for name in names:
            if name != "manifest.json":
                client.copy_object(Bucket=bucket, Key=f"{prefix}/{backup_id}/{name}",
                                   CopySource={"Bucket": bucket,
                                               "Key": f"{prefix}/{good_id}/{name}"})
        body = (b"{\"id\": \"" + backup_id.encode() + b"\", \"format\": 1,"
                if breaking is None else
                json.dumps(breaking({**good, "id": backup_id})).encode())
        client.put_object(Bucket=bucket, Key=f"{prefix}/{backup_id}/manifest.json", Body=body)


def stored_ids(client, bucket: str, prefix: str) -> set[str]:
    pages = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/", Delimiter="/")
    return {p["Prefix"][len(prefix) + 1:].rstrip("/") for p in pages.get("CommonPrefixes", [])}


def named_each_bad_backup(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    for backup_id in BAD:
        assert backup_id in stderr, f"{backup_id} not reported: {stderr[-2000:]}"


def test_bad_manifests_are_reported_and_skipped(site, s3_target, s3_server):
    config = site.config(s3_target)
    assert run_cli(config, "backup").returncode == 0
    [good] = listed(config)
    client, bucket, prefix = s3_server.client(), s3_target["bucket"], s3_target["prefix"]
    plant(client, bucket, prefix, good["id"])

    shown = run_cli(config, "list", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [b["id"] for b in json.loads(shown.stdout)] == [good["id"]]
    named_each_bad_backup(shown.stderr)

    latest = run_cli(config, "restore", "--dry-run", "--database", "mastodon_elsewhere")
    assert latest.returncode == 0, latest.stderr
    assert f'"backup": "{good["id"]}"' in latest.stderr
    named_each_bad_backup(latest.stderr)

    pruned = run_cli(config, "prune")
    assert pruned.returncode == 0, pruned.stderr
    named_each_bad_backup(pruned.stderr)
    assert '"unknown": 5' in pruned.stderr, pruned.stderr
    assert stored_ids(client, bucket, prefix) == {good["id"], *BAD}, "prune deleted none"

    made = run_cli(config, "backup")  # prunes afterwards, like the timer's runs
    assert made.returncode == 0, made.stderr
    named_each_bad_backup(made.stderr)
    [newest] = listed(config)  # retention keeps the newest of the day
    assert newest["id"] != good["id"]
    assert set(BAD) <= stored_ids(client, bucket, prefix)


def test_restoring_a_named_unreadable_backup_says_why(site, s3_target, s3_server):
    config = site.config(s3_target)
    assert run_cli(config, "backup").returncode == 0
    [good] = listed(config)
    plant(s3_server.client(), s3_target["bucket"], s3_target["prefix"], good["id"])

    result = run_cli(config, "restore", "--backup", "20240103T030000Z", "--database",
                     "mastodon_format_two")
    assert result.returncode == 5, result.stderr
    assert "20240103T030000Z" in result.stderr and "format 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert site.pg.psql("SELECT count(*) FROM pg_database WHERE datname = "
                        "'mastodon_format_two'") == "0"
