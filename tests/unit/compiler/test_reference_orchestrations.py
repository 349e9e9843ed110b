"""Every Orchestration the reference ships (all of them under its argocd/applications/
in the mirror, and those in ../shared/reference/jangar/) compiles, and each AgentRun
it creates is the reference's own (its code, run under node, builds the same spec) and
is judged by the reference's AgentRun CRD (schema and CEL rules, offline) exactly as
orch's warnings predict. The real apiserver's verdict is tests/e2e/test_reference_live.py.

What the CRDs say of them is a fact of the reference, recorded here: the lab's own
Orchestrations build AgentRuns its CRD refuses (the primitives ones have no
implementation; the live codex ones an `implementation` without `inline`)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.support.built import build
from tests.support.reference import (
    agentrun_crds,
    expected_agent_runs,
    mirror_orchestrations,
    oracle,
    require_mirror,
    shared_orchestrations,
    skip_without_inputs,
)


def crd_problems(crd: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """What the AgentRun CRD refuses in `spec`: its schema (jsonschema, which sees
    required fields after the apiserver would prune unknown ones, as it keeps them
    only where the schema names them) and its CEL rules, by hand."""
    version = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema = version["properties"]["spec"]
    found = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
             for e in jsonschema.Draft4Validator(schema).iter_errors(spec)]
    if "implementationSpecRef" not in spec and "implementation" not in spec:
        found.append("spec.implementationSpecRef or spec.implementation is required")
    if "prompt" in (spec.get("parameters") or {}):
        found.append("spec.parameters.prompt is not allowed")
    return found


def _agent_steps(doc: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, s) for i, s in enumerate(doc["spec"]["steps"]) if s.get("kind") == "AgentRun"]


def test_every_reference_orchestration_compiles_to_the_reference_s_agent_runs() -> None:
    skip_without_inputs()
    found = mirror_orchestrations() + shared_orchestrations()
    assert found, "no Orchestration found"
    crds = agentrun_crds()
    assert crds
    cases, built_specs, verdicts = [], [], {}
    for origin, doc in found:
        built = build([doc])
        assert not [d for d in built.diagnostics if d.is_error], (origin, built.problems)
        for i, step in _agent_steps(doc):
            spec = built.objects[step["name"]]
            cases.append({"op": "AgentRun", "step": step, "runParameters": {}})
            built_specs.append((origin, i, spec, built))
            for name, crd in crds:
                verdicts[(origin, i, name)] = crd_problems(crd, spec)
    assert len(built_specs) >= expected_agent_runs()
    for (origin, i, spec, built), result in zip(built_specs, oracle(cases), strict=True):
        warned = {str(d.path) for d in built.diagnostics
                  if not d.is_error and str(d.reason) in ("MissingStepField", "InvalidField")
                  and str(d.path).startswith(f"spec.steps[{i}]")}
        refused = verdicts[(origin, i, "lab")] if (origin, i, "lab") in verdicts \
            else verdicts[(origin, i, "shared")]
        assert bool(warned) == bool(refused), (origin, warned, refused)
        if "error" in result:  # the reference throws: neither implementation nor a ref
            assert "implementationSpecRef" not in spec and "implementation" not in spec
            assert result["error"].startswith("implementationSpecRef or implementation")
        else:
            assert spec == result["value"], origin


def test_the_reference_s_keys_on_their_kinds_are_read_even_when_strict() -> None:
    """No `IgnoredField` nor unknown key in any of the reference's Orchestrations."""
    skip_without_inputs()
    for origin, doc in mirror_orchestrations() + shared_orchestrations():
        built = build([doc], strict=True)
        assert not [p for p in built.problems if p[0] == "IgnoredField"
                    or (p[0] == "InvalidField" and p[2] == "error")], (origin, built.problems)


NO_IMPLEMENTATION = ["spec.implementationSpecRef or spec.implementation is required"]
NOT_INLINE = ["implementation: 'inline' is a required property"]
VERDICTS = {"codex-rerun": NOT_INLINE, "codex-system-improvement": NOT_INLINE,
            "agents-primitives": NO_IMPLEMENTATION, "jangar-primitives": NO_IMPLEMENTATION,
            "sample-orchestration": []}


def test_what_the_crd_says_of_the_reference_s_own_orchestrations() -> None:
    """Recorded, so that a change in the reference (or in orch) is seen."""
    skip_without_inputs()
    for origin, doc in mirror_orchestrations() + shared_orchestrations():
        built = build([doc])
        for _, step in _agent_steps(doc):
            spec = built.objects[step["name"]]
            for _, crd in agentrun_crds():
                assert crd_problems(crd, spec) == VERDICTS[doc["metadata"]["name"]], origin


@pytest.mark.parametrize("name", ["codex-rerun", "codex-system-improvement"])
def test_the_live_codex_orchestrations_carry_every_field_of_with(name: str) -> None:
    require_mirror()
    docs = [d for _, d in mirror_orchestrations() if d["metadata"]["name"] == name]
    if not docs:
        pytest.skip("the mirror lacks argocd/applications/agents/codex-orchestrations.yaml")
    spec = build(docs).objects["implement"]
    assert set(spec) == {"agentRef", "implementation", "parameters", "secrets", "policy",
                         "vcsRef", "vcsPolicy", "goal", "runtime", "ttlSecondsAfterFinished"}
    assert spec["runtime"] == {"type": "job", "config": {"serviceAccountName": "agents-sa"}}
    assert spec["secrets"] == ["github-token", "codex-auth"]
    assert spec["ttlSecondsAfterFinished"] == 86400
    assert spec["goal"]["objective"] == "{{codexPrompt}}"  # the agents controller renders it
