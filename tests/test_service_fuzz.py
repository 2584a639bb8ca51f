"""Schemathesis over the live server's OpenAPI: no 5xx, and every response matches the schema.

Run as each kind of caller (admin, citizen, worker, helpline agent) with valid and invalid
generated inputs; the number of examples per operation is bounded to keep it quick
(``SVC_FUZZ_EXAMPLES=40`` for a deeper run: about 2 minutes).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.service_fixtures import *  # noqa: F403
from tests.service_fixtures import ADMIN

pytestmark = pytest.mark.timeout(300)
EXAMPLES = int(os.environ.get("SVC_FUZZ_EXAMPLES", "5"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
#: 422s that depend on state, not on the body's shape (the schema cannot say them).
STATEFUL_422 = ("Idempotency-Key", "amount_paise: must equal", "code: wrong code")


def schema_as_strict_as_validation(ctx, response, case) -> bool | None:  # noqa: ANN001
    """A body the schema allows is never refused as invalid (422) for its shape."""
    if response.status_code == 422:
        detail = str(response.json().get("detail", ""))
        if not detail.startswith(STATEFUL_422):
            raise AssertionError(f"schema-valid request refused with 422: {detail}")
    return None


def _tokens(api) -> dict[str, str]:
    w = api.worker()
    c = api.citizen()
    api.book(c)
    ag = api.call("POST", "/v1/admin/agents", ADMIN, json={"name": "Agent"}).json()
    return {"admin": ADMIN, "citizen": c["token"], "worker": w["token"], "agent": ag["token"]}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_schema_conformance(api, server, mode):
    tokens = _tokens(api)
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures = []
    for res in schema.get_all_operations():
        op = res.ok()
        if op.path.endswith("/reset"):
            continue  # would wipe the callers' tokens mid-run; covered by the authorization tests

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case, token):
            checks = CHECKS + [schema_as_strict_as_validation] if mode == GenerationMode.POSITIVE else CHECKS
            case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, checks=checks)

        # Invalid inputs are refused before ownership matters: two callers are enough there.
        callers = tokens if mode == GenerationMode.POSITIVE else {k: tokens[k] for k in ("admin", "citizen")}
        for who, token in callers.items():
            try:
                run(token=token)
            except Unsatisfiable:
                continue  # nothing to make invalid (e.g. /healthz in negative mode)
            except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 - collect all, report together
                failures.append(f"{op.method.upper()} {op.path} as {who}: {str(e)[:600]}")
    assert not failures, "\n\n".join(failures)
