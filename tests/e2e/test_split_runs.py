"""Runs split into several Workflows (contract §8), run by the controller (a
subprocess with the chart's RBAC) on the real Argo, kwok standing in for the
kubelet: random DAGs of 500 and 2,000 Container steps (each depending on up to 3
of the 60 before it, one in five best-effort), a random few failing. Each run ends
as `orchapi.semantics` says, step by step, with no step started before its
dependencies ended (Argo's node times), and with one set of Workflows though the
controller is killed and restarted mid-run. The 10,000-step case is the same test
under the `scale` marker (`make e2e-scale`, kept out of `make test`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.compiled import decode_nodes, graph_from_orchestration
from compiler.gates import sources_of_node
from controller.step_budget import count_steps
from orchapi.api import RUN_ACTIVE_FINALIZER, Obj, parse_time
from orchapi.names import label_value
from orchapi.semantics import RunResult, plan
from tests.cluster import Cluster
from tests.cluster.kwok import Failures
from tests.e2e.orch_controller import (
    API,
    CHART_LEASE,
    condition,
    leading_controller,
    orchestration,
    run,
    run_done,
    step,
    wait_run,
    workflows_of,
)

pytestmark = pytest.mark.e2e

WINDOW = 60  # a step depends on up to 3 of the WINDOW steps before it
# The chart's Lease timings (orch_controller.CHART_LEASE): each lost Lease fences
# the reconcile in flight (a long one, at 10,000 steps).
LEASE = CHART_LEASE
# Argo node phase -> the step phase it stands for (contract §5).
_ARGO_AS = {"Succeeded": "Succeeded", "Failed": "Failed", "Omitted": "Skipped"}


def random_steps(n: int, seed: int) -> tuple[list[Obj], list[str]]:
    """`n` Container steps and the ones kwok fails (seeded: a failure names its case):
    about 2% best-effort and failing, a few more (in the second half) failing for
    real, which skips what depends on them."""
    rng = random.Random(seed)
    steps: list[Obj] = []
    failing: list[str] = []
    for i in range(n):
        deps = sorted({f"s{rng.randrange(max(0, i - WINDOW), i)}"
                       for _ in range(rng.randint(0, 3))}) if i else []
        s = step(f"s{i}", deps)
        fails = rng.random()
        if rng.random() < 0.2 or fails < 0.02:
            s["continueOnFailure"] = True  # most failures are ignored: the rest cascade
        if fails < 0.02 or (fails < 0.023 and i > n // 2):
            failing.append(f"s{i}")
        steps.append(s)
    return steps, failing


class Case:
    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed
        self.name = f"split-{n}"
        self.steps, self.failing = random_steps(n, seed)
        self.orchestration = orchestration(self.name, self.steps)
        self.graph = graph_from_orchestration(self.orchestration)
        self.expected: RunResult = plan(self.graph, failed=self.failing)

    @property
    def run_name(self) -> str:
        return f"{self.name}-1"


def recorded(obj: Obj) -> list[Obj]:
    return list((obj.get("status") or {}).get("workflows") or ())


def all_created(obj: Obj) -> bool:
    refs = recorded(obj)
    return bool(refs) and all(r.get("uid") for r in refs)


def progressed(obj: Obj) -> bool:
    done, _, total = str((obj.get("status") or {}).get("progress") or "0/0").partition("/")
    return all_created(obj) and int(done) > 0 and int(done) < int(total)


def run_cases(cluster: Cluster, work: Path, cases: list[Case], timeout: float
              ) -> Iterator[dict[str, tuple[Obj, list[Obj], list[Obj]]]]:
    """Every case started at once under one controller, which is killed (SIGKILL)
    once each run has made progress and restarted; yields each run's final object,
    the Workflows it recorded before the kill, and its Workflows at the end."""
    pods = Failures(cluster.kube)
    try:
        for case in cases:
            pods.step_set(label_value(case.name), case.failing)
        with leading_controller(cluster, work, "split", ready_timeout=120,
                                extra=LEASE) as first:
            for case in cases:
                cluster.kube.apply(case.orchestration, cluster.namespace)
                cluster.kube.apply(run(case.run_name, case.name), cluster.namespace)
            before = {c.name: recorded(wait_run(cluster, c.run_name, progressed,
                                                "all its Workflows created, running",
                                                timeout)) for c in cases}
            first.kill()  # SIGKILL: no lease release, no cleanup
        started = time.monotonic()
        with leading_controller(cluster, work, "split", ready_timeout=120, extra=LEASE):
            done = {c.name: wait_run(cluster, c.run_name, run_done, "ended",
                                     timeout - (time.monotonic() - started)) for c in cases}
            yield {c.name: (done[c.name], before[c.name], workflows_of(cluster, c.run_name))
                   for c in cases}
    finally:
        pods.clear()
        for case in cases:
            cluster.kube.delete(API, "OrchestrationRun", case.run_name, cluster.namespace)


@pytest.fixture(scope="module")
def finished(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[list[Case], dict[str, tuple[Obj, list[Obj], list[Obj]]]]]:
    cases = [Case(500, 6), Case(2000, 1)]
    for found in run_cases(cluster, tmp_path_factory.mktemp("split"), cases, 1500):
        yield cases, found


def check_case(case: Case, done: Obj, before: list[Obj], workflows: list[Obj]) -> None:
    status = done["status"]
    expected = {s.name: (str(s.phase), str(s.reason) if s.reason else None)
                for s in case.expected.steps}
    # The run's phase, and every step the status lists, as §3 says.
    assert status["phase"] == str(case.expected.phase), status.get("conditions")
    listed = {s["name"]: (s["phase"], s.get("reason")) for s in status["stepStatuses"]}
    assert {n: expected[n] for n in listed} == listed
    records = [{"phase": p, "reason": r} if r else {"phase": p} for p, r in expected.values()]
    if status.get("stepCounts") is None:
        assert set(listed) == set(expected), "a complete stepStatuses lists every step"
    else:
        assert status["stepCounts"] == count_steps(records)
        assert set(listed) == {n for n, (p, _) in expected.items() if p != "Succeeded"}
    assert status["progress"] == f"{case.n}/{case.n}"
    agrees = condition(done, "ArgoPhaseAgrees")
    assert (agrees["status"], agrees["reason"]) == ("True", "SamePhase"), agrees
    # One set of Workflows: those recorded before the controller was killed.
    assert sorted((w["metadata"]["name"], w["metadata"]["uid"]) for w in workflows) == \
        sorted((r["name"], r["uid"]) for r in before) == \
        sorted((r["name"], r["uid"]) for r in status["workflows"])
    # Their finalizer went before the run ended (docs/scale.md, TTL).
    assert not [w["metadata"]["name"] for w in workflows
                if RUN_ACTIVE_FINALIZER in (w["metadata"].get("finalizers") or ())]
    assert len(workflows) > 1 or any(
        "part-" in str(t.get("name")) for t in workflows[0]["spec"]["templates"][0]["dag"]
        ["tasks"]), "the case must be split"
    # Every step's own Argo node (read from its Workflow) says what §3 says, and no
    # step started before each of its dependencies had finished.
    nodes: dict[str, Obj] = {}
    for wf in workflows:
        for n in (decode_nodes(wf.get("status") or {}) or {}).values():
            if n.get("displayName") in expected and n.get("type") in ("Pod", "Skipped"):
                assert n["displayName"] not in nodes, f"two nodes for {n['displayName']}"
                nodes[n["displayName"]] = n
    for name, (phase, _) in expected.items():
        node = nodes.get(name)
        assert node is not None, f"{name}: no node"
        assert _ARGO_AS.get(node["phase"]) == phase, (name, node["phase"], expected[name])
    print(f"\n{case.n} steps: gate release latency {release_latency(workflows, nodes)}")
    for dependent in case.graph.nodes:
        node = nodes[dependent.name]
        if node["phase"] == "Omitted":
            continue
        for d in dependent.dependencies:
            dep = nodes[d]
            assert dep.get("finishedAt") and dep["finishedAt"] <= node["startedAt"], (
                f"{dependent.name} started {node['startedAt']} before {d} finished "
                f"{dep.get('finishedAt')}")


def release_latency(workflows: list[Obj], steps: dict[str, Obj]) -> str:
    """How long after its last source finished each passed gate was released (Argo's
    whole seconds): the one delay a split adds, on a cut edge (docs/scale.md)."""
    waits: list[float] = []
    for wf in workflows:
        for n in (decode_nodes(wf.get("status") or {}) or {}).values():
            sources = sources_of_node(n)
            if not sources or n.get("phase") != "Succeeded" or not n.get("finishedAt"):
                continue
            ends = [parse_time(steps[s].get("finishedAt")) for s in sources if s in steps]
            released = parse_time(n["finishedAt"])
            if released is None or not ends or None in ends:
                continue
            waits.append((released - max(e for e in ends if e is not None)).total_seconds())
    if not waits:
        return "(no gate passed)"
    waits.sort()
    return (f"{len(waits)} gates, median {waits[len(waits) // 2]:.0f} s, "
            f"p90 {waits[int(len(waits) * 0.9)]:.0f} s, max {waits[-1]:.0f} s")


@pytest.mark.parametrize("size", (500, 2000))
def test_a_split_run_ends_as_the_semantics_say(
        finished: tuple[list[Case], dict[str, tuple[Obj, list[Obj], list[Obj]]]],
        size: int) -> None:
    cases, found = finished
    (case,) = [c for c in cases if c.n == size]
    check_case(case, *found[case.name])


@pytest.mark.scale
def test_a_split_run_of_10000_steps(cluster: Cluster, tmp_path: Path) -> None:
    """`make e2e-scale`: the same at 10,000 steps (its time is in docs/scale.md)."""
    case = Case(10_000, 3)
    started = time.monotonic()
    for found in run_cases(cluster, tmp_path, [case], 7200):
        print(f"\n10,000 steps: ended in {time.monotonic() - started:.0f} s")
        check_case(case, *found[case.name])


def test_the_cases_are_not_trivial() -> None:
    """Each case fails some steps for real, skips others for it, and ignores one."""
    for case in (Case(500, 6), Case(2000, 1), Case(10_000, 3)):
        reasons = {str(s.reason) for s in case.expected.steps}
        assert {"StepFailed", "DependencyFailed", "FailureIgnored"} <= reasons, case.n
