"""Alembic environment: uses the connection handed over by ``qrcheckout.migrations.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import qrcheckout.catalog.models
import qrcheckout.checkout.models
import qrcheckout.connect.models
import qrcheckout.notifications.models
import qrcheckout.orders.models
import qrcheckout.staff.models
import qrcheckout.webhooks.models  # noqa: F401 - registers the tables
from qrcheckout.db import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:
    # ``alembic revision --autogenerate`` from a shell: a plain sync engine on sqlalchemy.url.
    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///./qrcheckout.db"
    with create_engine(url).connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
