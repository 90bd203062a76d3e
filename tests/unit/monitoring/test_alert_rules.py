"""herd's alert rules (roles/monitoring/files/herd-alerts.yml) under Prometheus' own
promtool: the file loads, and herd-alerts.test.yml fires and clears every alert on
synthetic series (promtool: the fixture in tests/conftest.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "roles/monitoring/files/herd-alerts.yml"
RULE_TESTS = Path(__file__).with_name("herd-alerts.test.yml")

EXPECTED_ALERTS = {  # the troubles of issue 14, one alert each (two for Sidekiq)
    "HerdDiskWillFillIn24Hours", "HerdSidekiqQueueLatency", "HerdSidekiqDeadJobs",
    "HerdBackupTooOld", "HerdCertificateExpiresSoon", "HerdUnitFailed",
}


def _rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = subprocess.run([promtool, "check", "rules", str(RULES)],  # noqa: S603
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(_rules()) == EXPECTED_ALERTS


def test_every_alert_fires_and_clears_on_synthetic_series(promtool: str) -> None:
    result = subprocess.run([promtool, "test", "rules", RULE_TESTS.name],  # noqa: S603
                            cwd=RULE_TESTS.parent, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    checked = [case for test in tests for case in test["alert_rule_test"]]
    for alert in EXPECTED_ALERTS:
        evaluations = [case for case in checked if case["alertname"] == alert]
        assert any(case["exp_alerts"] for case in evaluations), f"{alert} never fires"
        assert any(not case["exp_alerts"] for case in evaluations), f"{alert} never clears"


def _vars(role: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "roles" / role / "vars/main.yml").read_text())


def _installed_services() -> list[str]:
    """The .service units the backup, maintenance and tls roles install, named from the
    owning roles' vars (their one source of truth)."""
    backup = _vars("backup")
    maintenance = _vars("maintenance")
    tls = _vars("tls")
    prefix = str(maintenance["__maintenance_unit_prefix"])
    jobs = [*maintenance["__maintenance_tootctl_jobs"],
            maintenance["__maintenance_cache_cleanup_job"]]
    # A unit named by another of the role's vars ("{{ __backup_service_unit }}").
    units = [backup.get(unit.strip("{} "), unit) for unit in backup["__backup_units"]]
    services = [unit for unit in units if unit.endswith(".service")]
    for job in jobs:
        service = f"{prefix}{job['name']}.service"
        # OnFailure=<failure unit>%n.service: the template instance named after the job.
        services += [service, f"{maintenance['__maintenance_failure_unit']}{service}.service"]
    return [*services, f"{tls['__tls_renew_unit']}.service"]


def test_the_failed_unit_alert_covers_every_herd_job() -> None:
    expr = str(_rules()["HerdUnitFailed"]["expr"])
    match = re.search(r'name=~"((?:[^"\\]|\\.)*)"', expr)
    assert match, expr
    # The PromQL string literal unescaped; Prometheus anchors the regular expression.
    pattern = re.compile(match.group(1).encode().decode("unicode_escape"))
    services = _installed_services()
    assert "herd-backup.service" in services and "herd-media-remove.service" in services
    assert [unit for unit in services if not pattern.fullmatch(unit)] == []
    assert not pattern.fullmatch("nginx.service")
    assert not pattern.fullmatch("herd-backup.timer")
