"""Suite-wide hooks: under `CI=true` a skip for a missing tool is a failure
(tests/support/ci_skips.py says which skips stay skips, and why), and every
property test runs the same examples each time."""

import pytest
from hypothesis import settings

from tests.support.ci_skips import in_ci, pytest_runtest_makereport

__all__ = ["pytest_collection_modifyitems", "pytest_runtest_makereport"]

# No deadline: how fast an example runs is the benchmarks' to say, never a timed
# test's (a loaded machine is slow, not wrong). Under CI the examples are also
# derandomized and no example database is read: what passed before a submission
# is what CI runs, and a failure names an example anyone reruns as it was.
# Elsewhere each run draws new examples, and keeps the ones that failed in
# .hypothesis/ to try first next time.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", settings.get_profile("local"), derandomize=True,
                          database=None, print_blob=True)
settings.load_profile("ci" if in_ci() else "local")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `scale` (tens of minutes on the real cluster) run only when the
    marker expression names them (`make e2e-scale`), never in `make test`."""
    if "scale" in (config.getoption("markexpr") or ""):
        return
    dropped = [i for i in items if i.get_closest_marker("scale") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i.get_closest_marker("scale") is None]
