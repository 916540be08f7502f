"""merchants, API keys, and an owner for every row

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Rows made before merchants existed belong to the default merchant, created here for them.
DEFAULT = "default"


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("logo_url", sa.Text(), nullable=True),
        sa.Column("accent_color", sa.String(length=7), nullable=True),
        sa.Column("support_email", sa.String(length=320), nullable=True),
        sa.Column("default_currency", sa.String(length=3), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("webhook_urls", sa.JSON(), nullable=False),
        # A signing secret, so kept as written (it cannot be hashed and still sign).
        sa.Column("webhook_secret", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_api_keys_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_keys_digest")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_merchant_id"), ["merchant_id"], unique=False)

    # Only an existing installation has rows to own: a new one creates its merchant on start.
    op.execute(
        sa.text(
            "INSERT INTO merchants (id, name, default_currency, allowed_origins, webhook_urls,"
            " created_at, updated_at)"
            " SELECT :id, :name, 'usd', '[]', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
            " WHERE EXISTS (SELECT 1 FROM products) OR EXISTS (SELECT 1 FROM tokens)"
            " OR EXISTS (SELECT 1 FROM orders) OR EXISTS (SELECT 1 FROM notifications)"
        ).bindparams(id=DEFAULT, name="qrcheckout café")
    )

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("merchant_id", sa.String(length=64), nullable=False, server_default=DEFAULT)
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE products SET updated_at = created_at")
    with op.batch_alter_table("products", schema=None, recreate="always") as batch_op:
        batch_op.alter_column("merchant_id", server_default=None)
        batch_op.alter_column("updated_at", nullable=False)
        batch_op.drop_constraint("pk_products", type_="primary")
        batch_op.create_primary_key("pk_products", ["merchant_id", "id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_products_merchant_id_merchants"),
            "merchants",
            ["merchant_id"],
            ["id"],
            ondelete="CASCADE",
        )

    for table in ("tokens", "orders", "notifications"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "merchant_id", sa.String(length=64), nullable=False, server_default=DEFAULT
                )
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("merchant_id", server_default=None)
            batch_op.create_index(batch_op.f(f"ix_{table}_merchant_id"), ["merchant_id"])
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_merchant_id_merchants"),
                "merchants",
                ["merchant_id"],
                ["id"],
            )

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("cancel_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_tokens_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merchant_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("user_id", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_stripe_events_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stripe_events_merchant_id"))
        batch_op.drop_column("user_id")
        batch_op.drop_column("merchant_id")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_user_id"))
        batch_op.drop_column("cancel_digest")
        batch_op.drop_column("user_id")
    for table in ("tokens", "orders", "notifications"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_merchant_id_merchants", type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{table}_merchant_id"))
            batch_op.drop_column("merchant_id")
    with op.batch_alter_table("products", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint("fk_products_merchant_id_merchants", type_="foreignkey")
        batch_op.drop_constraint("pk_products", type_="primary")
        batch_op.create_primary_key("pk_products", ["id"])
        batch_op.drop_column("merchant_id")
        batch_op.drop_column("updated_at")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_merchant_id"))
    op.drop_table("api_keys")
    op.drop_table("merchants")
