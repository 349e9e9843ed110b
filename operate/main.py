"""The `orch` and `kubectl-orch` executables: the compiler's commands
(`compiler.cli`) plus the cluster commands (`operate.commands`).

Why the entry point is here: `compiler` must not know that a cluster exists
(.importlinter), so the one place that sees both halves is this outer layer.
Registering the cluster commands costs no import of cluster code; each command
loads what it needs when it runs, and `orch compile` keeps its start-up time.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from compiler.cli import main as compiler_main
from operate.commands import register


def main(argv: Sequence[str] | None = None) -> int:
    return compiler_main(argv, extensions=(register,))


if __name__ == "__main__":
    sys.exit(main())
