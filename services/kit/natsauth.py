"""A nats-server `authorization {}` block from a list of users, written atomically, reloaded by signal.

Passwords are kept as bcrypt hashes (nats-server checks `$2b$...` itself): the file names who may
connect and which subjects each may publish to and subscribe to, never a usable secret.
"""

import contextlib
import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import structlog

log = structlog.get_logger()
BCRYPT_ROUNDS = 11  # ~0.1 s per hash: paid once per secret, and by nats-server once per connection


def hash_password(password: str) -> str:
    """Return a bcrypt hash nats-server accepts for a password."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def password_matches(password: str, hashed: str) -> bool:
    return bcrypt.checkpw(password.encode(), hashed.encode())


@dataclass(frozen=True)
class NatsUser:
    name: str
    password_hash: str
    publish: list[str] = field(default_factory=list)
    subscribe: list[str] = field(default_factory=list)


def _q(value: str) -> str:
    return json.dumps(value)  # a quoted string: `$` inside is not a variable reference


def _allow(subjects: list[str]) -> str:
    return "{allow: [" + ", ".join(_q(s) for s in subjects) + "]}" if subjects else '{deny: [">"]}'


def render(users: list[NatsUser]) -> str:
    """Return an `authorization` block: each user allowed exactly its subjects, everything else denied."""
    lines = [
        "# Generated: do not edit (rewritten whenever a client changes).",
        "authorization {",
        "  users = [",
    ]
    for u in sorted(users, key=lambda u: u.name):
        lines.append(
            f"    {{user: {_q(u.name)}, password: {_q(u.password_hash)}, permissions: "
            f"{{publish: {_allow(u.publish)}, subscribe: {_allow(u.subscribe)}}}}}"
        )
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> bool:
    """Write the file atomically (readable by its owner only) unless it already says that."""
    with contextlib.suppress(FileNotFoundError):
        if path.read_text() == text:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return True


def reload(pid_file: Path | None) -> bool:
    """Ask the nats-server whose pid the file holds to reload its configuration (SIGHUP)."""
    if pid_file is None:
        return False
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        log.warning("nats reload not signalled", pid_file=str(pid_file), error=repr(exc))
        return False
    return True
