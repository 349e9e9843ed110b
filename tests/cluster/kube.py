"""Talking to the test apiserver from Python: clients, apply, waits.

Why: tests and the harness need the same few operations on arbitrary kinds
(CRDs, Argo Workflows, kwok Stages): create-or-replace from YAML and waiting
for a condition. The dynamic client does this without kubectl, which a fresh
machine may lack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from orchapi.api import Obj

# libyaml parses the ~1 MB of CRDs in a fraction of the pure-Python time
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DISCOVERY_WAIT = 10.0  # s: how long a kind may take to be served after its CRD is made
HTTP_NOT_FOUND, HTTP_CONFLICT = 404, 409


def api_client(kubeconfig: Path) -> client.ApiClient:
    """A kubernetes ApiClient bound to `kubeconfig` (not to the global default)."""
    cfg = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


def load_documents(source: str | Path) -> list[Obj]:
    """Documents of a YAML file path or YAML text, empty ones dropped."""
    text = source.read_text() if isinstance(source, Path) else source
    return [d for d in yaml.load_all(text, Loader=_LOADER) if d]


class Kube:
    """Create/apply/get/delete any kind through the dynamic client."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._dyn: dynamic.DynamicClient | None = None

    @property
    def dyn(self) -> dynamic.DynamicClient:
        if self._dyn is None:
            self._dyn = dynamic.DynamicClient(self.api)  # type: ignore[no-untyped-call]
        return self._dyn

    def resource(self, api_version: str, kind: str) -> Any:
        try:
            return self.dyn.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            pass
        except Exception:  # a discovery read that failed (an apiserver restarting): once more
            self.dyn.resources.invalidate_cache()
            return self.dyn.resources.get(api_version=api_version, kind=kind)
        # Discovery is cached, and the apiserver serves a CRD's kind a moment after it
        # says Established: refreshed until it does (a kind that never comes fails).
        give_up = time.monotonic() + DISCOVERY_WAIT
        while True:
            self.dyn.resources.invalidate_cache()
            try:
                return self.dyn.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                if time.monotonic() > give_up:
                    raise
                time.sleep(0.2)

    def apply(self, obj: Obj, namespace: str | None = None) -> Obj:
        """Server-side apply (field manager `orch-tests`); returns the live object.
        Objects with only generateName are created instead."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace") or (namespace if res.namespaced else None)
        if res.namespaced and ns:
            meta["namespace"] = ns
        if "name" not in meta:
            created: Obj = res.create(body=obj, namespace=ns).to_dict()
            return created
        out: Obj = res.server_side_apply(
            body=obj, name=meta["name"], namespace=ns, field_manager="orch-tests",
            force_conflicts=True,
        ).to_dict()
        return out

    def create(self, obj: Obj) -> Obj:
        """POST `obj` to its collection without discovery (which costs a second
        of a cold start); for the harness's own start-up objects, whose plural
        is always the lower-case kind + "s"."""
        api_version, ns = obj["apiVersion"], obj["metadata"].get("namespace")
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        scope = f"/namespaces/{ns}" if ns else ""
        request = self.api.param_serialize(
            "POST", f"{base}{scope}/{obj['kind'].lower()}s", body=obj,
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            auth_settings=["BearerToken"])
        response = self.api.call_api(*request)
        response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status < 300:
            raise ApiException(http_resp=response)
        created: Obj = json.loads(response.data or b"{}")
        return created

    def get_custom(self, api_version: str, plural: str, name: str, namespace: str) -> Obj:
        """A namespaced custom object, without discovery."""
        group, version = api_version.split("/")
        got = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
            group, version, namespace, plural, name)
        assert isinstance(got, dict)
        return got

    def apply_yaml(self, source: str | Path, namespace: str | None = None) -> list[Obj]:
        return [self.apply(d, namespace) for d in load_documents(source)]

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None
            ) -> Obj | None:
        try:
            res = self.resource(api_version, kind)
            obj: Obj = res.get(name=name, namespace=namespace).to_dict()
        except ApiException as e:
            if e.status == HTTP_NOT_FOUND:
                return None
            raise
        return obj

    def list_objects(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[Obj]:
        items = self.resource(api_version, kind).get(
            namespace=namespace, label_selector=label_selector).to_dict()["items"]
        return list(items)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None
               ) -> None:
        try:
            self.resource(api_version, kind).delete(name=name, namespace=namespace)
        except ApiException as e:
            if e.status != HTTP_NOT_FOUND:
                raise

    def install_crds(self, files: Iterable[Path], timeout: float = 30) -> list[str]:
        """Create (or replace) CRDs from files, then wait until all are Established.
        Uses the typed client: the dynamic one would rediscover per CRD."""
        ext = client.ApiextensionsV1Api(self.api)
        names: list[str] = []
        for doc in (d for f in files for d in load_documents(f)):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            name = doc["metadata"]["name"]
            try:  # the client serializes a plain dict body as is
                ext.create_custom_resource_definition(doc)  # type: ignore[arg-type]
            except ApiException as e:
                if e.status != HTTP_CONFLICT:
                    raise
                self.apply(doc)  # already there (a reused cluster): server-side apply
            names.append(name)

        def all_established() -> bool:
            done = {c.metadata.name for c in ext.list_custom_resource_definition().items
                    if c.metadata and c.status and any(
                        x.type == "Established" and x.status == "True"
                        for x in c.status.conditions or ())}
            return set(names) <= done

        wait_for(all_established, f"CRDs Established: {', '.join(names)}", timeout, 0.05)
        if self._dyn is not None:
            self._dyn.resources.invalidate_cache()
        return names


def _established(crd: Obj | None) -> bool:
    conds = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conds)


def wait_for(check: Callable[[], object], what: str, timeout: float, interval: float = 0.2
             ) -> Any:
    """Poll `check` until it returns something truthy (which is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
