"""Connect: merchants' links to their own Stripe accounts, the platform's fee, and the account
each payment was made on

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("publishable_key", sa.String(length=255), nullable=True),
        sa.Column("scope", sa.String(length=32), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unlinked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unlinked_by", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_stripe_accounts_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_accounts")),
    )
    op.create_index(
        op.f("ix_stripe_accounts_merchant_id"), "stripe_accounts", ["merchant_id"], unique=False
    )
    op.create_index(
        op.f("ix_stripe_accounts_account_id"), "stripe_accounts", ["account_id"], unique=False
    )
    op.create_table(
        "stripe_link_states",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_stripe_link_states_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_stripe_link_states")),
    )
    op.create_index(
        op.f("ix_stripe_link_states_expires_at"),
        "stripe_link_states",
        ["expires_at"],
        unique=False,
    )
    with op.batch_alter_table("merchants") as batch:
        batch.add_column(sa.Column("fee_bps", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("fee_fixed", sa.Integer(), nullable=True))
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("account_id", sa.String(length=255), nullable=True))
    with op.batch_alter_table("order_payments") as batch:
        batch.add_column(sa.Column("account_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_payments") as batch:
        batch.drop_column("account_id")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("account_id")
    with op.batch_alter_table("merchants") as batch:
        batch.drop_column("fee_fixed")
        batch.drop_column("fee_bps")
    op.drop_table("stripe_link_states")
    op.drop_table("stripe_accounts")
