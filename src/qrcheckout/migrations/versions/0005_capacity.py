"""tickets: a product's capacity, maximum per order and sale window, and its held and sold counts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# What orders already hold and sold, so that their later transitions keep the counts exact.
_COUNT = """
COALESCE((
    SELECT SUM(oi.quantity) FROM order_items oi JOIN orders o ON o.id = oi.order_id
    WHERE o.merchant_id = products.merchant_id AND oi.product_id = products.id
    AND o.status IN ({statuses})
), 0)
"""


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_per_order", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sale_starts_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sale_ends_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("held", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("sold", sa.Integer(), nullable=False, server_default="0"))
    held = _COUNT.format(statuses="'pending', 'completed', 'partially_refunded'")
    sold = _COUNT.format(statuses="'completed', 'partially_refunded'")
    op.execute(f"UPDATE products SET held = {held}, sold = {sold}")
    with op.batch_alter_table("products") as batch:
        batch.create_check_constraint(
            op.f("ck_products_counts_consistent"), "held >= sold AND sold >= 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint(op.f("ck_products_counts_consistent"), type_="check")
        for column in ("sold", "held", "sale_ends_at", "sale_starts_at", "max_per_order"):
            batch.drop_column(column)
        batch.drop_column("capacity")
