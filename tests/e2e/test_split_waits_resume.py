"""A wait and a resume in a run split across DAGs (contract §8, §3; issue 19 item 3),
on the real Argo under the controller (chart RBAC), kwok standing in for the kubelet.

222 steps, past one DAG's 200 tasks, so the run is split into two DAGs (today in two
Workflows, s120 in the first and `after` in the second; the resumed run's, whose
reused steps are no-op tasks, fit one) joined by gates the controller releases:

    s0 -> s1..s100       s(i) -> s(i+100) for i in 1..119
    s205 -> wait (SignalWait) -> after <- s120

In the first run s120's pod fails, and `wait` is released by a SignalDelivery made
while it waits: the run ends Failed with s120 `Failed` and `after` `Skipped`
(`DependencyFailed`), everything else `Succeeded`, `wait` released by that delivery.
A second run resumes the first: every step that succeeded is `Reused` (the wait too:
no second delivery is needed), in every part; only s120 and `after` run again, so
only they have pods of the new run; it ends Succeeded. `orch get` and `orch watch`
show every step.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from compiler.emit_run import PART_TEMPLATE
from orchapi.api import Obj
from tests.cluster import Cluster
from tests.cluster.cluster import TOOL_CRD
from tests.cluster.kwok import Failures
from tests.e2e.orch_cli import orch
from tests.e2e.orch_controller import (
    API,
    ControllerProcess,
    apply,
    leading_controller,
    orchestration,
    run,
    run_done,
    step,
    step_table,
    wait_run,
    workflows_of,
)
from tests.e2e.test_kinds import delivery, pods_of, signal_wait, step_status, unique, waiting
from tests.e2e.test_split_runs import LEASE
from tests.support.argo import SHARED_ABSENT

pytestmark = pytest.mark.e2e

NAME = "split-wr"
FIRST, SECOND = f"{NAME}-1", f"{NAME}-2"
FAILING = "s120"


def steps(signal: str) -> list[Obj]:
    out = [step("s0", [])]
    out += [step(f"s{i}", ["s0"]) for i in range(1, 101)]
    out += [step(f"s{i}", [f"s{i - 100}"]) for i in range(101, 220)]
    out.append({**signal_wait("wait", signal, "go"), "dependsOn": ["s205"]})
    out.append(step("after", ["wait", FAILING]))
    return out


@pytest.fixture(scope="module")
def controller(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControllerProcess]:
    if TOOL_CRD not in cluster.crds:
        pytest.skip(f"the reference system's CRDs are not installed: {SHARED_ABSENT}")
    with leading_controller(cluster, tmp_path_factory.mktemp("split-wr"), "split-wr",
                            ready_timeout=120, extra=LEASE) as proc:
        yield proc


def parts(workflows: list[Obj]) -> int:
    """How many DAGs a run's steps are split into: a Workflow holds its part as its
    entry DAG, or several as `orch-part-N` templates."""
    return sum(max(1, sum(t["name"].startswith(f"{PART_TEMPLATE}-")
                          for t in w["spec"]["templates"])) for w in workflows)


def test_a_split_run_waits_on_a_signal_and_its_resume_reuses_every_part(
        cluster: Cluster, controller: ControllerProcess) -> None:
    signal = unique("split-signal")
    orchestration_ = orchestration(NAME, steps(signal))
    names = [s["name"] for s in orchestration_["spec"]["steps"]]
    pods = Failures(cluster.kube)
    try:
        pods.pods({"orchestration.proompteng.ai/run": FIRST,
                   "orchestration.proompteng.ai/step": FAILING})
        apply(cluster, orchestration_, run(FIRST, NAME))
        waited = wait_run(cluster, FIRST, waiting("wait"), "the split run waiting", 600)
        assert parts(workflows_of(cluster, FIRST)) > 1, "the run must be split"
        released_by = unique("d-split")
        apply(cluster, delivery(released_by, signal, "go"))
        first = wait_run(cluster, FIRST, run_done, "the first run ended", 600)
    finally:
        pods.clear()
    assert waited["status"]["phase"] == "Running"
    assert first["status"]["phase"] == "Failed", first["status"].get("conditions")
    expected: dict[str, tuple[str, str | None]] = {n: ("Succeeded", None) for n in names}
    expected[FAILING] = ("Failed", "StepFailed")
    expected["after"] = ("Skipped", "DependencyFailed")
    assert step_table(first) == expected
    assert f"SignalDelivery {released_by}" in step_status(first, "wait")["message"]
    # `orch get` shows every step of the split run, read from its Workflows.
    shown = orch(cluster, "get", FIRST, "-o", "wide")
    assert shown.returncode == 0, shown.stderr
    rows = {r.split()[0]: r.split()[2] for r in shown.stdout.splitlines()
            if r.split() and r.split()[0] in expected}
    assert rows == {n: phase for n, (phase, _) in expected.items()}, shown.stdout
    # `orch watch` of it (a log: one line per step) too, and its exit code says Failed.
    watched = orch(cluster, "watch", FIRST)
    assert watched.returncode == 1, watched.stderr
    lines = [r.split() for r in watched.stdout.splitlines()]
    assert {r[1]: r[2] for r in lines if len(r) > 2 and r[1] in expected} == rows

    resumed = run(SECOND, NAME)
    resumed["spec"]["resumeFrom"] = {"name": FIRST}
    apply(cluster, resumed)
    second = wait_run(cluster, SECOND, run_done, "the resumed run ended", 600)
    assert second["status"]["phase"] == "Succeeded", second["status"].get("conditions")
    rerun = {FAILING, "after"}
    assert step_table(second) == {n: ("Succeeded", None if n in rerun else "Reused")
                                  for n in names}
    for name in ("s0", "s219", "wait"):  # reused in whichever part each stands
        assert step_status(second, name)["message"] == f'reused from run "{FIRST}"'
    assert sorted({p["metadata"]["labels"]["orchestration.proompteng.ai/step"]
                   for p in pods_of(cluster, SECOND)}) == sorted(rerun)
    # Its reused steps are no-op tasks: lighter, its two DAGs fit one Workflow.
    assert parts(workflows_of(cluster, SECOND)) > 1
    for name in (FIRST, SECOND):
        cluster.kube.delete(API, "OrchestrationRun", name, cluster.namespace)
