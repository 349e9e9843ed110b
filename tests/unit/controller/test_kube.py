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


# -- names no object can have are never sent (issue 22.11, contract §6) -------------
MALFORMED = [".", "..", "victim/release", "a/b/c", "", "Upper", "x" * 254, "a b", "%2e"]


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_name_is_never_sent(name: str) -> None:
    from kubernetes import client

    from controller.kube import Kube
    from controller.metrics import Metrics
    from orchapi.api import RUNS, WORKFLOWS, InvalidNameError

    cfg = client.Configuration()
    cfg.host = "http://127.0.0.1:9"  # discard: any request sent would fail to connect
    metrics = Metrics()
    kube = Kube(client.ApiClient(cfg), metrics, request_timeout=1)
    assert kube.get(RUNS, "ns", name) is None  # no such object can exist
    assert kube.get(RUNS, name if name else ".", "ok") is None  # nor such a namespace
    for write in (lambda: kube.delete(WORKFLOWS, "ns", name),
                  lambda: kube.patch(RUNS, "ns", name, {}),
                  lambda: kube.replace(WORKFLOWS, "ns", name, {}),
                  lambda: kube.replace_status(RUNS, "ns", name, {})):
        with pytest.raises(InvalidNameError):
            write()
    assert "rest_client_requests_total{" not in metrics.render().decode()
    with pytest.raises(Exception):  # noqa: B017 (the client's own connection error)
        kube.get(RUNS, "ns", "valid-name")  # while a name that can exist is asked for
    assert 'rest_client_requests_total{code="<error>",method="GET"} 1.0' in \
        metrics.render().decode()
