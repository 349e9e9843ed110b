"""The pieces of tests/image/runtime.py that decide what the image test proves:
the OCI spec a kubelet would give the chart's container, and the filesystem
comparison that shows what a container wrote. Pure functions, judged by tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.image.runtime import Mount, PodSpec, oci_spec, runtime_changes, user_of

CONFIG: dict[str, Any] = {"Entrypoint": ["orch"], "Cmd": ["controller"], "User": "65532:65532",
                          "Env": ["PATH=/opt/orch/bin:/usr/bin", "PYTHONUNBUFFERED=1"]}


@pytest.mark.parametrize(("args", "argv"), [
    pytest.param(None, ["orch", "controller"], id="image-cmd"),
    pytest.param(["controller", "--leader-election-id=x"],
                 ["orch", "controller", "--leader-election-id=x"], id="pod-args-replace-cmd"),
    pytest.param([], ["orch"], id="empty-args"),
])
def test_args_replace_cmd_and_keep_the_entrypoint(args: list[str] | None,
                                                  argv: list[str]) -> None:
    spec = oci_spec(Path("/r"), CONFIG, PodSpec(args=args, env={}))
    assert spec["process"]["args"] == argv


def test_pod_env_overrides_image_env_and_security_is_the_charts() -> None:
    spec = oci_spec(Path("/r"), CONFIG, PodSpec(args=None, env={"PYTHONUNBUFFERED": "0",
                                                                "A": "b"},
                                                mounts=[Mount("/h", "/tmp", read_only=False)]))
    process = spec["process"]
    assert process["env"] == ["PATH=/opt/orch/bin:/usr/bin", "PYTHONUNBUFFERED=0", "A=b"]
    assert (process["user"]["uid"], process["user"]["gid"]) == (65532, 65532)
    assert process["noNewPrivileges"] is True
    assert all(caps == [] for caps in process["capabilities"].values())
    assert spec["root"] == {"path": "/r", "readonly": True}
    assert {"destination": "/tmp", "type": "bind", "source": "/h",
            "options": ["rbind", "rw", "nosuid", "nodev"]} in spec["mounts"]
    assert "network" not in {n["type"] for n in spec["linux"]["namespaces"]}  # host network


@pytest.mark.parametrize(("user", "ids"), [("65532:65532", (65532, 65532)), ("1000", (1000, 1000)),
                                           ("", (0, 0))], ids=["uid-gid", "uid", "unset"])
def test_user_of(user: str, ids: tuple[int, int]) -> None:
    assert user_of({"User": user}) == ids


F = (0o100644, 0, 0, 10, 1)
D = (0o40755, 0, 0, 4096, 1)


@pytest.mark.parametrize(("before", "after", "changes"), [
    pytest.param({"/a": F}, {"/a": F}, [], id="nothing"),
    pytest.param({"/a": F}, {"/a": (*F[:4], 2)}, ["/a"], id="rewritten"),
    pytest.param({"/a": F}, {"/a": F, "/opt/x.pyc": F}, ["/opt/x.pyc"], id="added"),
    pytest.param({"/a": F, "/b": F}, {"/a": F}, ["/b"], id="removed"),
    pytest.param({"/var": D}, {"/var": (*D[:4], 2), "/var/run": D, "/var/run/secrets": D},
                 [], id="mount-point-and-its-parents-are-the-runtimes"),
    pytest.param({"/var": D}, {"/var": D, "/var/log": D, "/var/log/x": F},
                 ["/var/log", "/var/log/x"], id="beside-a-mount-point-is-not"),
])
def test_runtime_changes(before: dict[str, Any], after: dict[str, Any],
                         changes: list[str]) -> None:
    assert runtime_changes(before, after, ["/var/run/secrets"]) == changes
