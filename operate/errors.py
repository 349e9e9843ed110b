"""How an `orch` command ends: its exit code, and the two refusals any command
may raise, each printed by `operate.cli` as one line on stderr.

Exit codes (contract §2.3, and the cluster commands' own): 0 success (warnings,
and a plan that predicts failure, included); 1 invalid input (then nothing on
stdout), and for `watch` a run that ended `Failed`; 2 usage (a bad flag, a file
that cannot be read, an unknown step, a name no object can have, an output that
cannot be written); 3 a watched run that ended `Cancelled`; 4 the cluster refused
or could not be asked.
"""

from __future__ import annotations

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_CLUSTER = 0, 1, 2, 4


class UsageError(Exception):
    """A usage problem: printed as one line, exit code 2."""


class Refused(Exception):  # noqa: N818
    """The request makes no sense for the object as it is (exit 4)."""
