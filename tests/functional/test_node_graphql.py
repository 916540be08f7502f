"""The first design's front-end in Node, unchanged but for its URL: Apollo Client over HTTP, with
``graphql-ws`` and with the legacy ``subscriptions-transport-ws``, runs its three documents
against ``/v1/graphql`` while the phone pays on the sandbox (``tests/node/graphql.mjs``)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import ServerFactory
from tests.support.auth import API_KEY
from tests.support.node import NODE_DIR

SCRIPT = NODE_DIR / "graphql.mjs"
TIMEOUT_SECONDS = 90


@pytest.mark.one_database
def test_apollo_client_runs_the_three_documents(
    node: str,
    make_server: ServerFactory,
) -> None:
    server = make_server(api_key=API_KEY)
    env = {**os.environ, "SERVICE_URL": server.url, "ADMIN_SECRET": API_KEY}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    try:
        run = subprocess.run(
            [node, str(SCRIPT)],
            cwd=NODE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"node {SCRIPT.name} did not finish: {exc.stdout!r} {exc.stderr!r}")
    report = f"exit {run.returncode}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    assert run.returncode == 0, report
    assert "graphql-transport-ws: subscribed, added, paid -> success; cancelled" in run.stdout
    assert "graphql-ws: subscribed, added, paid -> success; cancelled" in run.stdout
    assert run.stdout.rstrip().endswith("graphql: all steps passed"), report
