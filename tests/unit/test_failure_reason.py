"""A task that hides its output (no_log) still fails with a reason an operator can act
on, never with the secret. The results below are shaped like the ones the modules
return (community.postgresql's postgresql_user message, a command's rc and stderr)."""

import importlib.util
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "plugins/filter/herd_failure.py"
spec = importlib.util.spec_from_file_location("herd_failure", PLUGIN)
failure = importlib.util.module_from_spec(spec)
spec.loader.exec_module(failure)
reason = failure.FilterModule().filters()["herd_failure_reason"]

SECRET = "s3cr#t-$pass'word-🔑-0123456789"


def test_a_stopped_server_says_what_failed_and_what_to_look_at():
    result = {"failed": True, "msg": 'unable to connect to database: connection to server on '
              'socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file or directory\n'
              "\tIs the server running locally and accepting connections on that socket?"}
    text = reason(result, [SECRET], "is postgresql@17-main running?")
    assert text.startswith("unable to connect to database")
    assert ".s.PGSQL.5432" in text
    assert "Is the server running" not in text  # first line only
    assert text.endswith("is postgresql@17-main running?")


@pytest.mark.parametrize("leak", [
    SECRET,
    f"ERROR: role creation failed for password '{SECRET}'",
    f"dsn: host=/run/postgresql password={SECRET} user=postgres",
    f"AUTH {SECRET}: WRONGPASS",
])
def test_the_secret_never_appears(leak):
    text = reason({"failed": True, "rc": 1, "stderr": leak}, [SECRET])
    assert SECRET not in text
    assert "<redacted>" in text
    assert text.startswith("rc=1; ")


def test_a_password_value_is_hidden_even_when_not_listed():
    text = reason({"msg": "could not connect: password=hunter2hunter2 host=db1"})
    assert "hunter2" not in text
    assert "host=db1" in text


def test_stderr_comes_before_the_message_and_the_reason_is_one_short_line():
    text = reason({"rc": 2, "msg": "non-zero return code", "stderr": "\n\n" + "x" * 1000})
    assert text == "rc=2; " + "x" * 300


def test_a_result_that_says_nothing_gives_the_hint_or_how_to_see_more():
    assert reason({"failed": True}, [SECRET], "look at journalctl -u redis-server") == \
        "look at journalctl -u redis-server"
    assert "herd_no_log: false" in reason(None)
