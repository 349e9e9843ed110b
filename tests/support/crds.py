"""A CRD installed again under another API group, for tests that need two
versions of one CRD on one apiserver: Argo's full CRDs beside the minimal ones the
test cluster's Argo runs on, our CRDs generated for a smaller `maxSteps` beside the
chart's. The schema and its CEL rules do not depend on the group, so objects of the
renamed kind are judged as the original's would be."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from orchapi.api import Obj
from tests.cluster.kube import wait_for


def renamed(crd: Obj, group: str) -> Obj:
    out = copy.deepcopy(crd)
    out["spec"]["group"] = group
    out["metadata"] = {"name": f"{out['spec']['names']['plural']}.{group}"}
    return out


@contextmanager
def installed(api: client.ApiClient, crds: list[Obj], timeout: float = 60) -> Iterator[None]:
    """The CRDs created and Established for the block, deleted after it."""
    ext = client.ApiextensionsV1Api(api)
    names = []
    for crd in crds:
        body: Any = crd  # the client serialises a dict as it is
        ext.create_custom_resource_definition(body)
        names.append(crd["metadata"]["name"])

    def established() -> bool:
        for name in names:
            status = ext.read_custom_resource_definition(name).status
            conds = status.conditions if status is not None else None
            if not any(c.type == "Established" and c.status == "True" for c in conds or ()):
                return False
        return True

    wait_for(established, f"CRDs Established: {', '.join(names)}", timeout)
    try:
        yield
    finally:
        for name in names:
            ext.delete_custom_resource_definition(name)
