"""The Helm chart against the real helm binary and the real apiserver.

Why each part:
- every documented values combination (`charts/orch/ci/*-values.yaml`) must lint,
  render the objects its docs promise, and be accepted by the apiserver (server-side
  dry-run, strict field validation) without a single `Warning`;
- a values file with a wrong type or an unknown key must be refused by `helm lint`
  and `helm template` with a message naming the key;
- the controller's pod must pass Pod Security `restricted` for real: the rendered
  Deployment is created in an enforcing namespace and the kube-controller-manager's
  deployment and replicaset controllers (tests/cluster/control_plane.py) turn it
  into a Pod that admission judges;
- the chart's RBAC must be exactly what the controller uses: the controller runs as
  the rendered Deployment configures it, authenticated as the chart's
  ServiceAccount, through a flow that takes every code path that calls the API,
  and the apiserver's audit log is compared with the rendered Roles.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from compiler.emit import workflow_name
from compiler.podpolicy import PodPolicy
from controller.config import pod_settings
from orchapi.api import API_VERSION, Obj
from orchapi.argo import ARGO_API_VERSION
from tests.chart import apiserver, helm, rbac, validate
from tests.chart.helm import ValueSet, by_kind, container_env
from tests.cluster import Cluster
from tests.cluster.cluster import AGENT_RUN_CRD, TOOL_CRD
from tests.cluster.kube import wait_for
from tests.cluster.procs import free_port
from tests.e2e.orch_controller import execute_resource_step, token_kubeconfig

pytestmark = pytest.mark.e2e

API = API_VERSION
WF_API = ARGO_API_VERSION
VALUE_SETS = helm.value_sets()
CONTROLLER_RULES = {
    ("orchestration.proompteng.ai", "orchestrations"), ("orchestration.proompteng.ai",
                                                         "orchestrationruns")}


@pytest.fixture(scope="module")
def servicemonitor_crd(cluster: Cluster) -> str:
    """The ServiceMonitor CRD installed, so the servicemonitor values are judged
    by its real schema rather than skipped."""
    try:
        path = apiserver.servicemonitor_crd()
    except apiserver.CrdUnavailableError as e:
        pytest.skip(f"ServiceMonitor CRD unavailable: {e}")
    return cluster.kube.install_crds([path])[0]


# -- lint, render, dry-run: every documented combination -----------------------------------
@pytest.mark.parametrize("values", VALUE_SETS, ids=[v.name for v in VALUE_SETS])
def test_lints(tools_bin: Path, values: ValueSet) -> None:
    out = helm.lint(tools_bin, values)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout, out.stdout


@pytest.mark.parametrize("values", VALUE_SETS, ids=[v.name for v in VALUE_SETS])
def test_rendered_manifests_pass_a_server_side_dry_run(
        cluster: Cluster, tools_bin: Path, values: ValueSet, request: pytest.FixtureRequest
        ) -> None:
    objs = [o for o in helm.template(tools_bin, values)
            if o["kind"] != "CustomResourceDefinition"]  # installed for real by the cluster
    if by_kind(objs, "ServiceMonitor"):
        request.getfixturevalue("servicemonitor_crd")
    apiserver.ensure_namespaces(cluster.kube, apiserver.namespaces_of(objs))
    answers = apiserver.apply_all(cluster.kube, objs, dry_run=True)
    assert [a.ref for a in answers if not a.clean] == [], "\n".join(
        f"{a.ref}: {a.error or a.warnings}" for a in answers if not a.clean)
    assert "Deployment" in {a.obj["kind"] for a in answers}  # judged, not skipped


def test_crds_rendered_with_the_chart_are_the_committed_ones(tools_bin: Path) -> None:
    objs = helm.template(tools_bin, helm.ValueSet("defaults", None))
    rendered = sorted(o["metadata"]["name"] for o in by_kind(objs, "CustomResourceDefinition"))
    committed = sorted(yaml.safe_load(p.read_text())["metadata"]["name"]
                       for p in (helm.CHART / "crds").glob("*.yaml"))
    assert rendered == committed == ["orchestrationruns.orchestration.proompteng.ai",
                                     "orchestrations.orchestration.proompteng.ai"]


def rendered(tools_bin: Path, name: str) -> list[Obj]:
    values = next(v for v in VALUE_SETS if v.name == name)
    return [o for o in helm.template(tools_bin, values) if o["kind"] != "CustomResourceDefinition"]


def controller_grants(objs: list[Obj], sa_ns: str, sa: str) -> set[tuple[str, str]]:
    """(namespace, role kind) of the grants on Orchestrations: where the controller
    may reconcile."""
    kinds = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["kind"]
             for o in objs if o["kind"] in ("Role", "ClusterRole")}
    out = set()
    for access in rbac.granted(objs, sa_ns, sa):
        if (access.group, access.resource) in CONTROLLER_RULES:
            role_ns = "" if access.namespace == rbac.ANY_NAMESPACE else access.namespace
            kind = "ClusterRole" if access.namespace == rbac.ANY_NAMESPACE else "Role"
            assert any(k == kind for (ns, _), k in kinds.items() if ns == role_ns)
            out.add((access.namespace, kind))
    return out


# The last column: the namespaces that get the Workflows' own ServiceAccount (on by
# default; not with "*", where the chart cannot know them, nor when disabled).
@pytest.mark.parametrize(("name", "sa", "namespaces_env", "grants", "workflow_sa_in"), [
    pytest.param("defaults", "orch", "orch-system", {("orch-system", "Role")},
                 ["orch-system"], id="defaults"),
    pytest.param("namespaces", "orch", "team-a,team-b",
                 {("team-a", "Role"), ("team-b", "Role")}, ["team-a", "team-b"],
                 id="namespaces"),
    pytest.param("all-namespaces", "orch", "*", {("*", "ClusterRole")}, [],
                 id="all-namespaces"),
    pytest.param("cluster-scoped", "orch", "team-a", {("*", "ClusterRole")}, ["team-a"],
                 id="cluster-scoped"),
    pytest.param("disabled", "orch", "orch-system", set(), [], id="disabled"),
    pytest.param("existing-serviceaccount", "orch-existing", "orch-system",
                 {("orch-system", "Role")}, ["orch-system"], id="existing-serviceaccount"),
])
def test_where_the_controller_is_granted_what(
        tools_bin: Path, name: str, sa: str, namespaces_env: str,
        grants: set[tuple[str, str]], workflow_sa_in: list[str]) -> None:
    objs = rendered(tools_bin, name)
    deployment = by_kind(objs, "Deployment")[0]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == sa
    assert container_env(deployment)["JANGAR_ORCHESTRATION_CONTROLLER_NAMESPACES"] == \
        namespaces_env
    assert controller_grants(objs, "orch-system", sa) == grants
    accounts = [(o["metadata"]["namespace"], o["metadata"]["name"])
                for o in by_kind(objs, "ServiceAccount")]
    assert [n for _, n in accounts if n != "orch-workflow"] == (
        [] if name == "existing-serviceaccount" else [sa])
    assert [ns for ns, n in accounts if n == "orch-workflow"] == workflow_sa_in
    env = container_env(deployment)
    assert env.get("ORCH_WORKFLOW_SERVICE_ACCOUNT") == {
        "all-namespaces": "workflow-runner", "disabled": None}.get(
        name, "orch-workflow")


def test_disabled_controller_gets_no_token_and_no_rights(tools_bin: Path) -> None:
    objs = rendered(tools_bin, "disabled")
    pod = by_kind(objs, "Deployment")[0]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert container_env(by_kind(objs, "Deployment")[0])[
        "JANGAR_ORCHESTRATION_CONTROLLER_ENABLED"] == "0"
    assert [o["kind"] for o in objs if o["kind"].endswith(("Role", "RoleBinding"))] == []


def test_workflow_serviceaccount_in_each_namespace(tools_bin: Path) -> None:
    objs = rendered(tools_bin, "workflow-serviceaccount")
    deployment = by_kind(objs, "Deployment")[0]
    assert container_env(deployment)["ORCH_WORKFLOW_SERVICE_ACCOUNT"] == "orch-workflow"
    env = container_env(deployment)
    assert (env["ORCH_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN"], env["ORCH_POD_POLICY"]) == (
        "0", '"restricted"')
    assert "ORCH_POD_SECURITY" not in env
    # Argo mounts the executor's token from this Secret (automounting is off).
    assert {(o["metadata"]["namespace"], o["metadata"]["name"], o["type"],
             o["metadata"]["annotations"]["kubernetes.io/service-account.name"])
            for o in by_kind(objs, "Secret")} == {
        (ns, "orch-workflow.service-account-token", "kubernetes.io/service-account-token",
         "orch-workflow") for ns in ("team-a", "team-b")}
    wf_sas = {(o["metadata"]["namespace"], o["metadata"]["name"])
              for o in by_kind(objs, "ServiceAccount")}
    assert wf_sas == {("orch-system", "orch"), ("team-a", "orch-workflow"),
                      ("team-b", "orch-workflow")}
    for ns in ("team-a", "team-b"):
        wf = rbac.granted(objs, ns, "orch-workflow")
        assert rbac.Access(ns, "create", "argoproj.io", "workflowtaskresults") in wf
        assert {a.namespace for a in wf} == {ns}
    # The controller is not given what the Workflows' pods need.
    assert not any(a.resource == "workflowtaskresults"
                   for a in rbac.granted(objs, "orch-system", "orch"))


# What Argo's executor does with a `resource` template (argo-workflows v4.0.5 and
# v3.6.18, workflow/executor/resource.go and taskresult.go): `kubectl <action> -f
# manifest`, then, for success/failure conditions, a GET of the object's own URL
# until one matches; no list, no watch. Its results go to a WorkflowTaskResult,
# created then patched.
EXECUTOR_VERBS = {"create": ("create", "get"), "get": ("get",)}
TASK_RESULTS = (("create", "argoproj.io", "workflowtaskresults"),
                ("patch", "argoproj.io", "workflowtaskresults"))


def executor_needs(cluster: Cluster, workflow: Obj, namespace: str) -> set[rbac.Access]:
    """The accesses the executor needs for the `resource` templates of `workflow`
    (the manifest's apiVersion and kind, resolved to a resource by discovery)."""
    out = {rbac.Access(namespace, *t) for t in TASK_RESULTS}
    for template in workflow["spec"]["templates"]:
        resource = template.get("resource")
        if not resource:
            continue
        api_version = re.search(r"^apiVersion: (\S+)$", resource["manifest"], re.M)
        kind = re.search(r"^kind: (\S+)$", resource["manifest"], re.M)
        assert api_version and kind, resource["manifest"]
        plural = cluster.kube.resource(api_version.group(1), kind.group(1)).name
        group = api_version.group(1).rpartition("/")[0]
        out |= {rbac.Access(namespace, verb, group, plural)
                for verb in EXECUTOR_VERBS[resource["action"]]}
    return out


def test_workflow_serviceaccount_role_is_what_the_executor_needs(
        cluster: Cluster, tools_bin: Path) -> None:
    """Every step kind (the all-step-kinds example, compiled) against the Role the
    chart gives the Workflows' ServiceAccount: equal, not merely enough."""
    if AGENT_RUN_CRD not in cluster.crds:
        pytest.skip("the reference system's CRDs (AgentRun, ToolRun, ...) are not installed: "
                    "../shared/reference/jangar is absent (a fresh clone has no ../shared/)")
    needed: set[rbac.Access] = set()
    for example in helm.example_files():
        compiled = subprocess.run([validate.orch_bin(), "compile", str(example)],
                                  capture_output=True, text=True, check=True).stdout
        for workflow in yaml.safe_load_all(compiled):
            needed |= executor_needs(cluster, workflow, "team-a")
    # ToolRun steps run their Tool's container, waits are suspend nodes: neither
    # touches an object, so only the created kinds are needed.
    assert {a.resource for a in needed} == {"agentruns", "orchestrationruns",
                                            "workflowtaskresults"}
    granted = rbac.granted(rendered(tools_bin, "workflow-serviceaccount"), "team-a",
                           "orch-workflow")
    assert sorted(map(str, granted - needed)) == []  # granted, never needed
    assert sorted(map(str, needed - granted)) == []  # needed, not granted


def test_servicemonitor_and_customized_values_reach_the_objects(tools_bin: Path) -> None:
    monitor = by_kind(rendered(tools_bin, "servicemonitor"), "ServiceMonitor")[0]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [{"port": "http-metrics", "path": "/metrics",
                                             "interval": "15s", "scrapeTimeout": "5s"}]
    objs = rendered(tools_bin, "customized")
    deployment = by_kind(objs, "Deployment")[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert deployment["metadata"]["name"] == "orchestrator"
    assert deployment["spec"]["replicas"] == 2
    assert container["image"] == "registry.example.com/orch:0.1.0-rc1"
    assert container["ports"] == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
    assert container["args"] == ["controller", "--leader-election-id=orchestrator"]
    env = container_env(deployment)
    assert env["ORCH_HTTP_PORT"] == "9090"
    assert (env["ORCH_REQUEST_TIMEOUT_SECONDS"], env["ORCH_WATCH_IDLE_TIMEOUT_SECONDS"],
            env["ORCH_HEALTH_WINDOW_SECONDS"]) == ("20", "75", "300")
    assert env["ORCH_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN"] == "1"
    assert env["ORCH_POD_SECURITY"] == "none"
    assert pod_settings(env).policy == PodPolicy(
        pod_security="none", secrets=("registry-token",), service_accounts=("deployer",),
        images=("registry.example.com/*",))
    assert (env["ORCH_MAX_SUBORCHESTRATION_DEPTH"], env["ORCH_ALLOWED_STEP_KINDS"]) == (
        "3", "AgentRun,ToolRun,SubOrchestration,ApprovalGate,SignalWait")
    assert env["ORCH_MAX_STEPS"] == "500"
    assert env["ORCH_MAX_DESCENDANTS"] == "50"
    assert env["ORCH_MAX_ACTIVE_RUNS_PER_NAMESPACE"] == "20"
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["serviceAccountName"] == "orchestrator-sa"
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert by_kind(objs, "Service")[0]["spec"]["ports"][0]["port"] == 9090


def test_the_multi_tenant_example(tools_bin: Path) -> None:
    """docs/chart.md's multi-tenant install: the controller reads the policy it says."""
    deployment = by_kind(rendered(tools_bin, "multi-tenant"), "Deployment")[0]
    env = container_env(deployment)
    assert pod_settings(env).policy == PodPolicy(
        volume_types=("emptyDir", "configMap", "downwardAPI"), images=("ghcr.io/acme/tools/*",),
        workflow_templates=())
    assert "Container" not in env["ORCH_ALLOWED_STEP_KINDS"].split(",")
    assert env["JANGAR_ORCHESTRATION_CONTROLLER_NAMESPACES"] == "team-a,team-b"


# -- values the schema refuses -------------------------------------------------------------
@pytest.mark.parametrize(("values", "says"), [
    pytest.param(values, says, id=name) for name, values, says in helm.BAD_VALUES])
def test_bad_values_are_refused_with_the_key_named(
        tools_bin: Path, tmp_path: Path, values: Obj, says: str) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    lint = helm.lint(tools_bin, ["-f", str(path)])
    assert lint.returncode != 0
    assert says in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    with pytest.raises(helm.HelmError) as refused:
        helm.template(tools_bin, ["-f", str(path)])
    assert says in str(refused.value)


def test_a_health_window_within_the_watch_idle_timeout_is_refused(
        tools_bin: Path, tmp_path: Path) -> None:
    """Two values no schema can compare: the template refuses them (`helm install`
    and `helm template` fail; `helm lint` renders in lint mode, where Helm turns a
    template's `fail` into an INFO line, so it is not asked here)."""
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"orchestrationController": {
        "healthWindowSeconds": 60, "watchIdleTimeoutSeconds": 90}}))
    with pytest.raises(helm.HelmError) as refused:
        helm.template(tools_bin, ["-f", str(path)])
    assert "healthWindowSeconds must exceed watchIdleTimeoutSeconds" in str(refused.value)


# -- examples ---------------------------------------------------------------------------
def test_examples_pass_a_server_side_dry_run(cluster: Cluster) -> None:
    objs: list[Obj] = []
    for path in [*helm.example_files(), *helm.example_argo_files()]:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc.setdefault("metadata", {})["namespace"] = cluster.namespace
                objs.append(doc)
    # The example's Tool is the reference system's kind: its CRD comes with ../shared.
    tools = TOOL_CRD in cluster.crds
    answers = apiserver.apply_all(cluster.kube, [o for o in objs if tools or o["kind"] != "Tool"],
                                  dry_run=True)
    assert [a.ref for a in answers if not a.clean] == [], "\n".join(
        f"{a.ref}: {a.error or a.warnings}" for a in answers if not a.clean)
    kinds = sorted({a.obj["kind"] for a in answers})
    assert kinds == ["Orchestration", "OrchestrationRun", *(["Tool"] if tools else []),
                     "WorkflowTemplate"]


@pytest.mark.parametrize("example", helm.example_files(), ids=lambda p: p.stem)
def test_example_is_valid_and_its_workflow_passes_argo_lint(
        tools_bin: Path, tmp_path: Path, example: Path) -> None:
    """The same checks as scripts/validate (its functions), so `make test` has them."""
    assert "valid" in validate.check_orch_validate(example)
    for cli in validate.ARGO_CLIS:
        assert "no linting errors" in validate.check_argo_lint(tools_bin, example, cli, tmp_path)


# -- Pod Security: restricted --------------------------------------------------------------
PSS_NAMESPACE = "orch-pss"
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted"
              for mode in ("enforce", "warn", "audit")} | {
    f"pod-security.kubernetes.io/{mode}-version": "latest"
    for mode in ("enforce", "warn", "audit")}


def pod_from(deployment: Obj, name: str) -> Obj:
    template = copy.deepcopy(deployment["spec"]["template"])
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {**template["metadata"], "name": name,
                         "namespace": deployment["metadata"]["namespace"]},
            "spec": template["spec"]}


def test_controller_pod_passes_pod_security_restricted(cluster: Cluster, tools_bin: Path
                                                      ) -> None:
    kube = cluster.kube
    apiserver.ensure_namespaces(kube, [PSS_NAMESPACE], RESTRICTED)
    objs = helm.template(tools_bin, [], namespace=PSS_NAMESPACE)  # the default values
    deployment = by_kind(objs, "Deployment")[0]
    for obj in [*by_kind(objs, "ServiceAccount"), deployment]:
        answer = apiserver.apply(kube, obj, dry_run=False)  # created for real
        assert answer.clean, f"{answer.ref}: {answer.error or answer.warnings}"
    answer = apiserver.apply(kube, pod_from(deployment, "orch-pss-direct"), dry_run=True)
    assert answer.clean, f"the Pod itself: {answer.error or answer.warnings}"

    # The replicaset controller's Pod, admitted by the enforcing namespace.
    selector = ",".join(f"{k}={v}" for k, v in
                        deployment["spec"]["selector"]["matchLabels"].items())

    def created_pod() -> Obj | None:
        pods = kube.list_objects("v1", "Pod", PSS_NAMESPACE, selector)
        return pods[0] if pods else None

    pod = wait_for(created_pod, "the Deployment's Pod", 30)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    replicasets = kube.list_objects("apps/v1", "ReplicaSet", PSS_NAMESPACE, selector)
    conditions = [c for r in replicasets for c in (r.get("status") or {}).get("conditions") or ()]
    assert [c for c in conditions if c["type"] == "ReplicaFailure"] == []

    # The same checks do see a violation: without the container's securityContext
    # the Deployment draws a warning and its Pod is refused.
    loose = copy.deepcopy(deployment)
    loose["metadata"]["name"] = "orch-loose"
    del loose["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    warned = apiserver.apply(kube, loose, dry_run=True)
    assert not warned.error and any("would violate PodSecurity" in w and "restricted:latest" in w
                                    for w in warned.warnings), warned.warnings
    refused = apiserver.apply(kube, pod_from(loose, "orch-loose"), dry_run=True)
    assert refused.error.startswith("403: ") and "violates PodSecurity" in refused.error


# -- RBAC: granted == used -----------------------------------------------------------------
SA_NAME = "orch"


@dataclass(frozen=True)
class Install:
    """One way to install the chart: Roles in listed namespaces (with the
    Workflows' ServiceAccount) or one ClusterRole for `*`. Each has its own
    release namespace (the Lease; the ServiceAccount, so the audit log tells the
    two apart) and its own namespace of runs."""

    name: str
    release_namespace: str
    runs_namespace: str
    values: tuple[str, ...]
    workflow_service_account: str | None


INSTALLS = [
    Install("listed-namespaces", "orch-chart-rbac", "orch-chart-runs",
            ("--set", "orchestrationController.namespaces={orch-chart-runs}",
             "--set", "workflowServiceAccount.create=true"), "orch-workflow"),
    Install("all-namespaces", "orch-chart-rbac-all", "orch-chart-runs-all",
            ("--set", "orchestrationController.namespaces={*}",
             "--set", "workflowServiceAccount.create=false"), None),
]


class ChartController:
    """The controller started as the rendered Deployment would start it: the image's
    entrypoint (`orch`) with the container's args and env, authenticated with a
    token of the chart's ServiceAccount; only the HTTP port is a free one."""

    def __init__(self, deployment: Obj, kubeconfig: Path, log: Path) -> None:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        self.port = free_port()
        env = container_env(deployment)
        env["POD_NAMESPACE"] = deployment["metadata"]["namespace"]  # the fieldRef
        env["ORCH_HTTP_PORT"] = str(self.port)
        self.env = {**env, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1",
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "HOME": str(log.parent)}
        self.argv = [str(Path(sys.executable).with_name("orch")), *container["args"]]
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> ChartController:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, env=self.env)
        return self

    def ready(self) -> bool:
        assert self.popen is not None
        if self.popen.poll() is not None:
            raise AssertionError(f"controller exited {self.popen.returncode}:\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def terminate(self) -> int:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(30)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def container_step(name: str, deps: list[str]) -> Obj:
    return {"name": name, "kind": "Container", "image": "alpine:3.20",
            "command": ["sh", "-c", f"echo {name}"], "dependsOn": deps}


def orchestration_run(name: str, orchestration: str, namespace: str) -> Obj:
    return {"apiVersion": API, "kind": "OrchestrationRun",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"orchestrationRef": {"name": orchestration}}}


@pytest.fixture(scope="module", params=INSTALLS, ids=[i.name for i in INSTALLS])
def install(request: pytest.FixtureRequest) -> Install:
    found: Install = request.param
    return found


@pytest.fixture(scope="module")
def chart_rbac(cluster: Cluster, tools_bin: Path, install: Install) -> list[Obj]:
    """The chart rendered for `install`, its RBAC and ServiceAccounts created for real."""
    objs = helm.template(tools_bin, list(install.values), namespace=install.release_namespace)
    apiserver.ensure_namespaces(cluster.kube, [install.release_namespace,
                                               install.runs_namespace])
    kinds = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
    for obj in (o for o in objs if o["kind"] in kinds):
        answer = apiserver.apply(cluster.kube, obj, dry_run=False)
        assert answer.clean, f"{answer.ref}: {answer.error or answer.warnings}"
    return objs


@pytest.fixture(scope="module")
def chart_controller(cluster: Cluster, install: Install, chart_rbac: list[Obj],
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartController]:
    work = tmp_path_factory.mktemp(f"chart-controller-{install.name}")
    kubeconfig = token_kubeconfig(cluster, install.release_namespace, SA_NAME,
                                  work / "kubeconfig")
    proc = ChartController(by_kind(chart_rbac, "Deployment")[0], kubeconfig,
                           work / "controller.log").start()
    try:
        wait_for(proc.ready, "the controller's /readyz", 30, 0.1)
        yield proc
    finally:
        proc.stop()


def run_phase(cluster: Cluster, name: str, namespace: str) -> str:
    obj = cluster.kube.get(API, "OrchestrationRun", name, namespace) or {}
    return str((obj.get("status") or {}).get("phase") or "")


def wait_phase(cluster: Cluster, name: str, namespace: str, phase: str,
               proc: ChartController) -> Obj:
    try:
        wait_for(lambda: run_phase(cluster, name, namespace) == phase, f"run {name} {phase}",
                 60, 0.1)
    except TimeoutError as e:
        raise AssertionError(f"{e}\ncontroller log:\n{proc.tail()}") from None
    found = cluster.kube.get(API, "OrchestrationRun", name, namespace)
    assert found is not None
    return found


def audited(cluster: Cluster, user: str, verb: str, resource: str) -> bool:
    return any(r.access is not None and (r.access.verb, r.access.resource) == (verb, resource)
               for r in rbac.observed(cluster.audit_log, user))


def lease_updated_since(cluster: Cluster, user: str, since: datetime) -> bool:
    """The audit log holds, as a whole line, an update of a Lease by `user` that the
    apiserver received after `since`."""
    text = cluster.audit_log.read_text()
    for line in text[:text.rfind("\n") + 1].splitlines():
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        if (event["user"]["username"], event["verb"], ref.get("resource"),
                event["stage"]) == (user, "update", "leases", "ResponseComplete") and \
                datetime.fromisoformat(event["requestReceivedTimestamp"]) >= since:
            return True
    return False


def test_rbac_grants_exactly_what_the_controller_uses(
        cluster: Cluster, install: Install, chart_rbac: list[Obj],
        chart_controller: ChartController) -> None:
    kube, user = cluster.kube, rbac.username(install.release_namespace, SA_NAME)
    runs_ns = install.runs_namespace

    def wait_audited(verb: str, resource: str) -> None:
        wait_for(lambda: audited(cluster, user, verb, resource),
                 f"the controller to {verb} {resource}", 30, 0.1)

    # A diamond runs to the end: list/watch, status writes, Workflow create, Events.
    steps = [container_step("a", []), container_step("b", ["a"]),
             container_step("c", ["a"]), container_step("d", ["b", "c"])]
    kube.apply({"apiVersion": API, "kind": "Orchestration",
                "metadata": {"name": "diamond", "namespace": runs_ns},
                "spec": {"steps": steps}})
    kube.apply(orchestration_run("run-1", "diamond", runs_ns))
    done = wait_phase(cluster, "run-1", runs_ns, "Succeeded", chart_controller)
    wf = kube.get(WF_API, "Workflow", done["status"]["workflowRef"]["name"], runs_ns)
    assert wf is not None
    assert wf["spec"].get("serviceAccountName") == install.workflow_service_account
    orch = kube.get(API, "Orchestration", "diamond", runs_ns)
    assert orch is not None and (orch.get("status") or {}).get("phase") == "Ready"

    # A run of a missing Orchestration: read from the API when the cache lacks it.
    kube.apply(orchestration_run("run-missing", "no-such-orchestration", runs_ns))
    wait_phase(cluster, "run-missing", runs_ns, "Failed", chart_controller)
    wait_audited("get", "orchestrations")

    # A stale Workflow under a new run's name, owned by a run that is gone: the
    # controller deletes it (its owner's version is not served, so the garbage
    # collector cannot get there first) and submits its own.
    kube.apply({"apiVersion": WF_API, "kind": "Workflow", "metadata": {
        "name": workflow_name("run-2"), "namespace": runs_ns,
        "ownerReferences": [{"apiVersion": "orchestration.proompteng.ai/v1",
                             "kind": "OrchestrationRun", "name": "run-2",
                             "uid": "00000000-0000-0000-0000-000000000000",
                             "controller": True}]},
        "spec": {"entrypoint": "wait", "templates": [{"name": "wait", "suspend": {}}]}})
    run_2 = kube.apply(orchestration_run("run-2", "diamond", runs_ns))
    wait_audited("get", "workflows")  # read live before it is deleted: still that owner's?
    wait_audited("delete", "workflows")
    wait_phase(cluster, "run-2", runs_ns, "Succeeded", chart_controller)
    wf_2 = kube.get(WF_API, "Workflow", workflow_name("run-2"), runs_ns)
    assert wf_2 is not None
    assert wf_2["metadata"]["ownerReferences"][0]["uid"] == run_2["metadata"]["uid"]

    # A cancel (contract §3) while a SubOrchestration step and an AgentRun step run
    # (kwok holds their pods; the objects they create are created as argoexec would):
    # the Workflow is stopped, the child run cancelled, the AgentRun deleted.
    held, kid = f"held-{install.name}", f"kid-{install.name}"
    agents = AGENT_RUN_CRD in cluster.crds  # the reference CRDs: only with ../shared
    pods = cluster.failures()
    pods.hold_steps(held, ["child", "agent"])
    pods.hold_steps(kid, ["a"])  # the child run still runs when its parent is cancelled
    try:
        kube.apply({"apiVersion": API, "kind": "Orchestration",
                    "metadata": {"name": kid, "namespace": runs_ns},
                    "spec": {"steps": [container_step("a", [])]}})
        kube.apply({"apiVersion": API, "kind": "Orchestration",
                    "metadata": {"name": held, "namespace": runs_ns},
                    "spec": {"steps": [
                        {"name": "child", "kind": "SubOrchestration",
                         "orchestrationRef": {"name": kid}, "dependsOn": []},
                        *([{"name": "agent", "kind": "AgentRun", "agentRef": {"name": "codex"},
                            "implementationSpecRef": {"name": "impl"}, "dependsOn": []}]
                          if agents else [])]}})
        kube.apply(orchestration_run("run-cancel", held, runs_ns))
        child = execute_resource_step(cluster, runs_ns, "run-cancel", "child")
        if agents:
            execute_resource_step(cluster, runs_ns, "run-cancel", "agent")
        wait_phase(cluster, child["metadata"]["name"], runs_ns, "Running", chart_controller)
        client.CustomObjectsApi(cluster.api_client).patch_namespaced_custom_object(
            "orchestration.proompteng.ai", "v1alpha1", runs_ns, "orchestrationruns",
            "run-cancel", {"spec": {"cancel": True}},
            _content_type="application/merge-patch+json")
        wait_phase(cluster, "run-cancel", runs_ns, "Cancelled", chart_controller)
        wait_phase(cluster, child["metadata"]["name"], runs_ns, "Cancelled", chart_controller)
        for verb, resource in (("patch", "workflows"), ("patch", "orchestrationruns"),
                               *((("list", "agentruns"), ("delete", "agentruns"))
                                 if agents else ())):
            wait_audited(verb, resource)
    finally:
        pods.clear()

    # The step kinds of issue 11 (with the reference system's CRDs): a ToolRun reads
    # its Tool; a gate on a policy the cache lacks reads it live (missing: the gate
    # fails); a signal wait released by a delivery (watched) updates the Workflow.
    if TOOL_CRD in cluster.crds:
        kube.apply({"apiVersion": "tools.proompteng.ai/v1alpha1", "kind": "Tool",
                    "metadata": {"name": "echo", "namespace": runs_ns},
                    "spec": {"image": "alpine:3.20", "command": ["echo", "hi"]}})
        kube.apply({"apiVersion": API, "kind": "Orchestration",
                    "metadata": {"name": "kinds", "namespace": runs_ns}, "spec": {"steps": [
                        {"name": "tool", "kind": "ToolRun", "toolRef": {"name": "echo"}},
                        {"name": "signal", "kind": "SignalWait", "signalRef": "go"},
                        {"name": "gate", "kind": "ApprovalGate", "policyRef": "nobody",
                         "continueOnFailure": True}]}})
        kube.apply(orchestration_run("run-kinds", "kinds", runs_ns))
        wait_audited("get", "tools")
        wait_for(lambda: (kube.get(API, "OrchestrationRun", "run-kinds", runs_ns) or {}).get(
            "status", {}).get("progress") == "1/3", "the ToolRun step done", 60, 0.2)
        kube.apply({"apiVersion": "signals.proompteng.ai/v1alpha1", "kind": "SignalDelivery",
                    "metadata": {"name": "go-1", "namespace": runs_ns},
                    "spec": {"signalRef": {"name": "go"}}})
        wait_phase(cluster, "run-kinds", runs_ns, "Succeeded", chart_controller)
        wait_audited("get", "approvalpolicies")
        wait_audited("update", "workflows")
    else:  # a wait is still a suspend node: the controller fails it at its timeout
        kube.apply({"apiVersion": API, "kind": "Orchestration",
                    "metadata": {"name": "wait", "namespace": runs_ns}, "spec": {"steps": [
                        {"name": "signal", "kind": "SignalWait", "signalRef": "never",
                         "timeoutSeconds": 1}]}})
        kube.apply(orchestration_run("run-wait", "wait", runs_ns))
        wait_phase(cluster, "run-wait", runs_ns, "Failed", chart_controller)
        wait_audited("update", "workflows")

    # The Lease renewed, then released on SIGTERM: its last request, which the audit
    # log holds (blocking mode: written before the response) once it is whole.
    wait_audited("update", "leases")
    terminated_at = datetime.now(UTC)
    assert chart_controller.terminate() == 0, chart_controller.tail()
    wait_for(lambda: lease_updated_since(cluster, user, terminated_at),
             "the Lease's release in the audit log", 30, 0.1)

    requests = rbac.observed(cluster.audit_log, user)
    refused = [r for r in requests if r.code in (401, 403)]
    assert refused == [], "refused: " + ", ".join(f"{r.path} {r.code}" for r in refused)
    non_resource = sorted({r.path for r in requests if r.access is None})
    assert non_resource == [], f"non-resource requests: {non_resource}"
    used = {r.access for r in requests if r.access is not None}
    grants = rbac.granted(chart_rbac, install.release_namespace, SA_NAME)
    not_granted = sorted(str(a) for a in used if not rbac.is_allowed(a, grants))
    assert not_granted == [], "used but not granted:\n" + "\n".join(not_granted)
    unused = sorted(str(g) for g in rbac.unused(grants, used))
    absent: list[str] = []  # grants on the reference system's kinds, without their CRDs
    if TOOL_CRD not in cluster.crds:
        absent = [u for u in unused if ".proompteng.ai" in u and "orchestration" not in u]
        unused = [u for u in unused if u not in absent]
    assert unused == [], "granted but never used:\n" + "\n".join(unused)
    assert len(used) + len(absent) >= len(grants) >= 10

