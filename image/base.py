"""The image's base made from Debian's packages (bookworm, Python 3.11) with mmdebstrap.

Why: public base images cannot be pulled on these machines, but Debian's archive
can be reached, so the tests build the Dockerfile on two bases made here:
- `runtime`: only what `orch` needs at run time. mmdebstrap's `extract` variant
  unpacks the Python interpreter, its standard library and their dependencies,
  nothing Essential: no shell, no apt, no package manager scripts ever run
  (`debian-base-customize.sh` does what they would have: the python3 link, the
  stdlib's bytecode, root and the non-root user 65532, dpkg's status file).
- `build`: the Essential set plus python3-venv and python3-pip, for the
  Dockerfile's build stage (same interpreter, same paths, so the venv it makes
  runs on `runtime`).
Both are cached outside the repository under a key made of their inputs: the
recipe below, this module's hook script and the suite's Release date (so a point
release makes a new base, and a warm run reuses the cached one).
"""

from __future__ import annotations

import calendar
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass
from email.utils import parsedate
from pathlib import Path

from image.buildah import Buildah, BuildahError, cache_dir

HERE = Path(__file__).resolve().parent
HOOK = HERE / "debian-base-customize.sh"
MIRROR = os.environ.get("ORCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
# Paths no runtime reads: docs (copyright files kept), man pages, translations,
# glibc's iconv modules (8 MB; Python's codecs are its own).
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*",
                 "/usr/share/info/*", "/usr/share/lintian/*",
                 "/usr/lib/x86_64-linux-gnu/gconv/*")
DPKG_INCLUDES = ("/usr/share/doc/*/copyright",)
ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RECIPE_VERSION = 1  # bump when the way a base is made changes outside the data below


@dataclass(frozen=True)
class Part:
    """One base: an mmdebstrap variant and the packages given to it."""

    name: str
    variant: str
    include: tuple[str, ...]
    customize: bool  # run debian-base-customize.sh (the runtime base only)


PARTS = (
    Part("runtime", "extract", ("python3.11-minimal", "libpython3.11-stdlib", "base-files"),
         customize=True),
    Part("build", "essential", ("python3-venv", "python3-pip"), customize=False),
)


@dataclass(frozen=True)
class Base:
    """A made (or cached) base: the buildah image names the Dockerfile's
    BASE and BUILD_BASE are set to, and how it was made."""

    key: str
    runtime: str
    build: str
    release_date: str
    made_seconds: float  # 0 when it came from the cache


def release_date(suite: str = SUITE, mirror: str = MIRROR) -> str:
    """The suite's Release `Date:`: the archive state the base is made from."""
    url = f"{mirror}/dists/{suite}/InRelease"
    with urllib.request.urlopen(url, timeout=60) as resp:
        text = resp.read(65536).decode("utf-8", "replace")
    found = re.search(r"^Date: (.+)$", text, re.M)
    if not found:
        raise RuntimeError(f"{url}: no Date: line")
    return found.group(1).strip()


def epoch_of(date: str) -> int:
    parsed = parsedate(date)
    if parsed is None:
        raise ValueError(f"not an RFC 2822 date: {date!r}")
    return calendar.timegm(parsed)


def recipe(date: str) -> dict[str, object]:
    return {"version": RECIPE_VERSION, "mirror": MIRROR, "suite": SUITE, "date": date,
            "excludes": DPKG_EXCLUDES, "includes": DPKG_INCLUDES, "path": ENV_PATH,
            "parts": [asdict(p) for p in PARTS],
            "hook": hashlib.sha256(HOOK.read_bytes()).hexdigest()}


def key_of(date: str) -> str:
    text = json.dumps(recipe(date), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mmdebstrap(part: Part, date: str, out: Path, log: Path) -> None:
    argv = ["mmdebstrap", "--mode=root", f"--variant={part.variant}",
            f"--include={','.join(part.include)}", "--format=tar"]
    argv += [f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES]
    argv += [f"--dpkgopt=path-include={p}" for p in DPKG_INCLUDES]
    if part.customize:
        # The extract variant runs no essential or customize hooks: the extract hook it is.
        argv.append(f'--extract-hook={HOOK} "$1"')
    argv += [SUITE, str(out), MIRROR]
    # SOURCE_DATE_EPOCH: mmdebstrap's reproducible mode (mtimes clamped to it).
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch_of(date))}
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(argv)}\n")
        fh.flush()
        proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, env=env,
                              stdin=subprocess.DEVNULL, timeout=1800, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"mmdebstrap ({part.name}) exited {proc.returncode}:\n{tail}")


def import_tarball(buildah: Buildah, tarball: Path, name: str, epoch: int, log: Path) -> None:
    """A one-layer image `name` whose root filesystem is `tarball`."""
    container = f"orch-base-import-{os.getpid()}"
    buildah.run("from", "--name", container, "scratch", log=log)
    try:
        buildah.run("add", container, str(tarball), "/", log=log)
        buildah.run("config", "--env", f"PATH={ENV_PATH}", "--os", "linux", "--arch", "amd64",
                    "--created-by", f"mmdebstrap {SUITE} ({tarball.name})", container, log=log)
        buildah.run("commit", "--timestamp", str(epoch), "--identity-label=false",
                    "--rm", container, name, log=log)
    except BuildahError:
        buildah.remove(container)
        raise


def find_cached(root: Path) -> str | None:
    """The newest cached base of this recipe (whatever its date), for offline runs."""
    best: tuple[float, str] | None = None
    for meta in root.glob("*/base.json"):
        data = json.loads(meta.read_text())
        if data.get("recipe", {}).get("parts") == recipe("").get("parts") and (
                best is None or meta.stat().st_mtime > best[0]):
            best = (meta.stat().st_mtime, data["recipe"]["date"])
    return best[1] if best else None


def ensure_base(buildah: Buildah, log: Path) -> Base:
    """The base for this recipe and the archive's current state: reused when cached
    (tarballs and buildah images), made otherwise."""
    root = cache_dir() / "bases"
    try:
        date = release_date()
    except OSError as exc:
        cached = find_cached(root)
        if cached is None:
            raise RuntimeError(f"Debian archive unreachable ({exc}) and no base cached") from exc
        date = cached
    key = key_of(date)
    root.mkdir(parents=True, exist_ok=True)
    # One maker at a time: checkouts and CI on one machine share this cache.
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_base(buildah, root, key, date, log)


def _ensure_base(buildah: Buildah, root: Path, key: str, date: str, log: Path) -> Base:
    here = root / key
    names = {p.name: f"localhost/orch-base/{p.name}:{key}" for p in PARTS}
    t0 = time.monotonic()
    made = False
    for part in PARTS:
        tarball = here / f"{part.name}.tar"
        if not tarball.is_file():
            here.mkdir(parents=True, exist_ok=True)
            partial = tarball.with_suffix(".partial.tar")
            mmdebstrap(part, date, partial, log)
            partial.rename(tarball)
            made = True
        if not buildah.has_image(names[part.name]):
            import_tarball(buildah, tarball, names[part.name], epoch_of(date), log)
            made = True
    seconds = round(time.monotonic() - t0, 1) if made else 0.0
    meta = here / "base.json"
    if made or not meta.is_file():
        meta.write_text(json.dumps({"recipe": recipe(date), "key": key, "images": names,
                                    "made_seconds": seconds}, indent=2) + "\n")
    if made:
        drop_other_bases(buildah, root, key, log)
    return Base(key, names["runtime"], names["build"], date, seconds)


def drop_other_bases(buildah: Buildah, root: Path, key: str, log: Path) -> None:
    """Bases of other keys (an older Release, an older recipe): 600 MB each."""
    for other in root.iterdir():
        if other.is_dir() and other.name != key:
            shutil.rmtree(other, ignore_errors=True)
    listed = buildah.run("images", "--format", "{{.Name}}:{{.Tag}}")
    for image in listed.split():
        if image.startswith("localhost/orch-base/") and not image.endswith(f":{key}"):
            with contextlib.suppress(BuildahError):
                buildah.run("rmi", image, log=log)
