"""a merchant's default item: what a token made without items sells

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("default_product_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("default_product_id")
