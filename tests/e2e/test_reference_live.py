"""The reference system's own Orchestrations on the real cluster (issue 20 item 1).

- Every AgentRun orch builds from the reference's Orchestrations (all of them under
  its argocd/applications/, and those in ../shared/reference/jangar/) meets the real
  apiserver with the reference's AgentRun CRD (a dry-run create): accepted or refused
  exactly as the offline judgement and orch's warnings say.
- The reference's live Orchestrations (argocd/applications/agents/codex-orchestrations.yaml)
  run through the controller: the AgentRun Argo hands its executor is, spec for spec,
  the one the reference's own code builds from the same step and run parameters.
- The lab's primitives Orchestration (../shared/reference/jangar/argocd/applications/
  jangar/) runs to the end as in the reference: as shipped, its AgentRun step (no
  implementation) fails, refused by the apiserver, and nothing after it starts; given
  an implementationSpecRef, its ToolRun, waits and SubOrchestration are released as
  the reference releases them.

Inputs come from the mirror and ../shared at test time; without them the tests skip.
Under kwok nothing executes: what an executor pod would create is created here from
the manifest Argo handed it (`ARGO_TEMPLATE`), as argoexec would."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client

from orchapi.api import API_VERSION, APPROVALS_API_VERSION, Obj
from tests.cluster import Cluster
from tests.cluster.cluster import AGENT_RUN_CRD, TOOL_CRD
from tests.cluster.kube import wait_for
from tests.cluster.kwok import Failures
from tests.e2e.orch_controller import (
    ControllerProcess,
    apply,
    leading_controller,
    resource_manifest,
    run,
    run_done,
    step_table,
    wait_run,
)
from tests.support.argo import SHARED_ABSENT
from tests.support.built import build
from tests.support.reference import (
    JANGAR,
    agentrun_crds,
    expected_agent_runs,
    mirror_file,
    mirror_orchestrations,
    oracle,
    require_mirror,
    shared_orchestrations,
    skip_without_inputs,
)
from tests.unit.compiler.test_own_text import GREETER, process, tool
from tests.unit.compiler.test_reference_orchestrations import crd_problems

pytestmark = pytest.mark.e2e

AGENTS = "agents.proompteng.ai"
ORCH_API = API_VERSION
APPROVALS_API = APPROVALS_API_VERSION


@pytest.fixture(scope="module")
def controller(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    if AGENT_RUN_CRD not in cluster.crds or TOOL_CRD not in cluster.crds:
        pytest.skip(f"the reference system's CRDs are not installed: {SHARED_ABSENT}")
    with leading_controller(cluster, tmp_path_factory.mktemp("reference"), "reference") as proc:
        yield proc


def dry_run(cluster: Cluster, manifest: Obj) -> str | None:
    """The apiserver's refusal of a create of `manifest` (dry run), or None."""
    group, version = manifest["apiVersion"].split("/")
    try:
        client.CustomObjectsApi(cluster.api_client).create_namespaced_custom_object(
            group, version, cluster.namespace, "agentruns", manifest, dry_run="All")
    except client.ApiException as e:
        return str(json.loads(e.body or "{}").get("message"))
    return None


def agent_run(spec: Obj) -> Obj:
    return {"apiVersion": f"{AGENTS}/v1alpha1", "kind": "AgentRun",
            "metadata": {"generateName": "reference-"}, "spec": spec}


def test_every_reference_agent_run_meets_the_apiserver_as_judged_offline(
        cluster: Cluster) -> None:
    skip_without_inputs()
    if AGENT_RUN_CRD not in cluster.crds:
        pytest.skip(f"the AgentRun CRD is not installed: {SHARED_ABSENT}")
    installed = dict(agentrun_crds())["shared"]  # the cluster installs ../shared's CRDs
    seen = 0
    for origin, doc in mirror_orchestrations() + shared_orchestrations():
        built = build([doc])
        for i, step in enumerate(doc["spec"]["steps"]):
            if step.get("kind") != "AgentRun":
                continue
            spec = built.objects[step["name"]]
            refused = dry_run(cluster, agent_run(spec))
            offline = crd_problems(installed, spec)
            warned = [d for d in built.diagnostics if not d.is_error
                      and str(d.path).startswith(f"spec.steps[{i}]")]
            assert bool(refused) == bool(offline) == bool(warned), (origin, refused, offline)
            if "codex" in doc["metadata"]["name"]:
                assert refused is not None and "spec.implementation.inline: Required value" \
                    in refused, refused
            seen += 1
    assert seen >= expected_agent_runs()


# -- the live codex Orchestrations, through the controller -------------------------------------
PARAMETERS = {"repository": "proompteng/lab", "base": "main", "head": "codex/e2e",
              "stage": "implementation", "issueUrl": "https://github.com/proompteng/lab/issues/1",
              "codexPrompt": "Fix it: {{workflow.name}} $(HOME) it's \"quoted\"\n"}


def executor_manifest(cluster: Cluster, run_name: str, step: str, timeout: float = 60) -> Obj:
    """The object a resource step's executor would create: Argo's final manifest."""
    selector = (f"orchestration.proompteng.ai/run={run_name},"
                f"orchestration.proompteng.ai/step={step}")

    def found() -> Obj | None:
        return resource_manifest(cluster.kube.list_objects("v1", "Pod", cluster.namespace,
                                                           selector))
    manifest: Obj = wait_for(found, f"{run_name}/{step}: the executor's manifest", timeout, 0.2)
    return manifest


def _in_namespace(doc: Obj, namespace: str) -> Obj:
    out = copy.deepcopy(doc)
    out["metadata"]["namespace"] = namespace
    return out


@pytest.mark.parametrize("name", ["codex-rerun", "codex-system-improvement"])
def test_a_live_codex_orchestration_creates_the_reference_s_agent_run(
        cluster: Cluster, controller: ControllerProcess, name: str) -> None:
    require_mirror()
    docs = [d for _, d in mirror_orchestrations() if d["metadata"]["name"] == name]
    if not docs:
        pytest.skip("the mirror lacks argocd/applications/agents/codex-orchestrations.yaml")
    (doc,) = docs
    run_name = f"{name}-{uuid.uuid4().hex[:5]}"
    apply(cluster, _in_namespace(doc, cluster.namespace), run(run_name, name, **PARAMETERS))
    manifest = executor_manifest(cluster, run_name, "implement")
    (step,) = doc["spec"]["steps"]
    (expected,) = oracle([{"op": "AgentRun", "step": step, "runParameters": PARAMETERS}])
    assert manifest["spec"] == expected["value"]
    assert manifest["kind"] == "AgentRun" and manifest["apiVersion"] == f"{AGENTS}/v1alpha1"
    # What the executor's create meets: the CRD refuses the reference's own object.
    refused = dry_run(cluster, {**manifest, "metadata": {"generateName": f"{run_name}-"}})
    assert refused is not None and "spec.implementation.inline: Required value" in refused
    wait_run(cluster, run_name, run_done, "ended", 90)


# -- the lab's primitives Orchestration ---------------------------------------------------------
LAB_OBJECTS = ("argocd/applications/agents/agents-primitives-tool.yaml",
               "argocd/applications/agents/agents-primitives-approvalpolicy.yaml",
               "argocd/applications/agents/agents-primitives-signal-delivery.yaml")


def primitives(cluster: Cluster) -> tuple[Obj, Obj, Obj, list[Obj]]:
    """The lab's primitives Orchestration, its sub-Orchestration and run (../shared),
    and the Tool, ApprovalPolicy and SignalDelivery they name (the mirror's
    agents-primitives ones, named as the jangar Orchestration names them), all in
    the cluster's namespace."""
    folder = JANGAR / "argocd/applications/jangar"
    if not folder.exists():
        pytest.skip(SHARED_ABSENT)
    require_mirror()
    texts = [mirror_file(p) for p in LAB_OBJECTS]
    if any(t is None for t in texts):
        pytest.skip("the mirror lacks the agents-primitives Tool, ApprovalPolicy, SignalDelivery")
    ns = cluster.namespace

    def load(name: str) -> Obj:
        doc: Obj = yaml.safe_load((folder / name).read_text())
        return _in_namespace(doc, ns)
    objects = [_in_namespace(yaml.safe_load(str(t).replace("agents-primitives",
                                                           "jangar-primitives")), ns)
               for t in texts]
    return (load("jangar-primitives-orchestration.yaml"),
            load("jangar-primitives-sub-orchestration.yaml"),
            load("jangar-primitives-orchestrationrun.yaml"), objects)


def _unique(run_doc: Obj) -> Obj:
    out = copy.deepcopy(run_doc)
    out["metadata"]["name"] = f"{out['metadata']['name']}-{uuid.uuid4().hex[:5]}"
    return out


def test_the_lab_s_primitives_as_shipped_end_where_the_reference_ends(
        cluster: Cluster, controller: ControllerProcess, fail_pods: Failures) -> None:
    """The reference throws at submission of the AgentRun step (no implementation,
    ts:956): its step fails and no later step starts. In orch the apiserver refuses
    the AgentRun the executor creates, so the step fails, and the rest is skipped."""
    parent, child, run_doc, objects = primitives(cluster)
    run_doc = _unique(run_doc)
    apply(cluster, *objects, parent, child)
    name = run_doc["metadata"]["name"]
    # The executor's create is refused: its pod fails (kwok runs no executor).
    fail_pods.steps("jangar-primitives", ["agent-run"], message="AgentRun refused")
    apply(cluster, run_doc)
    manifest = executor_manifest(cluster, name, "agent-run")
    refused = dry_run(cluster, {**manifest, "metadata": {"generateName": "x-"}})
    assert refused is not None and "implementationSpecRef or spec.implementation is required" \
        in refused
    done = wait_run(cluster, name, run_done, "ended", 90)
    assert step_table(done) == {
        "agent-run": ("Failed", "StepFailed"),
        **{s: ("Skipped", "DependencyFailed") for s in (
            "tool-run", "memory-op", "approval-gate", "signal-wait", "checkpoint",
            "sub-orchestration")}}
    assert done["status"]["phase"] == "Failed"


def set_status(cluster: Cluster, api_version: str, plural: str, name: str, status: Obj) -> None:
    group, version = api_version.split("/")
    api = client.CustomObjectsApi(cluster.api_client)
    obj: Any = api.get_namespaced_custom_object(group, version, cluster.namespace, plural, name)
    obj["status"] = status
    api.replace_namespaced_custom_object_status(group, version, cluster.namespace, plural,
                                                name, obj)


def test_the_lab_s_primitives_given_an_implementation_run_to_the_end(
        cluster: Cluster, controller: ControllerProcess, fail_pods: Failures) -> None:
    """The one change that lets the reference's own controller run it (an
    implementationSpecRef on the AgentRun step): the AgentRun is created and
    accepted, the ToolRun runs the lab's Tool, the ApprovalGate is released when
    the policy is approved, the SignalWait by the lab's SignalDelivery (there before
    the step starts), the SubOrchestration's child run runs its own ToolRun and
    ends Succeeded, and so does the run."""
    parent, child, run_doc, objects = primitives(cluster)
    parent = copy.deepcopy(parent)
    parent["metadata"]["name"] = "jangar-primitives-impl"
    parent["spec"]["steps"][0]["implementationSpecRef"] = {"name": "jangar-primitives-impl"}
    run_doc = _unique(run_doc)
    run_doc["spec"]["orchestrationRef"]["name"] = "jangar-primitives-impl"
    name = run_doc["metadata"]["name"]
    fail_pods.hold_steps("jangar-primitives-impl", ["sub-orchestration"])
    apply(cluster, *objects, parent, child, run_doc)
    agent = executor_manifest(cluster, name, "agent-run")
    assert dry_run(cluster, {**agent, "metadata": {"generateName": "x-"}}) is None
    (expected,) = oracle([{"op": "AgentRun", "step": parent["spec"]["steps"][0],
                           "runParameters": run_doc["spec"]["parameters"]}])
    assert agent["spec"] == expected["value"]

    def waiting(step: str) -> Any:
        return lambda o: step_table(o).get(step, ("",))[0] == "Running"
    wait_run(cluster, name, waiting("approval-gate"), "the gate waiting", 90)
    set_status(cluster, APPROVALS_API, "approvalpolicies", "jangar-primitives-approval",
               {"phase": "Approved"})
    child_manifest = executor_manifest(cluster, name, "sub-orchestration", 90)
    assert child_manifest["spec"] == {"orchestrationRef": {"name": "jangar-primitives-sub"},
                                      "parameters": {**run_doc["spec"]["parameters"],
                                                     "parameters": '{"message":"hello"}'}}
    (created,) = apply(cluster, child_manifest)
    child_done = wait_run(cluster, created["metadata"]["name"], run_done, "child ended", 90)
    assert step_table(child_done) == {"echo": ("Succeeded", None)}
    # The child ended Succeeded: the step's success condition holds, so its executor
    # ends. Under kwok: the hold is lifted and the pod touched, so kwok completes it.
    fail_pods.release(cluster.namespace, f"orchestration.proompteng.ai/run={name},"
                                         "orchestration.proompteng.ai/step=sub-orchestration")
    done = wait_run(cluster, name, run_done, "ended", 90)
    assert step_table(done) == {s["name"]: ("Succeeded", None) for s in parent["spec"]["steps"]}
    assert done["status"]["phase"] == "Succeeded"


# -- a Tool's own text on the real Argo -----------------------------------------------------------
def test_a_tool_s_own_variables_reach_the_pod_as_in_the_reference_s_job(
        cluster: Cluster, controller: ControllerProcess) -> None:
    """Issue 20 item 2: the pod Argo creates (under kwok its spec is what the kubelet
    would expand) gives the process what the reference's Job container gives it."""
    name = f"greeter-{uuid.uuid4().hex[:5]}"
    greeter = {**tool(GREETER), "metadata": {"name": "greeter"}}
    parameters = {"who": "world {{workflow.name}} é", "what": "(tea)"}
    apply(cluster, greeter, {"apiVersion": f"{ORCH_API}", "kind": "Orchestration",
                             "metadata": {"name": name}, "spec": {"steps": [
                                 {"name": "greet", "kind": "ToolRun",
                                  "toolRef": {"name": "greeter"}, "with": parameters}]}},
          run(name, name))
    done = wait_run(cluster, name, run_done, "ended", 90)
    assert step_table(done) == {"greet": ("Succeeded", None)}
    selector = f"orchestration.proompteng.ai/run={name}"
    (pod,) = cluster.kube.list_objects("v1", "Pod", cluster.namespace, selector)
    (main,) = [c for c in pod["spec"]["containers"] if c["name"] == "main"]
    argv = main["command"] + (main.get("args") or [])
    main = {**main, "command": argv[argv.index("--") + 1:], "args": []}  # Argo's emissary
    (job,) = oracle([{"op": "ToolRunJob", "tool": tool(GREETER), "parameters": parameters,
                      "runName": name}])
    got, env, workdir = process(main)
    want, job_env, job_workdir = process(job["value"]["containers"][0])
    assert got == want and workdir == job_workdir
    job_env.pop("TOOL_RUN_SPEC")
    assert {k: v for k, v in env.items() if k in job_env} == job_env
