"""The controller's configuration: contract §6 environment variables plus flags.

Why: the Helm chart speaks environment variables (JANGAR_ORCHESTRATION_CONTROLLER_*,
ORCH_*), a person at a terminal speaks flags; both end up in one frozen `Config`,
and a flag, when given, wins over its variable.
"""

from __future__ import annotations

import argparse
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from compiler.kinds import KINDS
from compiler.podpolicy import POD_SECURITY_PROFILES, parse_pod_policy
from compiler.pods import DEFAULT_PODS, PodSettings
from controller.admission import DEFAULT_MAX_DEPTH, DEFAULT_MAX_DESCENDANTS
from controller.pacing import STATUS_INTERVAL
from orchapi.api import MAX_STEPS

ENABLED = "JANGAR_ORCHESTRATION_CONTROLLER_ENABLED"
NAMESPACES = "JANGAR_ORCHESTRATION_CONTROLLER_NAMESPACES"
REQUEST_TIMEOUT = "ORCH_REQUEST_TIMEOUT_SECONDS"
WATCH_IDLE_TIMEOUT = "ORCH_WATCH_IDLE_TIMEOUT_SECONDS"
HEALTH_WINDOW = "ORCH_HEALTH_WINDOW_SECONDS"
SEAL_SECRET = "ORCH_SEAL_SECRET"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Config:
    enabled: bool
    namespaces: tuple[str, ...] | None  # None: every namespace (`*`)
    kubeconfig: str | None
    in_cluster: bool
    metrics_address: tuple[str, int]
    probe_address: tuple[str, int]
    workflow_service_account: str | None
    leader_elect: bool
    lease_namespace: str
    lease_name: str
    identity: str
    lease_duration: float
    renew_deadline: float
    retry_period: float
    workers: int
    log_level: str
    request_timeout: float = 30.0
    watch_idle_timeout: float = 90.0
    health_window: float = 120.0
    workflow_pods: PodSettings = DEFAULT_PODS  # see pod_settings below
    max_sub_orchestration_depth: int = DEFAULT_MAX_DEPTH  # see step_kind_settings below
    allowed_step_kinds: frozenset[str] | None = None  # None: every kind
    max_steps: int = MAX_STEPS  # see parse_max_steps below
    seal_secret: str | None = None  # None: LEASE_NAME-seal (controller.sealkey)
    max_descendants: int = DEFAULT_MAX_DESCENDANTS
    # Argo's workflow-controller ConfigMap (namespace, name), whose workflowDefaults
    # the controller judges at submission (compiler.argo_defaults); None: not read.
    argo_config_map: tuple[str, str] | None = ("argo", "workflow-controller-configmap")
    max_active_runs_per_namespace: int | None = None  # None: unlimited
    status_interval: float = STATUS_INTERVAL  # controller.pacing


def parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r} (use 1 or 0)")


def parse_namespaces(value: str, release_namespace: str) -> tuple[str, ...] | None:
    """Comma-joined names; empty means the release namespace; `*` means all."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    if "*" in names:
        return None
    return tuple(dict.fromkeys(names)) or (release_namespace,)


def parse_address(value: str) -> tuple[str, int]:
    """`:8080`, `0.0.0.0:8080`, `127.0.0.1:0` (0: any free port)."""
    host, sep, port = value.rpartition(":")
    if not sep:
        raise ValueError(f"address {value!r} needs a port, like :8080")
    return host or "0.0.0.0", int(port)


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    port = env.get("ORCH_HTTP_PORT") or str(DEFAULT_PORT)
    p = argparse.ArgumentParser(prog="orch controller",
                                description="Reconcile Orchestrations and OrchestrationRuns")
    p.add_argument("--enabled", default=None,
                   help=f"1/0; default ${ENABLED} (unset: 1). Disabled: probes only")
    p.add_argument("--namespaces", default=None,
                   help=f"comma-joined namespaces or *; default ${NAMESPACES} "
                        "(empty: the release namespace, $POD_NAMESPACE)")
    p.add_argument("--kubeconfig", default=env.get("KUBECONFIG"),
                   help="kubeconfig file (default $KUBECONFIG, else in-cluster)")
    p.add_argument("--in-cluster", action="store_true",
                   help="use the pod's ServiceAccount (default when no kubeconfig is given "
                        "and KUBERNETES_SERVICE_HOST is set)")
    p.add_argument("--metrics-bind-address", default=f":{port}",
                   help="address of /metrics (default :$ORCH_HTTP_PORT or :8080)")
    p.add_argument("--health-probe-bind-address", default=f":{port}",
                   help="address of /healthz and /readyz (same port: one server)")
    p.add_argument("--workflow-service-account",
                   default=env.get("ORCH_WORKFLOW_SERVICE_ACCOUNT") or None,
                   help="spec.serviceAccountName of submitted Workflows "
                        "(default $ORCH_WORKFLOW_SERVICE_ACCOUNT)")
    p.add_argument("--leader-elect", action=argparse.BooleanOptionalAction, default=True,
                   help="hold a coordination.k8s.io Lease before reconciling (default on)")
    p.add_argument("--leader-election-namespace", default=None,
                   help="namespace of the Lease (default $POD_NAMESPACE, else the first "
                        "reconciled namespace)")
    p.add_argument("--leader-election-id", default="orch-controller", help="the Lease's name")
    p.add_argument("--identity", default=None,
                   help="this replica's identity in the Lease (default hostname_uuid)")
    p.add_argument("--lease-duration", type=float, default=15.0)
    p.add_argument("--renew-deadline", type=float, default=10.0)
    p.add_argument("--retry-period", type=float, default=2.0)
    p.add_argument("--workers", type=int, default=4, help="concurrent reconciles")
    p.add_argument("--request-timeout", type=float,
                   default=env.get(REQUEST_TIMEOUT) or "30",
                   help=f"seconds any API call but a watch may take (default ${REQUEST_TIMEOUT} "
                        "or 30); Lease calls are bounded by the renew deadline too")
    p.add_argument("--watch-idle-timeout", type=float,
                   default=env.get(WATCH_IDLE_TIMEOUT) or "90",
                   help="seconds a watch may stay silent before it is re-opened (default "
                        f"${WATCH_IDLE_TIMEOUT} or 90; the apiserver sends a bookmark a minute)")
    p.add_argument("--health-window", type=float, default=env.get(HEALTH_WINDOW) or "120",
                   help="/healthz fails once a watch has not heard from the apiserver for "
                        f"this many seconds (default ${HEALTH_WINDOW} or 120; must exceed "
                        "--watch-idle-timeout)")
    p.add_argument("--seal-secret", default=env.get(SEAL_SECRET) or None,
                   help="the Secret, in the Lease's namespace, holding the key that seals "
                        f"what the controller writes (default ${SEAL_SECRET}, else "
                        "LEADER_ELECTION_ID-seal; made when missing)")
    p.add_argument("--log-level", default=env.get("ORCH_LOG_LEVEL") or "info",
                   choices=("debug", "info", "warning", "error"))
    return p


def kubeconfig_problem(value: str | None) -> str | None:
    """Why the kubeconfig (a path, or `$KUBECONFIG`'s `:`-joined list) cannot be
    read, or None. Checked before any port is bound: a typo in the path is one
    line and exit 2, not a traceback from the client after startup."""
    if not value:
        return None
    paths = [p for p in value.split(os.pathsep) if p]
    problems = []
    for path in paths:
        try:
            with open(os.path.expanduser(path), "rb"):
                return None  # the client merges the readable ones
        except OSError as e:
            problems.append(f"{path}: {e.strerror or e}")
    return ("cannot read the kubeconfig: " + "; ".join(problems)
            + " (give --kubeconfig FILE, set KUBECONFIG, or run in a cluster)")


def load_config(argv: Sequence[str] | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    parser = build_parser(env)
    args = parser.parse_args(argv)
    try:
        enabled = parse_bool(args.enabled if args.enabled is not None
                             else env.get(ENABLED, "1"))
        release_ns = env.get("POD_NAMESPACE") or "default"
        namespaces = parse_namespaces(
            args.namespaces if args.namespaces is not None else env.get(NAMESPACES, ""),
            release_ns)
        metrics = parse_address(args.metrics_bind_address)
        probes = parse_address(args.health_probe_bind_address)
    except ValueError as e:
        parser.error(str(e))
    if min(args.request_timeout, args.watch_idle_timeout, args.health_window) <= 0:
        parser.error("--request-timeout, --watch-idle-timeout and --health-window must be > 0")
    if args.health_window <= args.watch_idle_timeout:
        parser.error(f"--health-window ({args.health_window:g}) must exceed "
                     f"--watch-idle-timeout ({args.watch_idle_timeout:g}): a quiet but "
                     "healthy watch is re-opened only after that long")
    if not args.renew_deadline < args.lease_duration:
        parser.error(f"--renew-deadline ({args.renew_deadline:g}) must be shorter than "
                     f"--lease-duration ({args.lease_duration:g}), or a replica could "
                     "still act after another acquired the Lease")
    in_cluster = args.in_cluster or (not args.kubeconfig
                                     and bool(env.get("KUBERNETES_SERVICE_HOST")))
    lease_ns = args.leader_election_namespace or env.get("POD_NAMESPACE") or (
        namespaces[0] if namespaces else "default")
    return Config(
        enabled=enabled, namespaces=namespaces, kubeconfig=args.kubeconfig,
        in_cluster=in_cluster, metrics_address=metrics, probe_address=probes,
        workflow_service_account=args.workflow_service_account,
        leader_elect=args.leader_elect, lease_namespace=lease_ns,
        lease_name=args.leader_election_id,
        identity=args.identity or f"{socket.gethostname()}_{uuid.uuid4()}",
        lease_duration=args.lease_duration, renew_deadline=args.renew_deadline,
        retry_period=args.retry_period, workers=max(1, args.workers),
        log_level=args.log_level, request_timeout=args.request_timeout,
        watch_idle_timeout=args.watch_idle_timeout, health_window=args.health_window,
        workflow_pods=_pods_or_exit(parser, env),
        max_sub_orchestration_depth=_or_exit(parser, parse_depth, env.get(MAX_DEPTH, "")),
        allowed_step_kinds=_or_exit(parser, parse_kinds, env.get(ALLOWED_KINDS, "")),
        max_steps=_or_exit(parser, parse_max_steps, env.get(MAX_STEPS_ENV, "")),
        seal_secret=args.seal_secret,
        max_descendants=_or_exit(parser, parse_descendants, env.get(MAX_DESCENDANTS, "")),
        argo_config_map=_or_exit(parser, parse_config_map,
                                 env.get(ARGO_CONFIG_MAP, "argo/workflow-controller-configmap")),
        max_active_runs_per_namespace=_or_exit(parser, parse_max_active,
                                               env.get(MAX_ACTIVE_RUNS, "")),
        status_interval=_or_exit(parser, parse_status_interval,
                                 env.get(STATUS_INTERVAL_ENV, "")))


# --- How the submitted Workflows' pods run, and what a step may ask (contract §4, §6) -
# The chart's orchestrationController.podPolicy (ORCH_POD_POLICY, JSON) and
# .automountServiceAccountToken; .podSecurity (ORCH_POD_SECURITY) is kept from before
# the pod policy existed and, when set, is the policy's podSecurity.
POD_POLICY = "ORCH_POD_POLICY"
AUTOMOUNT_TOKEN = "ORCH_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN"
POD_SECURITY = "ORCH_POD_SECURITY"


def pod_settings(env: Mapping[str, str]) -> PodSettings:
    """$ORCH_POD_POLICY (restricted, none or a JSON object; default restricted:
    compiler.podpolicy), $ORCH_POD_SECURITY (restricted or none: the policy's
    podSecurity when set) and $ORCH_AUTOMOUNT_SERVICE_ACCOUNT_TOKEN (1/0, default 0:
    only Argo's executor gets a token)."""
    try:
        policy = parse_pod_policy(env.get(POD_POLICY, ""))
    except ValueError as e:
        raise ValueError(f"${POD_POLICY}: {e}") from None
    profile = env.get(POD_SECURITY, "").strip()
    if profile and profile not in POD_SECURITY_PROFILES:
        raise ValueError(f"${POD_SECURITY}: {profile!r} is not one of "
                         f"{', '.join(POD_SECURITY_PROFILES)}")
    if profile:
        policy = replace(policy, pod_security=profile)
    return PodSettings(automount_token=parse_bool(env.get(AUTOMOUNT_TOKEN, "0")),
                       policy=policy)


def _pods_or_exit(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> PodSettings:
    try:
        return pod_settings(env)
    except ValueError as e:
        parser.error(str(e))


# --- What runs may do (contract §6) -------------------------------------------------
# The chart's orchestrationController.maxSubOrchestrationDepth, .allowedStepKinds and
# .maxDescendants.
ARGO_CONFIG_MAP = "ORCH_ARGO_CONFIGMAP"


def parse_config_map(value: str) -> tuple[str, str] | None:
    """`NAMESPACE/NAME` of Argo's workflow-controller ConfigMap; empty: not read."""
    value = value.strip()
    if not value:
        return None
    namespace, _, name = value.partition("/")
    if not namespace or not name or "/" in name:
        raise ValueError(f"{ARGO_CONFIG_MAP} must be NAMESPACE/NAME, got {value!r}")
    return namespace, name


MAX_DEPTH = "ORCH_MAX_SUBORCHESTRATION_DEPTH"
ALLOWED_KINDS = "ORCH_ALLOWED_STEP_KINDS"
MAX_DESCENDANTS = "ORCH_MAX_DESCENDANTS"


def parse_depth(value: str) -> int:
    """$ORCH_MAX_SUBORCHESTRATION_DEPTH: the deepest chain of child runs (default 8)."""
    text = value.strip()
    if not text:
        return DEFAULT_MAX_DEPTH
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"${MAX_DEPTH}: {value!r} is not a whole number (default "
                         f"{DEFAULT_MAX_DEPTH})")
    return int(text)


def parse_descendants(value: str) -> int:
    """$ORCH_MAX_DESCENDANTS: the most child runs under one root run, all depths
    (default 1,000)."""
    text = value.strip()
    if not text:
        return DEFAULT_MAX_DESCENDANTS
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValueError(f"${MAX_DESCENDANTS}: {value!r} is not a whole number (default "
                         f"{DEFAULT_MAX_DESCENDANTS})")
    return int(text)


def parse_kinds(value: str) -> frozenset[str] | None:
    """$ORCH_ALLOWED_STEP_KINDS: comma-joined step kinds a run may use; empty: all."""
    kinds = frozenset(k.strip() for k in value.split(",") if k.strip())
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise ValueError(f"${ALLOWED_KINDS}: {', '.join(unknown)} is not a step kind (one "
                         f"of {', '.join(KINDS)})")
    return kinds or None


# The chart's orchestrationController.maxSteps (contract §8).
MAX_STEPS_ENV = "ORCH_MAX_STEPS"


def parse_max_steps(value: str) -> int:
    """$ORCH_MAX_STEPS: the most steps one Orchestration may have (default 10,000)."""
    text = value.strip()
    if not text:
        return MAX_STEPS
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValueError(f"${MAX_STEPS_ENV}: {value!r} is not a whole number of at least 1 "
                         f"(default {MAX_STEPS})")
    return int(text)


# The chart's orchestrationController.maxActiveRunsPerNamespace (issue 22).
MAX_ACTIVE_RUNS = "ORCH_MAX_ACTIVE_RUNS_PER_NAMESPACE"


def parse_max_active(value: str) -> int | None:
    """$ORCH_MAX_ACTIVE_RUNS_PER_NAMESPACE: runs of one namespace active at once
    (empty: unlimited); a run past it waits for one to end."""
    text = value.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise ValueError(f"${MAX_ACTIVE_RUNS}: {value!r} is not a whole number of at least 1 "
                         "(leave it empty for no limit)")
    return int(text)


# How long a status write that only moves steps along may wait (controller.pacing).
STATUS_INTERVAL_ENV = "ORCH_STATUS_INTERVAL"


def parse_status_interval(value: str) -> float:
    """$ORCH_STATUS_INTERVAL: seconds a run's step progress may wait before it is
    written (default 1; 0 writes every change at once)."""
    text = value.strip()
    if not text:
        return STATUS_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ValueError(f"${STATUS_INTERVAL_ENV}: {value!r} is not a number of seconds "
                         f"from 0 to 3600 (default {STATUS_INTERVAL:g})")
    return seconds


T = TypeVar("T")


def _or_exit(parser: argparse.ArgumentParser, parse: Callable[[str], T], value: str) -> T:
    try:
        return parse(value)
    except ValueError as e:
        parser.error(str(e))
