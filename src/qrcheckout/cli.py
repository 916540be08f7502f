"""``qrcheckout serve | sandbox [--provider paypal] | migrate | keys | staff``, ``--version``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from uvicorn.config import STARTUP_FAILURE

from qrcheckout import logs, migrations
from qrcheckout.access.models import DEFAULT_MERCHANT
from qrcheckout.access.permissions import Access
from qrcheckout.access.roles import Principal, Role
from qrcheckout.access.service import Merchants
from qrcheckout.config import Settings
from qrcheckout.db import Database
from qrcheckout.errors import DomainError
from qrcheckout.http.server import Server
from qrcheckout.staff.paths import DASHBOARD_PATH, INVITE_PATH, SIGN_IN_PATH
from qrcheckout.staff.service import INVITE_LIFETIME, Staff, StaffRole


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qrcheckout", description=__doc__)
    parser.add_argument("--version", action="version", version=f"qrcheckout {VERSION}")
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
    staff = commands.add_parser("staff", help="invite or list the back office's staff")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    invite = staff_commands.add_parser(
        "add", help="invite someone to the back office: prints the link that sets their password"
    )
    invite.add_argument("email")
    invite.add_argument("--merchant", default=DEFAULT_MERCHANT, help="whose staff (default)")
    invite.add_argument(
        "--role",
        choices=[role.value for role in StaffRole],
        default=StaffRole.OWNER.value,
        help="owner (everything, settings and staff too; the default) or staff",
    )
    invite.add_argument("--name", default="")
    invite.add_argument(
        "--password-stdin",
        action="store_true",
        help="set the password read from standard input instead of printing a link",
    )
    members = staff_commands.add_parser("list", help="a merchant's staff")
    members.add_argument("--merchant", default=DEFAULT_MERCHANT)
    args = parser.parse_args(argv)

    unreachable_public_url = False
    if args.command == "serve" and "QRCHECKOUT_PUBLIC_URL" not in os.environ:
        # The public URL follows the chosen address unless it was configured.
        unreachable_public_url = args.host in ("0.0.0.0", "::")
        host = "127.0.0.1" if unreachable_public_url else args.host
        os.environ["QRCHECKOUT_PUBLIC_URL"] = f"http://{host}:{args.port}"
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"qrcheckout: {bad_settings(exc)}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args.host, args.port, unreachable_public_url)
    if args.command == "sandbox":
        port = args.port or {"stripe": 12111, "paypal": 12112}[args.provider]
        return _sandbox(args.provider, args.host, port, args.data_dir, args.public_url)
    unreachable = asyncio.run(_unreachable(settings.database_url))
    if unreachable is not None:
        print(f"qrcheckout: {unreachable}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print("database is up to date")
        return 0
    if args.command == "keys":
        return asyncio.run(_run(settings, lambda db: _keys(db, args)))
    if args.command == "staff":
        password = None
        if args.staff_command == "add" and args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        return asyncio.run(_run(settings, lambda db: _staff(settings, db, args, password)))
    return 2


VERSION = version("qrcheckout")


def bad_settings(exc: ValidationError) -> str:
    """A settings error as one line naming each setting at fault."""
    said = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = error["loc"]
        said.append(f"QRCHECKOUT_{str(where[0]).upper()}: {message}" if where else message)
    return "bad setting " + "; ".join(said)


async def _unreachable(database_url: str) -> str | None:
    """Why the database cannot be used, in one line; None when it answers."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver's refusal: said in one line, not a traceback
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        return f"cannot reach the database {_shown(database_url)}: {reason}"
    finally:
        await db.dispose()
    return None


def _shown(url: str) -> str:
    """A URL without its password."""
    if "://" not in url or "@" not in url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not SQLAlchemy's form (a bus URL): hide what stands before the host
        parts = urlsplit(url)
        return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def _serve(settings: Settings, host: str, port: int, unreachable_public_url: bool) -> int:
    unreachable = asyncio.run(_unreachable(settings.database_url))
    if unreachable is not None:
        print(f"qrcheckout: {unreachable}", file=sys.stderr)
        return 2
    from qrcheckout.app import PAYPAL_SANDBOX_PATH, SANDBOX_PATH, create_app

    log_config = logs.install(settings.log_format)
    app = create_app(settings)
    connections = _raise_open_files()
    base = settings.public_url
    if app.state.sandbox is not None:
        mode = "sandbox: the built-in Stripe and PayPal servers take test payments"
        stripe = f"sandbox at {base}{SANDBOX_PATH}, secret key {app.state.sandbox_api_key}"
    else:
        live = (settings.stripe_secret_key or "").startswith(("sk_live_", "rk_live_"))
        mode = "live: real payments" if live else "Stripe test mode"
        stripe = settings.stripe_api_base or "api.stripe.com"
    if app.state.paypal_sandbox is not None:
        paypal = f"sandbox at {base}{PAYPAL_SANDBOX_PATH}"
    elif settings.paypal_client_id:
        paypal = settings.paypal_api_base or "api-m.paypal.com"
    else:
        paypal = "off (no QRCHECKOUT_PAYPAL_CLIENT_ID)"
    bus = "in this process" if settings.bus_url == "memory" else _shown(settings.bus_url)
    lines = [
        f"qrcheckout {VERSION}, {mode}",
        f"  shop         {base}/",
        f"  back office  {base}{DASHBOARD_PATH} (qrcheckout staff add EMAIL invites its owner)",
        f"  API docs     {base}/docs",
        f"  database     {_shown(settings.database_url)}",
        f"  live status  {bus}",
        f"  Stripe       {stripe}",
        f"  PayPal       {paypal}",
        f"  open files   up to {connections:,} (each live watcher holds one)",
    ]
    if unreachable_public_url:
        lines.append(
            f"  warning: serving on {host} without QRCHECKOUT_PUBLIC_URL: QR codes point at "
            f"{base}, which a phone cannot reach; set it to this machine's address"
        )
    print("\n".join(lines), flush=True)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=True,
        timeout_graceful_shutdown=5,
        log_config=log_config,
        # Live messages are a few hundred bytes: compressing them saves little, and each
        # socket's compression context would double what an idle watcher costs in memory.
        ws_per_message_deflate=False,
        # A WebSocket watcher is woken only for news: these pings are what find a peer that
        # vanished without closing (and keep proxies from timing the socket out).
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )
    # As it stops, the event streams end at once and their clients connect again.
    server = Server(config, app.state.streams)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else STARTUP_FAILURE


def _raise_open_files() -> int:
    """Lift this process's limit on open files to the most it may have: every SSE stream and
    WebSocket holds one, and the usual default of 1,024 would refuse watchers long before the
    memory or the CPU runs out. Returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return soft
    return wanted


async def _run(settings: Settings, command: Callable[[Database], Awaitable[None]]) -> int:
    """An account command, run on the database itself: whoever runs this runs the service."""
    db = Database(settings.database_url)
    try:
        await migrations.upgrade(db)
        # The configured keys are the service's to keep in step, at its start: a command run
        # from a shell without them must not revoke them.
        await Merchants(db).ensure_default(settings.business_name, keys=False)
        await command(db)
    except DomainError as exc:
        print(f"qrcheckout: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    return 0


async def _keys(db: Database, args: argparse.Namespace) -> None:
    merchants = Merchants(db)
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


async def _staff(
    settings: Settings, db: Database, args: argparse.Namespace, password: str | None
) -> None:
    staff = Staff(db)
    if args.staff_command == "list":
        for member in await staff.members(Access(_owner_of(args.merchant))):
            state = "active" if member.password_hash else "invited"
            print(f"{member.id}  {member.role:6}  {state:8}  {member.email}  {member.name}")
        return
    made = await staff.invite(args.merchant, args.email, StaffRole(args.role), args.name)
    sign_in = f"{settings.public_url}{SIGN_IN_PATH}" + (
        "" if args.merchant == DEFAULT_MERCHANT else f"?merchant={args.merchant}"
    )
    if password is not None:
        await staff.accept(made.code, password)
        print(f"{made.member_id}  {made.email} can sign in at {sign_in}")
        return
    print(f"{made.member_id}  {settings.public_url}{INVITE_PATH}/{made.code}")
    print(
        f"Send this link to {made.email}: it sets their password once, within "
        f"{INVITE_LIFETIME.days} days; then they sign in at {sign_in}.",
        file=sys.stderr,
    )


def _owner_of(merchant_id: str) -> Principal:
    return Principal(Role.OWNER, shop=merchant_id, merchant_id=merchant_id)


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
