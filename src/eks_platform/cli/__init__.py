"""The `eksp` command: flags and environment -> one use-case call -> print -> exit code.

Exit codes: 0 ok, 1 findings or a failed apply, 2 bad input. One module per group of commands; importing
them registers their commands on the one app.
"""

from __future__ import annotations

import sys

from eks_platform.cli import spec_commands  # first: their commands come first in --help

# isort: split
from eks_platform.cli import aws_commands, pilot_commands
from eks_platform.cli.common import app, err

__all__ = ["app", "aws_commands", "main", "pilot_commands", "spec_commands"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
