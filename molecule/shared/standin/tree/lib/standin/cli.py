"""Entry point the Ruby stubs exec: `python3 lib/standin/cli.py PROGRAM ARGS...`."""

from __future__ import annotations

import sys
from pathlib import Path

# Make `standin` importable however the file is started (the stubs run it as a script).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROGRAMS = ("web", "sidekiq", "rails", "tootctl", "prometheus_exporter")


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in PROGRAMS:
        print(f"usage: cli.py {{{'|'.join(PROGRAMS)}}} ARGS...", file=sys.stderr)
        return 2
    program, argv = sys.argv[1], sys.argv[2:]
    if program == "web":
        from standin import web

        return web.main(argv)
    if program == "sidekiq":
        from standin import sidekiq

        return sidekiq.main(argv)
    if program == "prometheus_exporter":
        from standin import exporter

        return exporter.main(argv)
    if program == "rails":
        from standin import rails_tasks

        return rails_tasks.main(argv)
    from standin import tootctl

    return tootctl.main(argv)


if __name__ == "__main__":
    sys.exit(main())
