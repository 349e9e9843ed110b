"""Suite-wide hooks: under `CI=true` a skip for a missing tool is a failure
(tests/support/ci_skips.py says which skips stay skips, and why)."""

from tests.support.ci_skips import pytest_runtest_makereport

__all__ = ["pytest_runtest_makereport"]
