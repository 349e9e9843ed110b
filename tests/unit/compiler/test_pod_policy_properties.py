"""Properties of the pod policy in force (contract §4, §6), over random steps asking
their pods for random settings:

- under the default policy, a step is refused, or every pod its Workflow starts
  passes Pod Security `restricted` (compiler.pod_security, the port of
  k8s.io/pod-security-admission that its own fixtures test);
- under any policy, no default contradicts what a step was let ask for: no
  container the apiserver's validation refuses (`allowPrivilegeEscalation: false`
  beside `privileged: true` or an added CAP_SYS_ADMIN, k8s.io/kubernetes v1.36.3
  pkg/apis/core/validation/validation.go ValidateSecurityContext);
- where the policy allows every key (`none`), the step's values reach its
  container as they are, and nothing is refused.

The pods are those Argo v4.0.5 would create from the compiled templates
(workflow/controller/workflowpod.go createWorkflowPod: the template's
securityContext else the Workflow's; the `init` and `wait` executor containers
patched by the template's podSpecPatch, a strategic merge by name; a resource
template's executor gets common.MinimalCtrSC, workflow/common/security_context.go).
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Collector
from compiler.emit import EmitSettings, emit_workflow
from compiler.inputs import parse_text
from compiler.pod_security import check_restricted, merged
from compiler.podpolicy import DEFAULT_POLICY, OPEN_POLICY, PodPolicy
from compiler.pods import PodSettings
from orchapi.vocabulary import Reason

# workflow/common/security_context.go MinimalCtrSC (Argo v4.0.5)
MINIMAL_CTR_SC = {"capabilities": {"drop": ["ALL"]}, "privileged": False, "runAsNonRoot": True,
                  "runAsUser": 8737, "readOnlyRootFilesystem": True,
                  "allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"}}

TOOL = {"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
        "metadata": {"name": "echo-tool"},
        "spec": {"image": "alpine:3.20", "command": ["/bin/sh", "-c"], "args": ["echo"]}}


def security_contexts() -> st.SearchStrategy[dict[str, Any]]:
    caps = st.lists(st.sampled_from(["NET_BIND_SERVICE", "SYS_ADMIN", "CAP_SYS_ADMIN",
                                     "NET_RAW", "ALL"]), max_size=3, unique=True)
    return st.fixed_dictionaries({}, optional={
        "privileged": st.booleans(),
        "runAsUser": st.sampled_from([0, 1000, 65532]),
        "runAsNonRoot": st.booleans(),
        "allowPrivilegeEscalation": st.booleans(),
        "readOnlyRootFilesystem": st.booleans(),
        "capabilities": st.fixed_dictionaries({}, optional={"add": caps, "drop": caps}),
        "seccompProfile": st.sampled_from([{"type": "RuntimeDefault"}, {"type": "Unconfined"},
                                           {"type": "Localhost", "localhostProfile": "p"}]),
        "procMount": st.sampled_from(["Default", "Unmasked"]),
        "seLinuxOptions": st.sampled_from([{"type": "container_t"}, {"type": "spc_t"},
                                           {"user": "root"}, {"level": "s0"}]),
        "appArmorProfile": st.sampled_from([{"type": "RuntimeDefault"}, {"type": "Unconfined"}]),
        "windowsOptions": st.sampled_from([{"hostProcess": True}, {"hostProcess": False}]),
    })


VOLUMES: st.SearchStrategy[list[dict[str, Any]]] = st.lists(st.sampled_from([
    {"emptyDir": {}}, {"configMap": {"name": "c"}}, {"hostPath": {"path": "/"}},
    {"secret": {"secretName": "s"}}, {"nfs": {"server": "n", "path": "/"}},
    {"projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
    {"persistentVolumeClaim": {"claimName": "p"}}, {"csi": {"driver": "d"}},
]), max_size=3)


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A Container step, a ToolRun step and an AgentRun (a resource template), each
    asking for random settings."""
    volumes = [{"name": f"v{i}", **v} for i, v in enumerate(draw(VOLUMES))]
    container: dict[str, Any] = {"name": "c", "kind": "Container", "image": "alpine",
                                 "securityContext": draw(security_contexts())}
    if volumes:
        container["volumes"] = volumes
        container["volumeMounts"] = [{"name": v["name"], "mountPath": f"/m/{v['name']}"}
                                     for v in volumes]
    if draw(st.booleans()):
        container["env"] = [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s",
                                                                         "key": "k"}}}]
    tool: dict[str, Any] = {"name": "t", "kind": "ToolRun", "toolRef": {"name": "echo-tool"}}
    if draw(st.booleans()):
        tool["securityContext"] = draw(security_contexts())
    return [container, tool, {"name": "a", "kind": "AgentRun", "agentRef": {"name": "x"},
                              "implementationSpecRef": {"name": "i"}}]


def compiled(step_list: list[dict[str, Any]], policy: PodPolicy
             ) -> tuple[dict[str, Any], list[Any]]:
    """The Workflow, and every error (validation's and compilation's)."""
    docs = [{"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
             "metadata": {"name": "o"}, "spec": {"steps": step_list}}, TOOL]
    parsed = parse_text(yaml.safe_dump_all(docs), "p.yaml")
    if not parsed.ok:  # what Kubernetes would refuse of a step's own (container.py)
        return {}, [d for d in parsed.diagnostics if d.is_error]
    ((_, orch),) = parsed.orchestrations
    out = Collector()
    settings = EmitSettings(pods=PodSettings(policy=policy), tools=parsed.tools_in(None))
    workflow = emit_workflow(orch, None, out, settings).workflow
    return workflow, [d for d in out.items if d.is_error]


def _patched(container: dict[str, Any], patch: dict[str, Any], field: str) -> dict[str, Any]:
    for own in patch.get(field) or ():
        if own["name"] == container["name"]:
            return merged(container, own)
    return container


def argo_pods(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod spec Argo would create for each container or resource template."""
    spec = workflow["spec"]
    pods = []
    for template in spec["templates"]:
        if "container" not in template and "resource" not in template:
            continue
        patch = json.loads(template.get("podSpecPatch") or "{}")
        if "resource" in template:  # the executor alone, with Argo's own settings
            containers = [{"name": "main", "securityContext": MINIMAL_CTR_SC}]
            init: list[dict[str, Any]] = []
        else:
            containers = [{**template["container"], "name": "main"}, {"name": "wait"}]
            init = [{"name": "init"}]
        pod = {"securityContext": template.get("securityContext") or spec.get("securityContext"),
               "containers": [_patched(c, patch, "containers") for c in containers],
               "initContainers": [_patched(c, patch, "initContainers") for c in init],
               "volumes": template.get("volumes") or []}
        pods.append({k: v for k, v in pod.items() if v is not None})
    return pods


def contradictions(workflow: dict[str, Any]) -> list[Any]:
    """Containers the apiserver's validation refuses for their securityContext."""
    found = []
    for pod in argo_pods(workflow):
        for c in pod["containers"] + pod["initContainers"]:
            sc = c.get("securityContext") or {}
            if sc.get("allowPrivilegeEscalation") is False and (
                    sc.get("privileged") is True
                    or "CAP_SYS_ADMIN" in ((sc.get("capabilities") or {}).get("add") or ())):
                found.append((c["name"], sc))
    return found


PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(steps())
def test_under_the_default_policy_every_pod_passes_restricted(step_list: list[Any]) -> None:
    workflow, errors = compiled(step_list, DEFAULT_POLICY)
    if errors:
        assert {d.reason for d in errors} == {Reason.INVALID_FIELD}
        assert all(d.path.parts[:2] == ("spec", "steps") for d in errors)
        return
    pods = argo_pods(workflow)
    assert len(pods) == 3
    for pod in pods:
        assert check_restricted(pod) == [], pod
    assert contradictions(workflow) == []


@PROPERTY
@given(steps(), st.sampled_from([
    DEFAULT_POLICY, OPEN_POLICY, PodPolicy(pod_security="none"),
    PodPolicy(volume_types=("*",), secrets=("*",))]))
def test_no_default_contradicts_what_a_step_was_let_ask(step_list: list[Any],
                                                        policy: PodPolicy) -> None:
    workflow, errors = compiled(step_list, policy)
    if not errors:
        assert contradictions(workflow) == []


@PROPERTY
@given(steps())
def test_where_the_policy_allows_every_key_the_steps_values_win(step_list: list[Any]) -> None:
    workflow, errors = compiled(step_list, OPEN_POLICY)
    if errors:  # only what Kubernetes itself refuses of the step's own settings
        assert {(d.reason, d.names[0]) for d in errors} <= {
            (Reason.INVALID_FIELD, "allowPrivilegeEscalation"), (Reason.INVALID_FIELD,
                                                                  "procMount")}
        return
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    container, tool = step_list[0], step_list[1]
    assert templates["container-c"]["container"]["securityContext"] == container[
        "securityContext"]
    assert templates["tool-echo-tool"]["container"].get("securityContext") == tool.get(
        "securityContext")
    assert "securityContext" not in workflow["spec"]
