"""The reference system's files (contract §1): its Orchestrations and runs are
ours and valid, and so are its Tools, which orch reads as the containers of
ToolRun steps (issue 11); every other document (ToolRuns, WorkflowTemplates,
kustomizations, values files, CRDs) is refused as `UnsupportedDocumentKind`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compiler.inputs import parse_text
from orchapi.vocabulary import Reason
from tests.support.argo import SHARED, SHARED_ABSENT

JANGAR = SHARED / "reference/jangar"


def _files() -> list[Path]:
    # Helm templates are Go templates, not YAML.
    return sorted(p for p in JANGAR.rglob("*.yaml") if "templates" not in p.parts)


@pytest.mark.skipif(not JANGAR.exists(), reason=SHARED_ABSENT)
def test_every_reference_document_is_ours_and_valid_or_refused_by_kind() -> None:
    ours = refused = 0
    for path in _files():
        parsed = parse_text(path.read_text(), str(path))
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        errors = [d for d in parsed.diagnostics if d.is_error]
        for index, doc in enumerate(docs):
            mine = [d for d in errors if d.document == index]
            if (doc.get("kind") in ("Orchestration", "OrchestrationRun") and doc.get(
                "apiVersion", ""
            ).startswith("orchestration.proompteng.ai/")) or (
                doc.get("apiVersion"), doc.get("kind")) == ("tools.proompteng.ai/v1alpha1",
                                                              "Tool"):
                assert mine == [], (path, [d.text for d in mine])
                ours += 1
            else:
                assert [d.reason for d in mine] == [Reason.UNSUPPORTED_DOCUMENT_KIND], path
                refused += 1
    assert ours >= 5 and refused >= 10
