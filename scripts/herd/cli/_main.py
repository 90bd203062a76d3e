"""The one place that turns herd errors into exit codes and messages."""

import sys
from collections.abc import Callable

from herd.errors import HerdError, Interrupted


def guarded(command: Callable[[], int]) -> int:
    try:
        return command()
    except HerdError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"error: {Interrupted.__doc__}", file=sys.stderr)
        return Interrupted.exit_code
