"""Under CI a test that cannot run fails; it does not skip.

Why: a tier that skips when its tool is missing (the Go tools and the cluster
they build, Graphviz's `dot`, Mermaid's parser under node, buildah, a device)
turns a broken CI machine into a green run that ran none of it. With `CI=true`
(`.ci/run` sets it; so do most CI services) every skip becomes a failure that
says what was missing, except one kind: an input from outside this repository
that a fresh clone has none of (`../shared`, the reference system), named by the
reason it skips with (`OUTSIDE_INPUTS`). A test that skips for such an input
uses one of those reasons, word for word; any other skip is a missing tool.

A pytest plugin: tests/conftest.py loads it for the suite, and a test of it
loads it with `-p tests.support.ci_skips`.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from tests.support.argo import SHARED_ABSENT
from tests.support.reference import MIRROR_ABSENT

# The reasons a test skips with when an input from outside the repository is
# absent (../shared, the reference system's mirror beside it); matched as
# substrings of the skip's reason.
OUTSIDE_INPUTS: tuple[str, ...] = (SHARED_ABSENT, MIRROR_ABSENT)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def allowed_in_ci(reason: str) -> bool:
    return any(absent in reason for absent in OUTSIDE_INPUTS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return report
    longrepr = report.longrepr
    reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
    reason = reason.removeprefix("Skipped: ")
    if not allowed_in_ci(reason):
        report.outcome = "failed"
        report.longrepr = (f"CI=true: this test would have skipped, and under CI a tool or "
                           f"tier that cannot run is a failure: {reason}")
    return report
