"""The chart's values.schema.json: the defaults pass, wrong types and unknown keys
fail with a message naming the key. Why: Helm applies this schema on every
install, so it is the user's first error message; `helm lint` runs in e2e."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from compiler.podpolicy import parse_pod_policy, volume_type_names

CHART = Path(__file__).resolve().parents[3] / "charts" / "orch"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def test_schema_is_valid_and_accepts_the_defaults() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    VALIDATOR.validate(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.mark.parametrize("values", [
    pytest.param({"orchestrationController": {"namespaces": ["a", "b"]}}, id="two-namespaces"),
    pytest.param({"orchestrationController": {"namespaces": ["*"]}}, id="all-namespaces"),
    pytest.param({"orchestrationController": {"requestTimeoutSeconds": 5.5,
                                              "watchIdleTimeoutSeconds": 60,
                                              "healthWindowSeconds": 300}}, id="timeouts"),
    pytest.param({"rbac": {"clusterScoped": True}, "workflowServiceAccount": {"create": True}},
                 id="cluster-scoped-with-workflow-sa"),
    pytest.param({"orchestrationController": {"automountServiceAccountToken": True,
                                              "podSecurity": "none"}}, id="workflow-pods"),
    pytest.param({"orchestrationController": {"podPolicy": "none"}}, id="pod-policy-none"),
    pytest.param({"orchestrationController": {"podPolicy": None}}, id="pod-policy-unset"),
    pytest.param({"orchestrationController": {"podPolicy": {
        "podSecurity": "none", "volumeTypes": ["emptyDir", "hostPath", "*"],
        "secrets": ["db-*"], "serviceAccounts": ["deployer"], "images": ["ghcr.io/acme/*"],
        "templateRefs": {"workflowTemplates": [], "clusterWorkflowTemplates": ["notify"]}}}},
                 id="pod-policy-object"),
    pytest.param({"orchestrationController": {"maxSubOrchestrationDepth": 0,
                                              "allowedStepKinds": ["AgentRun", "ToolRun"]}},
                 id="step-kinds"),
    pytest.param({"orchestrationController": {"maxSteps": 500}}, id="max-steps"),
    pytest.param({"orchestrationController": {"maxDescendants": 0}}, id="no-child-runs"),
    pytest.param({"orchestrationController": {"maxActiveRunsPerNamespace": 50}},
                 id="max-active-runs"),
    pytest.param({"orchestrationController": {"maxActiveRunsPerNamespace": None}},
                 id="max-active-runs-unlimited"),
])
def test_accepted(values: dict[str, Any]) -> None:
    VALIDATOR.validate(values)


@pytest.mark.parametrize(("values", "path", "says"), [
    pytest.param({"orchestrationController": {"enabled": "yes"}},
                 ["orchestrationController", "enabled"], "not of type 'boolean'",
                 id="enabled-not-boolean"),
    pytest.param({"orchestrationController": {"namespaces": "a,b"}},
                 ["orchestrationController", "namespaces"], "not of type 'array'",
                 id="namespaces-as-string"),
    pytest.param({"orchestrationController": {"namespaces": ["Not_A_Namespace"]}},
                 ["orchestrationController", "namespaces", 0], "does not match",
                 id="namespace-not-dns-label"),
    pytest.param({"orchestrationController": {"namespace": ["a"]}},
                 ["orchestrationController"], "'namespace' was unexpected",
                 id="unknown-key-typo"),
    pytest.param({"metrics": {"serviceMonitor": {"interval": 30}}},
                 ["metrics", "serviceMonitor", "interval"], "not of type 'string'",
                 id="interval-not-duration"),
    pytest.param({"replicas": 2}, [], "'replicas' was unexpected", id="unknown-top-level"),
    pytest.param({"orchestrationController": {"allowedStepKinds": ["Lambda"]}},
                 ["orchestrationController", "allowedStepKinds", 0], "is not one of",
                 id="not-a-step-kind"),
    pytest.param({"orchestrationController": {"maxSubOrchestrationDepth": -1}},
                 ["orchestrationController", "maxSubOrchestrationDepth"],
                 "less than the minimum of 0", id="negative-depth"),
    pytest.param({"orchestrationController": {"maxSteps": 0}},
                 ["orchestrationController", "maxSteps"], "less than the minimum of 1",
                 id="max-steps-zero"),
    pytest.param({"orchestrationController": {"maxDescendants": -1}},
                 ["orchestrationController", "maxDescendants"],
                 "less than the minimum of 0", id="negative-descendants"),
    pytest.param({"orchestrationController": {"maxDescendants": "1000"}},
                 ["orchestrationController", "maxDescendants"], "not of type 'integer'",
                 id="descendants-as-string"),
    pytest.param({"orchestrationController": {"maxActiveRunsPerNamespace": 0}},
                 ["orchestrationController", "maxActiveRunsPerNamespace"],
                 "less than the minimum of 1", id="max-active-runs-zero"),
    pytest.param({"orchestrationController": {"healthWindowSeconds": 0}},
                 ["orchestrationController", "healthWindowSeconds"],
                 "less than or equal to the minimum of 0", id="health-window-zero"),
    pytest.param({"orchestrationController": {"requestTimeoutSeconds": "30s"}},
                 ["orchestrationController", "requestTimeoutSeconds"], "not of type 'number'",
                 id="timeout-as-duration-string"),
    pytest.param({"orchestrationController": {"podSecurity": "baseline"}},
                 ["orchestrationController", "podSecurity"], "is not one of",
                 id="pod-security-profile"),
    pytest.param({"orchestrationController": {"podPolicy": "baseline"}},
                 ["orchestrationController", "podPolicy"], "is not valid under any",
                 id="pod-policy-word"),
    pytest.param({"orchestrationController": {"podPolicy": {"secret": []}}},
                 ["orchestrationController", "podPolicy"], "is not valid under any",
                 id="pod-policy-unknown-key"),
    pytest.param({"orchestrationController": {"podPolicy": {"volumeTypes": ["secret"]}}},
                 ["orchestrationController", "podPolicy"], "is not valid under any",
                 id="pod-policy-secret-volume-type"),
])
def test_rejected(values: dict[str, Any], path: list[str | int], says: str) -> None:
    errors = list(VALIDATOR.iter_errors(values))
    assert [list(e.absolute_path) for e in errors] == [path]
    assert says in errors[0].message


def test_the_step_kinds_are_the_compilers() -> None:
    """allowedStepKinds lists exactly the kinds the compiler translates."""
    from compiler.kinds import KINDS

    kinds = SCHEMA["properties"]["orchestrationController"]["properties"]["allowedStepKinds"]
    assert kinds["items"]["enum"] == list(KINDS)


def _pod_policies() -> list[Any]:
    found = []
    for path in [CHART / "values.yaml", *sorted((CHART / "ci").glob("*-values.yaml"))]:
        controller = (yaml.safe_load(path.read_text()) or {}).get("orchestrationController")
        if controller and "podPolicy" in controller:
            found.append(pytest.param(controller["podPolicy"], id=path.name))
    return found


@pytest.mark.parametrize("policy", _pod_policies())
def test_the_controller_reads_every_pod_policy_the_chart_gives(policy: Any) -> None:
    """The schema and the controller's parser (compiler.podpolicy) agree on each
    documented value: what the deployment passes as ORCH_POD_POLICY (toJson) parses."""
    VALIDATOR.validate({"orchestrationController": {"podPolicy": policy}})
    parse_pod_policy(json.dumps(policy if policy is not None else "restricted"))


def test_the_schema_knows_every_volume_type_the_controller_does() -> None:
    node = SCHEMA["properties"]["orchestrationController"]["properties"]["podPolicy"]
    (obj,) = [o for o in node["oneOf"] if o.get("type") == "object"]
    listed = set(obj["properties"]["volumeTypes"]["items"]["enum"])
    assert listed == (set(volume_type_names()) - {"secret"}) | {"*"}
