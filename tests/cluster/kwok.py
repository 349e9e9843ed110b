"""kwok: a fake Node whose pods go Pending -> Running -> Succeeded or Failed.

Why: nothing can run containers here, but Argo must see real pods change phase.
kwok runs with `--enable-crds=Stage`, so every pod lifecycle step is a Stage
object in the cluster, and a test chooses failing pods at runtime by creating a
Stage that matches them. The "complete" Stage has weight 0 and a "fail" Stage
weight 1: when both match a pod kwok's weighted pick always takes the failing
one (lifecycle.Match skips weight 0 when the total is positive), so the outcome
is deterministic. Upstream's node-initialize, pod-ready and pod-delete Stages
are used as published in the kwok module.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from orchapi.api import Obj
from tests.cluster.kube import Kube, load_documents, wait_for
from tests.cluster.procs import Proc, Supervisor

STAGE_API = "kwok.x-k8s.io/v1alpha1"
RELEASED = "orch.test/released"  # the annotation `Failures.release` touches pods with
NODE_NAME = "kwok-node-0"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
ARGO_NODE_NAME = "workflows.argoproj.io/node-name"
ARGO_WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
FAIL_STAGE_LABEL = "orch.test/fail-stage"

# Complete pods of Workflows and Jobs (Deployments' pods keep running). The delay
# can be set per pod with the upstream annotation, e.g. to watch a Running step.
_COMPLETE_TEMPLATE = """
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: NAME}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
    - {key: .status.phase, operator: In, values: [Running]}
    - OWNER
  weight: 0
  delay:
    durationMilliseconds: 200
    durationFrom:
      expressionFrom: '.metadata.annotations["pod-complete.stage.kwok.x-k8s.io/delay"]'
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      conditions:
      - {type: Ready, status: "False", reason: PodCompleted,
         lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "False", reason: PodCompleted,
         lastTransitionTime: {{ $now | Quote }}}
      phase: Succeeded
"""
_COMPLETE = [
    _COMPLETE_TEMPLATE.replace("NAME", "orch-pod-complete-workflow").replace(
        "OWNER", "{key: '.metadata.labels[\"workflows.argoproj.io/workflow\"]', operator: Exists}"),
    _COMPLETE_TEMPLATE.replace("NAME", "orch-pod-complete-job").replace(
        "OWNER", "{key: '.metadata.ownerReferences.[].kind', operator: In, values: [Job]}"),
]

# The main container (or every container of a pod without one named `main`)
# exits with the code; Argo's `wait` sidecar exits 0 as it does for real.
_FAIL_NEXT = """
statusTemplate: |
  {{ $now := Now }}
  {{ $hasMain := false }}
  {{ range .spec.containers }}{{ if eq .name "main" }}{{ $hasMain = true }}{{ end }}{{ end }}
  containerStatuses:
  {{ range .spec.containers }}
  {{ $fails := or (eq .name "main") (not $hasMain) }}
  - image: {{ .image | Quote }}
    name: {{ .name | Quote }}
    ready: false
    restartCount: 0
    started: false
    state:
      terminated:
        exitCode: {{ if $fails }}EXIT_CODE{{ else }}0{{ end }}
        finishedAt: {{ $now | Quote }}
        reason: {{ if $fails }}Error{{ else }}Completed{{ end }}
        startedAt: {{ $now | Quote }}
        {{ if $fails }}TERMINATION_MESSAGE{{ end }}
  {{ end }}
  conditions:
  - {type: Ready, status: "False", reason: PodFailed, lastTransitionTime: {{ $now | Quote }}}
  - {type: ContainersReady, status: "False", reason: PodFailed,
     lastTransitionTime: {{ $now | Quote }}}
  phase: Failed
  POD_REASON
"""

# What the kubelet does to a pod past its `spec.activeDeadlineSeconds` (kubernetes
# pkg/kubelet/active_deadline.go, v1.36.3): Failed, reason DeadlineExceeded, this
# message. Argo applies a template's `timeout` that way; kwok has no kubelet, so a
# test opts its pods into this Stage, which waits the pod's own deadline.
KUBELET_DEADLINE_REASON = "DeadlineExceeded"
KUBELET_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
_DEADLINE_NEXT = f"""
statusTemplate: |
  phase: Failed
  reason: {KUBELET_DEADLINE_REASON}
  message: {KUBELET_DEADLINE_MESSAGE}
"""
HOLD_SECONDS = 3600  # a held pod stays Running this long (longer than any test)


def default_stages(share: Path) -> list[Obj]:
    upstream = [d for f in ("node-initialize.yaml", "node-heartbeat-with-lease.yaml",
                            "pod-ready.yaml", "pod-delete.yaml")
                for d in load_documents(share / "kwok" / f)]
    return [*upstream, *(d for t in _COMPLETE for d in load_documents(t))]


def fake_node() -> Obj:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "annotations": {NODE_ANNOTATION: "fake"},
                     "labels": {"type": "kwok", "kubernetes.io/hostname": NODE_NAME,
                                "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
        "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
                   "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"}},
    }


def node_schedulable(kube: Kube) -> bool:
    """kwok reported the Node Ready and the node lifecycle controller lifted
    the not-ready taint, so the scheduler can place pods on it."""
    node = kube.get("v1", "Node", NODE_NAME) or {}
    conds = (node.get("status") or {}).get("conditions") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conds)
    taints = (node.get("spec") or {}).get("taints") or []
    return ready and not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints)


def start_kwok(sup: Supervisor, bin_dir: Path, kubeconfig: Path, work: Path) -> Proc:
    # kwok reads ~/.kwok/kwok.yaml when present; an empty HOME keeps a user's
    # config out (an explicit --config file would skip kwok's option defaults).
    home = work / "kwok-home"
    home.mkdir(exist_ok=True)
    return sup.start("kwok", [
        str(bin_dir / "kwok"), f"--kubeconfig={kubeconfig}",
        f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
        "--enable-crds=Stage", "--cidr=10.244.0.0/16", "--node-ip=10.1.0.1",
        "--node-lease-duration-seconds=40",
    ], env={"HOME": str(home)})


def _selector(match_labels: dict[str, str] | None,
              match_annotations: dict[str, list[str]] | None) -> dict[str, Any]:
    expressions: list[dict[str, Any]] = [
        {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
        {"key": ".status.phase", "operator": "In", "values": ["Running"]},
    ]
    for key, values in (match_annotations or {}).items():
        expressions.append({"key": f'.metadata.annotations["{key}"]', "operator": "In",
                            "values": list(values)})
    selector: dict[str, Any] = {"matchExpressions": expressions}
    if match_labels:
        selector["matchLabels"] = dict(match_labels)
    return selector


def _stage(name: str, selector: dict[str, Any], next_: Obj, weight: int = 1,
           delay: dict[str, Any] | None = None) -> Obj:
    spec: dict[str, Any] = {"resourceRef": {"apiGroup": "v1", "kind": "Pod"},
                            "selector": selector, "weight": weight, "next": next_}
    if delay:
        spec["delay"] = delay
    return {"apiVersion": STAGE_API, "kind": "Stage",
            "metadata": {"name": name, "labels": {FAIL_STAGE_LABEL: "true"}}, "spec": spec}


def fail_stage(name: str, match_labels: dict[str, str] | None = None,
               match_annotations: dict[str, list[str]] | None = None,
               exit_code: int = 1, message: str | None = None,
               pod_reason: str | None = None, pod_message: str | None = None) -> Obj:
    """A Stage failing Running pods that carry all `match_labels` and, for each
    annotation key, one of the listed values. `message` is the failing container's
    termination message (what the program wrote to /dev/termination-log);
    `pod_reason`/`pod_message` are the pod's own, as the kubelet writes them when it
    ends a pod (an eviction, a node shutdown)."""
    text = _FAIL_NEXT.replace("EXIT_CODE", str(int(exit_code)))
    text = text.replace("TERMINATION_MESSAGE",
                        f"message: {json.dumps(message)}" if message else "")
    pod = ""
    if pod_reason or pod_message:
        pod = (f"reason: {json.dumps(pod_reason or '')}\n"
               f"  message: {json.dumps(pod_message or '')}")
    next_ = load_documents(text.replace("POD_REASON", pod))[0]
    return _stage(name, _selector(match_labels, match_annotations), next_)


def deadline_stage(name: str, match_labels: dict[str, str]) -> Obj:
    """The kubelet's active deadline for the matched pods: each fails as
    `_DEADLINE_NEXT` says once its own `spec.activeDeadlineSeconds` have passed
    (pods without one are left alone)."""
    selector = _selector(match_labels, None)
    selector["matchExpressions"].append(
        {"key": ".spec.activeDeadlineSeconds", "operator": "Exists"})
    delay = {"durationMilliseconds": HOLD_SECONDS * 1000, "durationFrom": {
        "jq": {"expression": '(.spec.activeDeadlineSeconds | tostring) + "s"'}}}
    return _stage(name, selector, load_documents(_DEADLINE_NEXT)[0], delay=delay)


def hold_stage(name: str, match_labels: dict[str, str]) -> Obj:
    """The matched pods stay Running (for `HOLD_SECONDS`), as a long step would."""
    return _stage(name, _selector(match_labels, None),
                  {"statusTemplate": "phase: Succeeded\n"},
                  delay={"durationMilliseconds": HOLD_SECONDS * 1000})


def stage_name(*parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]
    return f"orch-fail-{digest}"


def step_labels(orchestration_label: str, step: str) -> dict[str, str]:
    """The labels the compiler puts on a step's pods."""
    return {"orchestration.proompteng.ai/orchestration": orchestration_label,
            "orchestration.proompteng.ai/step": step}


class Failures:
    """Chooses failing pods for a test; `clear()` removes what it created."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.created: list[str] = []

    def pods(self, match_labels: dict[str, str] | None = None,
             match_annotations: dict[str, list[str]] | None = None,
             exit_code: int = 1, message: str | None = None, pod_reason: str | None = None,
             pod_message: str | None = None) -> str:
        """Fail the matched pods (the texts as `fail_stage` says)."""
        name = stage_name(repr(sorted((match_labels or {}).items())),
                          repr(sorted((match_annotations or {}).items())), str(exit_code),
                          repr((message, pod_reason, pod_message)))
        return self._apply(fail_stage(name, match_labels, match_annotations, exit_code,
                                      message, pod_reason, pod_message))

    def steps(self, orchestration_label: str, steps: list[str], exit_code: int = 1,
              message: str | None = None, pod_reason: str | None = None,
              pod_message: str | None = None) -> list[str]:
        """Fail the pods of `steps` (by the compiler's step label) of one Orchestration."""
        return [self.pods(step_labels(orchestration_label, s), None, exit_code, message,
                          pod_reason, pod_message) for s in steps]

    def hold_steps(self, orchestration_label: str, steps: list[str]) -> list[str]:
        """The pods of `steps` stay Running (until the Workflow ends them)."""
        return [self._apply(hold_stage(stage_name("hold", orchestration_label, s),
                                       step_labels(orchestration_label, s)))
                for s in steps]

    def deadline_steps(self, orchestration_label: str, steps: list[str]) -> list[str]:
        """The pods of `steps` run until their activeDeadlineSeconds, then the
        kubelet (emulated) ends them."""
        return [self._apply(deadline_stage(stage_name("deadline", orchestration_label, s),
                                           step_labels(orchestration_label, s)))
                for s in steps]

    def _apply(self, stage: Obj) -> str:
        self.kube.apply(stage)
        name: str = stage["metadata"]["name"]
        self.created.append(name)
        return name

    def step_set(self, orchestration_label: str, steps: list[str], exit_code: int = 1) -> str:
        """Fail the pods of any of `steps` of one Orchestration, with one Stage
        (thousands of steps, one selector)."""
        stage = fail_stage(stage_name("set", orchestration_label, *steps),
                           {"orchestration.proompteng.ai/orchestration": orchestration_label},
                           None, exit_code)
        stage["spec"]["selector"]["matchExpressions"].append(
            {"key": '.metadata.labels["orchestration.proompteng.ai/step"]', "operator": "In",
             "values": list(steps)})
        return self._apply(stage)

    def argo_tasks(self, workflow: str, tasks: list[str], exit_code: int = 1) -> str:
        """Fail the pods Argo creates for `tasks` of `workflow` (by node-name)."""
        return self.pods({ARGO_WORKFLOW_LABEL: workflow},
                         {ARGO_NODE_NAME: [f"{workflow}.{t}" for t in tasks]}, exit_code)

    def clear(self) -> None:
        for name in self.created:
            self.kube.delete(STAGE_API, "Stage", name)
        self.created.clear()

    def release(self, namespace: str, selector: str, timeout: float = 90) -> None:
        """Lift every hold, and let the held pods `selector` picks complete. kwok
        matches Stages against a pod when the pod changes, from its own watch of
        the Stages: a pod touched before kwok saw a hold go is held again, so each
        one still Running is touched again (a new annotation value) until it is not."""
        self.clear()
        touches = itertools.count()

        def completed() -> bool:
            running = [p for p in self.kube.list_objects("v1", "Pod", namespace, selector)
                       if (p.get("status") or {}).get("phase") == "Running"]
            for pod in running:
                self.kube.dyn.resources.get(api_version="v1", kind="Pod").patch(
                    name=pod["metadata"]["name"], namespace=namespace,
                    body={"metadata": {"annotations": {RELEASED: str(next(touches))}}},
                    content_type="application/merge-patch+json")
            return not running
        wait_for(completed, f"the held pods ({selector}) to complete", timeout, 1.0)
