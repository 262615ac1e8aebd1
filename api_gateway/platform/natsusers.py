"""The platform broker's users, generated from the platform clients (`NOL_PLATFORM_NATS_AUTH_FILE`).

Each enabled client whose secret has a NATS hash (set when it is created or its secret rotated) may
connect as `<client_id>` with its client secret and subscribe only to its area's subjects
(`platform.61.6109.610928.>` for a county); it may publish nothing. The feed connects as the user of
`NOL_PLATFORM_NATS_URL` and may only publish `platform.>`. The file is rewritten when that changes and
the server reloads it (SIGHUP to the pid in `NOL_PLATFORM_NATS_PID_FILE`; in compose a watcher does).
"""

import asyncio
import contextlib
import re
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.clients.models import ApiClient
from services.contracts.platform import scope_subject
from services.kit import natsauth
from services.kit.settings import Settings
from services.kit.tasks import stop_if_cancelled

log = structlog.get_logger()


class NatsUserSync:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]):
        self.settings, self.sessionmaker = settings, sessionmaker
        self.feed_hash: str | None = None
        self.changed = asyncio.Event()

    def feed_credentials(self) -> tuple[str, str] | None:
        url = (self.settings.platform_nats_url or "").split(",")[0].strip()
        parts = urlsplit(url) if url else None
        if parts is None or not parts.username or not parts.password:
            return None
        return unquote(parts.username), unquote(parts.password)

    async def _feed_hash(self, password: str) -> str:
        """The feed user's hash: the one already in the file when it still matches (no needless reload)."""
        if self.feed_hash is None:
            path = self.settings.platform_nats_auth_file
            old = None
            with contextlib.suppress(OSError):
                found = re.search(
                    r'password: "(\$2[aby]\$[^"]+)", permissions: \{publish: \{allow: \["'
                    + re.escape(self.settings.platform_subject_prefix),
                    path.read_text(),
                )
                old = found.group(1) if found else None
            if old and await anyio.to_thread.run_sync(natsauth.password_matches, password, old):
                self.feed_hash = old
            else:
                self.feed_hash = await anyio.to_thread.run_sync(natsauth.hash_password, password)
        return self.feed_hash

    async def users(self) -> list[natsauth.NatsUser]:
        prefix = self.settings.platform_subject_prefix
        async with self.sessionmaker() as session:
            stmt = select(ApiClient).where(
                ApiClient.disabled.is_(False), ApiClient.nats_password_hash.is_not(None)
            )
            clients = (await session.exec(stmt)).all()
        users = [
            natsauth.NatsUser(
                c.client_id, c.nats_password_hash, subscribe=[scope_subject(c.area_code, prefix)]
            )
            for c in clients
        ]
        if creds := self.feed_credentials():
            users.append(
                natsauth.NatsUser(creds[0], await self._feed_hash(creds[1]), publish=[f"{prefix}.>"])
            )
        return users

    async def sync(self) -> bool:
        """Write the file if the users changed, and have the server reload it; return whether it did."""
        path = self.settings.platform_nats_auth_file
        assert path is not None
        text = natsauth.render(await self.users())
        if not await anyio.to_thread.run_sync(natsauth.write_if_changed, path, text):
            return False
        natsauth.reload(self.settings.platform_nats_pid_file)
        log.info("platform nats users written", path=str(path))
        return True

    async def run(self, every: float = 2.0) -> None:
        while True:
            stop_if_cancelled()
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("platform nats users not written", error=repr(exc))
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=every)
