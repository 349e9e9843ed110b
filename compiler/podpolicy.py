"""The install's pod policy (contract §4, §6 `podPolicy`): what a step may ask of
the pods it runs, judged before anything is submitted.

Why one module: a run's author is trusted with no more than their RBAC gives
(contract §6, tenancy), but the pods run with the Workflows' ServiceAccount, so
whatever a step writes into a pod (privileges, host paths, Secrets, a token, a
ServiceAccount, an image, another template) is borrowed from the install. The
policy says what the install lends; `judge_pod` refuses the rest, for
`orch compile/validate/plan` and for the controller at submission alike, with
the same diagnostics (`InvalidField` at the key, naming the rule and the
policy value that would open it).

The policy, as JSON (`$ORCH_POD_POLICY`, the chart's
`orchestrationController.podPolicy`, `orch compile --pod-policy`):
- `"restricted"` (the default) or `"none"` (nothing is judged, every rule open), or
- an object; a missing key keeps its default:
  `podSecurity`      `restricted` (Pod Security `restricted`, `compiler.pod_security`,
                     is met by every pod and a step may ask for nothing it forbids)
                     or `none` (no settings added, nothing judged by it)
  `volumeTypes`      volume sources a step may use (default emptyDir, configMap,
                     downwardAPI, ephemeral, persistentVolumeClaim); a projected
                     volume's sources are judged too (`serviceAccountToken` is a
                     projected ServiceAccount token)
  `secrets`          Secrets a step may reference, by env `secretKeyRef`, `envFrom`,
                     a volume or a projected source (default none)
  `serviceAccounts`  ServiceAccounts a ToolRun's Tool may run as (default none)
  `images`           images a Container step, a Tool or an image volume may use
                     (default any)
  `templateRefs`     `{workflowTemplates, clusterWorkflowTemplates}`: what a Template
                     step may call (default any WorkflowTemplate of the namespace,
                     no ClusterWorkflowTemplate)
Every list holds names or patterns where `*` stands for any text (`"*"`: all).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any, Final

from compiler.diagnostics import Diagnostic, FieldPath
from compiler.pod_security import (
    RESTRICTED_POD,
    Violation,
    check_restricted,
    restricted_container,
    volume_type,
)
from orchapi.names import quote, suggest
from orchapi.vocabulary import Reason

RESTRICTED: Final = "restricted"
NONE: Final = "none"
POD_SECURITY_PROFILES: Final = (RESTRICTED, NONE)
ANY: Final = "*"
DEFAULT_VOLUME_TYPES: Final = ("emptyDir", "configMap", "downwardAPI", "ephemeral",
                               "persistentVolumeClaim")
# Projected sources judged by `volumeTypes` (a projected `secret` is a Secret reference).
PROJECTED_SOURCES: Final = ("clusterTrustBundle", "configMap", "downwardAPI", "podCertificate",
                            "serviceAccountToken")
SETTING: Final = "podPolicy"  # how the hint names it (chart value and flag alike)


@dataclass(frozen=True)
class PodPolicy:
    pod_security: str = RESTRICTED
    volume_types: tuple[str, ...] = DEFAULT_VOLUME_TYPES
    secrets: tuple[str, ...] = ()
    service_accounts: tuple[str, ...] = ()
    images: tuple[str, ...] = (ANY,)
    workflow_templates: tuple[str, ...] = (ANY,)
    cluster_workflow_templates: tuple[str, ...] = ()

    @property
    def restricted(self) -> bool:
        return self.pod_security == RESTRICTED


DEFAULT_POLICY: Final = PodPolicy()
OPEN_POLICY: Final = PodPolicy(NONE, (ANY,), (ANY,), (ANY,), (ANY,), (ANY,), (ANY,))
PRESETS: Final = {RESTRICTED: DEFAULT_POLICY, NONE: OPEN_POLICY}

# JSON key -> field, for the lists (`templateRefs` holds two of them).
_LISTS: Final = {"volumeTypes": "volume_types", "secrets": "secrets",
                 "serviceAccounts": "service_accounts", "images": "images"}
_TEMPLATE_LISTS: Final = {"workflowTemplates": "workflow_templates",
                          "clusterWorkflowTemplates": "cluster_workflow_templates"}
_KEYS: Final = ("podSecurity", *_LISTS, "templateRefs")


def parse_pod_policy(value: str | Mapping[str, Any] | None) -> PodPolicy:
    """The policy from its JSON text (or a bare `restricted`/`none`, or an already
    decoded value). ValueError names the key at fault."""
    if value is None:
        return DEFAULT_POLICY
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return DEFAULT_POLICY
        if text in PRESETS:
            return PRESETS[text]
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{SETTING}: not JSON ({e.msg} at line {e.lineno} column "
                             f"{e.colno}); give restricted, none or an object") from None
        return parse_pod_policy(decoded) if not isinstance(decoded, str) else _preset(decoded)
    if not isinstance(value, Mapping):
        raise ValueError(f"{SETTING}: must be restricted, none or an object, not "
                         f"{type(value).__name__}")
    policy = DEFAULT_POLICY
    for key, item in value.items():
        if key == "podSecurity":
            if item not in POD_SECURITY_PROFILES:
                raise ValueError(f"{SETTING}.podSecurity: {json.dumps(item)} is not one of "
                                 f"{', '.join(POD_SECURITY_PROFILES)}")
            policy = replace(policy, pod_security=item)
        elif key in _LISTS:
            policy = _with_list(policy, _LISTS[key], _names(item, key))
        elif key == "templateRefs":
            policy = _template_refs(policy, item)
        else:
            near = suggest(str(key), _KEYS)
            raise ValueError(f"{SETTING}: unknown key {quote(str(key))}"
                             + (f' (did you mean "{near}"?)' if near else
                                f" (one of {', '.join(_KEYS)})"))
    return policy


def _preset(word: str) -> PodPolicy:
    if word not in PRESETS:
        raise ValueError(f"{SETTING}: {json.dumps(word)} is not restricted, none or an object")
    return PRESETS[word]


def _template_refs(policy: PodPolicy, value: Any) -> PodPolicy:
    if not isinstance(value, Mapping):
        raise ValueError(f"{SETTING}.templateRefs: must be an object with "
                         f"{' and '.join(_TEMPLATE_LISTS)}")
    for key, item in value.items():
        if key not in _TEMPLATE_LISTS:
            raise ValueError(f"{SETTING}.templateRefs: unknown key {quote(str(key))} (one of "
                             f"{', '.join(_TEMPLATE_LISTS)})")
        policy = _with_list(policy, _TEMPLATE_LISTS[key], _names(item, f"templateRefs.{key}"))
    return policy


def _with_list(policy: PodPolicy, name: str, value: tuple[str, ...]) -> PodPolicy:
    changes: dict[str, Any] = {name: value}
    return replace(policy, **changes)


def _names(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{SETTING}.{key}: must be a list of names or patterns "
                         '("*" stands for any text)')
    if key == "volumeTypes":
        known = volume_type_names()
        for name in value:
            if name == "secret":
                raise ValueError(f"{SETTING}.volumeTypes: a secret volume is a Secret "
                                 f"reference: list the Secrets in {SETTING}.secrets")
            if name != ANY and name not in known:
                near = suggest(name, sorted(known))
                raise ValueError(f"{SETTING}.volumeTypes: {quote(name)} is not a volume "
                                 "source" + (f' (did you mean "{near}"?)' if near else ""))
    return tuple(dict.fromkeys(value))


@lru_cache(maxsize=1)
def volume_type_names() -> frozenset[str]:
    """Kubernetes' volume sources and projected sources (the compiler's schema)."""
    from compiler.schema_check import definition

    volume = set(definition("V1Volume")["properties"]) - {"name"}
    return frozenset(volume | set(definition("V1VolumeProjection")["properties"]))


def to_json(policy: PodPolicy) -> dict[str, Any]:
    """The policy as the JSON object that parses back to it."""
    out: dict[str, Any] = {"podSecurity": policy.pod_security}
    out.update((key, list(getattr(policy, name))) for key, name in _LISTS.items())
    out["templateRefs"] = {key: list(getattr(policy, name))
                           for key, name in _TEMPLATE_LISTS.items()}
    return out


def allows(patterns: Sequence[str], value: str) -> bool:
    return any(_pattern(p).fullmatch(value) for p in patterns)


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split(ANY)), re.S)


assert {f.name for f in fields(PodPolicy)} == {"pod_security", *_LISTS.values(),
                                               *_TEMPLATE_LISTS.values()}

# -- judging a step ------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """A name a step asks for (an image, a ServiceAccount), where it was asked,
    and how a message names it (`image "x"`, `Tool "t" spec.serviceAccount "sa"`)."""

    value: str
    path: FieldPath
    what: str


@dataclass(frozen=True)
class PodAsks:
    """What one step asks of its pod. `path` is the step: its `securityContext`,
    `volumes`, `env` and `envFrom` are judged at their keys under it."""

    path: FieldPath
    security_context: Mapping[str, Any] | None = None
    volumes: Sequence[Any] = ()
    env: Sequence[Any] = ()
    env_from: Sequence[Any] = ()
    images: Sequence[Asked] = ()
    service_account: Asked | None = None
    template_ref: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class _Refusal:
    path: FieldPath
    what: str  # what is asked, for the message
    rule: str  # the policy key refusing it
    says: str  # what that key holds, or what its value requires
    opens: str  # the policy value that would allow it


@dataclass
class _Found:
    items: list[_Refusal] = field(default_factory=list)

    def add(self, path: FieldPath, what: str, rule: str, says: str, opens: str) -> None:
        self.items.append(_Refusal(path, what, rule, says, opens))

    def unlisted(self, path: FieldPath, what: str, key: str, patterns: Sequence[str],
                 value: str) -> None:
        """`value` is not in the list at `key` (`templateRefs.workflowTemplates`)."""
        listed = ", ".join(patterns) if patterns else "none allowed"
        self.add(path, what, key.split(".")[0], f"{key}: {listed}",
                 f"add {quote(value)} to {SETTING}.{key}")


def judge_pod(asks: PodAsks, policy: PodPolicy) -> list[Diagnostic]:
    """Every key of `asks` the policy does not allow: one `InvalidField` per key,
    naming each rule that refuses it and what would open it."""
    found = _Found()
    if policy.restricted:
        _pod_security(asks, found)
    for i, volume in enumerate(asks.volumes):
        if isinstance(volume, Mapping):
            _volume(volume, asks.path.child("volumes", i), policy, found)
    for i, item in enumerate(asks.env):
        ref = ((item or {}).get("valueFrom") or {}).get("secretKeyRef")
        if ref is not None:
            _secret(ref.get("name"), asks.path.child("env", i, "valueFrom", "secretKeyRef"),
                    policy, found)
    for i, item in enumerate(asks.env_from):
        ref = (item or {}).get("secretRef")
        if ref is not None:
            _secret(ref.get("name"), asks.path.child("envFrom", i, "secretRef"), policy, found)
    for image in asks.images:
        if not allows(policy.images, image.value):
            found.unlisted(image.path, image.what, "images", policy.images, image.value)
    account = asks.service_account
    if account is not None and not allows(policy.service_accounts, account.value):
        found.unlisted(account.path, account.what, "serviceAccounts", policy.service_accounts,
                       account.value)
    if asks.template_ref is not None:
        _template_ref(asks.template_ref, asks.path.child("templateRef"), policy, found)
    return _diagnostics(found.items)


def _pod_security(asks: PodAsks, found: _Found) -> None:
    """Pod Security `restricted` on the pod the step would get: the restricted
    settings under the step's own (`pod_security.restricted_container`), as
    `compiler.pods` emits them, so a violation can only be the step's own key."""
    volumes = [v for v in asks.volumes if isinstance(v, Mapping)]
    if asks.security_context is None and not volumes:
        found_on_pod = _violations_of_a_pod_asking_nothing()
    else:
        found_on_pod = tuple(check_restricted(_pod(asks.security_context, volumes)))
    for v in found_on_pod:
        path, what = _step_key(v, asks.path)
        found.add(path, what, "podSecurity", f'podSecurity "{RESTRICTED}": {v.detail}',
                  f'set {SETTING}.podSecurity to "{NONE}"')


def _pod(security_context: Mapping[str, Any] | None,
         volumes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"securityContext": dict(RESTRICTED_POD),
            "containers": [{"name": "main",
                            "securityContext": restricted_container(security_context)}],
            "volumes": list(volumes)}


@lru_cache(maxsize=1)
def _violations_of_a_pod_asking_nothing() -> tuple[Violation, ...]:
    # Most steps ask nothing of their pod (no securityContext, no volumes): their
    # pods are one pod, judged once instead of once per step (10% of validating
    # 10,000 steps).
    return tuple(check_restricted(_pod(None, ())))


def _step_key(v: Violation, step: FieldPath) -> tuple[FieldPath, str]:
    """The step's key behind a violation found on the pod built from it."""
    if v.path[:2] == ("containers", 0):
        last = v.path[-1]  # the path names the key; the message its value
        what = json.dumps(v.value) if isinstance(last, int) else f"{last}: {json.dumps(v.value)}"
        return step.child(*v.path[2:]), what
    if v.path[:1] == ("volumes",):
        return step.child(*v.path), f"a {v.value} volume"
    # Nothing else of that pod comes from the step, and the restricted settings alone
    # meet `restricted` (test_pod_security.py), so this is never reached.
    return step, f"the pod ({'.'.join(map(str, v.path))})"


def _volume(volume: Mapping[str, Any], at: FieldPath, policy: PodPolicy,
            found: _Found) -> None:
    kind = volume_type(volume)
    source = volume.get(kind)
    source = source if isinstance(source, Mapping) else {}
    if kind == "secret":  # a Secret reference, judged by `secrets` alone
        _secret(source.get("secretName"), at.child(kind), policy, found)
        return
    if not allows(policy.volume_types, kind):
        found.unlisted(at.child(kind), f"a {kind} volume", "volumeTypes", policy.volume_types,
                       kind)
    if kind == "projected":
        for j, projection in enumerate(source.get("sources") or ()):
            for part, spec in (projection or {}).items():
                where = at.child(kind, "sources", j, part)
                if part == "secret":
                    _secret((spec or {}).get("name"), where, policy, found)
                elif not allows(policy.volume_types, part):
                    found.unlisted(where, f"a projected {part}", "volumeTypes",
                                   policy.volume_types, part)
    elif kind == "image" and isinstance(source.get("reference"), str):
        image = source["reference"]
        if not allows(policy.images, image):
            found.unlisted(at.child(kind, "reference"), f"image {quote(image)}", "images",
                           policy.images, image)
    for key in ("secretRef", "nodePublishSecretRef"):  # cephfs, rbd, csi, ... credentials
        if isinstance(source.get(key), Mapping):
            _secret(source[key].get("name"), at.child(kind, key), policy, found)
    if kind == "azureFile":
        _secret(source.get("secretName"), at.child(kind, "secretName"), policy, found)


def _secret(name: Any, at: FieldPath, policy: PodPolicy, found: _Found) -> None:
    name = name if isinstance(name, str) else ""
    if not allows(policy.secrets, name):
        found.unlisted(at, f"Secret {quote(name)}", "secrets", policy.secrets, name)


def _template_ref(ref: Mapping[str, Any], at: FieldPath, policy: PodPolicy,
                  found: _Found) -> None:
    name = str(ref.get("name") or "")
    if ref.get("clusterScope") is True:
        if not allows(policy.cluster_workflow_templates, name):
            found.unlisted(at.child("clusterScope"), f"ClusterWorkflowTemplate {quote(name)}",
                           "templateRefs.clusterWorkflowTemplates",
                           policy.cluster_workflow_templates, name)
    elif not allows(policy.workflow_templates, name):
        found.unlisted(at.child("name"), f"WorkflowTemplate {quote(name)}",
                       "templateRefs.workflowTemplates", policy.workflow_templates, name)


def _diagnostics(refusals: Sequence[_Refusal]) -> list[Diagnostic]:
    """One diagnostic per key and thing asked, in the order found; one several
    rules refuse names them all."""
    by_key: dict[tuple[FieldPath, str], list[_Refusal]] = {}
    for r in refusals:
        by_key.setdefault((r.path, r.what), []).append(r)
    out = []
    for (path, _), group in by_key.items():
        rules = tuple(dict.fromkeys(r.rule for r in group))
        whys = "; ".join(dict.fromkeys(r.says for r in group))
        opens = " and ".join(dict.fromkeys(r.opens for r in group))
        out.append(Diagnostic(
            Reason.INVALID_FIELD, path,
            f"{group[0].what} is not allowed by this install's pod policy ({whys})",
            names=rules, hint=f"to allow it, {opens}"))
    return out

