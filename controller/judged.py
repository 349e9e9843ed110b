"""Validation of one Orchestration generation, computed once for all its runs: 200
runs submitted at once validate it once, not 200 times.

Why bounded twice: by count (`JUDGED_CACHE`, least recently used first out) and by
weight (`JUDGED_WEIGHT`, as `compiler.jsoncost.estimated_cost` puts the
Orchestration): a model keeps its steps' unknown keys, so one Orchestration full of
empty objects would otherwise stay 35 MiB (issue 22); one heavier than a quarter of
the weight is judged again for its next run rather than kept. Workers share it,
under a lock.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from compiler.jsoncost import estimated_cost
from controller.submission import Validated
from controller.validation import check_orchestration_object
from orchapi.api import MAX_STEPS, Obj

JUDGED_CACHE = 256
JUDGED_WEIGHT = 48 * 1024 * 1024  # bytes, what the judgements kept may weigh together


class Judgements:
    """Orchestration (uid, generation) -> its `Validated`, least recently used first out."""

    def __init__(self, max_steps: int = MAX_STEPS) -> None:
        self.max_steps = max_steps
        self._kept: OrderedDict[tuple[str, int], tuple[Validated, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def weight(self) -> int:
        return self._weight

    def judge(self, orchestration: Obj) -> Validated:
        meta = orchestration["metadata"]
        key = (str(meta.get("uid")), int(meta.get("generation") or 0))
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None:
                self._kept.move_to_end(key)
                return hit[0]
        judged = Validated(*check_orchestration_object(orchestration, self.max_steps))
        weight = estimated_cost(json.dumps(orchestration, separators=(",", ":")).encode())
        if weight > JUDGED_WEIGHT // 4:
            return judged  # too heavy to keep: judged again for its next run
        with self._lock:
            if key not in self._kept:
                self._kept[key] = (judged, weight)
                self._weight += weight
            while len(self._kept) > JUDGED_CACHE or self._weight > JUDGED_WEIGHT:
                self._weight -= self._kept.popitem(last=False)[1][1]
        return judged
