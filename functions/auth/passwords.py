"""Password policy and hashing (argon2id). Pure: no I/O."""

from __future__ import annotations

import functools
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from functions.shared.errors import ValidationFailedError

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 copes, but a megabyte "password" is an attack, not a password


class PasswordHashing:
    """argon2id hashing with one hasher's parameters. The logic takes one of these (`SHIPPED` by default),
    so tests can hash with cheap parameters and keep their tier fast."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        # RFC 9106's second recommended option (64 MiB, 3 passes) would take most of a small Lambda's CPU;
        # argon2-cffi's defaults (argon2id, 64 MiB, t=3, p=4) are the library's tuned choice. Changing
        # them makes `needs_rehash` true, and the next login upgrades the stored hash.
        self.hasher = hasher or PasswordHasher()

    @functools.cached_property
    def dummy_hash(self) -> str:
        """A hash verified when the email is unknown, so both failures cost the same. Made on first use,
        not at import: argon2 is slow on purpose, and the authorizer's cold start never needs it."""
        return self.hasher.hash("skyreel-no-such-user-0c9f2a")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists: an unknown email verifies the dummy hash."""
        try:
            return self.hasher.verify(stored_hash or self.dummy_hash, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)


SHIPPED = PasswordHashing()


@functools.cache
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).parent / "common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_policy(password: str, email: str) -> None:
    """Raise ValidationFailedError naming every rule the password breaks."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters")
    lowered = password.lower()
    local_part = email.split("@", 1)[0].lower()
    if lowered == email.lower() or (len(local_part) >= 4 and local_part in lowered):
        problems.append("must not contain your email address")
    if lowered in common_passwords():
        problems.append("is one of the most common passwords")
    if problems:
        raise ValidationFailedError(
            "The password is too weak.",
            details=[
                {"location": "body.password", "message": f"The password {p}.", "type": "weak_password"}
                for p in problems
            ],
        )


def hash_password(password: str) -> str:
    return SHIPPED.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    return SHIPPED.verify(stored_hash, password)
