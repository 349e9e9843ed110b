"""What the cluster's Argo does by default to every Workflow, read from its
workflow-controller ConfigMap (`compiler.argo_defaults` says why and what is made
of it). Read at submission, at most once every `ttl` seconds; a ConfigMap the
controller may not read (its RBAC, a cluster without it) is no defaults, said once
in the log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from compiler.argo_defaults import Judgement, judge, read_defaults
from controller.kube import ApiError, Kube

log = logging.getLogger("orch.argo_config")
DEFAULT_CONFIGMAP = ("argo", "workflow-controller-configmap")


class ArgoDefaults:
    """`judgement()`: the current ConfigMap's defaults, judged (cached for `ttl`)."""

    def __init__(self, kube: Kube, namespace: str, name: str, ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube, self.namespace, self.name, self.ttl, self.clock = \
            kube, namespace, name, ttl, clock
        self._lock = threading.Lock()
        self._cached: tuple[float, Judgement] | None = None
        self._warned = False

    def judgement(self) -> Judgement:
        with self._lock:
            now = self.clock()
            if self._cached is not None and now - self._cached[0] < self.ttl:
                return self._cached[1]
            try:
                data = self.kube.config_map_data(self.namespace, self.name)
            except ApiError as e:
                if not self._warned:
                    log.warning("cannot read Argo's ConfigMap; its defaults are not judged",
                                extra={"configmap": f"{self.namespace}/{self.name}",
                                       "status": e.status, "error": e.message})
                    self._warned = True
                data = None
            found = judge(read_defaults(data))
            self._cached = (now, found)
            return found
