"""Drift drills: an operator re-runs herd, unchanged, to put a drifted data tier back.

From the converged hosts, each drill breaks PostgreSQL and Redis the way a host
drifts (a stopped service, a hand-edited file, a deleted file, a killed main
process); the converge playbook then runs again as it is. It must succeed and change
something, the host must be back as it was before the drill (files byte for byte,
the services answering), and the next run must change nothing. Drills that one run
can repair together share that run (each converge costs tens of seconds).

What "as it was" means is read from the converged host itself before the drill; the
cluster's version and paths come from pg_lsclusters, the password from the inventory.
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCENARIO.parent / "shared"))
from herd_rerun import converge, recap  # noqa: E402

MOLECULE = yaml.safe_load((SCENARIO / "molecule.yml").read_text())
HOSTS = [platform["name"] for platform in MOLECULE["platforms"]]
REDIS_PASSWORD = MOLECULE["provisioner"]["inventory"]["group_vars"]["all"]["redis_password"]
REDIS_CONF = "/etc/redis/redis.conf"  # Debian's redis-server package
REDIS_UNIT = "redis-server.service"


def on(host: str, command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", "exec", host, "sh", "-c", command], capture_output=True,
                          text=True, check=check, timeout=120)


def cluster(host: str) -> dict[str, str]:
    """The one cluster Debian's pg_lsclusters reports: its unit and managed files."""
    version, name, *_ = on(host, "pg_lsclusters -h").stdout.split()
    conf = f"/etc/postgresql/{version}/{name}"
    return {"unit": f"postgresql@{version}-{name}.service", "hba": f"{conf}/pg_hba.conf",
            "reload_conf": f"{conf}/conf.d/20-herd-reload.conf"}


def read(host: str, path: str) -> str:
    return on(host, f"cat '{path}'").stdout


def active(host: str, unit: str) -> bool:
    return on(host, f"systemctl is-active {unit}", check=False).stdout.strip() == "active"


def pg_answers(host: str, query: str = "SELECT 1") -> str:
    return on(host, f"runuser -u postgres -- psql -XAtc \"{query}\"").stdout.strip()


def redis(host: str, *args: str) -> str:
    return on(host, f"REDISCLI_AUTH='{REDIS_PASSWORD}' redis-cli {' '.join(args)}",
              check=False).stdout.strip()


def kill_main_process(host: str, unit: str) -> None:
    pid = on(host, f"systemctl show -p MainPID --value {unit}").stdout.strip()
    assert pid not in ("", "0"), f"{unit} has no main process on {host}"
    on(host, f"kill -KILL {pid}")
    for _ in range(50):  # until systemd has seen it die (Redis' unit restarts it)
        if on(host, f"systemctl show -p MainPID --value {unit}").stdout.strip() != pid:
            return
        time.sleep(0.2)
    raise AssertionError(f"{unit}'s main process {pid} survived SIGKILL on {host}")


def rerun_repairs() -> None:
    result = converge(SCENARIO)
    counts = recap(result)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for host in HOSTS:
        assert counts[host]["failed"] == 0, result.stdout[-4000:]
        assert counts[host]["changed"] > 0, f"{host}: the re-run repaired nothing: {counts[host]}"


@pytest.fixture(scope="module")
def before() -> dict[str, dict[str, str]]:
    """What the converged hosts look like, read before any drill."""
    state = {}
    for host in HOSTS:
        pg = cluster(host)
        assert active(host, pg["unit"]) and active(host, REDIS_UNIT)
        state[host] = {**pg, "hba_text": read(host, pg["hba"]),
                       "reload_text": read(host, pg["reload_conf"]),
                       "work_mem": pg_answers(host, "SHOW work_mem"),
                       "redis_text": read(host, REDIS_CONF),
                       "policy": redis(host, "CONFIG", "GET", "maxmemory-policy")}
    return state


def test_stopped_services_and_edited_or_deleted_files_are_repaired(before):
    for host, was in before.items():
        on(host, f"systemctl stop {was['unit']} {REDIS_UNIT}")
        on(host, f"sed -i 's/^work_mem = .*/work_mem = 1MB/' '{was['reload_conf']}'")
        assert read(host, was["reload_conf"]) != was["reload_text"]
        on(host, f"rm '{was['hba']}' '{REDIS_CONF}'")
    rerun_repairs()
    for host, was in before.items():
        assert active(host, was["unit"]), f"{host}: PostgreSQL still down"
        assert pg_answers(host, "SHOW work_mem") == was["work_mem"]
        assert read(host, was["reload_conf"]) == was["reload_text"]
        assert read(host, was["hba"]) == was["hba_text"]
        assert active(host, REDIS_UNIT), f"{host}: Redis still down"
        assert read(host, REDIS_CONF) == was["redis_text"]
        assert redis(host, "PING") == "PONG"


def test_killed_main_processes_and_an_edited_redis_conf_are_repaired(before):
    for host, was in before.items():
        on(host, f"sed -i 's/^maxmemory-policy .*/maxmemory-policy allkeys-lru/' {REDIS_CONF}")
        assert read(host, REDIS_CONF) != was["redis_text"]
        kill_main_process(host, was["unit"])
        kill_main_process(host, REDIS_UNIT)
    rerun_repairs()
    for host, was in before.items():
        assert active(host, was["unit"]), f"{host}: PostgreSQL still down after SIGKILL"
        assert pg_answers(host) == "1"
        assert read(host, REDIS_CONF) == was["redis_text"]
        assert redis(host, "CONFIG", "GET", "maxmemory-policy") == was["policy"]


def test_the_run_after_a_repair_changes_nothing(before):
    result = converge(SCENARIO)
    assert result.returncode == 0, result.stdout[-4000:]
    changed = {host: counts["changed"] for host, counts in recap(result).items()}
    assert changed == dict.fromkeys(HOSTS, 0)
