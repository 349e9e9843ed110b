"""buildah with the project's own storage: vfs driver, chroot isolation, in a cache
outside the repository.

Why its own storage: the machines have no container engine and no overlay-capable
storage set up; vfs needs nothing from the kernel but a filesystem, chroot
isolation needs no runtime, and a private `--root` keeps the project's images
apart from anything else on the machine (and lets a warm run find its base).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class BuildahError(RuntimeError):
    """A buildah command failed; the message holds its argv and the tail of its output."""


def cache_dir() -> Path:
    """Where bases, buildah's storage and nothing else of the project's are kept."""
    env = os.environ.get("ORCH_IMAGE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "orch-image"


def missing_tools(names: Sequence[str] = ("buildah",)) -> list[str]:
    return [n for n in names if shutil.which(n) is None]


class Buildah:
    """One buildah storage (`root`), driven through the CLI."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_dir() / "containers"

    def argv(self, *args: str) -> list[str]:
        return ["buildah", "--root", str(self.root / "storage"), "--runroot",
                str(self.root / "run"), "--storage-driver", "vfs", *args]

    def env(self) -> dict[str, str]:
        # chroot isolation for RUN steps and `buildah run` alike: no OCI runtime needed.
        return {**os.environ, "BUILDAH_ISOLATION": "chroot", "BUILDAH_LAYERS": "false"}

    def run(self, *args: str, log: Path | None = None, timeout: float = 1800) -> str:
        """Run buildah; stdout as text. Output also appended to `log` when given."""
        argv = self.argv(*args)
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env(),
                              stdin=subprocess.DEVNULL, timeout=timeout, check=False)
        if log is not None:
            with log.open("a") as out:
                out.write(f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}\n")
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise BuildahError(f"{' '.join(argv[:8])} ... exited {proc.returncode}:\n{tail}")
        return proc.stdout

    def has_image(self, name: str) -> bool:
        argv = self.argv("inspect", "--type", "image", name)
        return subprocess.run(argv, capture_output=True, env=self.env(),
                              check=False).returncode == 0

    def inspect_image(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.run("inspect", "--type", "image", name))
        return found

    def from_image(self, image: str, name: str) -> str:
        """A working container of `image` named `name` (replacing one of that name)."""
        subprocess.run(self.argv("rm", name), capture_output=True, env=self.env(), check=False)
        return self.run("from", "--pull=never", "--name", name, image).strip()

    def mount(self, container: str) -> Path:
        return Path(self.run("mount", container).strip())

    def remove(self, container: str) -> None:
        subprocess.run(self.argv("rm", container), capture_output=True, env=self.env(),
                       check=False)
