"""``qrcheckout serve | sandbox [--provider paypal] | migrate | keys``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import uvicorn

from qrcheckout import logs, migrations
from qrcheckout.access.models import DEFAULT_MERCHANT
from qrcheckout.access.service import Merchants
from qrcheckout.config import Settings
from qrcheckout.db import Database
from qrcheckout.errors import DomainError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qrcheckout", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate, seed and serve the checkout service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    sandbox = commands.add_parser(
        "sandbox",
        help="run the Stripe- or PayPal-compatible sandbox alone, for any app's official SDK",
    )
    sandbox.add_argument("--provider", choices=("stripe", "paypal"), default="stripe")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument(
        "--port", type=int, default=None, help="default: 12111 (Stripe), 12112 (PayPal)"
    )
    sandbox.add_argument(
        "--data-dir", type=Path, default=None, help="where its state is kept (default: .)"
    )
    sandbox.add_argument(
        "--public-url", default=None, help="the address phones reach it at (default: host:port)"
    )
    commands.add_parser("migrate", help="create or upgrade the database schema")
    keys = commands.add_parser("keys", help="create, list or revoke API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="a new key, printed once")
    create.add_argument("--name", required=True, help="what the key is for")
    whose = create.add_mutually_exclusive_group()
    whose.add_argument("--merchant", default=DEFAULT_MERCHANT, help="its merchant (default)")
    whose.add_argument(
        "--platform", action="store_true", help="the platform's key: it manages merchants"
    )
    listing = key_commands.add_parser("list", help="a merchant's keys (never their secrets)")
    listing.add_argument("--merchant", default=DEFAULT_MERCHANT)
    listing.add_argument("--platform", action="store_true")
    revoke = key_commands.add_parser("revoke", help="a key stops working at once")
    revoke.add_argument("key_id")
    revoke.add_argument("--merchant", default=DEFAULT_MERCHANT)
    revoke.add_argument("--platform", action="store_true")
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
        from qrcheckout.app import SANDBOX_PATH, create_app

        app = create_app(settings)
        if app.state.sandbox is not None:
            print(
                f"Stripe sandbox on {settings.public_url}{SANDBOX_PATH}, "
                f"secret key {app.state.sandbox_api_key}",
                flush=True,
            )
        logs.install()
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            proxy_headers=True,
            timeout_graceful_shutdown=5,
        )
        return 0
    if args.command == "sandbox":
        port = args.port or {"stripe": 12111, "paypal": 12112}[args.provider]
        return _sandbox(args.provider, args.host, port, args.data_dir, args.public_url)
    if args.command == "migrate":
        asyncio.run(_migrate(Settings()))
        print("database is up to date")
        return 0
    if args.command == "keys":
        return asyncio.run(_keys(Settings(), args))
    return 2


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    """Keys are managed on the database itself: whoever runs this runs the service."""
    db = Database(settings.database_url)
    try:
        await migrations.upgrade(db)
        merchants = Merchants(db)
        await merchants.ensure_default(settings.business_name, settings.api_key, settings.admin_key)
        merchant_id = None if args.platform else args.merchant
        if args.keys_command == "create":
            made = await merchants.create_key(merchant_id, args.name)
            print(f"{made.key.id}  {made.secret}")
            print("The secret is shown this once: keep it now.", file=sys.stderr)
        elif args.keys_command == "list":
            for key in await merchants.keys(merchant_id):
                state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                print(f"{key.id}  ...{key.last4}  {state:18}  used {used:16}  {key.name}")
        else:
            key = await merchants.revoke_key(merchant_id, args.key_id)
            print(f"{key.id} revoked")
    except DomainError as exc:
        print(f"qrcheckout: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    return 0


def _sandbox(
    provider: str, host: str, port: int, data_dir: Path | None, public_url: str | None
) -> int:
    from qrcheckout_sandbox.app import STATE_FILE, Sandbox
    from qrcheckout_sandbox.paypal.app import STATE_FILE as PAYPAL_STATE_FILE
    from qrcheckout_sandbox.paypal.app import PayPalSandbox

    settings = Settings()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = (public_url or f"http://{shown_host}:{port}").rstrip("/")
    kind, name, state_file, how = {
        "stripe": (Sandbox, "Stripe", STATE_FILE, "with any sk_test_ key"),
        "paypal": (
            PayPalSandbox,
            "PayPal",
            PAYPAL_STATE_FILE,
            "with any client id and secret (a client id keeps the secret it was first used with)",
        ),
    }[provider]
    state = (data_dir or settings.data_dir) / state_file
    sandbox = kind(
        public_base=base,
        state_path=state,
        business_name=settings.business_name,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        max_attempts=settings.webhook_max_attempts,
    )
    print(
        f"{name} sandbox on {base}: point your SDK's API base there {how}; state in {state}",
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
