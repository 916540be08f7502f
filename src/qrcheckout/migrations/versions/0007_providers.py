"""Two providers: each token, session, order payment and stored event names the provider it
belongs to; events are unique per provider. A session counts failed completions, and keeps the
refund of money that could not be applied

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Everything paid before had one provider.
EARLIER = "stripe"


def _provider() -> sa.Column[str]:
    return sa.Column("provider", sa.String(length=16), nullable=False, server_default=EARLIER)


def upgrade() -> None:
    for table in ("tokens", "payments", "order_payments"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_provider())
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column("completion_tries", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("refund_id", sa.String(length=255), nullable=True))
    op.drop_index(op.f("ix_stripe_events_status"), table_name="stripe_events")
    op.drop_index(op.f("ix_stripe_events_type"), table_name="stripe_events")
    op.drop_index(op.f("ix_stripe_events_merchant_id"), table_name="stripe_events")
    op.rename_table("stripe_events", "provider_events")
    with op.batch_alter_table("provider_events") as batch:
        batch.add_column(_provider())
        batch.drop_constraint("pk_stripe_events", type_="primary")
        batch.create_primary_key("pk_provider_events", ["provider", "id"])
    for column in ("status", "type", "merchant_id"):
        op.create_index(
            op.f(f"ix_provider_events_{column}"), "provider_events", [column], unique=False
        )


def downgrade() -> None:
    # Before PayPal a token or order could not name it: refuse rather than let PayPal's rows
    # pass for Stripe's.
    paypal = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT (SELECT COUNT(*) FROM tokens WHERE provider <> 'stripe')"
                " + (SELECT COUNT(*) FROM orders WHERE payment_mode NOT IN ('stripe', 'free'))"
            )
        )
        .scalar_one()
    )
    if paypal:
        raise RuntimeError(
            f"{paypal} tokens and orders are paid through PayPal; the schema before 0007 "
            "cannot hold them. Delete them first to downgrade."
        )
    for column in ("status", "type", "merchant_id"):
        op.drop_index(op.f(f"ix_provider_events_{column}"), table_name="provider_events")
    op.execute(sa.text("DELETE FROM provider_events WHERE provider <> 'stripe'"))
    with op.batch_alter_table("provider_events") as batch:
        batch.drop_constraint("pk_provider_events", type_="primary")
        batch.create_primary_key("pk_stripe_events", ["id"])
        batch.drop_column("provider")
    op.rename_table("provider_events", "stripe_events")
    for column in ("status", "type", "merchant_id"):
        op.create_index(op.f(f"ix_stripe_events_{column}"), "stripe_events", [column], unique=False)
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("refund_id")
        batch.drop_column("completion_tries")
    for table in ("order_payments", "payments", "tokens"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("provider")
