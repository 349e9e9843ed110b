"""The controller image, built with buildah (`make image`'s code) and judged from
what it holds and how its entrypoint runs, not from the Dockerfile's text.

Why each part:
- the chart pulls `repository:appVersion`; the image must carry that name, the
  chart's user, an entrypoint that needs no shell, and the OCI labels;
- it must hold only the runtime distributions (no test tools, no pip) and no
  shell, compiler or package installer, within the size budget;
- every Python file must have bytecode that needs no source mtime: with a
  read-only root, Python cannot write __pycache__ and would recompile on every start;
- the entrypoint runs (`orch --version`, `orch compile`) as the image's user with
  a read-only root, the way the chart's pod runs it;
- a second build of the same inputs gives the same digest.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from image import dists
from image.build import REPO, Built, build, chart_image, project_version
from image.buildah import Buildah
from tests.image.fixtures import built_image, image_rootfs
from tests.image.runtime import Container, Mount, PodSpec, image_config, stop_quietly

pytestmark = [pytest.mark.e2e, pytest.mark.image]
__all__ = ["built_image", "image_rootfs"]  # fixtures, imported to be found by pytest

SITE = "opt/orch/lib/python3.11/site-packages"
STDLIB = "usr/lib/python3.11"
SIZE_BUDGET = 150_000_000  # bytes, uncompressed
# kubernetes' requirements the Dockerfile removes with kubernetes/aio (its asyncio client).
MAGIC_311 = (3495).to_bytes(2, "little") + b"\r\n"  # Lib/importlib/_bootstrap_external.py
DROPPED = {("kubernetes", "aiohttp"), ("kubernetes", "aiohttp-retry")}


def chart_pod_security() -> dict[str, int]:
    template = (REPO / "charts" / "orch" / "templates" / "deployment.yaml").read_text()
    found = re.search(r"^      securityContext:\n((?:        .*\n)+)", template, flags=re.M)
    assert found is not None
    context: dict[str, int] = yaml.safe_load(found.group(1))
    return context


def test_name_labels_user_and_entrypoint(built_image: Built) -> None:
    config = image_config(Buildah(), built_image.ref)
    assert built_image.tag == chart_image() == f"ghcr.io/proompteng/orch:{project_version()}"
    pod = chart_pod_security()
    assert config["User"] == f"{pod['runAsUser']}:{pod['runAsGroup']}" == "65532:65532"
    assert (config["Entrypoint"], config["Cmd"]) == (["orch"], ["controller"])
    labels = config["Labels"]
    created = datetime.fromtimestamp(built_image.epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {k: labels.get(f"org.opencontainers.image.{k}") for k in (
        "title", "source", "version", "licenses", "revision", "created")} == {
        "title": "orch", "source": "https://github.com/proompteng/orch",
        "version": project_version(), "licenses": "Apache-2.0",
        "revision": built_image.revision, "created": created}
    assert "io.buildah.version" not in labels  # the builder's version is not in the digest
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"].split(":")[0] == "/opt/orch/bin"


def test_size_is_within_budget(built_image: Built) -> None:
    assert len(built_image.layers) == 2  # the base, then /opt/orch
    assert built_image.size_bytes < SIZE_BUDGET, f"{built_image.size_bytes / 1e6:.1f} MB"


def test_holds_only_the_runtime_distributions(image_rootfs: Path) -> None:
    installed = dists.installed(image_rootfs / SITE)
    needed = dists.closure("orch", installed, ignore=DROPPED)
    assert sorted(installed) == sorted(needed)  # nothing left over, nothing missing
    assert {"pip", "setuptools", "wheel", "pytest", "mypy", "hypothesis"}.isdisjoint(installed)
    assert not (image_rootfs / SITE / "kubernetes" / "aio").exists()


def test_no_shell_compiler_or_installer(image_rootfs: Path) -> None:
    present = [p for p in ("bin/sh", "bin/bash", "bin/dash", "usr/bin/sh", "usr/bin/gcc",
                           "usr/bin/cc", "usr/bin/c++", "usr/bin/ld", "usr/bin/make",
                           "usr/bin/apt", "usr/bin/apt-get", "usr/bin/pip", "usr/bin/pip3",
                           "opt/orch/bin/pip", "usr/lib/python3.11/ensurepip")
               if (image_rootfs / p).exists() or (image_rootfs / p).is_symlink()]
    assert present == []


def test_every_python_file_has_hash_based_bytecode(image_rootfs: Path) -> None:
    """unchecked-hash .pyc (PEP 552 flags 0b01) beside every .py, for this interpreter."""
    missing, stale = [], []
    for top in (SITE, STDLIB):
        for source in (image_rootfs / top).rglob("*.py"):
            pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-311.pyc"
            if not pyc.is_file():
                missing.append(str(source.relative_to(image_rootfs)))
                continue
            head = pyc.read_bytes()[:8]
            if head[:4] != MAGIC_311 or int.from_bytes(head[4:], "little") != 1:
                stale.append(str(pyc.relative_to(image_rootfs)))
    assert (missing[:10], stale[:10]) == ([], [])


def test_entrypoint_runs_the_cli_read_only_as_the_image_user(
        built_image: Built, tmp_path: Path) -> None:
    golden = REPO / "golden" / "valid"
    container: Container | None = None
    try:  # one working container, three runs: the root is read-only, nothing changes
        container = Container(Buildah(), built_image.ref, f"orch-cli-{os.getpid()}", tmp_path)
        code, out = container.run(PodSpec(args=["--version"], env={}))
        assert (code, out) == (0, f"orch {project_version()}\n")
        code, out = container.run(PodSpec(args=["compile", "/in/diamond.yaml"], env={},
                                          mounts=[Mount(str(golden), "/in")]))
        assert code == 0, out
        assert out == (golden / "diamond.argo.yaml").read_text()
        code, out = container.run(PodSpec(args=["controller", "--help"], env={}))
        assert code == 0 and "orch controller" in out, out  # exec'ed python -m controller
    finally:
        stop_quietly(container)


def test_a_second_build_gives_the_same_digest(built_image: Built, tmp_path: Path) -> None:
    """The same inputs built again, without any cache: the same image digest. On a
    difference, the layers say where (diff ids are those of the uncompressed tars)."""
    again = build(out=tmp_path)
    assert again.layers == built_image.layers
    assert again.digest == built_image.digest
