"""The dev and CI venvs are pinned (constraints.txt, used by `make install`), so a
fresh clone installs what the last `make lock` resolved, not what PyPI serves that
day: a patch release of the kubernetes client once failed a fresh clone's
`make unit`. These tests fail when a dependency is added without `make lock`, or
when the image's pins drift from the venv's."""

from __future__ import annotations

from pathlib import Path

from image import dists

REPO = Path(__file__).resolve().parents[3]
VENV_PINS = REPO / "constraints.txt"


def test_every_distribution_of_the_test_install_is_pinned() -> None:
    pins = dists.read_constraints(VENV_PINS)
    needed = dists.closure("orch", dists.installed(), extras=frozenset({"test"}))
    assert sorted(set(needed) - {"orch"} - set(pins)) == [], "run `make lock`"


def test_the_image_pins_what_the_venv_pins() -> None:
    venv = dists.read_constraints(VENV_PINS)
    image = dists.read_constraints()
    runtime = set(dists.closure("orch", dists.installed())) - {"orch"}
    assert {n: image[n] for n in runtime} == {n: venv[n] for n in runtime}, (
        "run `make lock` (it rewrites both files)")

