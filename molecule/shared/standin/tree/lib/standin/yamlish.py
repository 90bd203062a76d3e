"""`settings.value` read and written by Ruby's Psych, as upstream does.

Upstream's Setting#value is `YAML.safe_load(self[:value], permitted_classes:
[ActiveSupport::HashWithIndifferentAccess, Symbol]) if self[:value].present?` and
Setting#value= is `new_value.to_yaml` (app/models/setting.rb:100-106 at 1440d55b).
The stand-in asks the same library: the Ruby that runs it (found on PATH, which the
units and Bundler hand down; STANDIN_RUBY overrides), with Debian's Psych, so a value
Psych refuses (a `\\ud83d` surrogate escape, a raw DEL, a Ruby object tag) fails here
as it fails every upstream page that shows the setting.

One Ruby process per stand-in process answers JSON lines (JSON carries any string
both ways), so a request does not pay for starting Ruby.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from typing import Any

from standin.env import ContractError

# The class is Rails'; Psych only needs its name to be permitted for the tag.
_RUBY = r"""
require "json"
require "yaml"
module ActiveSupport; class HashWithIndifferentAccess < Hash; end; end
PERMITTED = [ActiveSupport::HashWithIndifferentAccess, Symbol]
STDOUT.sync = true
STDIN.each_line do |line|
  request = JSON.parse(line)
  answer =
    begin
      case request["op"]
      when "load" then {"value" => YAML.safe_load(request["text"], permitted_classes: PERMITTED)}
      when "dump" then {"value" => request["value"].to_yaml}
      end
    rescue StandardError, Psych::Exception => e
      {"error" => "#{e.class}: #{e.message}"}
    end
  puts JSON.generate(answer)
end
"""


class YamlError(ContractError):
    """Psych refused the value (upstream raises the same error on every read)."""


class _Psych:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        ruby = os.environ.get("STANDIN_RUBY") or shutil.which("ruby")
        if not ruby:
            raise ContractError("ruby is not on PATH: the stand-in reads settings with Psych")
        # Plain Psych: Bundler's RUBYOPT (-rbundler/setup) and gem paths are not needed.
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("BUNDLE_", "BUNDLER_")) and key not in ("RUBYOPT", "RUBYLIB")}
        return subprocess.Popen([ruby, "-e", _RUBY], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env)

    def ask(self, request: dict[str, Any]) -> Any:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            assert self._process.stdin and self._process.stdout
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        if not line:
            raise ContractError("the Psych helper (ruby) exited")
        answer = json.loads(line)
        if "error" in answer:
            raise YamlError(answer["error"])
        return answer["value"]


_PSYCH = _Psych()


def load(document: str | None) -> Any:
    """Setting#value: None for a blank column (`present?`), else what Psych reads."""
    if document is None or not document.strip():
        return None
    return _PSYCH.ask({"op": "load", "text": document})


def dump(value: Any) -> str:
    """Setting#value=: Ruby's `to_yaml` of a string, boolean, integer or nil."""
    return _PSYCH.ask({"op": "dump", "value": value})
