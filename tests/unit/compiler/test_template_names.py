"""The kind registry declares every template name a compiled Workflow holds
(`Kind.template`, `compiler.kinds.COMPILER_TEMPLATES`), and the entrypoints the
compiler refuses are derived from it: the names of the templates the controller
and the mirror recognise by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compiler.diagnostics import Collector
from compiler.emit_run import PART_TEMPLATE
from compiler.kinds import COMPILER_TEMPLATES, RESERVED_TEMPLATE_NAMES, STEP_TEMPLATES
from compiler.validate import check_entrypoint
from orchapi.vocabulary import Reason

GOLDEN = Path(__file__).resolve().parents[3] / "golden" / "valid"


@pytest.mark.parametrize("name", sorted(RESERVED_TEMPLATE_NAMES))
def test_no_entrypoint_takes_a_template_read_by_its_name(name: str) -> None:
    """`orch-reused` was missing (a resumed run of an Orchestration whose entrypoint
    is `orch-reused` got two templates of that name); the dead set that listed
    reserved names had `approval-gate`, which the compiler never emits."""
    out = Collector()
    check_entrypoint({"entrypoint": name}, out)
    assert [(d.reason, str(d.path)) for d in out.items] == [
        (Reason.ENTRYPOINT_MISSING, "spec.entrypoint")]
    assert f"its {COMPILER_TEMPLATES[name]} template" in out.items[0].message


@pytest.mark.parametrize("name", sorted(STEP_TEMPLATES))
def test_a_step_templates_name_is_a_usable_entrypoint(name: str) -> None:
    """A step's template yields to the entrypoint (emit._intern): not reserved."""
    out = Collector()
    check_entrypoint({"entrypoint": name.rstrip("-") or "x"}, out)
    assert out.items == []


@pytest.mark.parametrize("case", sorted(GOLDEN.glob("*.argo.yaml")), ids=lambda p: p.name)
def test_every_emitted_template_name_is_declared(case: Path) -> None:
    for workflow in yaml.safe_load_all(case.read_text()):
        entry = workflow["spec"]["entrypoint"]
        for template in workflow["spec"]["templates"]:
            name = template["name"]
            assert name == entry or name in COMPILER_TEMPLATES \
                or name.startswith((*STEP_TEMPLATES, PART_TEMPLATE)), name
