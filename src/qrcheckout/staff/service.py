"""Back-office accounts: invited, accepted with a password, signed in and out.

Passwords are kept as argon2 hashes (``argon2-cffi``), and a session and an invitation only as
the SHA-256 of their secret, so nothing in the database signs anyone in.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, select

from qrcheckout.access.models import Merchant
from qrcheckout.access.permissions import Access, Action, Resource
from qrcheckout.access.roles import Principal, Role
from qrcheckout.access.secrets import digest
from qrcheckout.db import Database, utcnow
from qrcheckout.errors import Conflict, Gone, Invalid, NotFound, Unauthenticated
from qrcheckout.inputs import Email
from qrcheckout.staff.models import StaffMember, StaffSession

log = logging.getLogger(__name__)

INVITE_PREFIX = "inv_"
SESSION_PREFIX = "sess_"
INVITE_LIFETIME = timedelta(days=7)
SESSION_LIFETIME = timedelta(hours=12)
HASHING_AT_ONCE = 4
MIN_PASSWORD = 10
MAX_PASSWORD = 256
_EMAIL = TypeAdapter(Email)


class StaffRole(StrEnum):
    OWNER = "owner"
    STAFF = "staff"


ROLE_OF = {StaffRole.OWNER: Role.OWNER, StaffRole.STAFF: Role.STAFF}


@dataclass(frozen=True)
class Invitation:
    """An account just invited: ``code`` (its link's) is shown this once and never stored."""

    member_id: str
    merchant_id: str
    email: str
    code: str


@dataclass(frozen=True)
class SignedIn:
    """Who a back-office session belongs to, and the principal the back office acts as."""

    member_id: str
    merchant_id: str
    #: The merchant's name, as its pages show it.
    shop_name: str
    email: str
    name: str
    role: StaffRole
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        return Principal(ROLE_OF[self.role], shop=self.merchant_id, merchant_id=self.merchant_id)

    @property
    def access(self) -> Access:
        return Access(self.principal)


class Staff:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.hasher = PasswordHasher()
        # argon2 takes 64 MiB a check: a burst of sign-ins waits here, not in memory.
        self._hashing = anyio.Semaphore(HASHING_AT_ONCE)
        # Checked against when no account matches, so a wrong email costs what a wrong password
        # does: the answer's timing does not tell which accounts exist.
        self._decoy: str | None = None

    # -- accounts ----------------------------------------------------------------------------

    async def invite(
        self, merchant_id: str, email: str, role: StaffRole, name: str = ""
    ) -> Invitation:
        """An account for ``email`` at a merchant, to be accepted through the code returned (the
        CLI, run by whoever runs the service; an owner goes through ``invite_by``). Inviting an
        account not yet accepted again gives it a new code."""
        address = _email(email)
        code = INVITE_PREFIX + secrets.token_urlsafe(24)
        async with self.db.transaction() as session:
            if await session.get(Merchant, merchant_id) is None:
                raise NotFound("merchant_not_found", f"No merchant {merchant_id!r}.")
            member = await session.scalar(
                select(StaffMember).where(
                    StaffMember.merchant_id == merchant_id, StaffMember.email == address
                )
            )
            if member is not None and member.removed_at is None and member.password_hash:
                raise Conflict("staff_exists", f"{address} already has an account here.")
            if member is None:
                member = StaffMember(
                    id="stf_" + secrets.token_hex(8), merchant_id=merchant_id, email=address
                )
                session.add(member)
            member.name = name.strip()[:200]
            member.role = role.value
            member.password_hash = None
            member.removed_at = None
            member.invite_digest = digest(code)
            member.invite_expires_at = utcnow() + INVITE_LIFETIME
        log.info("staff %s invited to merchant %s as %s", member.id, merchant_id, role.value)
        return Invitation(member.id, merchant_id, address, code)

    async def invite_by(
        self, access: Access, email: str, role: StaffRole, name: str = ""
    ) -> Invitation:
        access.grants(Resource.STAFF_MEMBER, Action.CREATE)
        merchant_id = access.shop_for_new(Resource.STAFF_MEMBER)
        return await self.invite(merchant_id, email, role, name)

    async def invited(self, code: str) -> StaffMember:
        """The account an invitation's code is for; refused when unknown, used or expired."""
        async with self.db.sessions() as session:
            member = await session.scalar(
                select(StaffMember).where(StaffMember.invite_digest == digest(code))
            )
        if member is None or member.removed_at is not None:
            raise NotFound("invitation_not_found", "This invitation is not valid (or was used).")
        if member.invite_expires_at is None or member.invite_expires_at <= utcnow():
            raise Gone("invitation_expired", "This invitation has expired; ask for a new one.")
        return member

    async def accept(self, code: str, password: str) -> StaffMember:
        """Set the invited account's password; the invitation works once."""
        hashed = await self._hash(password)
        invited = await self.invited(code)
        async with self.db.transaction() as session:
            member = await session.get(StaffMember, invited.id, with_for_update=True)
            if member is None or member.invite_digest != digest(code):
                raise NotFound(
                    "invitation_not_found", "This invitation is not valid (or was used)."
                )
            member.password_hash = hashed
            member.invite_digest = None
            member.invite_expires_at = None
        log.info("staff %s accepted the invitation to merchant %s", member.id, member.merchant_id)
        return member

    async def members(self, access: Access) -> list[StaffMember]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(StaffMember)
                .where(
                    access.scope(Resource.STAFF_MEMBER, Action.LIST, StaffMember),
                    StaffMember.removed_at.is_(None),
                )
                .order_by(StaffMember.created_at, StaffMember.id)
            )
            return list(rows)

    async def remove(self, access: Access, member_id: str) -> StaffMember:
        """Take an account out of the back office: it signs in no more, its sessions end. A
        shop keeps one owner who can sign in."""
        async with self.db.transaction() as session:
            member = await session.get(StaffMember, member_id)
            if member is None or member.removed_at is not None:
                raise NotFound("staff_member_not_found", "No such staff member.")
            access.check(Resource.STAFF_MEMBER, Action.CANCEL, member)
            # Every account of the merchant locked, in one order: two owners removing each
            # other at once (on two instances) cannot both see the other one left.
            staff = list(
                await session.scalars(
                    select(StaffMember)
                    .where(StaffMember.merchant_id == member.merchant_id)
                    .order_by(StaffMember.id)
                    .with_for_update()
                )
            )
            member = next(m for m in staff if m.id == member_id)
            if member.removed_at is not None:
                raise NotFound("staff_member_not_found", "No such staff member.")
            owners = {
                m.id
                for m in staff
                if m.role == StaffRole.OWNER and m.removed_at is None and m.password_hash
            }
            if member.role == StaffRole.OWNER and owners <= {member.id}:
                raise Conflict("last_owner", "A shop keeps at least one owner.")
            member.removed_at = utcnow()
            member.password_hash = None
            member.invite_digest = None
            await session.execute(delete(StaffSession).where(StaffSession.staff_id == member.id))
        log.info("staff %s removed from merchant %s", member.id, member.merchant_id)
        return member

    # -- sessions ----------------------------------------------------------------------------

    async def sign_in(self, merchant_id: str, email: str, password: str) -> tuple[str, SignedIn]:
        """A new session's secret (for its cookie) and who it is; one refusal for every wrong
        email or password, so that it tells nothing of which was wrong."""
        refused = Unauthenticated("invalid_credentials", "Wrong email or password.")
        try:
            address = _email(email)
        except Invalid:
            address = ""
        async with self.db.sessions() as session:
            member = await session.scalar(
                select(StaffMember).where(
                    StaffMember.merchant_id == merchant_id,
                    StaffMember.email == address,
                    StaffMember.removed_at.is_(None),
                )
            )
        kept = member.password_hash if member is not None else None
        matches = await self._verify(kept or await self._decoy_hash(), password[:MAX_PASSWORD])
        if kept is None or not matches:
            raise refused
        assert member is not None  # kept is its hash
        secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        rehash = self.hasher.check_needs_rehash(kept)
        new_hash = await self._hash(password) if rehash else None
        async with self.db.transaction() as session:
            session.add(
                StaffSession(
                    digest=digest(secret),
                    staff_id=member.id,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                )
            )
            current = await session.get(StaffMember, member.id)
            if current is None or current.removed_at is not None:
                raise refused
            current.last_sign_in_at = now
            if new_hash is not None:
                current.password_hash = new_hash
        log.info("staff %s signed in to merchant %s", member.id, merchant_id)
        return secret, _signed_in(member, now + SESSION_LIFETIME)

    async def session(self, secret: str) -> SignedIn | None:
        """Who a session cookie signs in; None when it is unknown, ended or expired."""
        if not secret.startswith(SESSION_PREFIX) or len(secret) > 100:
            return None
        async with self.db.sessions() as session:
            found = (
                await session.execute(
                    select(StaffSession, StaffMember, Merchant.name)
                    .join(StaffMember, StaffMember.id == StaffSession.staff_id)
                    .join(Merchant, Merchant.id == StaffMember.merchant_id)
                    .where(StaffSession.digest == digest(secret))
                )
            ).first()
        if found is None:
            return None
        kept, member, shop = found
        if kept.expires_at <= utcnow() or member.removed_at is not None:
            return None
        return _signed_in(member, kept.expires_at, shop)

    async def sign_out(self, secret: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(StaffSession).where(StaffSession.digest == digest(secret)))

    async def forget_expired(self) -> int:
        """Drop sessions past their end (a job): they sign nobody in already."""
        async with self.db.transaction() as session:
            done = await session.execute(
                delete(StaffSession).where(StaffSession.expires_at <= utcnow())
            )
        return int(getattr(done, "rowcount", 0) or 0)

    # -- passwords ---------------------------------------------------------------------------

    async def _decoy_hash(self) -> str:
        """A hash no password matches, made at the first sign-in that needs it (not at start:
        every instance and command would pay for it)."""
        if self._decoy is None:
            self._decoy = await self._hash(secrets.token_urlsafe(16))
        return self._decoy

    async def _hash(self, password: str) -> str:
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise Invalid(
                "invalid_password",
                f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
                field="password",
            )
        # argon2 is slow on purpose; a worker thread keeps the event loop free meanwhile.
        async with self._hashing:
            return await anyio.to_thread.run_sync(self.hasher.hash, password)

    async def _verify(self, hashed: str, password: str) -> bool:
        def check() -> bool:
            try:
                return self.hasher.verify(hashed, password)
            except (VerificationError, InvalidHashError):
                return False

        async with self._hashing:
            return await anyio.to_thread.run_sync(check)


def account_key(merchant_id: str, email: str) -> str:
    """What sign-in attempts are counted under: the account the email would sign in to, however
    it is written (``Ann <ANN@example.com>``, a full-width letter), or the text itself."""
    try:
        address = _email(email)
    except Invalid:
        address = email.strip().lower()
    return f"{merchant_id}:{address}"


def _email(text: str) -> str:
    try:
        return str(_EMAIL.validate_python(text.strip()))
    except ValidationError as exc:
        raise Invalid(
            "invalid_email", f"{text[:100]!r} is not an email address.", field="email"
        ) from exc


def _signed_in(member: StaffMember, expires_at: datetime, shop: str = "") -> SignedIn:
    return SignedIn(
        member_id=member.id,
        merchant_id=member.merchant_id,
        shop_name=shop or member.merchant_id,
        email=member.email,
        name=member.name,
        role=StaffRole(member.role),
        expires_at=expires_at,
    )
