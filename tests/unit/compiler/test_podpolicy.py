"""The install's pod policy (contract §6 `podPolicy`, compiler.podpolicy): parsed
from its JSON, and `judge_pod` refusing what it does not allow, one row per rule:
`InvalidField` at the key, naming the rule; and what the hint says would open it
does open it."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.diagnostics import FieldPath
from compiler.podpolicy import (
    DEFAULT_POLICY,
    DEFAULT_VOLUME_TYPES,
    OPEN_POLICY,
    Asked,
    PodAsks,
    PodPolicy,
    allows,
    judge_pod,
    parse_pod_policy,
    to_json,
)
from orchapi.vocabulary import Reason

STEP = FieldPath(("spec", "steps", 0))


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("", DEFAULT_POLICY, id="unset-is-restricted"),
    pytest.param("restricted", DEFAULT_POLICY, id="bare-restricted"),
    pytest.param(' "none" ', OPEN_POLICY, id="json-string-none"),
    pytest.param("{}", DEFAULT_POLICY, id="empty-object-keeps-every-default"),
    pytest.param('{"podSecurity": "none"}', PodPolicy(pod_security="none"),
                 id="podSecurity-alone"),
    pytest.param('{"secrets": ["db", "db"], "serviceAccounts": ["builder"], '
                 '"images": ["ghcr.io/acme/*"], "volumeTypes": ["emptyDir", "hostPath"], '
                 '"templateRefs": {"clusterWorkflowTemplates": ["notify"]}}',
                 PodPolicy(secrets=("db",), service_accounts=("builder",),
                           images=("ghcr.io/acme/*",), volume_types=("emptyDir", "hostPath"),
                           cluster_workflow_templates=("notify",)),
                 id="every-list"),
])
def test_parse(text: str, expected: PodPolicy) -> None:
    assert parse_pod_policy(text) == expected
    assert parse_pod_policy(to_json(expected)) == expected


@pytest.mark.parametrize(("text", "says"), [
    pytest.param("baseline", "not JSON", id="unknown-word"),
    pytest.param('"baseline"', '"baseline" is not restricted, none or an object',
                 id="unknown-preset"),
    pytest.param("[]", "must be restricted, none or an object", id="a-list"),
    pytest.param('{"podSecurity": "baseline"}', "podPolicy.podSecurity", id="unknown-profile"),
    pytest.param('{"secret": []}', 'did you mean "secrets"?', id="misspelled-key"),
    pytest.param('{"images": "alpine"}', "podPolicy.images: must be a list", id="not-a-list"),
    pytest.param('{"secrets": [""]}', "podPolicy.secrets: must be a list", id="empty-name"),
    pytest.param('{"volumeTypes": ["hostpath"]}', 'did you mean "hostPath"?',
                 id="unknown-volume-type"),
    pytest.param('{"volumeTypes": ["secret"]}', "list the Secrets in podPolicy.secrets",
                 id="secret-volumes-are-secrets"),
    pytest.param('{"templateRefs": {"cluster": []}}', "podPolicy.templateRefs: unknown key",
                 id="unknown-templateRefs-key"),
])
def test_parse_refuses(text: str, says: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_pod_policy(text)
    assert says in str(e.value)


def test_the_defaults_are_the_contracts() -> None:
    assert to_json(DEFAULT_POLICY) == {
        "podSecurity": "restricted",
        "volumeTypes": ["emptyDir", "configMap", "downwardAPI", "ephemeral",
                        "persistentVolumeClaim"],
        "secrets": [], "serviceAccounts": [], "images": ["*"],
        "templateRefs": {"workflowTemplates": ["*"], "clusterWorkflowTemplates": []}}
    assert tuple(to_json(DEFAULT_POLICY)["volumeTypes"]) == DEFAULT_VOLUME_TYPES


@pytest.mark.parametrize(("patterns", "value", "allowed"), [
    pytest.param(("*",), "anything/at:all", True, id="star-is-all"),
    pytest.param(("ghcr.io/acme/*",), "ghcr.io/acme/tools/lint:1", True, id="prefix"),
    pytest.param(("ghcr.io/acme/*",), "ghcr.io/acme-evil/x", False, id="prefix-is-exact"),
    pytest.param(("alpine:3.*",), "alpine:3.20", True, id="tag-pattern"),
    pytest.param(("alpine",), "alpine:3.20", False, id="no-implicit-tag"),
    pytest.param(("a.b",), "aXb", False, id="dot-is-a-dot"),
    pytest.param((), "x", False, id="empty-list-allows-nothing"),
])
def test_patterns(patterns: tuple[str, ...], value: str, allowed: bool) -> None:
    assert allows(patterns, value) is allowed


def _secret_env(name: str) -> dict[str, Any]:
    return {"name": "E", "valueFrom": {"secretKeyRef": {"name": name, "key": "k"}}}


def _volume(**source: Any) -> dict[str, Any]:
    return {"name": "v", **source}


TOKEN = _volume(projected={"sources": [{"serviceAccountToken": {"path": "token"}}]})
# (asks, the key refused, the rules named, a policy that opens it)
RULES = [
    pytest.param(PodAsks(STEP, {"privileged": True}), "securityContext.privileged",
                 ("podSecurity",), {"podSecurity": "none"}, id="privileged"),
    pytest.param(PodAsks(STEP, {"runAsUser": 0}), "securityContext.runAsUser",
                 ("podSecurity",), {"podSecurity": "none"}, id="root-user"),
    pytest.param(PodAsks(STEP, {"runAsNonRoot": False}), "securityContext.runAsNonRoot",
                 ("podSecurity",), {"podSecurity": "none"}, id="runAsNonRoot-false"),
    pytest.param(PodAsks(STEP, {"allowPrivilegeEscalation": True}),
                 "securityContext.allowPrivilegeEscalation", ("podSecurity",),
                 {"podSecurity": "none"}, id="privilege-escalation"),
    pytest.param(PodAsks(STEP, {"capabilities": {"add": ["SYS_ADMIN"]}}),
                 "securityContext.capabilities.add[0]", ("podSecurity",),
                 {"podSecurity": "none"}, id="capability-added"),
    pytest.param(PodAsks(STEP, {"capabilities": {"drop": []}}),
                 "securityContext.capabilities.drop", ("podSecurity",),
                 {"podSecurity": "none"}, id="capabilities-not-dropped"),
    pytest.param(PodAsks(STEP, {"seccompProfile": {"type": "Unconfined"}}),
                 "securityContext.seccompProfile.type", ("podSecurity",),
                 {"podSecurity": "none"}, id="seccomp-unconfined"),
    pytest.param(PodAsks(STEP, {"procMount": "Unmasked"}), "securityContext.procMount",
                 ("podSecurity",), {"podSecurity": "none"}, id="procMount"),
    pytest.param(PodAsks(STEP, {"seLinuxOptions": {"type": "spc_t"}}),
                 "securityContext.seLinuxOptions.type", ("podSecurity",),
                 {"podSecurity": "none"}, id="selinux-type"),
    pytest.param(PodAsks(STEP, {"appArmorProfile": {"type": "Unconfined"}}),
                 "securityContext.appArmorProfile.type", ("podSecurity",),
                 {"podSecurity": "none"}, id="apparmor-unconfined"),
    pytest.param(PodAsks(STEP, {"windowsOptions": {"hostProcess": True}}),
                 "securityContext.windowsOptions.hostProcess", ("podSecurity",),
                 {"podSecurity": "none"}, id="windows-hostProcess"),
    pytest.param(PodAsks(STEP, volumes=[_volume(hostPath={"path": "/"})]),
                 "volumes[0].hostPath", ("podSecurity", "volumeTypes"),
                 {"podSecurity": "none", "volumeTypes": ["hostPath"]}, id="hostPath-volume"),
    pytest.param(PodAsks(STEP, volumes=[_volume(csi={"driver": "d"})]), "volumes[0].csi",
                 ("volumeTypes",), {"volumeTypes": ["csi"]}, id="volume-type-off-the-list"),
    pytest.param(PodAsks(STEP, env=[_secret_env("db")]), "env[0].valueFrom.secretKeyRef",
                 ("secrets",), {"secrets": ["db"]}, id="secretKeyRef"),
    pytest.param(PodAsks(STEP, env_from=[{"secretRef": {"name": "all"}}]),
                 "envFrom[0].secretRef", ("secrets",), {"secrets": ["all"]}, id="envFrom-secret"),
    pytest.param(PodAsks(STEP, volumes=[_volume(secret={"secretName": "tls"})]),
                 "volumes[0].secret", ("secrets",), {"secrets": ["tls"]}, id="secret-volume"),
    pytest.param(PodAsks(STEP, volumes=[_volume(csi={"driver": "d", "nodePublishSecretRef":
                                                     {"name": "c"}})]),
                 "volumes[0].csi.nodePublishSecretRef", ("secrets",),
                 {"volumeTypes": ["csi"], "secrets": ["c"]}, id="volume-credentials-secret"),
    pytest.param(PodAsks(STEP, volumes=[TOKEN]),
                 "volumes[0].projected.sources[0].serviceAccountToken", ("volumeTypes",),
                 {"volumeTypes": ["projected", "serviceAccountToken"]}, id="projected-token"),
    pytest.param(PodAsks(STEP, volumes=[_volume(projected={"sources": [
        {"secret": {"name": "db"}}]})]), "volumes[0].projected.sources[0].secret",
                 ("secrets",), {"volumeTypes": ["projected"], "secrets": ["db"]},
                 id="projected-secret"),
    pytest.param(PodAsks(STEP, images=[Asked("evil:latest", STEP.child("image"),
                                             'image "evil:latest"')]),
                 "image", ("images",), {"images": ["evil:*"]}, id="image"),
    pytest.param(PodAsks(STEP, volumes=[_volume(image={"reference": "evil:1"})]),
                 "volumes[0].image.reference", ("images",),
                 {"volumeTypes": ["image"], "images": ["evil:1"]}, id="image-volume"),
    pytest.param(PodAsks(STEP, service_account=Asked("admin", STEP.child("toolRef"),
                                                     'Tool "t" spec.serviceAccount "admin"')),
                 "toolRef", ("serviceAccounts",), {"serviceAccounts": ["admin"]},
                 id="tool-service-account"),
    pytest.param(PodAsks(STEP, template_ref={"name": "admin-steps", "template": "t",
                                             "clusterScope": True}),
                 "templateRef.clusterScope", ("templateRefs",),
                 {"templateRefs": {"clusterWorkflowTemplates": ["admin-steps"]}},
                 id="cluster-workflow-template"),
    pytest.param(PodAsks(STEP, template_ref={"name": "other", "template": "t"}),
                 "templateRef.name", ("templateRefs",),
                 {"templateRefs": {"workflowTemplates": ["other"]}},
                 id="workflow-template-off-the-list"),
]
# The last rows need a list narrower than the default to be refused at all.
NARROW = PodPolicy(images=("ghcr.io/acme/*",), workflow_templates=("shared-*",))


@pytest.mark.parametrize(("asks", "key", "rules", "opens"), RULES)
def test_each_rule_refuses_at_the_key(asks: PodAsks, key: str, rules: tuple[str, ...],
                                      opens: dict[str, Any]) -> None:
    refused = {str(d.path): d for d in judge_pod(asks, NARROW)}
    found = refused[f"{STEP}.{key}"]  # (a projected token's volume is refused too)
    assert (found.reason, found.names) == (Reason.INVALID_FIELD, rules)
    assert "pod policy" in found.message and found.hint is not None
    for rule in rules:
        assert rule in found.message and f"podPolicy.{rule}" in found.hint


@pytest.mark.parametrize(("asks", "key", "rules", "opens"), RULES)
def test_what_the_hint_names_opens_it(asks: PodAsks, key: str, rules: tuple[str, ...],
                                      opens: dict[str, Any]) -> None:
    policy = parse_pod_policy({**to_json(NARROW), **{
        k: (v if not isinstance(v, list) else [*to_json(NARROW)[k], *v])
        for k, v in opens.items()}})
    assert judge_pod(asks, policy) == []
    assert judge_pod(asks, OPEN_POLICY) == []


def test_the_defaults_let_through_what_restricted_allows() -> None:
    asks = PodAsks(
        STEP, {"runAsUser": 1000, "readOnlyRootFilesystem": True,
               "capabilities": {"add": ["NET_BIND_SERVICE"]},
               "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
        volumes=[_volume(emptyDir={}), _volume(configMap={"name": "c"}),
                 _volume(downwardAPI={"items": []}), _volume(persistentVolumeClaim={
                     "claimName": "c"}), _volume(ephemeral={"volumeClaimTemplate": {}})],
        env=[{"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}],
        env_from=[{"configMapRef": {"name": "c"}}],
        images=[Asked("anything:1", STEP.child("image"), "image")],
        template_ref={"name": "shared-steps", "template": "t"})
    assert judge_pod(asks, DEFAULT_POLICY) == []


def test_every_problem_at_once_each_at_its_key() -> None:
    asks = PodAsks(STEP, {"privileged": True, "runAsUser": 0},
                   volumes=[_volume(hostPath={"path": "/"}), TOKEN],
                   env=[_secret_env("a"), _secret_env("b")])
    assert [str(d.path).removeprefix(f"{STEP}.") for d in judge_pod(asks, DEFAULT_POLICY)] == [
        "securityContext.privileged", "volumes[0].hostPath", "securityContext.runAsUser",
        "volumes[1].projected", "volumes[1].projected.sources[0].serviceAccountToken",
        "env[0].valueFrom.secretKeyRef", "env[1].valueFrom.secretKeyRef"]
