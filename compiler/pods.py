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

What a step may ask beyond these settings is the install's pod policy
(`compiler.podpolicy`); the settings themselves and the Pod Security checks they
meet are `compiler.pod_security`'s. Where the policy lets a step set a key, its
value wins (`container_security_context`): under `podSecurity: none` nothing is
added, so no default can contradict what the step asked for (Kubernetes refuses
`allowPrivilegeEscalation: false` beside `privileged: true`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from compiler.pod_security import (
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    merged,
    restricted_container,
)
from compiler.podpolicy import DEFAULT_POLICY, PodPolicy

__all__ = ["RESTRICTED_CONTAINER", "RESTRICTED_POD", "merged"]  # kept where they were

DEFAULT_SERVICE_ACCOUNT: Final = "default"
EXECUTOR_CONTAINERS = {"initContainers": "init", "containers": "wait"}  # Argo's names


@dataclass(frozen=True)
class PodSettings:
    """Per install (chart values, `orch compile` flags): whether every container
    gets the ServiceAccount token, and the pod policy."""

    automount_token: bool = False
    policy: PodPolicy = DEFAULT_POLICY

    @property
    def restricted(self) -> bool:
        return self.policy.restricted


DEFAULT_PODS: Final = PodSettings()


def container_security_context(settings: PodSettings, own: Mapping[str, Any] | None
                               ) -> dict[str, Any] | None:
    """A step's container securityContext: under `restricted`, the restricted
    settings with the step's own over them (what the policy let through);
    otherwise the step's own, unchanged, or none."""
    if settings.restricted:
        return restricted_container(own)
    return dict(own) if own is not None else None


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
