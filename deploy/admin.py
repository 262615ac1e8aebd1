"""The operators' command line: `python -m deploy.admin <area> <command>`.

    users reset-password USERNAME [--password-stdin | --generate]
        Set a new password (prompted twice unless given on stdin or generated), unlock the account
        and end every login it has (refresh tokens and, within seconds, its access tokens); the
        reset is written to the audit chain as `user.password_reset` by `cli:<operator>`.
    events replay SERVICE (--dead-letter ID ... | --all-open) [--consumer NAME]
        Apply dead letters again through their consumer and inbox, as
        `POST /api/v1/ops/dead-letters/{id}/replay` does, without a running service.
    events replay SERVICE --consumer NAME --from-seq N [--to-seq M]
        Read the stream from sequence N (to M) and apply every event on the consumer's subjects its
        inbox has not seen (a restored projection catching up); applied ones are skipped (the inbox).
    keys rotate [--dry-run]
        Make a new Ed25519 key for tokens and for the gateway's own calls to services (ops, tasks:
        the v1 form of kit.gateway_trust). Forwarded requests carry an HMAC under each service's hop
        key (v2), which this leaves alone. The old public key stays verifiable under keys/previous/
        until its tokens expire. Restart the gateway after it.
    keys list
        Show the current key id and the previous ones still accepted.
    keys hop
        Print each service's own key of the gateway's request MACs (`HOP_KEY_<SERVICE>=…`, for
        docker/.env), derived from the gateway's NOL_HOP_SECRET (RUNBOOK.md "Rotate keys").

The database is NOL_DATABASE_URL (or the embedded server of `make run` under NOL_DATA_DIR); the
event stream NOL_NATS_URL. Exit status 0 on success, 1 when something failed, 2 on bad usage.
"""

import argparse
import asyncio
import base64
import getpass
import importlib
import os
import secrets
import string
import sys
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from services.kit.settings import SERVICES, Settings, get_settings


def _operator() -> str:
    try:
        who = getpass.getuser()
    except Exception:
        who = "unknown"
    return f"cli:{who}"[:64]


def _settings(settings: Settings | None = None, *, database: bool = True) -> Settings:
    if settings is not None:
        return settings
    settings = get_settings()
    if database and not settings.database_url:
        from deploy.embedded import EmbeddedPostgres

        # Embedded mode: the launcher's server under NOL_DATA_DIR, reused if it is already running.
        os.environ["NOL_DATABASE_URL"] = EmbeddedPostgres(settings.data_dir).start()
        get_settings.cache_clear()
        settings = get_settings()
    return settings


# users ------------------------------------------------------------------------------------------


def generate_password() -> str:
    """Return a random password that meets the strength rule (upper, lower, digits; 16 characters)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(16))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """Return the new password and whether it was generated (then it is printed once)."""
    if args.generate:
        return generate_password(), True
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("the passwords differ")
    return first, False


async def reset_password(
    username: str, password: str, *, operator: str | None = None, settings: Settings | None = None
) -> None:
    """Set a user's password, unlock it, end its logins and audit the reset (one transaction)."""
    from sqlmodel import select

    from api_gateway.audit.chain import AuditEntry, append_audit
    from api_gateway.auth.throttle import clear_locks
    from api_gateway.passwords import hash_password, password_problem
    from api_gateway.users.models import UserAccount
    from api_gateway.users.service import revoke_refresh_tokens
    from services.kit.db import make_engine, service_url, sessionmaker_for

    if problem := password_problem(password):
        raise ValueError(f"the password {problem}")
    settings = _settings(settings)
    engine = make_engine(service_url(settings, "gateway"), pool_size=1, application_name="nol-admin")
    try:
        async with sessionmaker_for(engine, walled=False)() as session, session.begin():
            query = select(UserAccount).where(UserAccount.username == username).with_for_update()
            user = (await session.exec(query)).one_or_none()
            if user is None:
                raise LookupError(f"no user {username!r}")
            user.password_hash = await hash_password(password)
            user.failed_logins, user.locked_until = 0, None
            user.version += 1
            user.updated_at = datetime.now(UTC)
            session.add(user)
            await clear_locks(session, username=username)
            await revoke_refresh_tokens(session, user_id=user.id, reason="password_changed")
            entry = AuditEntry(
                actor=operator or _operator(), actor_role="operator", actor_area_code="",
                action="user.password_reset", method="CLI", path="deploy.admin users reset-password",
                status=200, target_type="user", target_id=str(user.id),
            )  # fmt: skip
            await append_audit(session, entry)
    finally:
        await engine.dispose()


# events -----------------------------------------------------------------------------------------


async def _service_app(service: str, settings: Settings) -> Any:
    """A stand-in for the service's app: what kit.ops needs (spec, sessions, settings)."""
    from services.kit.db import make_engine, service_url, sessionmaker_for

    spec = importlib.import_module(f"services.{service}.main").SPEC
    engine = make_engine(service_url(settings, service), pool_size=2, application_name="nol-admin")
    state = SimpleNamespace(
        spec=spec, settings=settings, engine=engine, consumers={}, sessionmaker=sessionmaker_for(engine)
    )
    return SimpleNamespace(state=state)


async def replay_dead_letters(
    service: str,
    *,
    letters: list[str],
    all_open: bool,
    consumer: str | None,
    operator: str | None = None,
    settings: Settings | None = None,
) -> list[tuple[str, str]]:
    """Replay dead letters of a service; return (id, outcome) for each."""
    from services.kit import ops
    from services.kit.errors import AppError

    settings = _settings(settings)
    app = await _service_app(service, settings)
    who = SimpleNamespace(username=operator or _operator())
    outcomes: list[tuple[str, str]] = []
    try:
        if all_open:
            rows = await ops.list_letters(app, status="open", consumer=consumer, limit=500)
            letters = [row["id"] for row in rows]
        for letter in letters:
            try:
                done = await ops.replay_letter(app, who, letter_id=letter)
                outcomes.append((done["id"], done["status"]))
            except AppError as exc:
                outcomes.append((letter, f"failed: {exc.detail}"))
    finally:
        await app.state.engine.dispose()
    return outcomes


async def replay_stream(
    service: str, *, consumer: str, from_seq: int, to_seq: int | None, settings: Settings | None = None
) -> dict[str, int]:
    """Apply the stream's events from a sequence on to one consumer, each at most once (its inbox)."""
    from services.kit import nats as kit_nats
    from services.kit import rls
    from services.kit.consumer import Consumer, subject_matches

    settings = _settings(settings)
    if not settings.nats_url:
        raise ValueError("NOL_NATS_URL must name the event stream's server")
    app = await _service_app(service, settings)
    spec = app.state.spec
    sub = next((s for s in spec.subscriptions if s.name == consumer), None)
    if sub is None:
        names = ", ".join(s.name for s in spec.subscriptions) or "none"
        raise LookupError(f"{service} has no consumer {consumer!r} (it has: {names})")
    nc = await kit_nats.connect(settings, name="nol-admin")
    counts = {"read": 0, "applied": 0, "skipped": 0, "failed": 0}
    try:
        js = nc.jetstream()
        applier = Consumer(
            name=consumer, subjects=sub.subjects, handler=sub.handler, parse=spec.parse, inbox=spec.inbox,
            sessionmaker=app.state.sessionmaker, js=js, settings=settings,
        )  # fmt: skip
        info = await js.stream_info(settings.stream)
        last = min(to_seq or info.state.last_seq, info.state.last_seq)
        seq = max(from_seq, info.state.first_seq)
        while seq <= last:
            try:
                msg = await js.get_msg(settings.stream, seq=seq)
            except Exception:  # deleted or purged: nothing to apply at this sequence
                seq += 1
                continue
            seq = (msg.seq or seq) + 1
            if not any(subject_matches(msg.subject, s) for s in applier.subjects):
                continue
            counts["read"] += 1
            try:
                with rls.acting_as(rls.SYSTEM):  # a consumer's work, on every row (kit.rls)
                    applied = await applier.apply(spec.parse(msg.data))
            except Exception as exc:
                counts["failed"] += 1
                print(f"  seq {msg.seq}: failed: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
                continue
            counts["applied" if applied else "skipped"] += 1
    finally:
        await nc.close()
        await app.state.engine.dispose()
    return counts


# keys -------------------------------------------------------------------------------------------


def rotate_keys(settings: Settings, *, dry_run: bool = False) -> dict[str, str]:
    """Replace the signing key; keep the old public half under keys/previous/ (verifiable until expiry).

    With the key in the data dir (`keys/jwt_ed25519.pem`) the file is replaced. With NOL_JWT_PRIVATE_KEY
    the new PEM is written beside it as `keys/jwt_ed25519.next.pem` for the operator to put in the
    environment (the CLI cannot change a container's variables).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from api_gateway.keys import KEY_FILE, load_keyring, public_jwk

    current = load_keyring(settings)
    folder = settings.data_dir / "keys"
    previous = folder / "previous"
    new_key = Ed25519PrivateKey.generate()
    new_kid = public_jwk(new_key.public_key())["kid"]
    result = {"previous_kid": current.kid, "new_kid": new_kid}
    if dry_run:
        return result
    previous.mkdir(parents=True, exist_ok=True, mode=0o700)
    old_public = current.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (previous / f"{current.kid}.pub.pem").write_bytes(old_public)
    pem = new_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    target = folder / (KEY_FILE if not settings.jwt_private_key else "jwt_ed25519.next.pem")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    result["written"] = str(target)
    return result


def hop_keys(settings: Settings) -> list[str]:
    """`HOP_KEY_<SERVICE>=<base64>` for each service: its NOL_HOP_KEY, from the gateway's hop secret."""
    from services.kit.gateway_trust import hop_key

    if not settings.hop_secret:
        raise ValueError("set NOL_HOP_SECRET (the gateway's) to derive the services' keys from it")
    return [f"HOP_KEY_{s.upper()}={base64.b64encode(hop_key(settings, s)).decode()}" for s in SERVICES]


def list_keys(settings: Settings) -> list[str]:
    from api_gateway.keys import load_keyring

    ring = load_keyring(settings)
    return [f"{k['kid']}  ({'current' if k['kid'] == ring.kid else 'previous'})" for k in ring.public_keys]


# command line -----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m deploy.admin", description=__doc__.split("\n\n")[0])
    areas = top.add_subparsers(dest="area", required=True)

    users = areas.add_parser("users", help="people who log in").add_subparsers(dest="command", required=True)
    reset = users.add_parser("reset-password", help="set a new password, unlock, end every login")
    reset.add_argument("username")
    how = reset.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the new password from stdin")
    how.add_argument("--generate", action="store_true", help="make a random one and print it once")

    events = areas.add_parser("events", help="the event stream").add_subparsers(dest="command", required=True)
    replay = events.add_parser("replay", help="apply dead letters, or the stream from a sequence, again")
    replay.add_argument("service", choices=SERVICES)
    replay.add_argument(
        "--dead-letter",
        action="append",
        default=[],
        metavar="ID",
        help="`<service>-<n>` as GET /api/v1/ops/dead-letters lists it (repeatable)",
    )
    replay.add_argument("--all-open", action="store_true", help="every open dead letter (of --consumer)")
    replay.add_argument("--consumer", help="the durable consumer (required with --from-seq)")
    replay.add_argument("--from-seq", type=int, help="stream sequence to start at")
    replay.add_argument("--to-seq", type=int, help="last stream sequence (default: the stream's last)")

    keys = areas.add_parser("keys", help="token and request signing keys").add_subparsers(
        dest="command", required=True
    )
    rotate = keys.add_parser("rotate", help="make a new signing key; the old one stays verifiable")
    rotate.add_argument("--dry-run", action="store_true")
    keys.add_parser("list", help="the current and previous key ids")
    keys.add_parser("hop", help="each service's key of the gateway's request MACs, from NOL_HOP_SECRET")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.area == "users":
            password, generated = _read_password(args)
            asyncio.run(reset_password(args.username, password))
            print(f"password of {args.username} reset; its logins are ended")
            if generated:
                print(f"new password: {password}")
        elif args.area == "events":
            if args.from_seq is not None:
                if not args.consumer:
                    print("--from-seq needs --consumer", file=sys.stderr)
                    return 2
                counts = asyncio.run(
                    replay_stream(
                        args.service, consumer=args.consumer, from_seq=args.from_seq, to_seq=args.to_seq
                    )
                )
                print(" ".join(f"{k}={v}" for k, v in counts.items()))
                return 1 if counts["failed"] else 0
            if not args.dead_letter and not args.all_open:
                print("name --dead-letter ID, --all-open or --from-seq", file=sys.stderr)
                return 2
            outcomes = asyncio.run(
                replay_dead_letters(
                    args.service, letters=args.dead_letter, all_open=args.all_open, consumer=args.consumer
                )
            )
            for letter, outcome in outcomes:
                print(f"{letter}: {outcome}")
            return 1 if any(o.startswith("failed") for _, o in outcomes) else 0
        elif args.area == "keys":
            settings = _settings(database=False)
            if args.command == "list":
                print("\n".join(list_keys(settings)))
                return 0
            if args.command == "hop":
                print("\n".join(hop_keys(settings)))
                return 0
            done = rotate_keys(settings, dry_run=args.dry_run)
            print(
                f"signing key {done['previous_kid']} -> {done['new_kid']}"
                + (" (dry run)" if args.dry_run else f"; written to {done['written']}")
            )
            if not args.dry_run:
                if settings.jwt_private_key:
                    print(
                        "put that PEM in NOL_JWT_PRIVATE_KEY, keep keys/previous/ mounted, "
                        "then restart the gateway"
                    )
                else:
                    print("restart the gateway; the old key stays verifiable under keys/previous/")
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
