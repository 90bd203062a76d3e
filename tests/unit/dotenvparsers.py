"""The two loaders of upstream's `.env.production`, for tests.

- Rails side: the stand-in's re-implementation of Ruby dotenv 3.2.0
  (molecule/shared/standin/tree/lib/standin/env.py; Debian only packages dotenv 2.4,
  whose parser differs). When HERD_DOTENV_RUBY_LIB names the `lib` folder of dotenv
  v3.2.0's source, the real parser runs too, under Debian's Ruby.
- Streaming side: npm's `dotenv` 17.4.2 itself (upstream's streaming/package.json:21,
  ^17; its yarn.lock:6950 resolves 17.4.2) under the machine's node: the package the
  stand-in's streaming server loads, unpacked as build-repo.sh unpacks it from the
  tarball tools/setup.sh fetched (molecule/shared/standin/npm-packages.txt).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

STANDIN = Path(__file__).resolve().parents[2] / "molecule/shared/standin"
sys.path.insert(0, str(STANDIN / "tree/lib"))
sys.path.insert(0, str(STANDIN))
import harness  # noqa: E402
from standin import env as standin_env  # noqa: E402


def _no_command(command: str) -> str:
    raise AssertionError(f"dotenv would run the command {command!r}")


def rails_reimplementation(text: str) -> dict[str, str]:
    """What the Rails side reads, with an empty process environment; running a
    `$(command)` is a test failure (herd never means one)."""
    return standin_env.parse_dotenv(text, environ={}, run=_no_command)


class _LineServer:
    """A long-lived interpreter answering one JSON line per JSON request line."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            encoding="utf-8", env=env)

    def ask(self, text: str) -> Any:
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps(text) + "\n")
        self._process.stdin.flush()
        return json.loads(self._process.stdout.readline())

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=10)


_NODE = r"""
const dotenv = require(process.env.DOTENV_PACKAGE);
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  process.stdout.write(JSON.stringify(dotenv.parse(JSON.parse(line))) + '\n');
});
"""

# Dotenv::Parser.call is what Dotenv.load runs on the file's text (lib/dotenv/environment.rb).
_RUBY = r"""
require "json"
require "dotenv/parser"
STDOUT.sync = true
STDIN.each_line do |line|
  answer = begin
    Dotenv::Parser.call(JSON.parse(line))
  rescue Dotenv::FormatError
    "FormatError"
  end
  puts JSON.generate(answer)
end
"""


def node_dotenv(base: Path) -> _LineServer | None:
    """npm's dotenv as the stand-in's streaming server loads it, from a checkout laid out
    under `base`; None without node."""
    node = shutil.which("node")
    if not node:
        return None
    package = harness.make_root(base) / "streaming/vendor/dotenv"
    version = json.loads((package / "package.json").read_text())["version"]
    assert version == "17.4.2", f"the stand-in's streaming runs dotenv {version}"
    return _LineServer([node, "-e", _NODE], env={**os.environ, "DOTENV_PACKAGE": str(package)})


def ruby_dotenv() -> _LineServer | None:
    lib = os.environ.get("HERD_DOTENV_RUBY_LIB")
    ruby = shutil.which("ruby")
    if not lib or not ruby:
        return None
    # An empty environment: dotenv keeps a key already in ENV (parser.rb:76-78).
    return _LineServer([ruby, "-I", lib, "-e", _RUBY], env={"PATH": os.environ["PATH"]})
