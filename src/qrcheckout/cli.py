"""``qrcheckout serve | sandbox | migrate``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import uvicorn

from qrcheckout import migrations
from qrcheckout.config import Settings
from qrcheckout.db import Database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qrcheckout", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate, seed and serve the checkout service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    sandbox = commands.add_parser(
        "sandbox", help="run the Stripe-compatible sandbox alone, for any app's Stripe SDK"
    )
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=12111)
    sandbox.add_argument(
        "--data-dir", type=Path, default=None, help="where its state is kept (default: .)"
    )
    sandbox.add_argument(
        "--public-url", default=None, help="the address phones reach it at (default: host:port)"
    )
    commands.add_parser("migrate", help="create or upgrade the database schema")
    args = parser.parse_args(argv)

    if args.command == "serve":
        # The public URL follows the chosen address unless it was configured.
        if "QRCHECKOUT_PUBLIC_URL" not in os.environ:
            host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
            os.environ["QRCHECKOUT_PUBLIC_URL"] = f"http://{host}:{args.port}"
        try:
            settings = Settings()
        except ValueError as exc:
            print(f"qrcheckout: bad settings: {exc}", file=sys.stderr)
            return 2
        from qrcheckout.app import create_app

        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            proxy_headers=True,
            timeout_graceful_shutdown=5,
        )
        return 0
    if args.command == "sandbox":
        return _sandbox(args.host, args.port, args.data_dir, args.public_url)
    if args.command == "migrate":
        asyncio.run(_migrate(Settings()))
        print("database is up to date")
        return 0
    return 2


def _sandbox(host: str, port: int, data_dir: Path | None, public_url: str | None) -> int:
    from qrcheckout_sandbox.app import STATE_FILE, Sandbox

    settings = Settings()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = (public_url or f"http://{shown_host}:{port}").rstrip("/")
    state = (data_dir or settings.data_dir) / STATE_FILE
    state.parent.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(
        public_base=base,
        state_path=state,
        business_name=settings.business_name,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        max_attempts=settings.webhook_max_attempts,
    )
    print(
        f"Stripe sandbox on {base}: point your SDK's API base there with any sk_test_ key; "
        f"state in {state}",
        flush=True,
    )
    uvicorn.run(sandbox.app, host=host, port=port, timeout_graceful_shutdown=5)
    return 0


async def _migrate(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        await migrations.upgrade(db)
    finally:
        await db.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
