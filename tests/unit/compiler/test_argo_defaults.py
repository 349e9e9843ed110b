"""Argo's cluster-wide defaults never change what a step means (issue 20 item 5b,
contract §4): the compiled Workflow pins the run's deadline and every step
template's timeout (a default cannot override a field the Workflow sets:
Argo's MergeTo, ported here as `merge_to`); a default retryStrategy, which no
structure-neutral field can pin, is read by the controller, which pins it at
submission and says so on the run (`ArgoDefaultsPinned`)."""

from __future__ import annotations

import copy

import pytest
import yaml

from compiler.argo_defaults import (
    DEFAULTS_ANNOTATION,
    NO_RETRIES,
    judge,
    pin_retries,
    read_defaults,
)
from controller.mirror import mirror_workflow
from orchapi.api import Obj
from orchapi.argo import UNBOUNDED_SECONDS, UNBOUNDED_TIMEOUT
from tests.support.built import build, documents
from tests.unit.controller.helpers import WF, compiled, container, node, with_status

LEAF = ("container", "resource")


def merge_to(defaults: Obj, target: Obj) -> Obj:
    """Argo's `util.MergeTo` (workflow/util/merge.go l.84, v4.0.5) for what matters
    here: a strategic merge patch whose patch is `target`, so a field `target` sets
    wins and one it leaves out is the default's; maps merge key by key (the
    templates list merges by name, and `templateDefaults` reaches each template as
    it runs, operator.go mergedTemplateDefaultsInto l.4448)."""
    out = copy.deepcopy(defaults)
    for key, value in target.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_to(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def as_run(workflow: Obj, defaults: Obj) -> Obj:
    """The Workflow as Argo runs it under `defaults` (workflowDefaults)."""
    merged = merge_to(defaults, workflow)
    template_defaults = merged["spec"].get("templateDefaults") or {}
    merged["spec"]["templates"] = [merge_to(template_defaults, t)
                                   for t in merged["spec"]["templates"]]
    return merged


EVERY_KIND: list[Obj] = [
    {"name": "c", "kind": "Container", "image": "alpine"},
    {"name": "t", "kind": "Container", "image": "alpine", "timeoutSeconds": 30, "retries": 2},
    {"name": "a", "kind": "AgentRun", "agentRef": {"name": "x"},
     "implementationSpecRef": {"name": "i"}},
    {"name": "s", "kind": "SubOrchestration", "orchestrationRef": {"name": "child"}},
    {"name": "g", "kind": "ApprovalGate", "policyRef": "p"},
    {"name": "m", "kind": "MemoryOp"},
]
DEFAULTS = {"spec": {"activeDeadlineSeconds": 5,
                     "templateDefaults": {"timeout": "3s", "activeDeadlineSeconds": 4}}}


def test_a_default_deadline_or_timeout_changes_no_step() -> None:
    wf = build(documents(EVERY_KIND)).workflow
    assert wf is not None
    ran = as_run(wf, DEFAULTS)
    assert ran["spec"]["activeDeadlineSeconds"] == UNBOUNDED_SECONDS
    timeouts = {t["name"]: t.get("timeout") for t in ran["spec"]["templates"]
                if any(k in t for k in LEAF)}
    assert timeouts == {"container-c": UNBOUNDED_TIMEOUT,
                        "container-t-retry2-timeout30s": "30s",
                        "agent-run": UNBOUNDED_TIMEOUT, "sub-orchestration": UNBOUNDED_TIMEOUT}


def test_the_compiled_workflow_pins_only_where_argo_takes_a_timeout() -> None:
    """Argo refuses a timeout on suspend and DAG templates (validate.go l.509)."""
    wf = build(documents(EVERY_KIND)).workflow
    assert wf is not None
    for t in wf["spec"]["templates"]:
        assert ("timeout" in t) == any(k in t for k in LEAF), t["name"]


@pytest.mark.parametrize(("data", "pinned", "apply", "retries"), [
    pytest.param({"workflowDefaults": yaml.safe_dump(DEFAULTS)},
                 ["spec.activeDeadlineSeconds", "spec.templateDefaults.timeout"],
                 ["spec.templateDefaults.activeDeadlineSeconds"], False,
                 id="deadlines-one-key-per-field"),
    pytest.param({"config": yaml.safe_dump({"workflowDefaults": {"spec": {
        "templateDefaults": {"retryStrategy": {"limit": 2, "backoff": {"duration": "5s"}}}}}})},
                 ["spec.templateDefaults.retryStrategy"],
                 ["spec.templateDefaults.retryStrategy.backoff"], True,
                 id="retries-in-a-config-key"),
    pytest.param({"workflowDefaults": yaml.safe_dump({"spec": {"retryStrategy": {"limit": 1},
                                                               "suspend": True}})},
                 ["spec.retryStrategy"], ["spec.suspend"], True, id="workflow-level-retries"),
    pytest.param({"workflowDefaults": yaml.safe_dump({"spec": {"ttlStrategy": {
        "secondsAfterCompletion": 60}}})}, [], [], False,
                 id="the-reference-s-own-ttl-changes-no-step"),
    pytest.param({"images": "x: {}"}, [], [], False, id="no-defaults"),
    pytest.param({"workflowDefaults": "{not yaml"}, [], [], False, id="not-argo-s-yaml"),
])
def test_judge_what_a_config_map_s_defaults_do(data: dict[str, str], pinned: list[str],
                                               apply: list[str], retries: bool) -> None:
    found = judge(read_defaults(data))
    assert [p.split(" ")[0] for p in found.pinned] == pinned
    assert [a.split(" ")[0] for a in found.apply] == apply
    assert found.pin_retries is retries


def test_pinned_retries_keep_each_step_s_own_and_retry_nothing_else() -> None:
    wf = build(documents(EVERY_KIND)).workflow
    assert wf is not None
    pin_retries(wf)
    ran = as_run(wf, {"spec": {"templateDefaults": {"retryStrategy": {"limit": 2}}}})
    strategies = {t["name"]: t["retryStrategy"] for t in ran["spec"]["templates"]}
    assert strategies.pop("container-t-retry2-timeout30s") == {"limit": "2",
                                                              "retryPolicy": "Always"}
    assert set(map(str, strategies.values())) == {str(NO_RETRIES)}
    assert "main" in strategies and "wait" in strategies  # the entry DAG and the waits


# -- the mirror under a pinned retryStrategy: every node wrapped in a Retry node ----------
def test_the_mirror_reads_a_run_whose_every_node_argo_wrapped_in_a_retry_node() -> None:
    """The shapes the real Argo v4.0.5 gave (tests/e2e/test_argo_defaults.py): the
    Workflow's root is a Retry node, the entry DAG its attempt, each step a Retry
    node with its attempt `step(0)`."""
    wf = compiled([container("a", []), container("b", ["a"])])
    pin_retries(wf)
    dag = node(f"{WF}(0)", "Failed", type_="DAG", boundary="", retried=True)
    dag["displayName"] = f"{WF}(0)"
    kids = [node("a", "Succeeded", type_="Retry", boundary=dag["id"]),
            node("a(0)", "Succeeded", boundary=dag["id"], retried=True),
            node("b", "Failed", type_="Retry", boundary=dag["id"], message="No more retries left"),
            node("b(0)", "Failed", boundary=dag["id"], retried=True,
                 message="main: Error (exit code 1)")]
    kids[0]["children"], kids[2]["children"] = [kids[1]["id"]], [kids[3]["id"]]
    out = with_status(wf, "Failed", [dag, *kids])
    root = out["status"]["nodes"][WF]
    root.update(type="Retry", children=[dag["id"]])
    out["metadata"]["annotations"][DEFAULTS_ANNOTATION] = (
        '{"pinned":["spec.templateDefaults.retryStrategy (...)"],"apply":[]}')
    m = mirror_workflow(out, {}, "2026-01-01T00:02:00Z")
    assert {s["name"]: (s["phase"], s.get("reason"), s.get("attempt"))
            for s in m.step_statuses} == {"a": ("Succeeded", None, 1),
                                          "b": ("Failed", "StepFailed", 1)}
    (pinned,) = [c for c in m.conditions if c.type == "ArgoDefaultsPinned"]
    assert (pinned.status, pinned.reason) == ("True", "DefaultsPinned")


def test_defaults_that_still_apply_make_the_condition_false() -> None:
    wf = with_status(compiled([container("a", [])]), "Running", [node("a", "Running")])
    wf["metadata"]["annotations"][DEFAULTS_ANNOTATION] = (
        '{"pinned":[],"apply":["spec.suspend (every Workflow starts suspended)"]}')
    (found,) = [c for c in mirror_workflow(wf, {}, "2026-01-01T00:02:00Z").conditions
                if c.type == "ArgoDefaultsPinned"]
    assert (found.status, found.reason) == ("False", "DefaultsApply")
    assert "spec.suspend" in found.message
    plain = with_status(compiled([container("a", [])]), "Running", [node("a", "Running")])
    assert not [c for c in mirror_workflow(plain, {}, "2026-01-01T00:02:00Z").conditions
                if c.type == "ArgoDefaultsPinned"]
