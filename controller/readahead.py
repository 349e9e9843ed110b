"""What a worker does to spend less time waiting on the apiserver for a new run.

Why: under a tenant's flood every request to the apiserver waits its turn (issue 22:
a victim's run took 1-4 s to reach its Workflow, most of it in the requests of its
own reconcile and in those the tenant's waiting runs cost). So a run that would only
wait for a slot (`maxActiveRunsPerNamespace`) is told so before anything is read for
it (`is_unsubmitted`: nothing the controller sees says it needs more than a slot).
A new run's two live reads (the run, then its Orchestration) stay on the worker's
thread: a read holds its parse cost (`compiler.jsoncost`) until that thread's
reconcile ends, so a read on a thread of its own never gave it back.
"""

from __future__ import annotations

from controller.admission import reference_refusal
from controller.decide import Observed
from orchapi.vocabulary import RUN_DONE


def is_unsubmitted(o: Observed) -> bool:
    """Nothing the controller sees says the run was submitted, or needs more than
    a submission: no Workflow of its name seen, no workflowRef, not ended,
    cancelled or being deleted (what a slot is for)."""
    status = o.run.get("status") or {}
    return (o.workflow is None and o.last_seen is None and not status.get("workflowRef")
            and status.get("phase") not in RUN_DONE
            and not (o.run.get("spec") or {}).get("cancel")
            and not o.run["metadata"].get("deletionTimestamp"))


def waits_for_a_slot_unread(o: Observed) -> bool:
    """A run not yet submitted that may be told to wait for a slot before anything
    is read for it: nothing the controller holds would refuse it (its reference is
    a name, its Orchestration is in the cache), so it is not kept waiting to hear
    a refusal it would get at once."""
    return is_unsubmitted(o) and o.orchestration is not None and \
        reference_refusal(o.run) is None
