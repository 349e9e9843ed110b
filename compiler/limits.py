"""What one Argo Workflow may hold (contract §8) and what the parts of a split
weigh: the numbers every compile checks (`compiler.emit`, `compiler.emit_run`),
apart from the partitioner that only a split needs (`compiler.partition`, which
re-exports them), so that compiling a small file does not load the partitioner."""

from __future__ import annotations

from dataclasses import dataclass

from compiler.outcome import MAX_TASKS

# Argo v4's full CRDs: spec.templates maxItems 200 (as templates[].dag.tasks,
# compiler.outcome.MAX_TASKS; argoproj.io_workflows.yaml, v4.0.5 and v4.1.2).
MAX_TEMPLATES = 200
# What one Workflow object may take: Argo refuses a Workflow whose JSON, node status
# compressed, passes 1 MiB (packer.go getMaxWorkflowSize, v4.0.5 l.17); the budget
# keeps a quarter of it free for what the estimate below misses.
MAX_WORKFLOW_BYTES = 1024 * 1024
WORKFLOW_BUDGET = MAX_WORKFLOW_BYTES * 3 // 4
# The status one Argo node adds to its Workflow. Measured on the test cluster's Argo
# (v4.0.5, kwok pods, 199 Container steps): a Pod node is 548 bytes of JSON, 46 once
# gzipped and base64-encoded as Argo stores `status.compressedNodes` past 1 MiB; a
# running pod also holds a ~30-byte entry in `status.taskResultsCompletionStatus`,
# never compressed. 160 leaves room for messages, long names and retries' children.
NODE_STATUS_BYTES = 160
# Tasks a part keeps free: its outcome task (compiler.outcome).
RESERVED_TASKS = 1
# Templates a Workflow keeps free: its entry DAG, the gate, outcome and reused
# templates.
RESERVED_TEMPLATES = 4
# A gate task's bytes besides its sources' names (name, template, argument).
GATE_TASK_BYTES = 110
GATE_SOURCE_BYTES = 3  # per source: quotes and comma around its name
GATE_DEPENDENCY_BYTES = 18  # per step depending on a gate: `"orch-gate-NN",`
PART_TASK_BYTES = 60  # a part's task in the entry DAG
PART_TEMPLATE_BYTES = 60  # a part's DAG template, besides its tasks


@dataclass(frozen=True)
class ArgoLimits:
    """What one Argo Workflow may hold (contract §8): tasks per DAG, templates, bytes."""

    tasks: int = MAX_TASKS
    templates: int = MAX_TEMPLATES
    bytes: int = WORKFLOW_BUDGET
    node_bytes: int = NODE_STATUS_BYTES


ARGO_LIMITS = ArgoLimits()
