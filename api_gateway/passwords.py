"""Password hashing (argon2, off the event loop) and the minimum strength rule."""

import string

import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane): ~30 ms here, a
# third of pwdlib's default, so a morning login rush of village cadres does not queue up on
# two cores while each guess still costs an attacker 19 MiB. Older hashes are upgraded on login.
_hasher = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1),))
# Verified against when the username is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")

MIN_LENGTH = 8
MAX_LENGTH = 128


def password_problem(password: str) -> str | None:
    """Return why a password is too weak, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    classes = [
        any(c in string.ascii_lowercase for c in password),
        any(c in string.ascii_uppercase for c in password),
        any(c in string.digits for c in password),
        any(not c.isascii() or not c.isalnum() for c in password),
    ]
    if sum(classes) < 2:
        return "must mix at least two of: lower case, upper case, digits, other characters"
    return None


async def hash_password(password: str) -> str:
    """Hash a password in a worker thread."""
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password; return (valid, new hash when the stored one should be upgraded)."""
    if password_hash is None:
        await anyio.to_thread.run_sync(_hasher.verify, password, _DUMMY_HASH)
        return False, None
    return await anyio.to_thread.run_sync(_hasher.verify_and_update, password, password_hash)
