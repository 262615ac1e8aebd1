"""Logins, client credentials, refresh-token rotation (with reuse detection) and logout."""

import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.audit.chain import AuditEntry, append_audit
from api_gateway.auth.models import RefreshToken
from api_gateway.auth.revocations import revoke_sessions
from api_gateway.auth.schemas import TokenResponse
from api_gateway.auth.throttle import clear_pair, record_failure, wait_seconds
from api_gateway.clients.models import ApiClient
from api_gateway.db import now
from api_gateway.keys import KeyRing
from api_gateway.passwords import verify_password
from api_gateway.tokens import (
    hash_secret,
    issue_access_token,
    new_refresh_token,
    open_successor,
    seal_successor,
)
from api_gateway.users.models import UserAccount
from services.kit.auth import Role
from services.kit.errors import RateLimited, Unauthorized
from services.kit.settings import Settings

LOGIN_PATH = "/api/v1/auth/token"
BAD_LOGIN = "Invalid username or password"


@dataclass(frozen=True, slots=True)
class Issuer:
    """What issuing tokens needs: settings, keys, and the request id for the audit log."""

    settings: Settings
    keyring: KeyRing
    request_id: str | None = None
    client_ip: str = "unknown"


async def _audit_login(session: AsyncSession, issuer: Issuer, *, actor: str, role: str,
                       area_code: str, ok: bool, status: int) -> None:
    await append_audit(session, AuditEntry(
        actor=actor[:64], actor_role=role, actor_area_code=area_code,
        action="login" if ok else "login_failed", method="POST", path=LOGIN_PATH, status=status,
        target_type="auth", target_id=actor[:128], request_id=issuer.request_id))


async def _fail(session: AsyncSession, error: Exception) -> NoReturn:
    # Commit before raising: the failure count and the audit entry must survive the
    # rollback the session dependency does on error.
    await session.commit()
    raise error


async def _issue_for_user(session: AsyncSession, issuer: Issuer, user: UserAccount,
                          *, family_id: uuid.UUID | None = None) -> TokenResponse:
    family_id = family_id or uuid.uuid4()  # the login session: every token rotated from it
    token, expires_in = issue_access_token(
        issuer.keyring, issuer.settings, sub=str(user.id), username=user.username, role=user.role,
        area_code=user.area_code, school_code=user.school_code, sid=str(family_id))
    refresh, refresh_hash = new_refresh_token()
    session.add(RefreshToken(
        token_hash=refresh_hash, family_id=family_id, user_id=user.id,
        expires_at=now() + timedelta(days=issuer.settings.refresh_token_days)))
    await session.flush()
    return TokenResponse(access_token=token, expires_in=expires_in, refresh_token=refresh)


async def _refuse_login(session: AsyncSession, issuer: Issuer, user: UserAccount | None,
                        error: Exception, *, actor: str) -> NoReturn:
    status = 429 if isinstance(error, RateLimited) else 401
    # An unknown username has no area: file it under the bootstrap admin's (the deployment's), so a
    # deployment-wide auditor sees guessing at names that do not exist.
    role, area = (user.role, user.area_code) if user else ("", issuer.settings.admin_area or "")
    await _audit_login(session, issuer, actor=actor, role=role, area_code=area, ok=False,
                       status=status)
    await _fail(session, error)


async def password_login(session: AsyncSession, issuer: Issuer, *, username: str, password: str,
                         ) -> TokenResponse:
    """Check a username and password; throttle failures per username and client IP (auth.throttle).

    Unknown and known usernames get the same answers: the same 401, and the same 429 once throttled.
    """
    ip = issuer.client_ip
    if wait := await wait_seconds(session, username=username, ip=ip):
        user = (await session.exec(select(UserAccount).where(UserAccount.username == username))).one_or_none()
        await _refuse_login(session, issuer, user, RateLimited(
            f"Too many failed logins; try again in {wait} s", headers={"Retry-After": str(wait)}),
            actor=username)
    stmt = select(UserAccount).where(UserAccount.username == username).with_for_update()
    user = (await session.exec(stmt)).one_or_none()
    if user is None:
        await verify_password(password, None)  # same cost as a real check
        valid, new_hash = False, None
    else:
        valid, new_hash = await verify_password(password, user.password_hash)
    if not valid:
        await record_failure(session, username=username, ip=ip)
        await _refuse_login(session, issuer, user, Unauthorized(BAD_LOGIN), actor=username)
    if user.disabled:
        await _refuse_login(session, issuer, user, Unauthorized("Account disabled"),
                            actor=user.username)
    await clear_pair(session, username=username, ip=ip)
    user.failed_logins, user.locked_until = 0, None
    user.password_hash = new_hash or user.password_hash
    session.add(user)
    await _audit_login(session, issuer, actor=user.username, role=user.role,
                       area_code=user.area_code, ok=True, status=200)
    return await _issue_for_user(session, issuer, user)


async def client_login(session: AsyncSession, issuer: Issuer, *, client_id: str,
                       client_secret: str) -> TokenResponse:
    """Check client credentials; platform clients get an access token only."""
    stmt = select(ApiClient).where(ApiClient.client_id == client_id)
    client = (await session.exec(stmt)).one_or_none()
    expected = client.secret_hash if client else hash_secret("")
    given = hash_secret(client_secret)
    # After a rotation the previous secret works until its grace period ends (api_gateway.platform).
    previous = client.previous_secret_hash if client and client.previous_secret_until \
        and client.previous_secret_until > now() else None
    matches = hmac.compare_digest(expected, given) | bool(previous and hmac.compare_digest(previous, given))
    if client is None or client.disabled or not matches:
        area = client.area_code if client else ""
        await _audit_login(session, issuer, actor=client_id, role=Role.platform, area_code=area,
                           ok=False, status=401)
        await _fail(session, Unauthorized("Invalid client credentials"))
    await _audit_login(session, issuer, actor=client.client_id, role=Role.platform,
                       area_code=client.area_code, ok=True, status=200)
    token, expires_in = issue_access_token(
        issuer.keyring, issuer.settings, sub=client.client_id, username=client.client_id,
        role=Role.platform, area_code=client.area_code, school_code=None,
        sid=str(client.token_session))
    return TokenResponse(access_token=token, expires_in=expires_in)


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID, *, reason: str) -> None:
    """End a login: its refresh tokens, and (through the revocation list) its access tokens."""
    await session.exec(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now()))
    await revoke_sessions(session, [family_id], reason=reason)


async def _retried(session: AsyncSession, issuer: Issuer, row: RefreshToken,
                   refresh_token: str) -> TokenResponse | None:
    """The pair a token was rotated into, if it is presented again within the grace period (its
    answer lost on a weak network) and that pair is still unused; else None (reuse)."""
    grace = timedelta(seconds=issuer.settings.refresh_grace_seconds)
    if row.used_at is None or row.successor_sealed is None or now() - row.used_at > grace:
        return None
    opened = open_successor(refresh_token, row.successor_sealed, row_id=row.id)
    if opened is None:
        return None
    pair = TokenResponse.model_validate_json(opened)
    stmt = select(RefreshToken).where(RefreshToken.token_hash == hash_secret(pair.refresh_token or ""))
    successor = (await session.exec(stmt)).one_or_none()
    if successor is None or successor.used_at is not None or successor.revoked_at is not None:
        return None  # already rotated on: this copy is not a lost answer's retry
    elapsed = int((now() - row.used_at).total_seconds())
    return pair.model_copy(update={"expires_in": max(1, pair.expires_in - elapsed)})


async def refresh(session: AsyncSession, issuer: Issuer, *, refresh_token: str) -> TokenResponse:
    """Rotate a refresh token; a reused one revokes its whole family.

    Presented again within `refresh_grace_seconds` of its first use, while the new refresh token is
    unused, it answers the same new pair (the client's retry of an answer it never got).
    """
    stmt = select(RefreshToken).where(RefreshToken.token_hash == hash_secret(refresh_token))
    row = (await session.exec(stmt.with_for_update())).one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now():
        raise Unauthorized("Invalid refresh token")
    if (retried := await _retried(session, issuer, row, refresh_token)) is not None:
        return retried
    if row.used_at is not None:
        # Someone replayed a rotated token: either copy may be the thief's, so end both.
        await _revoke_family(session, row.family_id, reason="refresh_reused")
        await _fail(session, Unauthorized("Refresh token reused; please log in again"))
    user = await session.get(UserAccount, row.user_id)
    if user is None or user.disabled:
        await _revoke_family(session, row.family_id, reason="disabled")
        await _fail(session, Unauthorized("Account disabled"))
    row.used_at = now()
    pair = await _issue_for_user(session, issuer, user, family_id=row.family_id)
    row.successor_sealed = seal_successor(refresh_token, pair.model_dump_json().encode(), row_id=row.id)
    session.add(row)
    return pair


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """End the login of a refresh token: its refresh and access tokens (unknown tokens are ignored)."""
    stmt = select(RefreshToken.family_id).where(
        RefreshToken.token_hash == hash_secret(refresh_token))
    family_id = (await session.exec(stmt)).one_or_none()
    if family_id is not None:
        await _revoke_family(session, family_id, reason="logout")
