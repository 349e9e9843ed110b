"""A real Kubernetes + Argo test cluster on one machine, started by the tests.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and Argo's
workflow-controller run as local processes built by `tools/build.sh`; see
`tests/cluster/cluster.py` for the start order and `tools/README.md` for the
versions, flags and measurements.
"""

from tests.cluster.cluster import Cluster
from tests.cluster.tools import ToolsUnavailableError, ensure_tools

__all__ = ["Cluster", "ToolsUnavailableError", "ensure_tools"]
