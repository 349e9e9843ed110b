"""The pydantic twin of `compiler.tools`' Tool records (`orchapi.records`): the judge
of a Tool document the records cannot accept at a glance, whose errors become the
diagnostics. A test holds the two equal (`tests/unit/orchapi/test_models_twin.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from orchapi.api import INT32_MAX
from orchapi.schema import ObjectMeta

# `format: int32` in the CRD: any int32, negative ones included.
SignedInt32 = Annotated[StrictInt, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]


class _Model(BaseModel):
    # The CRD's spec is not `x-kubernetes-preserve-unknown-fields`: the apiserver
    # accepts unknown keys and prunes them, so they are accepted and ignored here.
    model_config = ConfigDict(populate_by_name=True, extra="allow", strict=True)


class ToolEnvVar(_Model):
    name: StrictStr  # both required by the CRD
    value: StrictStr


class ToolSpec(_Model):
    image: StrictStr | None = None
    command: list[StrictStr] | None = None
    args: list[StrictStr] | None = None
    env: list[ToolEnvVar] | None = None
    service_account: StrictStr | None = Field(None, alias="serviceAccount")
    working_dir: StrictStr | None = Field(None, alias="workingDir")
    timeout_seconds: SignedInt32 | None = Field(None, alias="timeoutSeconds")
    # A Job's TTL in the reference system; Argo's pods have no per-pod TTL.
    ttl_seconds_after_finished: SignedInt32 | None = Field(None, alias="ttlSecondsAfterFinished")


class Tool(_Model):
    api_version: Literal["tools.proompteng.ai/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Tool"]
    metadata: ObjectMeta
    spec: ToolSpec = Field(default_factory=ToolSpec)
    status: dict[str, Any] | None = None
