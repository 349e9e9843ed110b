"""The release pipeline the `orch plan` and `orch graph` CLI tests read (the graph
of docs/examples/release.yaml, with busybox images): a checkout, a build and a
test on one branch, a best-effort lint and its docs on the other, a publish that
needs both. One definition, so the plan and the resume tests judge one graph."""

from __future__ import annotations

STEPS = """\
spec:
  steps:
    - {name: checkout, kind: Container, image: busybox}
    - {name: build, kind: Container, image: busybox, dependsOn: [checkout]}
    - {name: lint, kind: Container, image: busybox, dependsOn: [checkout], continueOnFailure: true}
    - {name: docs, kind: Container, image: busybox, dependsOn: [lint]}
    - {name: test, kind: Container, image: busybox, dependsOn: [build]}
    - {name: publish, kind: Container, image: busybox, dependsOn: [test, docs]}
"""


def release_pipeline(metadata: str = "{name: release}") -> str:
    return ("apiVersion: orchestration.proompteng.ai/v1alpha1\nkind: Orchestration\n"
            f"metadata: {metadata}\n{STEPS}")
