"""`make image`: the Dockerfile built with buildah into an OCI archive, reproducibly.

Why these choices:
- SOURCE_DATE_EPOCH is the commit's time and buildah's `--timestamp` is set to it:
  buildah then writes every file of a new layer with that mtime and dates the
  config and history with it, so the digest depends only on the inputs.
- `--identity-label=false`: no `io.buildah.version` label, so the builder's
  version is not part of the digest.
- `--layers=false`: no intermediate images. With vfs storage every cached step
  is a full copy of the root filesystem (a build took 80 s with layers, 20 s
  without), and the history of a layered build names intermediate image ids
  (`FROM 3e481342a782`), so the two modes give different config digests.
- Python dependencies are pinned (image/constraints.txt, via PIP_CONSTRAINT),
  bytecode is `unchecked-hash` (no source mtime inside .pyc files).
- The result is reused within one machine when nothing that goes into it changed
  (`inputs` below): the tests build once per commit per CI run.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from image.base import Base, ensure_base
from image.buildah import Buildah, BuildahError

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "build" / "image"
DEBIAN = "debian"  # the base made by image/base.py
OFFICIAL = "python:3.11-slim"  # the Dockerfile's default
# What the Dockerfile COPYs, and what decides how: a change to any is a new image.
INPUTS = ("Dockerfile", "pyproject.toml", "README.md", "image/constraints.txt",
          "orchapi", "compiler", "controller", "operate")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class Built:
    """One build: where its archive is, its digest, and what it cost."""

    tag: str  # the chart's name for it (moved by every build on this machine)
    ref: str  # this build's own name in buildah's storage (see local_ref)
    digest: str  # the image manifest's digest (what a registry would show)
    archive: str
    base: str
    inputs: str
    epoch: int
    revision: str
    size_bytes: int  # uncompressed: the sum of the layers' tar sizes
    layers: list[str]  # diff ids, base first
    base_seconds: float
    build_seconds: float


def chart_image() -> str:
    """`repository:appVersion`: what the chart's default values pull."""
    chart = yaml.safe_load((REPO / "charts" / "orch" / "Chart.yaml").read_text())
    values = yaml.safe_load((REPO / "charts" / "orch" / "values.yaml").read_text())
    return f"{values['image']['repository']}:{chart['appVersion']}"


def project_version() -> str:
    import tomllib

    with (REPO / "pyproject.toml").open("rb") as fh:
        version: str = tomllib.load(fh)["project"]["version"]
    return version


def local_ref(inputs: str) -> str:
    """A name for one build of one checkout: the chart's tag is shared by every
    checkout on a machine (the last build wins), so tests refer to this one, and
    pruning never removes another checkout's build."""
    checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    return f"localhost/orch-build/{checkout}:{inputs[:16]}"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()


def source_date_epoch() -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH")
    return int(env) if env else int(git("log", "-1", "--format=%ct"))


def inputs_digest(*extra: str) -> str:
    """sha256 over the files the build reads (names and bytes) and `extra`."""
    h = hashlib.sha256()
    for top in INPUTS:
        path = REPO / top
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and "__pycache__" not in p.parts) if path.is_dir() else [path]
        for f in files:
            h.update(f.relative_to(REPO).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    for e in extra:
        h.update(e.encode() + b"\0")
    return h.hexdigest()


def layer_sizes(archive: Path) -> tuple[list[str], int]:
    """Diff ids and total uncompressed size of the image in an OCI archive."""
    with tarfile.open(archive) as tar:
        def blob(digest: str) -> bytes:
            member = tar.extractfile(f"blobs/sha256/{digest.split(':', 1)[1]}")
            assert member is not None
            return member.read()
        index = json.loads(blob_index(tar))
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        size = 0
        for layer in manifest["layers"]:
            data = blob(layer["digest"])
            size += len(gzip.decompress(data) if "gzip" in layer["mediaType"] else data)
    return list(config["rootfs"]["diff_ids"]), size


def blob_index(tar: tarfile.TarFile) -> bytes:
    member = tar.extractfile("index.json")
    assert member is not None
    return member.read()


def base_args(base: str, buildah: Buildah, log: Path) -> tuple[list[str], Base | None]:
    if base != DEBIAN:
        return ["--build-arg", f"BASE={base}"], None
    made = ensure_base(buildah, log)
    return ["--build-arg", f"BASE={made.runtime}", "--build-arg",
            f"BUILD_BASE={made.build}", "--pull=never"], made


def build(base: str = DEBIAN, out: Path = OUT, buildah: Buildah | None = None) -> Built:
    """Build the Dockerfile on `base` ("debian" or an image reference) into
    `out/orch-<version>.oci.tar` and record the result in `out/build.json`."""
    buildah = buildah or Buildah()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "build.log"
    log.write_text("")
    t0 = time.monotonic()
    args, made = base_args(base, buildah, log)
    t1 = time.monotonic()
    tag, version, epoch = chart_image(), project_version(), source_date_epoch()
    revision = git("rev-parse", "HEAD")
    created = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {"org.opencontainers.image.revision": revision,
              "org.opencontainers.image.created": created,
              "org.opencontainers.image.base.name": made.runtime if made else base}
    volumes = ["-v", f"{HOST_CA}:{HOST_CA}:ro"] if HOST_CA.is_file() else []
    inputs = inputs_digest(base, made.key if made else "", str(epoch), revision)
    ref = local_ref(inputs)
    earlier = [i for i in buildah.run("images", "--format", "{{.Name}}:{{.Tag}}").split()
               if i.startswith(ref.rsplit(":", 1)[0] + ":") and i != ref]
    buildah.run("bud", "--isolation", "chroot", "--timestamp", str(epoch),
                "--identity-label=false", "--layers=false", *args,
                "--build-arg", f"VERSION={version}",
                "--build-arg", f"SOURCE_DATE_EPOCH={epoch}",
                *[x for k, v in labels.items() for x in ("--label", f"{k}={v}")],
                *volumes, "-f", str(REPO / "Dockerfile"), "-t", tag, "-t", ref, str(REPO),
                log=log)
    # This checkout's earlier builds, then whatever no name holds any more (140 MB
    # each on vfs). An image still used by a working container stays: no failure.
    for image in earlier:
        with contextlib.suppress(BuildahError):
            buildah.run("rmi", image, log=log)
    with contextlib.suppress(BuildahError):
        buildah.run("rmi", "--prune", log=log)
    archive = out / f"orch-{version}.oci.tar"
    digestfile = out / "digest"
    archive.unlink(missing_ok=True)
    buildah.run("push", "--digestfile", str(digestfile), ref,
                f"oci-archive:{archive}:{tag}", log=log)
    layers, size = layer_sizes(archive)
    built = Built(tag=tag, ref=ref, digest=digestfile.read_text().strip(),
                  archive=str(archive), base=made.runtime if made else base, inputs=inputs,
                  epoch=epoch, revision=revision, size_bytes=size, layers=layers,
                  base_seconds=round(t1 - t0, 1), build_seconds=round(time.monotonic() - t1, 1))
    (out / "build.json").write_text(json.dumps(asdict(built), indent=2) + "\n")
    return built


def load(out: Path = OUT) -> Built | None:
    try:
        data: dict[str, Any] = json.loads((out / "build.json").read_text())
        return Built(**data)
    except (OSError, ValueError, TypeError):
        return None


def ensure_built(out: Path = OUT, buildah: Buildah | None = None) -> tuple[Built, bool]:
    """The Debian-based image of the working tree: the recorded build when its
    inputs are unchanged (and its archive and image still exist), else a new
    build. Also says whether it was reused."""
    buildah = buildah or Buildah()
    last = load(out)
    if last is not None and Path(last.archive).is_file() and buildah.has_image(last.ref):
        key = last.base.rsplit(":", 1)[-1]
        if last.inputs == inputs_digest(DEBIAN, key, str(source_date_epoch()),
                                        git("rev-parse", "HEAD")) \
                and buildah.has_image(last.base):
            return last, True
    return build(DEBIAN, out, buildah=buildah), False


def tools_missing() -> list[str]:
    return [t for t in ("buildah", "mmdebstrap") if shutil.which(t) is None]
