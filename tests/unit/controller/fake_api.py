"""An in-memory apiserver behind the controller's one door (`controller.kube.Kube`),
for the executor's and the informer's unit tests.

Why a fake of our own interface, not of the kubernetes client: the executor and the
informer speak only `Kube` (import-linter's one-door contract), and what they must
get right is how they use its answers: a stale resourceVersion is a 409, a second
create of a name is AlreadyExists, a delete with preconditions removes only that
incarnation, a resource the cluster does not serve is a 404 on a list. Those rules
are kept here as the apiserver keeps them; the real-cluster suite runs the same code
against a real apiserver. Every call is recorded (`calls`), and an error can be
queued for the next call of a verb on a resource (`fail_next`).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

from controller.kube import AlreadyExistsError, ApiError, ConflictError, NotFoundError
from orchapi.api import Obj, Resource

Key = tuple[str, str, str]  # (plural, namespace, name)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class FakeApi:
    def __init__(self, unserved: tuple[Resource, ...] = ()) -> None:
        self.objects: dict[Key, Obj] = {}
        self.unserved = {r.plural for r in unserved}
        self.calls: list[tuple[str, str, str]] = []  # (verb, plural, name or selector)
        self.deletes: list[Obj] = []  # the body of each delete that removed something
        self.events: list[Obj] = []
        self._rv = itertools.count(100)
        self._uid = itertools.count(1)
        self._failures: dict[tuple[str, str], list[ApiError]] = {}

    # -- the test's side ---------------------------------------------------------------
    def put(self, res: Resource, obj: Obj) -> Obj:
        """Store `obj` as the apiserver would hold it (a uid and resourceVersion
        unless it brings its own)."""
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{next(self._uid)}")
        meta["resourceVersion"] = str(next(self._rv))
        stored.setdefault("apiVersion", res.api_version)
        stored.setdefault("kind", res.kind)
        self.objects[(res.plural, meta["namespace"], meta["name"])] = stored
        return copy.deepcopy(stored)

    def stored(self, res: Resource, namespace: str, name: str) -> Obj | None:
        found = self.objects.get((res.plural, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def fail_next(self, verb: str, res: Resource, error: ApiError) -> None:
        self._failures.setdefault((verb, res.plural), []).append(error)

    def verbs(self, *verbs: str) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[0] in verbs]

    def _enter(self, verb: str, res: Resource, name: str) -> None:
        self.calls.append((verb, res.plural, name))
        queued = self._failures.get((verb, res.plural))
        if queued:
            raise queued.pop(0)
        if res.plural in self.unserved:
            raise NotFoundError(404, "NotFound", f"the server could not find {res.plural}")

    # -- controller.kube.Kube ------------------------------------------------------------
    def get(self, res: Resource, namespace: str, name: str) -> Obj | None:
        self._enter("get", res, name)
        return self.stored(res, namespace, name)

    def create(self, res: Resource, namespace: str, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        self._enter("create", res, name)
        if (res.plural, namespace, name) in self.objects:
            raise AlreadyExistsError(409, "AlreadyExists", f'{res.plural} "{name}" exists')
        return self.put(res, {**body, "metadata": {**body["metadata"], "namespace": namespace}})

    def replace_status(self, res: Resource, namespace: str, name: str, body: Obj) -> Obj:
        self._enter("replace_status", res, name)
        current = self.objects.get((res.plural, namespace, name))
        if current is None:
            raise NotFoundError(404, "NotFound", f'{res.plural} "{name}" not found')
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise ConflictError(409, "Conflict", "the object has been modified")
        updated = {**current, "status": copy.deepcopy(body.get("status"))}
        updated["metadata"] = {**current["metadata"], "resourceVersion": str(next(self._rv))}
        self.objects[(res.plural, namespace, name)] = updated
        return copy.deepcopy(updated)

    def patch(self, res: Resource, namespace: str, name: str, body: Obj) -> Obj | None:
        self._enter("patch", res, name)
        current = self.objects.get((res.plural, namespace, name))
        if current is None:
            return None
        updated: Obj = merge_patch(current, body)
        updated["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[(res.plural, namespace, name)] = updated
        return copy.deepcopy(updated)

    def delete(self, res: Resource, namespace: str, name: str, uid: str | None = None,
               resource_version: str | None = None, propagation: str = "Background") -> bool:
        self._enter("delete", res, name)
        current = self.objects.get((res.plural, namespace, name))
        if current is None:
            return False
        meta = current["metadata"]
        if (uid and uid != meta["uid"]) or (
                resource_version and resource_version != meta["resourceVersion"]):
            raise ConflictError(409, "Conflict", "Precondition failed")
        del self.objects[(res.plural, namespace, name)]
        self.deletes.append({"plural": res.plural, "name": name, "uid": uid,
                             "resourceVersion": resource_version,
                             "propagationPolicy": propagation})
        return True

    def list_pages(self, res: Resource, namespace: str | None, label_selector: str = "",
                   limit: int = 100) -> Iterator[tuple[list[Obj], str]]:
        self._enter("list", res, label_selector)
        wanted = dict(p.split("=", 1) for p in label_selector.split(",") if p)
        items = [copy.deepcopy(o) for (plural, ns, _), o in sorted(self.objects.items())
                 if plural == res.plural and namespace in (None, ns)
                 and all((o["metadata"].get("labels") or {}).get(k) == v
                         for k, v in wanted.items())]
        rv = str(next(self._rv))
        for start in range(0, max(len(items), 1), limit):
            yield items[start:start + limit], rv

    def create_event(self, namespace: str, body: Obj) -> None:
        self.events.append(copy.deepcopy(body))
