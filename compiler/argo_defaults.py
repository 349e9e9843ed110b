"""Argo's cluster-wide defaults never change what a step means (contract §4).

How Argo v4.0.5 applies them (read from its source):
- `workflowDefaults` (the workflow-controller ConfigMap) is merged into each
  Workflow before it runs: `util.MergeTo` (workflow/util/merge.go l.84), a
  strategic merge patch whose patch is the Workflow, so every field the Workflow
  sets wins and every field it leaves out is the default's
  (controller.go setWorkflowDefaults l.1228, called from operator.go l.4306);
- `templateDefaults` (the merged Workflow's `spec.templateDefaults`) is merged the
  same way into every template as it runs, the entry DAG and suspend templates
  included (operator.go mergedTemplateDefaultsInto l.4448, called at l.2133);
- a template without a `retryStrategy` takes the Workflow's
  `spec.retryStrategy` (operator.go retryStrategy l.4276), and any non-nil
  retryStrategy wraps the node in a Retry node (operator.go l.2313).

So a field the compiled Workflow sets cannot be changed by a default, and the
compiler sets every field whose default would change a step, where setting it
changes nothing else: the Workflow's `activeDeadlineSeconds` (the run's deadline,
else `UNBOUNDED_SECONDS`), and each container and resource template's `timeout`
(the step's, else unbounded). A suspend or DAG template cannot take a `timeout`
(workflow/validate l.509: leaf templates only), and a default timeout does nothing
there (checkTemplateTimeout, operator.go l.2548, fails only a node still Pending).

A default `retryStrategy` cannot be pinned without a cost on every cluster: a pin
(`limit: 0`) wraps every node, the entry DAG's too, in a Retry node. So the
controller reads the ConfigMap (`read_defaults`): where a default retryStrategy
reaches templates, it compiles the run with `retryStrategy: {limit: "0"}` on every
template that has none (the steps' retries stay the steps'), and the run says what
it found (`judge`, carried on the Workflow as `DEFAULTS_ANNOTATION`, shown as the
condition `ArgoDefaultsPinned`). Defaults that nothing can pin are named there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from orchapi.api import GROUP

DEFAULTS_ANNOTATION = f"{GROUP}/argo-defaults"
NO_RETRIES: dict[str, str] = {"limit": "0"}


@dataclass(frozen=True)
class Judgement:
    """What a cluster's workflowDefaults do to orch's Workflows."""

    pinned: tuple[str, ...] = ()  # defaults found that the Workflow overrides
    apply: tuple[str, ...] = ()  # defaults found that still change the run
    pin_retries: bool = False  # compile every template without retries with NO_RETRIES

    @property
    def found(self) -> bool:
        return bool(self.pinned or self.apply)

    def annotation(self) -> dict[str, str]:
        if not self.found:
            return {}
        return {DEFAULTS_ANNOTATION: json.dumps(
            {"pinned": list(self.pinned), "apply": list(self.apply)}, separators=(",", ":"))}


def read_defaults(data: Mapping[str, str] | None) -> dict[str, Any] | None:
    """The `workflowDefaults` of the workflow-controller ConfigMap's data, as Argo
    reads it (config/controller.go parseConfigMap l.35: a `config` key holding the
    whole configuration, else one key per field); None when there are none or the
    data is not Argo's YAML."""
    if not data:
        return None
    try:
        if "config" in data:
            config = yaml.safe_load(data["config"]) or {}
            found = config.get("workflowDefaults") if isinstance(config, dict) else None
        else:
            raw = data.get("workflowDefaults")
            found = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError:
        return None
    return found if isinstance(found, dict) else None


def judge(defaults: Mapping[str, Any] | None) -> Judgement:
    """Which defaults the compiled Workflow already overrides, which the controller
    pins at submission (retries), and which still apply."""
    spec = (defaults or {}).get("spec")
    if not isinstance(spec, dict):
        return Judgement()
    found = spec.get("templateDefaults")
    templates: dict[str, Any] = found if isinstance(found, dict) else {}
    pinned: list[str] = []
    apply: list[str] = []
    if "activeDeadlineSeconds" in spec:
        pinned.append("spec.activeDeadlineSeconds (the Workflow sets the run's deadline, or none)")
    if "timeout" in templates:
        pinned.append("spec.templateDefaults.timeout (each step's template sets its own, or "
                      "none; Argo ignores it on suspend and DAG templates)")
    retries = [f"spec.{k}" for k, v in (("retryStrategy", spec.get("retryStrategy")),
                                       ("templateDefaults.retryStrategy",
                                        templates.get("retryStrategy"))) if v]
    for where in retries:
        pinned.append(f"{where} (every template without retries is compiled with "
                      "retryStrategy {limit: 0}: no step, wait or run is retried by it)")
    strategy = templates.get("retryStrategy")
    if isinstance(strategy, dict):
        merged = [k for k in ("expression", "backoff", "affinity") if k in strategy]
        if merged:
            apply.append("spec.templateDefaults.retryStrategy." + "/".join(merged)
                         + " (merged into the retryStrategy of steps with retries)")
    if "activeDeadlineSeconds" in templates:
        apply.append("spec.templateDefaults.activeDeadlineSeconds (a deadline on every pod)")
    for kind in ("container", "resource", "suspend", "script"):
        if templates.get(kind):
            apply.append(f"spec.templateDefaults.{kind} (merged into every {kind} template)")
    if spec.get("suspend"):
        apply.append("spec.suspend (every Workflow starts suspended)")
    if spec.get("podSpecPatch"):
        apply.append("spec.podSpecPatch (patched into every pod)")
    return Judgement(tuple(pinned), tuple(apply), bool(retries))


def judgement_of(annotations: Mapping[str, Any] | None) -> Judgement | None:
    """The judgement a Workflow carries (None: the controller found no defaults)."""
    raw = (annotations or {}).get(DEFAULTS_ANNOTATION)
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    pinned, apply = data.get("pinned"), data.get("apply")
    if not (isinstance(pinned, list) and isinstance(apply, list)):
        return None
    return Judgement(tuple(map(str, pinned)), tuple(map(str, apply)))


def pin_retries(workflow: dict[str, Any]) -> None:
    """Every template of `workflow` without a retryStrategy gets `NO_RETRIES`, so a
    cluster's default retryStrategy retries no step, no wait and not the run."""
    for template in workflow["spec"]["templates"]:
        template.setdefault("retryStrategy", dict(NO_RETRIES))
