"""What a merchant sold: every payment (a token's session, an order's charge) as one list, its
takings per currency, and its open checkouts. Read only; every row passes the permission table.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import raiseload

from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.checkout.models import Payment, Token
from qrcheckout.checkout.states import TokenPaymentStatus, TokenStatus
from qrcheckout.db import Database
from qrcheckout.errors import Malformed
from qrcheckout.orders.models import Order, OrderPayment
from qrcheckout.orders.states import OrderPaymentStatus

PAGE = 50
# The dates a list may be asked for.
EARLIEST, LATEST = date(2000, 1, 1), date(9998, 12, 31)
# What a payment list shows: money that moved or was refused, not sessions merely opened.
SHOWN = (
    TokenPaymentStatus.APPROVED,
    TokenPaymentStatus.PROCESSING,
    TokenPaymentStatus.PAID,
    TokenPaymentStatus.FAILED,
    TokenPaymentStatus.REJECTED,
)
# The statuses a list may be filtered by (an order's charge counts as paid once it succeeded).
STATUSES = (
    "paid",
    "partially_refunded",
    "refunded",
    "processing",
    "approved",
    "failed",
    "rejected",
    "refunding",
)
# The payments whose money was taken: takings count them, less what went back.
MONEY_TAKEN = ("paid", "partially_refunded", "refunded")


@dataclass(frozen=True)
class Sale:
    """One payment: a token's provider session or an order's own charge."""

    id: str
    status: str
    amount: int
    currency: str
    provider: str
    at: datetime
    token_id: str | None
    order_id: str | None
    email: str | None
    problem: str | None
    refunded: int


@dataclass(frozen=True)
class SaleFilters:
    """``q`` an email (or part of it) or a reference (a payment, token or order id)."""

    q: str = ""
    status: str = ""
    provider: str = ""
    since: date | None = None
    until: date | None = None  # inclusive
    after: str = ""  # the cursor of the page before
    limit: int = PAGE

    def __post_init__(self) -> None:
        if self.status and self.status not in STATUSES:
            raise Malformed("invalid_status", f"No status {self.status!r}.", field="status")
        for name, day in (("since", self.since), ("until", self.until)):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise Malformed(
                    "invalid_date", f"{name}: a date from {EARLIEST} to {LATEST}.", field=name
                )
        if self.since and self.until and self.since > self.until:
            raise Malformed("invalid_range", "The range ends before it starts.", field="until")
        if self.after:
            _cursor(self.after)  # a cursor that cannot be read is refused before any query


@dataclass(frozen=True)
class Takings:
    currency: str
    amount: int
    count: int


@dataclass(frozen=True)
class Overview:
    today: list[Takings]
    week: list[Takings]
    latest: list[Sale]
    open_tokens: list[Token]
    open_count: int


class Sales:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, access: Access, filters: SaleFilters) -> tuple[list[Sale], str | None]:
        """One page, newest first, and the cursor of the next (None on the last)."""
        sales = _sales(access).subquery()
        query = select(sales).where(*_kept(sales.c, filters))
        if filters.after:
            at, sale_id = _cursor(filters.after)
            query = query.where(or_(sales.c.at < at, and_(sales.c.at == at, sales.c.id < sale_id)))
        query = query.order_by(sales.c.at.desc(), sales.c.id.desc()).limit(filters.limit + 1)
        async with self.db.sessions() as session:
            rows = [_sale(row) for row in (await session.execute(query)).mappings()]
        more = len(rows) > filters.limit
        shown = rows[: filters.limit]
        return shown, (_next(shown[-1]) if more and shown else None)

    async def overview(self, access: Access, now: datetime | None = None) -> Overview:
        """Takings today and this week (UTC, from Monday), the latest payments, open tokens."""
        now = now or datetime.now(UTC)
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        week = today - timedelta(days=today.weekday())
        latest, _ = await self.page(access, SaleFilters(limit=10))
        async with self.db.sessions() as session:
            open_scope = and_(
                access.scope(Resource.TOKEN, Action.LIST, Token),
                Token.status == TokenStatus.INPROGRESS,
            )
            open_tokens = list(
                await session.scalars(
                    select(Token)
                    .where(open_scope)
                    # A café table's code collects thousands of sessions: none are needed here.
                    .options(raiseload(Token.payments))
                    .order_by(Token.created_at.desc())
                    .limit(10)
                )
            )
            open_count = await session.scalar(select(func.count()).where(open_scope)) or 0
            return Overview(
                today=await self._takings(session, access, today),
                week=await self._takings(session, access, week),
                latest=latest,
                open_tokens=open_tokens,
                open_count=open_count,
            )

    async def _takings(self, session: Any, access: Access, since: datetime) -> list[Takings]:
        sales = _sales(access).subquery()
        rows = await session.execute(
            select(sales.c.currency, func.sum(sales.c.amount - sales.c.refunded), func.count())
            .where(sales.c.status.in_(MONEY_TAKEN), sales.c.problem.is_(None), sales.c.at >= since)
            .group_by(sales.c.currency)
            .order_by(sales.c.currency)
        )
        return [Takings(currency, int(amount), int(count)) for currency, amount, count in rows]


def _sales(access: Access) -> CompoundSelect[Any]:
    """Every payment ``access`` may list, as one table: a token's sessions (with the order it
    sells, if any) and the charges an order took itself, not through its token's session."""
    order_of_token = Order.token_id == Token.id
    sessions = (
        select(
            Payment.id.label("id"),
            _session_status().label("status"),
            Payment.amount_total.label("amount"),
            Payment.currency.label("currency"),
            Payment.provider.label("provider"),
            Payment.created_at.label("at"),
            Token.id.label("token_id"),
            Order.id.label("order_id"),
            func.coalesce(Order.customer_email, Token.customer_email).label("email"),
            Payment.problem.label("problem"),
            _session_refunded().label("refunded"),
        )
        .join(Token, Token.id == Payment.token_id)
        .outerjoin(Order, order_of_token)
        .where(access.scope(Resource.TOKEN, Action.LIST, Token), Payment.status.in_(SHOWN))
    )
    through_session = exists().where(
        Payment.token_id == Order.token_id,
        func.coalesce(Payment.payment_intent, Payment.id) == OrderPayment.id,
    )
    charges = (
        select(
            OrderPayment.id,
            _charge_status(),
            OrderPayment.amount,
            OrderPayment.currency,
            OrderPayment.provider,
            OrderPayment.created_at,
            Order.token_id,
            Order.id,
            Order.customer_email,
            OrderPayment.problem,
            OrderPayment.amount_refunded,
        )
        .join(Order, Order.id == OrderPayment.order_id)
        .where(access.scope(Resource.ORDER, Action.LIST, Order), ~through_session)
    )
    return union_all(sessions, charges)


def _session_refunded() -> ColumnElement[int]:
    """What of a session's money went back: all of it when the service refunded it (it came
    too late), else what its order refunded."""
    return case(
        (Payment.refund_id.is_not(None), Payment.amount_total),
        else_=func.coalesce(Order.amount_refunded, 0),
    )


def _session_status() -> ColumnElement[str]:
    refunded = _session_refunded()
    paid = Payment.status == TokenPaymentStatus.PAID
    return case(
        (paid & (refunded >= Payment.amount_total) & (refunded > 0), literal("refunded")),
        (paid & (refunded > 0), literal("partially_refunded")),
        else_=Payment.status,
    )


def _charge_status() -> ColumnElement[str]:
    # An order's charge speaks as a session does; money it could not apply is given back.
    refunded, amount = OrderPayment.amount_refunded, OrderPayment.amount
    succeeded = OrderPayment.status == OrderPaymentStatus.SUCCEEDED
    return case(
        (succeeded & (refunded >= amount) & (refunded > 0), literal("refunded")),
        (succeeded & (refunded > 0), literal("partially_refunded")),
        (succeeded, literal("paid")),
        (OrderPayment.status == OrderPaymentStatus.REFUNDED, literal("refunded")),
        else_=literal("refunding"),
    )


def _kept(c: Any, filters: SaleFilters) -> Sequence[ColumnElement[bool]]:
    kept: list[ColumnElement[bool]] = []
    if filters.status:
        kept.append(c.status == filters.status)
    if filters.provider:
        kept.append(c.provider == filters.provider)
    if filters.since:
        kept.append(c.at >= datetime.combine(filters.since, datetime.min.time(), UTC))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), datetime.min.time(), UTC)
        kept.append(c.at < end)
    q = filters.q.strip()
    if q:
        pattern = (
            "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        kept.append(
            or_(
                c.id == q,
                c.token_id == q,
                c.order_id == q,
                func.lower(c.email).like(pattern, escape="\\"),
            )
        )
    return kept


def _sale(row: Any) -> Sale:
    return Sale(**{name: row[name] for name in Sale.__dataclass_fields__})


def _next(last: Sale) -> str:
    text = f"{last.at.astimezone(UTC).isoformat()}|{last.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _cursor(text: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, sale_id = raw.split("|", 1)
        return datetime.fromisoformat(at), sale_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Malformed("invalid_cursor", "This page link is not valid.", field="after") from exc
