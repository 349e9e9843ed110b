"""A container of the built image, run the way a kubelet runs the chart's pod.

Why runc: it is the OCI runtime under containerd, so the process gets what the
chart's securityContext asks for from the same mechanism a cluster uses: the
image's root filesystem read-only (`readOnlyRootFilesystem`), an emptyDir-like
/tmp, the image's user (the chart's runAsUser/runAsGroup), no capabilities,
`no_new_privs` (allowPrivilegeEscalation false), its own PID namespace with the
controller as PID 1, and the ServiceAccount token at its in-cluster path. The
host network is shared (the cluster's apiserver is on 127.0.0.1), so the pod's
KUBERNETES_SERVICE_HOST is 127.0.0.1.

What runs is taken from the image's config, as a kubelet takes it: ENTRYPOINT,
with the Deployment's `args` replacing CMD; the image's Env, then the container's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from image.buildah import Buildah

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
HOST_FILES = ("/etc/resolv.conf", "/etc/hosts")  # what a kubelet bind-mounts


@dataclass(frozen=True)
class Mount:
    source: str
    destination: str
    read_only: bool = True


@dataclass
class PodSpec:
    """The parts of a pod's container that decide how the process is started."""

    args: Sequence[str] | None  # None: the image's CMD
    env: Mapping[str, str]
    read_only_root: bool = True
    mounts: list[Mount] = field(default_factory=list)


def image_config(buildah: Buildah, image: str) -> dict[str, Any]:
    """The OCI image config's `config` (Entrypoint, Cmd, Env, User, Labels...)."""
    found: dict[str, Any] = buildah.inspect_image(image)["OCIv1"]["config"]
    return found


def user_of(config: Mapping[str, Any]) -> tuple[int, int]:
    uid, _, gid = str(config.get("User") or "0").partition(":")
    return int(uid), int(gid or uid)


def oci_spec(rootfs: Path, config: Mapping[str, Any], pod: PodSpec) -> dict[str, Any]:
    uid, gid = user_of(config)
    env = dict(e.split("=", 1) for e in config.get("Env") or ())
    env.update(pod.env)
    cmd = (config.get("Cmd") or []) if pod.args is None else list(pod.args)
    args = [*(config.get("Entrypoint") or []), *cmd]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]
    for m in [*(Mount(f, f) for f in HOST_FILES), *pod.mounts]:
        mounts.append({"destination": m.destination, "type": "bind", "source": m.source,
                       "options": ["rbind", "ro" if m.read_only else "rw", "nosuid", "nodev"]})
    return {
        "ociVersion": "1.0.2",
        "root": {"path": str(rootfs), "readonly": pod.read_only_root},
        "process": {
            "terminal": False, "user": {"uid": uid, "gid": gid, "additionalGids": []},
            "args": args, "env": [f"{k}={v}" for k, v in env.items()],
            "cwd": config.get("WorkingDir") or "/", "noNewPrivileges": True,
            "capabilities": {k: [] for k in ("bounding", "effective", "inheritable",
                                             "permitted", "ambient")},
        },
        "hostname": "orch-image-test",
        "mounts": mounts,
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


class Container:
    """One container of `image`: its own working copy of the image's root
    filesystem (a buildah container), an OCI bundle, and `runc run` in the
    foreground (runc forwards signals to the process and exits with its status)."""

    def __init__(self, buildah: Buildah, image: str, name: str, work: Path) -> None:
        self.buildah, self.image, self.name, self.work = buildah, image, name, work
        self.config = image_config(buildah, image)
        work.mkdir(parents=True, exist_ok=True)
        self.bundle = work / "bundle"
        self.bundle.mkdir(exist_ok=True)
        self.state = work / "runc"
        self.log = work / "container.log"
        self.working = buildah.from_image(image, name)
        self.rootfs = buildah.mount(self.working)
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, pod: PodSpec) -> Container:
        spec = oci_spec(self.rootfs, self.config, pod)
        (self.bundle / "config.json").write_text(json.dumps(spec, indent=1))
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                ["runc", "--root", str(self.state), "run", "--bundle", str(self.bundle),
                 self.name], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def run(self, pod: PodSpec, timeout: float = 60) -> tuple[int, str]:
        """Run to completion: exit status and output."""
        self.log.write_bytes(b"")
        self.start(pod)
        assert self.popen is not None
        code = self.popen.wait(timeout)
        return code, self.log.read_text(errors="replace")

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as a kubelet stopping the pod sends it; the exit status."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def remove(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            subprocess.run(["runc", "--root", str(self.state), "kill", self.name, "KILL"],
                           capture_output=True, check=False)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(10)
        subprocess.run(["runc", "--root", str(self.state), "delete", "--force", self.name],
                       capture_output=True, check=False)
        self.buildah.remove(self.working)


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


def tree(root: Path, skip: Sequence[str] = ()) -> dict[str, tuple[int, int, int, int, int]]:
    """path -> (mode, uid, gid, size, mtime_ns) of everything under `root`, not
    following symlinks and not descending into `skip` (paths inside the root)."""
    out: dict[str, tuple[int, int, int, int, int]] = {}
    skipped = {root / s.lstrip("/") for s in skip}
    for top, dirs, files in os.walk(root):
        here = Path(top)
        dirs[:] = [d for d in dirs if here / d not in skipped]
        for name in [*dirs, *files]:
            path = here / name
            st = path.lstat()
            out["/" + path.relative_to(root).as_posix()] = (
                st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    return out


def runtime_changes(before: Mapping[str, Any], after: Mapping[str, Any],
                    mounts: Sequence[str]) -> list[str]:
    """Paths added, removed or changed, less the runtime's own work: mount points
    (and their parent directories, whose mtimes change when one is created)."""
    runtime: set[str] = set()
    for m in mounts:
        parts = m.strip("/").split("/")
        runtime |= {"/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)}
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    return sorted(p for p in changed if p not in runtime)


def stop_quietly(container: Container | None) -> None:
    if container is not None:
        with contextlib.suppress(Exception):
            container.remove()


def signal_name(code: int) -> str:
    return signal.Signals(-code).name if code < 0 else str(code)
