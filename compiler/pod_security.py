"""Pod Security `restricted`, as the apiserver's admission judges a pod, and the
settings that meet it (contract §4).

Why a port and not a list of settings: a step may set its own securityContext
and volumes, and what it asks must be refused before submission exactly when
the namespace's Pod Security admission would refuse the pod (`compiler.podpolicy`
judges a step by running these checks on the pod the step would get). The
checks are those of k8s.io/pod-security-admission v0.36.3 (`policy/check_*.go`,
the module the test cluster's kube-apiserver 1.36.3 is built with), at the
`restricted` level, version `latest`: every baseline check plus the
restricted ones, with the restricted check replacing the baseline one it
overrides (`OverrideCheckIDs`: capabilities, hostPath/volumes, procMount,
seccomp). Each check here names its file.

A check returns `Violation`s, one per offending field (the Go code returns one
message per check): where the field is in the pod spec (`containers[0]...`),
what it holds (None when it is missing but required) and why. A pod is admitted
when there are none.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

Pod = Mapping[str, Any]  # a PodSpec as JSON (camelCase keys)
Path = tuple[str | int, ...]

# The settings that meet `restricted` (compiler.pods puts them on every pod):
# pod level, then container level. `runAsUser` 65532 comes with `runAsNonRoot`,
# so an image built to run as root still starts (the kubelet refuses to start a
# root image's container under runAsNonRoot without a runAsUser); a container's
# own runAsUser wins over the pod's.
NON_ROOT_USER: Final = 65532
RESTRICTED_POD: Final[Mapping[str, Any]] = {
    "runAsNonRoot": True,
    "runAsUser": NON_ROOT_USER,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER: Final[Mapping[str, Any]] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def merged(defaults: Mapping[str, Any], own: Mapping[str, Any] | None) -> dict[str, Any]:
    """`defaults` under `own`: a step's own setting wins, key by key; mappings
    merge (its `capabilities.add` joins the default `drop`), lists are replaced."""
    out = copy.deepcopy(dict(defaults))
    for key, value in (own or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def restricted_container(own: Mapping[str, Any] | None) -> dict[str, Any]:
    """A container's securityContext under `restricted`: the step's own over the
    restricted settings (`compiler.podpolicy` refuses what of its own breaks them)."""
    return merged(RESTRICTED_CONTAINER, own)


@dataclass(frozen=True)
class Violation:
    check: str  # the PSA check ID (`privileged`, `runAsNonRoot`, ...)
    path: Path  # inside the pod spec
    value: Any  # what the field holds; None when missing but required
    detail: str  # what `restricted` requires there


CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")  # visitor.go order


def _containers(pod: Pod) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    for field in CONTAINER_LISTS:
        for i, container in enumerate(pod.get(field) or ()):
            yield (field, i), container


def _sc(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return container.get("securityContext") or {}


def _is_windows(pod: Pod) -> bool:
    return (pod.get("os") or {}).get("name") == "windows"


def _user_namespaced(pod: Pod) -> bool:
    """helpers.go relaxPolicyForUserNamespacePod (1.35+): `hostUsers: false`."""
    return pod.get("hostUsers") is False


SC = ("securityContext",)


def privileged(pod: Pod) -> Iterator[Violation]:
    """check_privileged.go"""
    for where, c in _containers(pod):
        if _sc(c).get("privileged") is True:
            yield Violation("privileged", (*where, *SC, "privileged"), True,
                            "must not set securityContext.privileged=true")


def host_namespaces(pod: Pod) -> Iterator[Violation]:
    """check_hostNamespaces.go"""
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key) is True:
            yield Violation("hostNamespaces", (key,), True, f"must not set {key}=true")


# check_restrictedVolumes.go: the inline volume sources `restricted` allows.
PSA_VOLUME_TYPES: Final = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret"})


def volume_type(volume: Mapping[str, Any]) -> str:
    """The source a volume names (`hostPath`, `emptyDir`, ...). A volume naming
    none is an emptyDir: the apiserver defaults it so before admission judges the
    pod (k8s.io/kubernetes v1.36.3 pkg/apis/core/v1/defaults.go SetDefaults_Volume)."""
    return next((k for k in volume if k != "name" and volume[k] is not None), "emptyDir")


def restricted_volumes(pod: Pod) -> Iterator[Violation]:
    """check_restrictedVolumes.go (overrides check_hostPathVolumes.go)"""
    for i, volume in enumerate(pod.get("volumes") or ()):
        kind = volume_type(volume)
        if kind not in PSA_VOLUME_TYPES:
            yield Violation("restrictedVolumes", ("volumes", i, kind), kind,
                            f"must not use a {kind} volume")


def host_ports(pod: Pod) -> Iterator[Violation]:
    """check_hostPorts.go"""
    for where, c in _containers(pod):
        for j, port in enumerate(c.get("ports") or ()):
            if port.get("hostPort") not in (None, 0):
                yield Violation("hostPorts", (*where, "ports", j, "hostPort"), port["hostPort"],
                                "must not set a hostPort")


def host_probes_and_lifecycle(pod: Pod) -> Iterator[Violation]:
    """check_hostProbesAndhostLifecycle.go (1.34+)"""
    for where, c in _containers(pod):
        handlers: list[tuple[Path, Any]] = [
            ((p,), c.get(p)) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        for hook in ("postStart", "preStop"):
            handlers.append((("lifecycle", hook), (c.get("lifecycle") or {}).get(hook)))
        for at, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = ((handler or {}).get(action) or {}).get("host")
                if host:
                    yield Violation("hostProbesAndHostLifecycle",
                                    (*where, *at, action, "host"), host,
                                    "must not set a probe or lifecycle host")


CAPABILITY_ALL, NET_BIND_SERVICE = "ALL", "NET_BIND_SERVICE"


def capabilities(pod: Pod) -> Iterator[Violation]:
    """check_capabilities_restricted.go (overrides check_capabilities_baseline.go);
    not for a Windows pod (1.25+)."""
    if _is_windows(pod):
        return
    for where, c in _containers(pod):
        caps = _sc(c).get("capabilities")
        at = (*where, *SC, "capabilities")
        drop = (caps or {}).get("drop") or []
        if CAPABILITY_ALL not in drop:
            yield Violation("capabilities_restricted", (*at, "drop"), drop or None,
                            'must set securityContext.capabilities.drop=["ALL"]')
        for j, cap in enumerate((caps or {}).get("add") or ()):
            if cap != NET_BIND_SERVICE:
                yield Violation("capabilities_restricted", (*at, "add", j), cap,
                                "may add only NET_BIND_SERVICE to securityContext.capabilities")


def _security_contexts(pod: Pod) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """The pod's securityContext, then each container's."""
    yield SC, pod.get("securityContext") or {}
    for where, c in _containers(pod):
        yield (*where, *SC), _sc(c)


APPARMOR_TYPES: Final = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def app_armor(pod: Pod) -> Iterator[Violation]:
    """check_appArmorProfile.go (the fields; `app_armor_annotations` the annotations)"""
    for at, sc in _security_contexts(pod):
        profile = sc.get("appArmorProfile")
        if profile is not None and profile.get("type") not in APPARMOR_TYPES:
            yield Violation("appArmorProfile", (*at, "appArmorProfile", "type"),
                            profile.get("type"), "must not set an AppArmor profile type "
                            "other than RuntimeDefault or Localhost")


def app_armor_annotations(metadata: Mapping[str, Any]) -> Iterator[Violation]:
    """check_appArmorProfile.go, the pod's annotations"""
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and value and value != "runtime/default" \
                and not value.startswith("localhost/"):
            yield Violation("appArmorProfile", ("metadata", "annotations", key), value,
                            "must not set an AppArmor profile other than runtime/default "
                            "or localhost/*")


SELINUX_TYPES: Final = frozenset({"", "container_t", "container_init_t", "container_kvm_t",
                                  "container_engine_t"})  # 1.31+


def se_linux(pod: Pod) -> Iterator[Violation]:
    """check_seLinuxOptions.go"""
    for at, sc in _security_contexts(pod):
        options = sc.get("seLinuxOptions")
        if options is None:
            continue
        where = (*at, "seLinuxOptions")
        if (options.get("type") or "") not in SELINUX_TYPES:
            yield Violation("seLinuxOptions", (*where, "type"), options.get("type"),
                            "must not set an SELinux type other than container_t, "
                            "container_init_t, container_kvm_t or container_engine_t")
        for key in ("user", "role"):
            if options.get(key):
                yield Violation("seLinuxOptions", (*where, key), options[key],
                                f"must not set seLinuxOptions.{key}")


def proc_mount(pod: Pod) -> Iterator[Violation]:
    """check_procMount_restricted.go (1.35+, overrides check_procMount_baseline.go):
    unlike the baseline check, a user namespace does not relax it."""
    for where, c in _containers(pod):
        value = _sc(c).get("procMount")
        if value is not None and value != "Default":
            yield Violation("procMount_restricted", (*where, *SC, "procMount"), value,
                            "must not set securityContext.procMount other than Default")


SECCOMP_TYPES: Final = frozenset({"RuntimeDefault", "Localhost"})


def seccomp(pod: Pod) -> Iterator[Violation]:
    """check_seccompProfile_restricted.go (overrides check_seccompProfile_baseline.go):
    set at pod level or on every container; not for a Windows pod (1.25+)."""
    if _is_windows(pod):
        return
    pod_profile = (pod.get("securityContext") or {}).get("seccompProfile")
    pod_set = pod_profile is not None and pod_profile.get("type") in SECCOMP_TYPES
    if pod_profile is not None and not pod_set:
        yield Violation("seccompProfile_restricted", (*SC, "seccompProfile", "type"),
                        pod_profile.get("type"), "must set RuntimeDefault or Localhost")
    for where, c in _containers(pod):
        profile = _sc(c).get("seccompProfile")
        at = (*where, *SC, "seccompProfile")
        if profile is not None and profile.get("type") not in SECCOMP_TYPES:
            yield Violation("seccompProfile_restricted", (*at, "type"), profile.get("type"),
                            "must set RuntimeDefault or Localhost")
        elif profile is None and not pod_set:
            yield Violation("seccompProfile_restricted", at, None,
                            "pod or container must set seccompProfile.type to RuntimeDefault "
                            "or Localhost")


SAFE_SYSCTLS: Final = frozenset({  # 1.32+
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})


def sysctls(pod: Pod) -> Iterator[Violation]:
    """check_sysctls.go"""
    for i, sysctl in enumerate((pod.get("securityContext") or {}).get("sysctls") or ()):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield Violation("sysctls", (*SC, "sysctls", i, "name"), sysctl.get("name"),
                            "must not set an unsafe sysctl")


def windows_host_process(pod: Pod) -> Iterator[Violation]:
    """check_windowsHostProcess.go"""
    for at, sc in _security_contexts(pod):
        if (sc.get("windowsOptions") or {}).get("hostProcess") is True:
            yield Violation("windowsHostProcess", (*at, "windowsOptions", "hostProcess"), True,
                            "must not set windowsOptions.hostProcess=true")


def allow_privilege_escalation(pod: Pod) -> Iterator[Violation]:
    """check_allowPrivilegeEscalation.go; not for a Windows pod (1.25+)."""
    if _is_windows(pod):
        return
    for where, c in _containers(pod):
        value = _sc(c).get("allowPrivilegeEscalation")
        if value is not False:
            yield Violation("allowPrivilegeEscalation",
                            (*where, *SC, "allowPrivilegeEscalation"), value,
                            "must set securityContext.allowPrivilegeEscalation=false")


def run_as_non_root(pod: Pod) -> Iterator[Violation]:
    """check_runAsNonRoot.go (relaxed in a user namespace, 1.35+)"""
    if _user_namespaced(pod):
        return
    pod_value = (pod.get("securityContext") or {}).get("runAsNonRoot")
    if pod_value is False:
        yield Violation("runAsNonRoot", (*SC, "runAsNonRoot"), False,
                        "must not set runAsNonRoot=false")
    for where, c in _containers(pod):
        value = _sc(c).get("runAsNonRoot")
        if value is False or (value is None and pod_value is not True):
            yield Violation("runAsNonRoot", (*where, *SC, "runAsNonRoot"), value,
                            "pod or container must set runAsNonRoot=true")


def run_as_user(pod: Pod) -> Iterator[Violation]:
    """check_runAsUser.go (relaxed in a user namespace, 1.35+)"""
    if _user_namespaced(pod):
        return
    for at, sc in _security_contexts(pod):
        value = sc.get("runAsUser")
        if isinstance(value, int) and not isinstance(value, bool) and value == 0:
            yield Violation("runAsUser", (*at, "runAsUser"), 0, "must not set runAsUser=0")


Check = Callable[[Pod], Iterator[Violation]]
CHECKS: Final[tuple[Check, ...]] = (
    privileged, host_namespaces, restricted_volumes, host_ports, host_probes_and_lifecycle,
    capabilities, app_armor, se_linux, proc_mount, seccomp, sysctls, windows_host_process,
    allow_privilege_escalation, run_as_non_root, run_as_user,
)


def check_restricted(pod: Pod, metadata: Mapping[str, Any] | None = None) -> list[Violation]:
    """Every reason Pod Security `restricted` (latest) refuses this pod; [] admits it."""
    found = [v for check in CHECKS for v in check(pod)]
    return found + list(app_armor_annotations(metadata or {}))
