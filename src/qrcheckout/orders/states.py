"""Order and order-payment lifecycles: one transition table each; only forward."""

from __future__ import annotations

from enum import StrEnum


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


class PaymentMode(StrEnum):
    STRIPE = "stripe"
    FREE = "free"


class OrderPaymentStatus(StrEnum):
    """Money that reached the provider for an order."""

    SUCCEEDED = "succeeded"  # applied: it paid the order
    REFUND_PENDING = "refund_pending"  # not applied (late, duplicate, wrong amount): to give back
    REFUNDED = "refunded"  # not applied, and given back


PAYMENT_TRANSITIONS: dict[OrderPaymentStatus, frozenset[OrderPaymentStatus]] = {
    OrderPaymentStatus.SUCCEEDED: frozenset(),
    OrderPaymentStatus.REFUND_PENDING: frozenset({OrderPaymentStatus.REFUNDED}),
    OrderPaymentStatus.REFUNDED: frozenset(),
}


class RefundSource(StrEnum):
    API = "api"  # POST /v1/orders/{id}/refunds
    AUTOMATIC = "automatic"  # a payment that could not be applied
    PROVIDER = "provider"  # seen first in a provider event (a refund made in Stripe's dashboard)


# Refund statuses that hold money back from the buyer; failed and canceled ones gave nothing.
COUNTED_REFUND_STATUSES = frozenset({"pending", "succeeded", "requires_action"})
