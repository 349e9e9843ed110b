"""What the rendered chart grants a ServiceAccount, and what the apiserver's audit
log saw it do, as sets of the same shape, so "granted == used" is one comparison.

Why sets of (namespace, verb, group, resource): RBAC is judged per request on
exactly those four things, plus resourceNames, which the chart uses only to name
its Lease: a rule limited to names counts here as granting its verbs, and the
controller run under the rendered Roles proves the name right (a wrong one would
be refused, which the test asserts never happens).
A Role grants in its own namespace; a ClusterRole bound by a ClusterRoleBinding
grants everywhere (namespace `*`). Subresources are `resource/subresource`, as
RBAC rules and audit events both spell them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orchapi.api import Obj

ANY_NAMESPACE = "*"


@dataclass(frozen=True, order=True)
class Access:
    namespace: str  # `*`: cluster-wide (also cluster-scoped resources)
    verb: str
    group: str  # "" is the core group
    resource: str  # `orchestrationruns/status` for a subresource

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}.{self.group or 'core'} in {self.namespace}"


def username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def _is_subject(binding: Obj, namespace: str, name: str) -> bool:
    return any(s.get("kind") == "ServiceAccount" and s.get("name") == name
               and s.get("namespace") == namespace for s in binding.get("subjects") or ())


def granted(objs: Iterable[Obj], sa_namespace: str, sa_name: str) -> set[Access]:
    """Every access the rendered Roles/ClusterRoles give the ServiceAccount through
    the rendered bindings (wildcards are kept as `*`; the chart has none)."""
    objs = list(objs)
    roles = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
             for o in objs if o.get("kind") in ("Role", "ClusterRole")}
    out: set[Access] = set()
    for b in objs:
        if b.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not _is_subject(b, sa_namespace, sa_name):
            continue
        ns = b["metadata"].get("namespace", "") if b["kind"] == "RoleBinding" else ""
        ref = b["roleRef"]
        role = roles.get((ref["kind"], ns if ref["kind"] == "Role" else "", ref["name"]))
        if role is None:
            raise AssertionError(f"{b['kind']} {b['metadata']['name']} binds a role the "
                                 f"chart does not render: {ref}")
        scope = ns or ANY_NAMESPACE
        for rule in role.get("rules") or ():
            for group in rule.get("apiGroups") or ():
                for resource in rule.get("resources") or ():
                    for verb in rule.get("verbs") or ():
                        out.add(Access(scope, verb, group, resource))
    return out


@dataclass(frozen=True)
class Request:
    access: Access | None  # None: a non-resource URL
    path: str
    code: int


def observed(audit_log: Path, user: str) -> list[Request]:
    """The requests `user` made, one per request (a watch logs two stages)."""
    out: list[Request] = []
    seen: set[str] = set()
    text = audit_log.read_text()
    # Only whole lines: the apiserver may be writing the last one right now.
    for line in text[:text.rfind("\n") + 1].splitlines():
        event = json.loads(line)
        if event["user"]["username"] != user or event["auditID"] in seen:
            continue
        if event["stage"] not in ("ResponseComplete", "ResponseStarted", "Panic"):
            continue
        seen.add(event["auditID"])
        ref = event.get("objectRef")
        code = int((event.get("responseStatus") or {}).get("code") or 0)
        if ref is None:
            out.append(Request(None, event["requestURI"], code))
            continue
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        access = Access(ref.get("namespace") or ANY_NAMESPACE, event["verb"],
                        ref.get("apiGroup") or "", resource)
        out.append(Request(access, event["requestURI"], code))
    return out


def is_allowed(access: Access, grants: set[Access]) -> bool:
    """RBAC's own matching: a namespaced grant covers its namespace, a cluster-wide
    one every namespace; `*` matches any verb, group or resource."""
    return any(g.namespace in (ANY_NAMESPACE, access.namespace)
               and g.verb in ("*", access.verb) and g.group in ("*", access.group)
               and g.resource in ("*", access.resource) for g in grants)


def unused(grants: set[Access], used: Iterable[Access]) -> set[Access]:
    """Grants no observed request needed."""
    used = list(used)
    return {g for g in grants if not is_allowed_by_one(g, used)}


def is_allowed_by_one(grant: Access, used: list[Access]) -> bool:
    return any(is_allowed(u, {grant}) for u in used)
