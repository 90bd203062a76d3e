"""The two loaders of upstream's `.env.production`, for tests.

- Rails side: the stand-in's re-implementation of Ruby dotenv 3.2.0
  (molecule/shared/standin/tree/lib/standin/env.py; Debian only packages dotenv 2.4,
  whose parser differs). When HERD_DOTENV_RUBY_LIB names the `lib` folder of dotenv
  v3.2.0's source, the real parser runs too, under Debian's Ruby.
- Streaming side: npm's `dotenv` (upstream's streaming/package.json:21, ^17; its
  yarn.lock:6950 resolves 17.4.2) under the machine's node, from the package folder
  HERD_NODE_DOTENV names (e.g. from `npm pack dotenv@17.4.2`); without it, the
  stand-in's streaming/dotenv-parse.js, which follows that release's parser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

STANDIN_TREE = Path(__file__).resolve().parents[2] / "molecule/shared/standin/tree"
STANDIN_LIB = STANDIN_TREE / "lib"
STANDIN_STREAMING_PARSER = STANDIN_TREE / "streaming/dotenv-parse.js"
sys.path.insert(0, str(STANDIN_LIB))
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
const dotenv = require(process.env.HERD_NODE_DOTENV);
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


def node_dotenv(*, real: bool = False) -> _LineServer | None:
    """npm's dotenv when HERD_NODE_DOTENV names it, else (unless real) the stand-in's."""
    package = os.environ.get("HERD_NODE_DOTENV") or ("" if real else str(STANDIN_STREAMING_PARSER))
    node = shutil.which("node")
    if not package or not node:
        return None
    return _LineServer([node, "-e", _NODE], env={**os.environ, "HERD_NODE_DOTENV": package})


def standin_streaming_dotenv() -> _LineServer | None:
    node = shutil.which("node")
    if not node:
        return None
    return _LineServer([node, "-e", _NODE],
                       env={**os.environ, "HERD_NODE_DOTENV": str(STANDIN_STREAMING_PARSER)})


def ruby_dotenv() -> _LineServer | None:
    lib = os.environ.get("HERD_DOTENV_RUBY_LIB")
    ruby = shutil.which("ruby")
    if not lib or not ruby:
        return None
    # An empty environment: dotenv keeps a key already in ENV (parser.rb:76-78).
    return _LineServer([ruby, "-I", lib, "-e", _RUBY], env={"PATH": os.environ["PATH"]})
