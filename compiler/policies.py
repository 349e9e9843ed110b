"""`spec.policies`, as the reference system documents them (contract §4;
proompteng/lab @6b69af37 docs/agents/primitives/orchestration.md): `retries.limit`
is the `retries` of every step that gives none, and `timeouts.totalSeconds` the
run's deadline, the Workflow's `activeDeadlineSeconds`. When it passes, running
steps end `Failed` and steps not started `Skipped`, both `RunTimedOut`, and the run
`Failed` with reason `RunTimedOut` (`orchapi.semantics`). The reference controller
reads neither (its CRD keeps `policies` as unknown fields), so these are the
documented meaning, not a port.

Why its own module: the emitter applies them, validation checks them, the mirror
tells the run's deadline from any other by the annotation written here, and `orch
plan` shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.diagnostics import Collector, FieldPath
from compiler.unknown_keys import check_keys
from orchapi.api import DEADLINE_ANNOTATION, INT32_MAX
from orchapi.vocabulary import Reason

PATH = FieldPath(("spec", "policies"))
# What orch reads of each level of spec.policies.
KEYS = {(): frozenset({"retries", "timeouts"}), ("retries",): frozenset({"limit"}),
        ("timeouts",): frozenset({"totalSeconds"})}


@dataclass(frozen=True)
class Policies:
    retries: int | None = None  # retries.limit
    total_seconds: int | None = None  # timeouts.totalSeconds

    @property
    def annotations(self) -> dict[str, str]:
        """What the Workflow carries so the mirror knows its deadline is the run's."""
        if self.total_seconds is None:
            return {}
        return {DEADLINE_ANNOTATION: str(self.total_seconds)}


def _int(value: Any, low: int) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) \
        and low <= value <= INT32_MAX else None


def read_policies(policies: Mapping[str, Any] | None) -> Policies:
    """The policies of a valid Orchestration (`check_policies` reported the rest)."""
    if not isinstance(policies, Mapping):
        return Policies()
    retries, timeouts = policies.get("retries"), policies.get("timeouts")
    limit = _int(retries.get("limit"), 0) if isinstance(retries, Mapping) else None
    total = _int(timeouts.get("totalSeconds"), 1) if isinstance(timeouts, Mapping) else None
    return Policies(limit, total)


def check_policies(spec: Any, out: Collector, *, strict: bool = False) -> None:
    """Each policy's type and range; keys orch does not read, as unknown keys are."""
    policies = spec.get("policies") if isinstance(spec, dict) else None
    if not isinstance(policies, dict):
        return  # absent, or InvalidField from the models
    check_keys(policies, KEYS[()], PATH, out, strict=strict,
               where="orch reads retries.limit and timeouts.totalSeconds")
    for key, field, low, what in (("retries", "limit", 0, "a whole number of retries"),
                                  ("timeouts", "totalSeconds", 1, "a number of seconds")):
        level = policies.get(key)
        if level is None:
            continue
        if not isinstance(level, dict):
            out.add(Reason.INVALID_FIELD, PATH.child(key), f"{key} must be a mapping "
                    f"({{{field}: ...}})", names=(key,))
            continue
        check_keys(level, KEYS[(key,)], PATH.child(key), out, strict=strict,
                   where=f"orch reads {key}.{field}")
        value = level.get(field)
        if value is not None and _int(value, low) is None:
            out.add(Reason.INVALID_FIELD, PATH.child(key, field),
                    f"{key}.{field} must be {what} from {low} to {INT32_MAX}, got {value!r}",
                    names=(field,))
