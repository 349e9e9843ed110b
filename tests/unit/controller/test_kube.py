"""The apiserver's errors as this controller's types, from real Status bodies
(the JSON the apiserver sends, as the client hands it over in `ApiException`)."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from controller.kube import (
    AlreadyExistsError,
    ApiError,
    ConflictError,
    GoneError,
    NotFoundError,
    _translate,
)


def status(code: int, reason: str, message: str) -> ApiException:
    e = ApiException(status=code, reason="x")
    e.body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "message": message, "reason": reason, "code": code})
    return e


@pytest.mark.parametrize(("code", "reason", "expected"), [
    pytest.param(409, "AlreadyExists", AlreadyExistsError, id="create-of-an-existing-name"),
    pytest.param(409, "Conflict", ConflictError, id="update-of-a-stale-version"),
    pytest.param(404, "NotFound", NotFoundError, id="not-found"),
    pytest.param(410, "Expired", GoneError, id="watch-version-compacted"),
    pytest.param(403, "Forbidden", ApiError, id="quota-or-rbac"),
])
def test_translate(code: int, reason: str, expected: type[ApiError]) -> None:
    e = _translate(status(code, reason, "the apiserver's words"))
    assert type(e) is expected
    assert (e.status, e.reason, e.message) == (code, reason, "the apiserver's words")
