"""Node.js and the npm packages of ``tests/node`` (the official SDKs and clients run unchanged)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
PACKAGES = ("stripe", "@apollo/client", "graphql-ws", "subscriptions-transport-ws", "ws")


def node_or_skip() -> str:
    """The ``node`` executable, with the packages of ``tests/node`` installed beside it."""
    node = shutil.which("node")
    missing = [
        p for p in PACKAGES if not (NODE_DIR / "node_modules" / p / "package.json").is_file()
    ]
    if node is None:
        reason = "node is not installed"
    elif missing:
        reason = f"{', '.join(missing)} not installed; run `npm ci --prefix {NODE_DIR}`"
    else:
        return node
    if os.environ.get("QRCHECKOUT_REQUIRE_NODE") == "1":
        pytest.fail(f"{reason} (QRCHECKOUT_REQUIRE_NODE=1)")
    pytest.skip(f"{reason}; set QRCHECKOUT_REQUIRE_NODE=1 to make this a failure")
