"""The expiry sweeps' indexes: live tokens and pending orders by their end, nothing else

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LIVE_TOKENS = "status = 'inprogress' AND end_at IS NOT NULL"
PENDING_ORDERS = "status = 'pending' AND expires_at IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_tokens_live_end_at",
        "tokens",
        ["end_at"],
        postgresql_where=sa.text(LIVE_TOKENS),
        sqlite_where=sa.text(LIVE_TOKENS),
    )
    op.create_index(
        "ix_orders_pending_expires_at",
        "orders",
        ["expires_at"],
        postgresql_where=sa.text(PENDING_ORDERS),
        sqlite_where=sa.text(PENDING_ORDERS),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_pending_expires_at", table_name="orders")
    op.drop_index("ix_tokens_live_end_at", table_name="tokens")
