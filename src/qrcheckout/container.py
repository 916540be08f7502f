"""The services of one running app, built once from settings and handed to routes through
``qrcheckout.http.deps``: the one place that knows who uses whom."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from qrcheckout import migrations
from qrcheckout.access.buyers import JWTVerifier
from qrcheckout.access.models import DEFAULT_MERCHANT
from qrcheckout.access.service import Merchants
from qrcheckout.catalog.service import Catalog
from qrcheckout.checkout.service import CheckoutService
from qrcheckout.checkout.sessions import HostedSessions
from qrcheckout.config import Settings
from qrcheckout.connect.service import Fees, Links
from qrcheckout.db import Database
from qrcheckout.mail import Mailer
from qrcheckout.notifications.receipts import ReceiptMail
from qrcheckout.notifications.service import Notifier
from qrcheckout.orders.payments import OrderPayments
from qrcheckout.orders.service import OrderService, owner_of
from qrcheckout.payments import events
from qrcheckout.payments.providers import Providers
from qrcheckout.ratelimit import RateLimiter
from qrcheckout.realtime.bus import Bus, create_bus
from qrcheckout.staff.service import Staff
from qrcheckout.unit import UnitOfWork
from qrcheckout.webhooks.service import WebhookIntake

# What a job does, the job, and how many seconds between its runs.
Job = tuple[str, Callable[[], Awaitable[object]], float]


@dataclass
class Container:
    settings: Settings
    db: Database
    bus: Bus
    providers: Providers
    jwt: JWTVerifier
    merchants: Merchants
    staff: Staff
    links: Links
    units: UnitOfWork
    catalog: Catalog
    tokens: CheckoutService
    sessions: HostedSessions
    notifier: Notifier
    orders: OrderService
    order_payments: OrderPayments
    #: One intake per provider, by its name.
    webhooks: dict[str, WebhookIntake]
    limiter: RateLimiter
    #: Sends buyers their receipts; None without an SMTP server.
    receipts: ReceiptMail | None = None

    @classmethod
    async def start(
        cls, settings: Settings, providers: Providers, merchant_secret: str
    ) -> Container:
        """Open the database (migrated and seeded as configured) and the bus, and wire the
        services on them. ``providers`` holds Stripe's (hosted sessions and Connect speak
        Stripe's API), first: the default."""
        db = Database(settings.database_url)
        if settings.auto_migrate:
            await migrations.upgrade(db)
        merchants = Merchants(db, private_webhooks_ok=settings.merchant_webhooks_private_ok)
        await merchants.ensure_default(settings.business_name, settings.api_key, settings.admin_key)
        catalog = Catalog(db)
        if settings.seed_demo_catalog:
            await catalog.seed_demo(DEFAULT_MERCHANT)
        bus = create_bus(settings.bus_url)
        await bus.start()
        units = UnitOfWork(db, bus)
        stripe = providers["stripe"]
        links = Links(
            db,
            stripe,
            client_id=settings.connect_client_id,
            public_url=settings.public_url,
            fees=Fees(settings.platform_fee_bps, settings.platform_fee_fixed),
            platform_publishable_key=settings.stripe_publishable_key,
        )
        tokens = CheckoutService(db, units, providers, settings, links)
        notifier = Notifier(
            db,
            settings.merchant_webhook_targets,
            merchant_secret,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            max_attempts=settings.webhook_max_attempts,
            private_ok=settings.merchant_webhooks_private_ok,
        )
        orders = OrderService(db, units, tokens, notifier, settings)
        container = cls(
            settings=settings,
            db=db,
            bus=bus,
            providers=providers,
            jwt=JWTVerifier(settings),
            merchants=merchants,
            staff=Staff(db),
            links=links,
            units=units,
            catalog=catalog,
            tokens=tokens,
            sessions=HostedSessions(db, stripe, settings.public_url + "/", links),
            notifier=notifier,
            orders=orders,
            order_payments=OrderPayments(db, units, providers, orders),
            webhooks={name: WebhookIntake(db, units, p) for name, p in providers.items()},
            limiter=RateLimiter.from_settings(settings),
            receipts=(
                ReceiptMail(
                    db,
                    Mailer(settings.smtp_url, settings.mail_from),
                    settings.public_url,
                    settings.mail_retry_base_seconds,
                )
                if settings.smtp_url
                else None
            ),
        )
        container._route_webhooks()
        await notifier.start()
        return container

    def _route_webhooks(self) -> None:
        # Every provider's changes reach the same handlers: the domain knows no provider.
        tokens, ledger = self.tokens, self.orders.ledger
        for intake in self.webhooks.values():
            # Tokens first: an order's token settles in the same transaction as the order.
            for change in (
                events.CheckoutApproved,
                events.CheckoutPaid,
                events.CheckoutProcessing,
                events.CheckoutFailed,
                events.CheckoutExpired,
            ):
                intake.on(change, tokens.on_checkout_event)
            intake.on(events.PaymentDeclined, tokens.on_payment_declined)
            intake.on(events.CheckoutPaid, ledger.on_checkout_paid)
            intake.on(events.ChargeSucceeded, ledger.on_charge_succeeded)
            intake.on(events.ChargeRefunded, ledger.on_charge_refunded)
            intake.on(events.RefundChanged, ledger.on_refund_changed)
            intake.on(events.AccountUnlinked, self.links.on_unlinked)
            # Once the approval is stored and committed, the money is taken.
            intake.then(events.CheckoutApproved, tokens.complete)
            intake.owner_of = owner_of
        tokens.settle = self._settle

    async def _settle(self, change: events.CheckoutEvent) -> None:
        """Apply a change the service learnt by asking its provider, as its webhook would."""
        await self.webhooks[change.provider].apply(change)

    def jobs(self) -> list[Job]:
        """What runs while the app is up: expiry at a watched page's pace, the rest (work owed
        after a failure, a restart or a payment) less often."""
        expiry = self.settings.expiry_interval_seconds
        catch_up = self.settings.catch_up_interval_seconds
        owed: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("completing approved payments", self.tokens.complete_approved),
            ("refunding", self.order_payments.refund_unapplied),
            ("refunding late token payments", self.order_payments.refund_late_token_payments),
            ("forgetting ended back-office sessions", self.staff.forget_expired),
            *((("emailing receipts", self.receipts.send_due),) if self.receipts else ()),
            *(
                (f"replaying {name} events", intake.replay_stored)
                for name, intake in self.webhooks.items()
            ),
        ]
        return [
            ("expiring tokens", self.tokens.expire_due, expiry),
            ("expiring orders", self.orders.expire_due, expiry),
            *((what, job, catch_up) for what, job in owed),
        ]

    async def stop(self) -> None:
        """Close what ``start`` opened (the provider belongs to whoever made it)."""
        await self.notifier.stop()
        await self.bus.stop()
        await self.limiter.close()
        await self.db.dispose()
