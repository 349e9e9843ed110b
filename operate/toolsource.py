"""`orch compile/validate/plan/graph --tools-from-cluster`: the Tools a ToolRun
step names that the input lacks, read from the current kube context, as the
controller reads them when it submits a run.

Why here: the compiler must never talk to a cluster (.importlinter), and the
terminal already has a client that needs no kubernetes package (`operate.client`).
The flag is added to the file commands by `operate.cli` (with the cluster
commands); the compiler sees only a `compiler.tools.ToolSource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from operate.errors import UsageError

TOOLS_FLAG = "--tools-from-cluster"
# Appended to the compiler's "add the Tool ... to the input" of a ToolNotFound.
TOOLS_HINT = f"or pass {TOOLS_FLAG} to read it from the current kube context's cluster"


def cluster_tools(args: Any) -> ClusterTools | None:
    """The `compiler.tools.ToolSource` of `--tools-from-cluster`, None without it;
    the client loads only when a Tool is asked for."""
    return ClusterTools() if args.tools_from_cluster else None


class ClusterTools:
    """Tools read by name from the cluster of the current kube context; a document
    without a namespace looks in the context's namespace."""

    def __init__(self) -> None:
        self._client: Any = None

    def _connect(self) -> Any:
        if self._client is None:
            from operate.client import Client
            from operate.kubeconfig import ConfigError, load

            try:
                self._client = Client(load())
            except ConfigError as exc:
                raise UsageError(f"{TOOLS_FLAG}: kubeconfig: {exc}") from None
        return self._client

    def where(self, namespace: str) -> str:
        conn = self._connect().conn
        return f'in namespace "{namespace or conn.namespace}" of context "{conn.context}"'

    def fetch(self, namespace: str, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        from operate.client import ApiError, Unreachable
        from orchapi.api import TOOLS

        client = self._connect()
        ns = namespace or client.conn.namespace
        found: dict[str, dict[str, Any]] = {}
        for name in names:
            try:
                tool = client.get_or_none(TOOLS.path(ns, name))
            except (ApiError, Unreachable) as exc:
                raise UsageError(f'{TOOLS_FLAG}: cannot read Tool "{name}" in namespace "{ns}": '
                                 f"{exc}") from None
            if tool is not None:
                found[name] = tool
        return found
