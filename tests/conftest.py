"""Suite-wide hooks: under `CI=true` a skip for a missing tool is a failure
(tests/support/ci_skips.py says which skips stay skips, and why)."""

import pytest

from tests.support.ci_skips import pytest_runtest_makereport

__all__ = ["pytest_collection_modifyitems", "pytest_runtest_makereport"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `scale` (tens of minutes on the real cluster) run only when the
    marker expression names them (`make e2e-scale`), never in `make test`."""
    if "scale" in (config.getoption("markexpr") or ""):
        return
    dropped = [i for i in items if i.get_closest_marker("scale") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i.get_closest_marker("scale") is None]
