"""The migrations build exactly the schema the models describe, on a fresh SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

# Every models module, so that Base.metadata holds every table.
import qrcheckout.access.models
import qrcheckout.catalog.models
import qrcheckout.checkout.models
import qrcheckout.connect.models
import qrcheckout.notifications.models
import qrcheckout.orders.models
import qrcheckout.staff.models
import qrcheckout.webhooks.models  # noqa: F401
from qrcheckout import migrations
from qrcheckout.db import Base, Database


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def _migrate_and_compare(url: str, revision: str = "head") -> list[Any]:
    db = Database(url)
    try:
        await migrations.upgrade(db, revision)
        async with db.engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await db.dispose()


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'qrcheckout.db'}"


def test_the_migrated_schema_is_the_models_schema(tmp_path: Path) -> None:
    assert asyncio.run(_migrate_and_compare(_url(tmp_path))) == []


def test_the_comparison_sees_a_schema_that_is_behind(tmp_path: Path) -> None:
    # Stopped one migration short, the orders tables are missing: the check above can fail.
    differences = asyncio.run(_migrate_and_compare(_url(tmp_path), "0001"))
    added = {d[1].name for d in differences if d[0] == "add_table"}
    assert {"orders", "order_payments", "order_refunds", "provider_events"} <= added


def test_migrating_again_changes_nothing(tmp_path: Path) -> None:
    # The service migrates on every start.
    url = _url(tmp_path)

    async def twice() -> tuple[list[str], list[Any]]:
        db = Database(url)
        try:
            await migrations.upgrade(db)
            await migrations.upgrade(db)
            async with db.engine.connect() as connection:
                tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
                differences = await connection.run_sync(_differences)
                return sorted(tables), differences
        finally:
            await db.dispose()

    tables, differences = asyncio.run(twice())
    assert differences == []
    assert tables == sorted([*Base.metadata.tables, "alembic_version"])


def test_events_received_before_orders_existed_are_kept(tmp_path: Path) -> None:
    url = _url(tmp_path)

    async def upgrade_with_an_old_event() -> list[Any]:
        db = Database(url)
        try:
            await migrations.upgrade(db, "0001")
            async with db.engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO webhook_events"
                        " (id, type, status, payload, received_at, attempts)"
                        " VALUES ('evt_old', 'checkout.session.completed', 'processed', '{}',"
                        " '2026-11-20 10:00:00', 1)"
                    )
                )
            await migrations.upgrade(db)
            async with db.engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT id, type, status, created, attempts FROM provider_events")
                )
                return [tuple(row) for row in rows]
        finally:
            await db.dispose()

    assert asyncio.run(upgrade_with_an_old_event()) == [
        ("evt_old", "checkout.session.completed", "processed", None, 1)
    ]


def _downgrade(connection: Connection, revision: str) -> None:
    cfg = migrations.config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


def test_going_back_before_paypal_is_refused_while_paypal_rows_exist(tmp_path: Path) -> None:
    url = _url(tmp_path)

    async def downgrade_with(provider: str) -> str:
        db = Database(url)
        try:
            await migrations.upgrade(db)
            async with db.engine.begin() as connection:
                await connection.execute(text("DELETE FROM tokens"))
                await connection.execute(
                    text(
                        "INSERT INTO merchants (id, name, default_currency, allowed_origins,"
                        " webhook_urls, created_at, updated_at) SELECT 'm1', 'M', 'usd', '[]',"
                        " '[]', '2026-12-01', '2026-12-01'"
                        " WHERE NOT EXISTS (SELECT 1 FROM merchants WHERE id = 'm1')"
                    )
                )
                await connection.execute(
                    text(
                        "INSERT INTO tokens (id, merchant_id, kind, status, created_at,"
                        " updated_at, amount_total, currency, provider, paid_count)"
                        " VALUES ('t1', 'm1', 'dynamic', 'inprogress',"
                        " '2026-12-01 10:00:00', '2026-12-01 10:00:00', 500, 'usd', :provider, 0)"
                    ),
                    {"provider": provider},
                )
            try:
                async with db.engine.begin() as connection:
                    await connection.run_sync(_downgrade, "0006")
            except RuntimeError as exc:
                return str(exc)
            async with db.engine.connect() as connection:
                columns = await connection.run_sync(
                    lambda c: [col["name"] for col in inspect(c).get_columns("tokens")]
                )
            return "downgraded" if "provider" not in columns else "unchanged"
        finally:
            await db.dispose()

    refused = asyncio.run(downgrade_with("paypal"))
    assert refused.startswith("1 tokens and orders are paid through PayPal"), refused
    assert asyncio.run(downgrade_with("stripe")) == "downgraded"
