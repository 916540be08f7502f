"""GraphQL fuzzing of ``/v1/graphql`` (schemathesis' GraphQL mode): whatever queries and
mutations it generates from the schema, no answer is a 5xx and every error is in Hasura's shape."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from tests.conftest import ServerFactory
from tests.support.auth import API_KEY
from tests.support.server import RunningServer

# Examples per root field, each sent anonymously and as the merchant.
EXAMPLES = 20

schemathesis.graphql.scalar("uuid", st.uuids().map(lambda u: nodes.String(str(u))))
schemathesis.graphql.scalar(
    "timestamptz",
    st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(
        lambda d: nodes.String(d.isoformat())
    ),
)


@pytest.fixture
def fuzzed(make_server: ServerFactory) -> RunningServer:
    return make_server(api_key=API_KEY, rate_limit_enabled=False)


@schemathesis.check
def hasura_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error names a message, and Hasura's code and path."""
    body = response.json()
    for error in body.get("errors") or ():
        assert isinstance(error.get("message"), str), error
        assert isinstance(error["extensions"]["code"], str), error
        assert error["extensions"]["path"].startswith("$"), error
    return None


@pytest.mark.one_database
# Twenty examples of each of 18+ operations, each sent twice: a minute alone on two cores, so
# the run-wide 120 s is too tight for it when the machine is busy.
@pytest.mark.timeout(360)
def test_no_query_or_mutation_is_a_server_error(fuzzed: RunningServer) -> None:
    schema = schemathesis.graphql.from_url(f"{fuzzed.url}/v1/graphql")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18  # every root field of query_root and mutation_root
    answered: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            for headers in ({}, {"x-hasura-admin-secret": API_KEY}):
                response = case.call(headers=headers)
                assert response.status_code < 500, response.text
                answered.append(len(response.json().get("errors") or ()))
                case.validate_response(response, checks=[hasura_errors])

        fuzz()
    # It reached the server, and errors were among the answers checked.
    assert len(answered) >= len(operations) * 2 and any(answered)
