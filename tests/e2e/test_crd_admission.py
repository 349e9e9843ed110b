"""The generated CRDs on the real apiserver: what admission rejects, and why.

Why: the CEL rules (duplicate step names, unknown and self dependencies) and their
cost are only judged by the apiserver, so this is where they are tested; the unit
tests cover the schema. Every example of the chart and every reference object must be
accepted. The chart itself (helm lint/template, values schema, dry-runs, Pod
Security, RBAC) is tests/e2e/test_chart.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from compiler.crd import CEL_STEPS, generate_crds
from orchapi.api import MAX_STEPS
from tests.cluster import Cluster
from tests.support.crds import installed, renamed

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "orch"
JANGAR = REPO.parent / "shared" / "reference" / "jangar"
KINDS = ("Orchestration", "OrchestrationRun")
HTTP_UNPROCESSABLE = 422


def orchestration(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "Orchestration",
            "metadata": {"name": name}, "spec": {"steps": steps}}


def step(name: str, *deps: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "kind": "Checkpoint"}
    if deps:
        out["dependsOn"] = list(deps)
    return out


def rejection(cluster: Cluster, obj: dict[str, Any]) -> str:
    """The apiserver's message for an object it must reject."""
    with pytest.raises(ApiException) as caught:
        cluster.kube.apply(obj, cluster.namespace)
    assert caught.value.status == HTTP_UNPROCESSABLE, caught.value.body
    message: str = json.loads(caught.value.body or "{}").get("message", "")
    return message


# The step rules of CEL are generated only for a `maxSteps` the apiserver's cost
# budget affords (compiler.crd.CEL_STEPS, 200); the chart's CRDs (10,000 steps)
# leave those problems to the controller. The rules are tested on CRDs generated
# for 200 steps, installed beside the chart's under their own group.
SMALL_GROUP = "small.orchestration.test"


@pytest.fixture(scope="module")
def small(cluster: Cluster) -> Iterator[str]:
    """Our CRDs generated for 200 steps (so with the step rules), as SMALL_GROUP."""
    crds = [renamed(c, SMALL_GROUP) for c in generate_crds(CEL_STEPS).values()]
    with installed(cluster.api_client, crds):
        yield f"{SMALL_GROUP}/v1alpha1"


# The apiserver prefixes each CEL message with the field path; 1.33 to 1.35 also
# put `"array": ` (the value's type) after "Invalid value:", 1.36 does not, so the
# path and the message are matched apart.
@pytest.mark.parametrize(("steps", "expected"), [
    pytest.param([step("a"), step("b"), step("a")],
                 'step names must be unique: more than one step is named "a"',
                 id="duplicate-name"),
    pytest.param([step("build", "deps"), step("deploy", "build", "biuld")],
                 'step "build" depends on "deps", but no step has that name',
                 id="unknown-dependency"),
    pytest.param([step("a"), step("b", "a", "b")],
                 'step "b" depends on itself', id="self-dependency"),
])
def test_rejected_with_a_message_a_person_understands(
        cluster: Cluster, small: str, steps: list[dict[str, Any]], expected: str) -> None:
    message = rejection(cluster, {**orchestration("bad", steps), "apiVersion": small})
    assert f'Orchestration.{SMALL_GROUP} "bad" is invalid: ' in message
    assert "spec.steps: Invalid value: " in message
    assert message.endswith(expected), message


def test_every_problem_is_reported_at_once(cluster: Cluster, small: str) -> None:
    message = rejection(cluster, {**orchestration("worse", [step("a", "a", "x"), step("a")]),
                                  "apiVersion": small})
    for part in ("more than one step is named", "depends on itself", "no step has that name"):
        assert part in message


def test_at_max_steps_the_step_rules_are_left_to_the_controller(cluster: Cluster) -> None:
    """The chart's CRDs admit what only the step rules would refuse; the controller
    judges it (DuplicateStep, ...: tests/unit/controller/test_validation.py)."""
    created = cluster.kube.apply(orchestration("judged-later", [step("a", "a"), step("a")]),
                                 cluster.namespace)
    assert [s["name"] for s in created["spec"]["steps"]] == ["a", "a"]


CONTAINER = {"name": "c", "kind": "Container", "image": "alpine:3.20"}
TEMPLATE = {"name": "t", "kind": "Template",
            "templateRef": {"name": "shared-steps", "template": "notify"}}


# Names a user writes into Argo and Kubernetes name fields (issue 9): refused at
# admission by the field's grammar (a `pattern`, in every CRD), before Argo could
# evaluate a `{{` in them; `with` keys by a CEL rule, in the CRDs that afford it.
@pytest.mark.parametrize(("bad_step", "field", "says", "cel"), [
    pytest.param({**CONTAINER, "image": "{{workflow.name}}"}, "spec.steps[0].image",
                 "should match", False, id="image"),
    pytest.param({**CONTAINER, "env": [{"name": "{{workflow.name}}", "value": "v"}]},
                 "spec.steps[0].env[0].name", "should match", False, id="env-name"),
    pytest.param({**TEMPLATE, "templateRef": {"name": "{{workflow.name}}", "template": "t"}},
                 "spec.steps[0].templateRef.name", "should match", False,
                 id="templateref-name"),
    pytest.param({**TEMPLATE, "templateRef": {"name": "w", "template": "{{=sprig.x()}}"}},
                 "spec.steps[0].templateRef.template", "should match", False,
                 id="templateref-template"),
    pytest.param({**TEMPLATE, "with": {"{{=sprig.repeat(100000000,'x')}}": "v"}},
                 "spec.steps[0]", "with keys must be Argo parameter names", True,
                 id="with-key"),
    pytest.param({**CONTAINER, "with": {"1x": "v"}}, "spec.steps[0]",
                 "a Container step's are environment variable names", True,
                 id="container-with-key"),
])
def test_user_names_are_held_to_their_grammar(cluster: Cluster, small: str,
                                              bad_step: dict[str, Any], field: str, says: str,
                                              cel: bool) -> None:
    obj = orchestration("bad-name", [bad_step])
    message = rejection(cluster, {**obj, "apiVersion": small} if cel else obj)
    assert f"{field}: Invalid value: " in message and says in message, message


def test_run_parameter_names_are_held_to_their_grammar(cluster: Cluster) -> None:
    run = {"apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
           "metadata": {"name": "bad-params"},
           "spec": {"orchestrationRef": {"name": "o"}, "parameters": {"a b": "v", "ok": "v"}}}
    message = rejection(cluster, run)
    assert "spec.parameters: Invalid value: " in message
    assert "parameter names must be Argo parameter names" in message


def test_names_at_the_edges_of_their_grammar_are_accepted(cluster: Cluster) -> None:
    steps: list[dict[str, Any]] = [{**CONTAINER, "image": "registry.example.com:5000/a/b__c:v1.0",
              "env": [{"name": ".dot", "value": "v"}, {"name": "-", "value": "v"}],
              "with": {"_9.x-": "v"}},
             {**TEMPLATE, "with": {"-": "v", "0": "v", "a_B-9": "v"}}]
    created = cluster.kube.apply(orchestration("edge-names", steps), cluster.namespace)
    assert created["spec"]["steps"] == steps


def test_too_many_steps_is_rejected(cluster: Cluster) -> None:
    steps = [step(f"s{i}") for i in range(MAX_STEPS + 1)]
    assert f"must have at most {MAX_STEPS} items" in rejection(cluster,
                                                                orchestration("big", steps))


def test_the_chart_crds_are_installed_with_max_steps(cluster: Cluster) -> None:
    """The generated CRDs, bounded at maxSteps, are what the cluster installed at
    start (an apiserver refuses a CRD whose rules' estimated cost passes its
    budget: the cluster would not have started) and are Established."""
    for name, generated in generate_crds().items():
        crd = cluster.kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                               generated["metadata"]["name"])
        assert crd is not None, name
        assert crd["spec"]["versions"] == generated["spec"]["versions"]
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True"


def dry_run(cluster: Cluster, obj: dict[str, Any]) -> dict[str, Any]:
    """A server-side dry-run runs the whole validation, CEL included, and stops
    before storage, so it judges exactly the rules' cost."""
    obj["metadata"]["namespace"] = cluster.namespace
    res = cluster.kube.resource(obj["apiVersion"], obj["kind"])
    created: dict[str, Any] = res.create(body=obj, namespace=cluster.namespace,
                                         dry_run="All").to_dict()
    return created


def test_largest_dense_graph_is_within_the_cel_cost_budget(cluster: Cluster,
                                                            small: str) -> None:
    """200 steps with 128-character names, each depending on every earlier step:
    the worst valid object still passes the rules (runtime cost limits).

    Its JSON is 2.6 MB: within the apiserver's 3 MB request limit, above etcd's
    1.5 MiB value limit (such an object can never be stored; the densest storable
    graph is smaller)."""
    names = [f"s{i:03d}".ljust(128, "x") for i in range(200)]
    steps = [step(n, *names[:i]) for i, n in enumerate(names)]
    created = dry_run(cluster, {**orchestration("dense", steps), "apiVersion": small})
    assert len(created["spec"]["steps"]) == 200
    assert created["spec"]["steps"][-1]["dependsOn"] == names[:199]


def test_max_steps_with_long_names_and_a_wide_join_is_admitted(cluster: Cluster) -> None:
    """10,000 steps of 128-character names, the last one joining 5,000 of them:
    the chart's CRDs admit the largest object the apiserver takes (about 2.6 MB of
    JSON, under its 3 MB request limit)."""
    names = [f"s{i:05d}".ljust(128, "x") for i in range(MAX_STEPS)]
    steps = [step(n) for n in names[:-1]] + [step(names[-1], *names[:5000])]
    created = dry_run(cluster, orchestration("widest", steps))
    assert len(created["spec"]["steps"]) == MAX_STEPS


def documents(paths: list[Path]) -> list[Any]:
    out = []
    for path in paths:
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            continue  # Helm templates and the like: not objects
        for i, doc in enumerate(docs):
            if isinstance(doc, dict) and doc.get("kind") in KINDS:
                out.append(pytest.param(doc, id=f"{path.name}#{i}"))
    return out


def reference_paths() -> list[Path]:
    if not JANGAR.is_dir():
        return []
    return [p for p in sorted(JANGAR.rglob("*.yaml")) if "crds" not in p.parts]


EXAMPLES = documents(sorted((CHART / "examples").glob("*.yaml")))
REFERENCE = documents(reference_paths()) or [pytest.param(None, marks=pytest.mark.skip(
    reason=f"reference system absent: {JANGAR}"), id="absent")]


@pytest.mark.parametrize("doc", EXAMPLES + REFERENCE)
def test_accepted(cluster: Cluster, doc: dict[str, Any]) -> None:
    doc = {**doc, "metadata": {k: v for k, v in doc["metadata"].items() if k != "namespace"}}
    created = cluster.kube.apply(doc, cluster.namespace)
    assert created["spec"] == doc["spec"]  # nothing pruned, nothing defaulted


def test_printer_columns_and_map_lists_are_served(cluster: Cluster) -> None:
    crd = cluster.kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                           "orchestrationruns.orchestration.proompteng.ai")
    assert crd is not None
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Phase", "Orchestration", "Steps", "Succeeded", "RunId", "Age"]


def test_a_runs_spec_cannot_change_once_it_exists_except_cancel(cluster: Cluster) -> None:
    """Contract §5: editing a submitted run would have no effect, so the apiserver
    refuses it (a CEL transition rule per spec field); `spec.cancel` may change."""
    ns = cluster.namespace
    run: dict[str, Any] = {
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
        "metadata": {"name": "immutable-1"},
        "spec": {"orchestrationRef": {"name": "o"}, "parameters": {"a": "1"}}}
    cluster.kube.apply(run, ns)
    for change, field in (
            ({"parameters": {"a": "2"}}, "parameters"),
            ({"parameters": {"a": "1", "b": "2"}}, "parameters"),
            ({"orchestrationRef": {"name": "other"}}, "orchestrationRef"),
            ({"deliveryId": "d-1"}, "deliveryId")):
        message = rejection(cluster, {**run, "spec": {**run["spec"], **change}})
        assert f"spec.{field}: Forbidden: spec.{field} cannot change once the run exists " \
               "(only spec.cancel can)" in message, message
    dropped = {**run, "spec": {"orchestrationRef": {"name": "o"}}}  # parameters removed
    res = cluster.kube.resource(run["apiVersion"], run["kind"])
    live = res.get(name="immutable-1", namespace=ns).to_dict()
    with pytest.raises(ApiException) as caught:  # a full replace that drops a field
        res.replace(body={**dropped, "metadata": live["metadata"]}, namespace=ns)
    assert caught.value.status == HTTP_UNPROCESSABLE
    assert "spec.parameters cannot change" in (caught.value.body or "")
    cancelled = cluster.kube.apply({**run, "spec": {**run["spec"], "cancel": True}}, ns)
    assert cancelled["spec"]["cancel"] is True
    assert cancelled["spec"]["parameters"] == {"a": "1"}


def test_a_status_with_step_counts_is_kept(cluster: Cluster) -> None:
    """Contract §8: past 256 KiB of step records, the run's status counts its steps
    by phase and reason (controller.step_budget); the status subresource keeps them."""
    ns = cluster.namespace
    run: dict[str, Any] = {
        "apiVersion": "orchestration.proompteng.ai/v1alpha1", "kind": "OrchestrationRun",
        "metadata": {"name": "counted"}, "spec": {"orchestrationRef": {"name": "o"}}}
    live = cluster.kube.apply(run, ns)
    counts = [{"phase": "Succeeded", "count": 9990},
              {"phase": "Failed", "reason": "StepFailed", "count": 1},
              {"phase": "Skipped", "reason": "DependencyFailed", "count": 9}]
    status = {"phase": "Failed", "progress": "10000/10000", "stepCounts": counts,
              "stepStatuses": [{"name": "s1", "kind": "Container", "phase": "Failed",
                                "reason": "StepFailed"}]}
    api = client.CustomObjectsApi(cluster.api_client)
    api.replace_namespaced_custom_object_status(
        "orchestration.proompteng.ai", "v1alpha1", ns, "orchestrationruns", "counted",
        {**run, "metadata": live["metadata"], "status": status})
    got = cluster.kube.get(run["apiVersion"], run["kind"], "counted", ns)
    assert got is not None and got["status"]["stepCounts"] == counts
