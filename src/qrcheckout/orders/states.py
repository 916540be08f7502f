"""Lifecycles of orders, of the money paid for them and of refunds; one table each."""

from __future__ import annotations

from enum import StrEnum

from qrcheckout.payments.provider import RefundStatus


class OrderStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
    ),
    OrderStatus.COMPLETED: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_REFUNDED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}

PAID = frozenset({OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED})
REFUNDABLE = frozenset({OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED})
# Orders whose items count against their products' capacity (held), and as sold.
HOLDS_SEATS = frozenset({OrderStatus.PENDING, *REFUNDABLE})
SELLS_SEATS = REFUNDABLE


class PaymentMode(StrEnum):
    """How an order is paid: through a provider (its name), or not at all."""

    STRIPE = "stripe"
    PAYPAL = "paypal"
    FREE = "free"


class OrderPaymentStatus(StrEnum):
    """Money that reached the provider for an order."""

    SUCCEEDED = "succeeded"  # applied: it paid the order
    REFUND_PENDING = "refund_pending"  # not applied (late, duplicate, wrong amount): to give back
    REFUNDED = "refunded"  # not applied, and given back


ORDER_PAYMENT_TRANSITIONS: dict[OrderPaymentStatus, frozenset[OrderPaymentStatus]] = {
    OrderPaymentStatus.SUCCEEDED: frozenset(),
    OrderPaymentStatus.REFUND_PENDING: frozenset({OrderPaymentStatus.REFUNDED}),
    OrderPaymentStatus.REFUNDED: frozenset(),
}


class RefundSource(StrEnum):
    API = "api"  # POST /v1/orders/{id}/refunds
    AUTOMATIC = "automatic"  # a payment that could not be applied
    PROVIDER = "provider"  # seen first in a provider event (a refund made in Stripe's dashboard)


REFUND_TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PENDING: frozenset(
        {
            RefundStatus.REQUIRES_ACTION,
            RefundStatus.SUCCEEDED,
            RefundStatus.FAILED,
            RefundStatus.CANCELED,
        }
    ),
    RefundStatus.REQUIRES_ACTION: frozenset(
        {RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED}
    ),
    # A bank can still return a refund that had succeeded; that is its last word.
    RefundStatus.SUCCEEDED: frozenset({RefundStatus.FAILED}),
    RefundStatus.FAILED: frozenset(),
    RefundStatus.CANCELED: frozenset(),
}

# Refund statuses that hold money back from the buyer; failed and canceled ones gave nothing.
COUNTED_REFUND_STATUSES = frozenset(
    {RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION, RefundStatus.SUCCEEDED}
)
