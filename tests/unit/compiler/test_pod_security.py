"""`compiler.pod_security` is Pod Security `restricted` as the apiserver judges it:
every pod of k8s.io/pod-security-admission's own fixtures (v0.36.3, restricted,
v1.35) gets the module's verdict and, for a refused pod, the check that refuses it
(tests/support/psa_fixtures.py); then one row per check, naming the field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from compiler.pod_security import (
    CHECKS,
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    check_restricted,
    merged,
    restricted_container,
    volume_type,
)
from tests.support.psa_fixtures import load

FIXTURES = load()
# A fixture's name is its check's ID, lowercased, and a number; a baseline check
# that a restricted one overrides is judged by the restricted one (registry.go).
OVERRIDDEN = {"capabilities_baseline": "capabilities_restricted",
              "hostpathvolumes": "restrictedvolumes", "procmount": "procmount_restricted",
              "seccompprofile_baseline": "seccompprofile_restricted"}


def _judge(pod: dict[str, Any]) -> list[Any]:
    return check_restricted(pod["spec"], {"annotations": pod["annotations"]})


@pytest.mark.parametrize("name", sorted(FIXTURES["pass"]))
def test_a_pod_restricted_admits_is_admitted(name: str) -> None:
    assert _judge(FIXTURES["pass"][name]) == []


@pytest.mark.parametrize("name", sorted(FIXTURES["fail"]))
def test_a_pod_restricted_refuses_is_refused_by_that_check(name: str) -> None:
    check = re.sub(r"\d+$", "", name)
    found = {v.check.lower() for v in _judge(FIXTURES["fail"][name])}
    assert OVERRIDDEN.get(check, check) in found  # some fail others too (privileged ones
    # cannot set allowPrivilegeEscalation=false, the apiserver's validation refuses it)


def test_the_fixtures_cover_every_check() -> None:
    found = {v.check for pod in FIXTURES["fail"].values() for v in _judge(pod)}
    assert len(found) == len(CHECKS) == 15
    assert len(FIXTURES["pass"]) >= 20 and len(FIXTURES["fail"]) >= 70


def _pod(container: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """A pod `restricted` admits, changed by `container` (its securityContext) and
    `spec` (pod fields)."""
    own = merged(RESTRICTED_CONTAINER, container)
    return {"securityContext": dict(RESTRICTED_POD),
            "containers": [{"name": "main", "image": "alpine", "securityContext": own}],
            **spec}


MAIN = ("containers", 0, "securityContext")


@pytest.mark.parametrize(("pod", "check", "path"), [
    pytest.param(_pod({"privileged": True}), "privileged", (*MAIN, "privileged"),
                 id="privileged"),
    pytest.param(_pod(hostNetwork=True), "hostNamespaces", ("hostNetwork",), id="hostNetwork"),
    pytest.param(_pod(hostPID=True), "hostNamespaces", ("hostPID",), id="hostPID"),
    pytest.param(_pod(hostIPC=True), "hostNamespaces", ("hostIPC",), id="hostIPC"),
    pytest.param(_pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
                 "restrictedVolumes", ("volumes", 0, "hostPath"), id="hostPath-volume"),
    pytest.param(_pod(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]),
                 "restrictedVolumes", ("volumes", 0, "nfs"), id="nfs-volume"),
    pytest.param(_pod(containers=[{"name": "m", "securityContext": restricted_container(None),
                                   "ports": [{"containerPort": 80, "hostPort": 80}]}]),
                 "hostPorts", ("containers", 0, "ports", 0, "hostPort"), id="hostPort"),
    pytest.param(_pod(containers=[{"name": "m", "securityContext": restricted_container(None),
                                   "livenessProbe": {"httpGet": {"host": "10.0.0.1",
                                                                 "port": 80}}}]),
                 "hostProbesAndHostLifecycle",
                 ("containers", 0, "livenessProbe", "httpGet", "host"), id="probe-host"),
    pytest.param(_pod({"capabilities": {"add": ["SYS_ADMIN"]}}), "capabilities_restricted",
                 (*MAIN, "capabilities", "add", 0), id="capability-added"),
    pytest.param(_pod({"capabilities": {"drop": ["NET_RAW"]}}), "capabilities_restricted",
                 (*MAIN, "capabilities", "drop"), id="capabilities-not-all-dropped"),
    pytest.param(_pod({"appArmorProfile": {"type": "Unconfined"}}), "appArmorProfile",
                 (*MAIN, "appArmorProfile", "type"), id="apparmor-unconfined"),
    pytest.param(_pod({"seLinuxOptions": {"type": "spc_t"}}), "seLinuxOptions",
                 (*MAIN, "seLinuxOptions", "type"), id="selinux-type"),
    pytest.param(_pod({"seLinuxOptions": {"user": "root"}}), "seLinuxOptions",
                 (*MAIN, "seLinuxOptions", "user"), id="selinux-user"),
    pytest.param(_pod({"procMount": "Unmasked"}), "procMount_restricted",
                 (*MAIN, "procMount"), id="procMount-unmasked"),
    pytest.param(_pod({"seccompProfile": {"type": "Unconfined"}}), "seccompProfile_restricted",
                 (*MAIN, "seccompProfile", "type"), id="seccomp-unconfined"),
    pytest.param({**_pod(), "securityContext": {"runAsNonRoot": True}},
                 "seccompProfile_restricted", (*MAIN, "seccompProfile"),
                 id="seccomp-unset-everywhere"),
    pytest.param({**_pod(), "securityContext": {**RESTRICTED_POD,
                                                "sysctls": [{"name": "kernel.msgmax",
                                                             "value": "1"}]}},
                 "sysctls", ("securityContext", "sysctls", 0, "name"), id="unsafe-sysctl"),
    pytest.param(_pod({"windowsOptions": {"hostProcess": True}}), "windowsHostProcess",
                 (*MAIN, "windowsOptions", "hostProcess"), id="windows-hostProcess"),
    pytest.param(_pod({"allowPrivilegeEscalation": True}), "allowPrivilegeEscalation",
                 (*MAIN, "allowPrivilegeEscalation"), id="privilege-escalation"),
    pytest.param(_pod({"runAsNonRoot": False}), "runAsNonRoot", (*MAIN, "runAsNonRoot"),
                 id="runAsNonRoot-false"),
    pytest.param(_pod({"runAsUser": 0}), "runAsUser", (*MAIN, "runAsUser"), id="root-user"),
])
def test_each_check_names_the_field(pod: dict[str, Any], check: str,
                                    path: tuple[Any, ...]) -> None:
    assert [(v.check, v.path) for v in check_restricted(pod)] == [(check, path)]


@pytest.mark.parametrize("pod", [
    pytest.param(_pod({"runAsUser": 0}, hostUsers=False), id="root-in-a-user-namespace"),
    pytest.param(_pod({"capabilities": {"add": ["NET_BIND_SERVICE"]}}),
                 id="NET_BIND_SERVICE-added"),
    pytest.param(_pod({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}),
                 id="seccomp-localhost"),
    pytest.param(_pod(volumes=[{"name": "v"}]), id="a-volume-without-source-is-an-emptyDir"),
    pytest.param({**_pod({"allowPrivilegeEscalation": None, "capabilities": None}),
                  "os": {"name": "windows"}}, id="windows-needs-no-linux-settings"),
])
def test_what_restricted_allows(pod: dict[str, Any]) -> None:
    assert check_restricted(pod) == []


def test_the_restricted_settings_meet_restricted() -> None:
    assert check_restricted(_pod()) == []
    assert RESTRICTED_POD["runAsUser"] == 65532  # contract §4: root images still start
    assert volume_type({"name": "x", "hostPath": {"path": "/"}}) == "hostPath"
