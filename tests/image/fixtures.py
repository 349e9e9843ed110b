"""The built image for the tests: built once per session (or reused from an
earlier build of the same inputs on this machine, e.g. `make image` earlier in
the same CI run), skipped with the reason when the builders are not installed
(a failure under CI=true: tests/support/ci_skips.py).

Why a module imported by the test modules rather than a conftest: the image tests
live beside the e2e tests (they need the session's cluster), and their build is
memoised here so two modules importing the fixture share one build.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from image.build import Built, ensure_built
from image.buildah import Buildah

TOOLS = ("buildah", "mmdebstrap", "runc")


@functools.cache
def build_once() -> tuple[Built, bool, float]:
    t0 = time.monotonic()
    built, reused = ensure_built()
    return built, reused, round(time.monotonic() - t0, 1)


@pytest.fixture(scope="session")
def built_image() -> Built:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (.ci/run installs them: "
                    "apt-get install buildah mmdebstrap runc)")
    built, reused, seconds = build_once()
    how = "reused" if reused else (
        f"built (base {built.base_seconds} s, image {built.build_seconds} s)")
    print(f"\nimage {built.tag} {built.digest} {how}, {seconds} s in this session",
          file=sys.stderr)
    return built


@pytest.fixture(scope="module")
def image_rootfs(built_image: Built) -> Iterator[Path]:
    """A working container's root filesystem of the built image (read it, never write)."""
    buildah = Buildah()
    name = f"orch-image-rootfs-{os.getpid()}-{time.monotonic_ns()}"
    buildah.from_image(built_image.ref, name)
    try:
        yield buildah.mount(name)
    finally:
        buildah.remove(name)
