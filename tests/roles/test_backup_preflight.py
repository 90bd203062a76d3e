"""roles/backup refuses bad input in its preflight (--tags preflight --check on
localhost): nothing is changed, and the message names the variable and the fix."""

import pytest
from conftest import documented_inputs, preflight_of

KEY = "bW9sZWN1bGUtYmFja3VwLXRlc3Qta2V5LTMyYnl0ZSE="
VALID = {"backup_encryption_key": KEY, "backup_s3_bucket": "b"}


preflight = preflight_of("backup", VALID)


CASES = {
    "unknown target type": ({"backup_target_type": "ftp"}, ["backup_target_type", "s3"]),
    "S3 without bucket": ({"backup_s3_bucket": ""}, ["backup_s3_bucket: required"]),
    "SFTP without host key": (
        {"backup_target_type": "sftp", "backup_sftp_host": "h", "backup_sftp_user": "u",
         "backup_sftp_private_key": "k"}, ["backup_sftp_known_hosts_line", "ssh-keyscan"]),
    "retention below one": ({"backup_keep_weekly": 0},
                            ["backup_keep_daily / backup_keep_weekly", "at least 1"]),
    "malformed key": ({"backup_encryption_key": "short"},
                      ["backup_encryption_key", "head -c 32 /dev/urandom | base64"]),
    "metrics file the exporter never reads": (
        {"backup_metrics_file": "/var/lib/prometheus/node-exporter/herd_backup.txt"},
        ["backup_metrics_file", "ending in .prom"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_before_any_change(preflight, case):
    variables, needles = CASES[case]
    result = preflight(**variables)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    for needle in needles:
        assert needle in output, output[-2000:]


def test_good_input_passes(preflight):
    result = preflight()
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]


def test_readme_defaults_and_argument_specs_list_the_same_variables(repo_root):
    assert documented_inputs(repo_root, "backup") == "consistent"
