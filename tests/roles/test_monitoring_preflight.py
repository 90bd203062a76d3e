"""roles/monitoring refuses bad input in its preflight (--tags preflight --check on
localhost), before any change, with a message naming the variable and the fix."""

import pytest
from conftest import changed_nothing, documented_inputs, preflight_of, refused

preflight = preflight_of("monitoring", {"monitoring_enabled": True})


def test_defaults_pass_and_change_nothing(preflight):
    result = preflight()
    assert result.returncode == 0 and changed_nothing(result), result.stdout[-3000:]


@pytest.mark.parametrize("address", ["10.0.0.5:9100", "[fd00::5]:9100", "social-1.internal:9100"])
def test_a_private_address_is_accepted(preflight, address):
    result = preflight(monitoring_node_exporter_listen_address=address)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize(("variables", "needles"), [
    ({"monitoring_node_exporter_listen_address": "9100"},
     ["monitoring_node_exporter_listen_address", "host:port"]),
    ({"monitoring_node_exporter_listen_address": "10.0.0.5:99999"},
     ["monitoring_node_exporter_listen_address", "1-65535"]),
    # Would end the systemd EnvironmentFile's quoted ARGS and add an option of its own.
    ({"monitoring_node_exporter_listen_address": '10.0.0.5:9100" --web.config.file=/tmp/x "'},
     ["monitoring_node_exporter_listen_address", "host:port"]),
    ({"monitoring_node_exporter_listen_address": "$HOST:9100"},
     ["monitoring_node_exporter_listen_address"]),
    ({"monitoring_rules_file": "etc/prometheus/herd-alerts.yml"},
     ["monitoring_rules_file", "absolute path"]),
    ({"monitoring_rules_file": "/etc/prometheus/herd-alerts.txt"},
     ["monitoring_rules_file", ".yml or .yaml"]),
    ({"monitoring_enabled": "sometimes"}, ["monitoring_enabled"]),
])
def test_bad_input_is_refused_naming_the_variable(preflight, variables, needles):
    result = preflight(**variables)
    assert refused(result, *needles), (result.stdout + result.stderr)[-3000:]


def test_inputs_are_documented(repo_root):
    assert documented_inputs(repo_root, "monitoring") == "consistent"
