"""How the pods a Workflow starts run (contract §4): without the ServiceAccount
token and with the Pod Security `restricted` settings, unless the install says
otherwise, so a Container step gets no credentials and no privileges it did
not ask for.

What Argo v4.0.5 honours, read from its source:
- `spec.automountServiceAccountToken: false` reaches every pod
  (workflow/controller/workflowpod.go setupServiceAccount). Argo then requires
  `spec.executor.serviceAccountName` and mounts that ServiceAccount's token into
  its own executor containers only (newExecContainer: volume `exec-sa-token`
  at /var/run/secrets/kubernetes.io/serviceaccount), from the Secret the
  ServiceAccount lists, or the one its annotation
  `workflows.argoproj.io/service-account-token.name` names, or
  `<name>.service-account-token` (util/secrets/secret_name.go): that Secret
  must exist. The executor's account is the pods' own (`--service-account`, or
  `default`), so the executor keeps exactly the rights it had.
- The pod's securityContext is the template's, else the Workflow's
  `spec.securityContext` (createWorkflowPod): the pod-level half of `restricted`
  (runAsNonRoot, seccomp RuntimeDefault) goes there.
- Container-level settings: the step's container carries them in its template.
  Argo's `init` and `wait` containers get the controller's configured executor
  securityContext, none by default, except in resource templates, which get
  `common.MinimalCtrSC()` (restricted already). So container templates patch
  `init` and `wait` with the template's `podSpecPatch` (a strategic merge by
  container name); a Workflow-level patch cannot be used, as naming `wait`
  there would add a container to the resource pods, which have none.
A `Template` step's pods are its WorkflowTemplate's: they get the Workflow's
pod-level settings and token rule, and whatever its own templates set.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

RESTRICTED: Final = "restricted"
NO_PROFILE: Final = "none"
POD_SECURITY_PROFILES = (RESTRICTED, NO_PROFILE)
DEFAULT_SERVICE_ACCOUNT: Final = "default"

# Pod Security Standards, `restricted` (k8s.io/pod-security-admission v0.36.3
# policy/check_*): what a pod must say, at pod and at container level.
RESTRICTED_POD: Final[Mapping[str, Any]] = {
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER: Final[Mapping[str, Any]] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
EXECUTOR_CONTAINERS = {"initContainers": "init", "containers": "wait"}  # Argo's names


@dataclass(frozen=True)
class PodSettings:
    """Per install (chart values, `orch compile` flags)."""

    automount_token: bool = False
    pod_security: str = RESTRICTED

    @property
    def restricted(self) -> bool:
        return self.pod_security == RESTRICTED


DEFAULT_PODS: Final = PodSettings()


def merged(defaults: Mapping[str, Any], own: Mapping[str, Any] | None) -> dict[str, Any]:
    """`defaults` under `own`: a step's own setting wins, key by key; mappings
    merge (its `capabilities.add` joins the default `drop`)."""
    out = copy.deepcopy(dict(defaults))
    for key, value in (own or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def executor_patch() -> str:
    """The podSpecPatch that gives Argo's `init` and `wait` containers the
    container-level `restricted` settings (JSON, which Argo reads as YAML)."""
    patch = {field: [{"name": name, "securityContext": dict(RESTRICTED_CONTAINER)}]
             for field, name in EXECUTOR_CONTAINERS.items()}
    return json.dumps(patch, separators=(",", ":"))


def workflow_pod_fields(settings: PodSettings, service_account: str | None) -> dict[str, Any]:
    """The Workflow `spec` fields that say how every pod runs."""
    fields: dict[str, Any] = {}
    if not settings.automount_token:
        fields["automountServiceAccountToken"] = False
        fields["executor"] = {"serviceAccountName": service_account or DEFAULT_SERVICE_ACCOUNT}
    if settings.restricted:
        fields["securityContext"] = dict(RESTRICTED_POD)
    return fields
