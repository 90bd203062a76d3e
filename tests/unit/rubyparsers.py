"""Real parsers for the values herd writes: Debian's Ruby with its Psych.

One long-lived `ruby` reads JSON requests on stdin and answers one JSON line each,
so property tests can ask hundreds of questions without starting Ruby each time.
JSON carries any string (non-BMP characters as escaped surrogate pairs, which
Ruby's JSON joins back), both ways.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

# yaml_load: what Psych (the library upstream reads `settings.value` with) makes of
# a document, or its error; to_yaml: what Ruby writes for a string (the admin UI's
# path to the same column).
_RUBY = r"""
require "json"
require "yaml"
STDOUT.sync = true
STDIN.each_line do |line|
  request = JSON.parse(line)
  answer =
    begin
      case request["op"]
      when "yaml_load" then {"value" => YAML.load(request["text"])}
      when "to_yaml" then {"value" => request["text"].to_yaml}
      end
    rescue Psych::SyntaxError, ArgumentError, EncodingError => e
      {"error" => "#{e.class}: #{e.message}"}
    end
  puts JSON.generate(answer)
end
"""


class Ruby:
    def __init__(self) -> None:
        ruby = shutil.which("ruby")
        if ruby is None:
            raise RuntimeError("ruby is missing: tools/setup.sh installs Debian's ruby")
        self._process = subprocess.Popen(
            [ruby, "-e", _RUBY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, encoding="utf-8")

    def _ask(self, op: str, text: str) -> dict[str, Any]:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps({"op": op, "text": text}) + "\n")
        self._process.stdin.flush()
        return json.loads(self._process.stdout.readline())

    def yaml_load(self, text: str) -> dict[str, Any]:
        """{"value": ...} as Psych reads the document, or {"error": "..."}."""
        return self._ask("yaml_load", text)

    def to_yaml(self, value: str) -> str:
        return self._ask("to_yaml", value)["value"]

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=10)
