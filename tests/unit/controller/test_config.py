"""Contract §6 configuration: environment variables, flags win."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.mark.parametrize(("env", "automount", "profile"), [
    pytest.param({}, False, "restricted", id="defaults: no token, restricted"),
    pytest.param({"ORCH_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN": "1", "ORCH_POD_SECURITY": "none"},
                 True, "none", id="both switched off"),
])
def test_workflow_pod_settings(env: dict[str, str], automount: bool, profile: str) -> None:
    c = load_config([], env)
    assert (c.workflow_pods.automount_token, c.workflow_pods.pod_security) == (automount,
                                                                               profile)


def test_an_unknown_pod_security_profile_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as e:
        load_config([], {"ORCH_POD_SECURITY": "baseline"})
    assert e.value.code == 2
