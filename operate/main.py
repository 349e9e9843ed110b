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

# The cluster flags every cluster command takes (operate.commands.register), each
# with a value: kubectl takes them before its subcommand too.
_CLUSTER_FLAGS = ("-n", "--namespace", "--context", "--kubeconfig")


def hoist_cluster_flags(argv: Sequence[str]) -> list[str]:
    """`-n team-b list` -> `list -n team-b`: the cluster flags written before the
    subcommand (as `kubectl -n team-b get ...` and `kubectl orch -n team-b list`
    write them) moved after it, where the subcommand's parser reads them."""
    before: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        flag = arg.split("=", 1)[0]
        if flag in _CLUSTER_FLAGS and "=" in arg:
            before.append(arg)
            i += 1
        elif arg in _CLUSTER_FLAGS and i + 1 < len(argv):
            before += [arg, argv[i + 1]]
            i += 2
        elif arg.startswith("-n") and len(arg) > 2 and not arg.startswith("--"):
            before.append(arg)  # -nteam-b
            i += 1
        else:
            break
    if not before or i >= len(argv):
        return list(argv)
    return [argv[i], *before, *argv[i + 1:]]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return compiler_main(hoist_cluster_flags(args), extensions=(register,))


if __name__ == "__main__":
    sys.exit(main())
