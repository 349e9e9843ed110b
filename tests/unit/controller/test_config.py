"""Contract §6 configuration: environment variables, flags win."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.podpolicy import DEFAULT_POLICY, OPEN_POLICY, PodPolicy
from controller.config import kubeconfig_problem, load_config, parse_namespaces


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("", ("rel",), id="empty-is-release-namespace"),
    pytest.param("a,b, a", ("a", "b"), id="comma-joined-deduped"),
    pytest.param("*", None, id="star-is-all"),
    pytest.param("a,*", None, id="star-anywhere"),
])
def test_namespaces(value: str, expected: tuple[str, ...] | None) -> None:
    assert parse_namespaces(value, "rel") == expected


def test_env_then_flags() -> None:
    env = {"JANGAR_ORCHESTRATION_CONTROLLER_ENABLED": "0",
           "JANGAR_ORCHESTRATION_CONTROLLER_NAMESPACES": "x,y", "POD_NAMESPACE": "orch",
           "ORCH_HTTP_PORT": "9000", "ORCH_WORKFLOW_SERVICE_ACCOUNT": "wf-sa"}
    c = load_config(["--kubeconfig", "/k"], env)
    assert (c.enabled, c.namespaces, c.workflow_service_account) == (False, ("x", "y"), "wf-sa")
    assert c.metrics_address == c.probe_address == ("0.0.0.0", 9000)
    assert c.lease_namespace == "orch" and not c.in_cluster
    c = load_config(["--enabled", "1", "--namespaces", "*", "--metrics-bind-address",
                     "127.0.0.1:0"], env)
    assert (c.enabled, c.namespaces, c.metrics_address) == (True, None, ("127.0.0.1", 0))


def test_bad_boolean_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as e:
        load_config([], {"JANGAR_ORCHESTRATION_CONTROLLER_ENABLED": "maybe"})
    assert e.value.code == 2


def test_timeouts_and_health_window_from_env_and_flags() -> None:
    env = {"ORCH_REQUEST_TIMEOUT_SECONDS": "5", "ORCH_WATCH_IDLE_TIMEOUT_SECONDS": "20",
           "ORCH_HEALTH_WINDOW_SECONDS": "60"}
    c = load_config([], env)
    assert (c.request_timeout, c.watch_idle_timeout, c.health_window) == (5.0, 20.0, 60.0)
    c = load_config(["--health-window", "30"], env)
    assert c.health_window == 30.0
    c = load_config([], {})
    assert (c.request_timeout, c.watch_idle_timeout, c.health_window) == (30.0, 90.0, 120.0)


@pytest.mark.parametrize(("argv", "env", "words"), [
    pytest.param(["--health-window", "10", "--watch-idle-timeout", "20"], {},
                 "must exceed --watch-idle-timeout", id="window-below-idle-timeout"),
    pytest.param(["--renew-deadline", "15", "--lease-duration", "15"], {},
                 "must be shorter than --lease-duration", id="renew-deadline-not-shorter"),
    pytest.param(["--request-timeout", "0"], {}, "must be > 0", id="zero-timeout"),
    pytest.param([], {"ORCH_REQUEST_TIMEOUT_SECONDS": "soon"}, "invalid float value: 'soon'",
                 id="bad-env-number"),
])
def test_inconsistent_timing_is_a_usage_error(argv: list[str], env: dict[str, str],
                                               words: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        load_config(argv, env)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_kubeconfig_problem_names_each_unreadable_path(tmp_path: Path) -> None:
    readable = tmp_path / "config"
    readable.write_text("apiVersion: v1\n")
    assert kubeconfig_problem(None) is None
    assert kubeconfig_problem(str(readable)) is None
    assert kubeconfig_problem(f"/nope:{readable}") is None  # the client merges what it reads
    problem = kubeconfig_problem("/nope:/also-not")
    assert problem is not None
    assert problem.startswith("cannot read the kubeconfig: /nope: No such file or directory; "
                              "/also-not: No such file or directory")


@pytest.mark.parametrize(("env", "automount", "policy"), [
    pytest.param({}, False, DEFAULT_POLICY, id="defaults: no token, restricted"),
    pytest.param({"ORCH_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN": "1", "ORCH_POD_SECURITY": "none"},
                 True, PodPolicy(pod_security="none"), id="both switched off"),
    pytest.param({"ORCH_POD_POLICY": "none"}, False, OPEN_POLICY, id="policy none"),
    pytest.param({"ORCH_POD_POLICY": '{"secrets": ["db"], "podSecurity": "none"}',
                  "ORCH_POD_SECURITY": "restricted"}, False, PodPolicy(secrets=("db",)),
                 id="ORCH_POD_SECURITY, when set, is the policy's podSecurity"),
])
def test_workflow_pod_settings(env: dict[str, str], automount: bool, policy: PodPolicy) -> None:
    c = load_config([], env)
    assert (c.workflow_pods.automount_token, c.workflow_pods.policy) == (automount, policy)


@pytest.mark.parametrize("env", [
    pytest.param({"ORCH_POD_SECURITY": "baseline"}, id="unknown-profile"),
    pytest.param({"ORCH_POD_POLICY": '{"secret": []}'}, id="unknown-policy-key"),
    pytest.param({"ORCH_POD_POLICY": "{"}, id="policy-not-json"),
])
def test_a_wrong_pod_setting_is_a_usage_error(env: dict[str, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        load_config([], env)
    assert e.value.code == 2
    assert next(iter(env)) in capsys.readouterr().err


@pytest.mark.parametrize(("env", "depth", "kinds"), [
    pytest.param({}, 8, None, id="defaults: depth 8, every kind"),
    pytest.param({"ORCH_MAX_SUBORCHESTRATION_DEPTH": " 0 ", "ORCH_ALLOWED_STEP_KINDS": ""},
                 0, None, id="no children at all"),
    pytest.param({"ORCH_ALLOWED_STEP_KINDS": "AgentRun, ToolRun,,AgentRun"}, 8,
                 frozenset({"AgentRun", "ToolRun"}), id="some kinds"),
])
def test_step_kind_limits(env: dict[str, str], depth: int,
                          kinds: frozenset[str] | None) -> None:
    c = load_config([], env)
    assert (c.max_sub_orchestration_depth, c.allowed_step_kinds) == (depth, kinds)


@pytest.mark.parametrize(("env", "most"), [
    pytest.param({}, 1000, id="default-1000"),
    pytest.param({"ORCH_MAX_DESCENDANTS": " 0 "}, 0, id="no-child-runs"),
    pytest.param({"ORCH_MAX_DESCENDANTS": "50000"}, 50000, id="more"),
])
def test_max_descendants(env: dict[str, str], most: int) -> None:
    assert load_config([], env).max_descendants == most


@pytest.mark.parametrize(("env", "says"), [
    pytest.param({"ORCH_MAX_SUBORCHESTRATION_DEPTH": "-1"}, "is not a whole number",
                 id="negative-depth"),
    pytest.param({"ORCH_MAX_SUBORCHESTRATION_DEPTH": "eight"}, "is not a whole number",
                 id="word-depth"),
    pytest.param({"ORCH_ALLOWED_STEP_KINDS": "AgentRun,Lambda"}, "Lambda is not a step kind",
                 id="unknown-kind"),
    pytest.param({"ORCH_MAX_DESCENDANTS": "-5"}, "is not a whole number",
                 id="negative-descendants"),
    pytest.param({"ORCH_MAX_DESCENDANTS": "1e3"}, "is not a whole number",
                 id="word-descendants"),
])
def test_bad_step_kind_limits_are_usage_errors(env: dict[str, str], says: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        load_config([], env)
    assert e.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(None, 10_000, id="unset: the contract's default"),
    pytest.param(" 500 ", 500, id="lowered"),
    pytest.param("20000", 20_000, id="raised (CRDs made with orch crds --max-steps)"),
])
def test_max_steps(value: str | None, expected: int) -> None:
    env = {} if value is None else {"ORCH_MAX_STEPS": value}
    assert load_config([], env).max_steps == expected


@pytest.mark.parametrize("value", ["0", "-1", "ten", "1e4"])
def test_bad_max_steps_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        load_config([], {"ORCH_MAX_STEPS": value})
    assert e.value.code == 2
    assert "$ORCH_MAX_STEPS" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(None, ("argo", "workflow-controller-configmap"), id="argo-s-default"),
    pytest.param("wf/argo-workflows-workflow-controller-configmap",
                 ("wf", "argo-workflows-workflow-controller-configmap"), id="argo-helm"),
    pytest.param("", None, id="empty-is-not-read"),
])
def test_argo_config_map(value: str | None, expected: tuple[str, str] | None) -> None:
    env = {} if value is None else {"ORCH_ARGO_CONFIGMAP": value}
    assert load_config([], env).argo_config_map == expected


def test_an_argo_config_map_without_a_namespace_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as e:
        load_config([], {"ORCH_ARGO_CONFIGMAP": "workflow-controller-configmap"})
    assert e.value.code == 2


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(None, None, id="unset: no limit"),
    pytest.param("", None, id="empty: no limit"),
    pytest.param(" 25 ", 25, id="a limit"),
])
def test_max_active_runs_per_namespace(value: str | None, expected: int | None) -> None:
    env = {} if value is None else {"ORCH_MAX_ACTIVE_RUNS_PER_NAMESPACE": value}
    assert load_config([], env).max_active_runs_per_namespace == expected


@pytest.mark.parametrize("value", ["0", "-3", "ten", "2.5"])
def test_a_bad_max_active_runs_is_a_usage_error(value: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        load_config([], {"ORCH_MAX_ACTIVE_RUNS_PER_NAMESPACE": value})
    assert e.value.code == 2
    assert "ORCH_MAX_ACTIVE_RUNS_PER_NAMESPACE" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(None, 1.0, id="unset: 1 s"),
    pytest.param("", 1.0, id="empty: 1 s"),
    pytest.param("0", 0.0, id="every change at once"),
    pytest.param(" 10 ", 10.0, id="as the throughput figures were measured"),
])
def test_status_interval(value: str | None, expected: float) -> None:
    env = {} if value is None else {"ORCH_STATUS_INTERVAL": value}
    assert load_config([], env).status_interval == expected


@pytest.mark.parametrize("value", ["-1", "ten", "nan", "3601"])
def test_a_bad_status_interval_is_a_usage_error(value: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        load_config([], {"ORCH_STATUS_INTERVAL": value})
    assert e.value.code == 2
    assert "ORCH_STATUS_INTERVAL" in capsys.readouterr().err
