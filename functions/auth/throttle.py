"""Failed-login throttling: exponential backoff after a number of failures. Pure arithmetic."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

ACCOUNT_FREE_FAILURES = 5  # per email address
IP_FREE_FAILURES = 20  # per source address: one office, many users
BASE_DELAY_S = 1
MAX_DELAY_S = 15 * 60
WINDOW_S = 24 * 3600  # counters expire a day after the last failure


@dataclass(frozen=True)
class FailureCounter:
    """Failed sign-ins of one subject (an email or a viewer address), as stored."""

    failures: int
    last_failure_at: int
    expires_at: int  # epoch s: TTL deletes the item late, so a counter past this is no counter

    def live_at(self, now: int) -> FailureCounter | None:
        """This counter if it still counts at `now`: an old count must not lock out today's first typo."""
        return self if self.expires_at >= now else None


def locked_until(counter: FailureCounter | None, free_failures: int) -> int:
    """The time before which another attempt is refused (0: not locked).

    After `free_failures`, each further failure doubles the wait: 1 s, 2 s, 4 s ... up to 15 minutes.
    """
    if counter is None or counter.failures < free_failures:
        return 0
    delay: int = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (counter.failures - free_failures))
    return counter.last_failure_at + delay


def viewer_ip(viewer_address: str | None) -> str | None:
    """The IP from CloudFront's `CloudFront-Viewer-Address` (`ip:port`; IPv6 unbracketed), or None.

    Behind CloudFront the connection's source is the edge, shared by everyone it serves: counting it
    would let one attacker lock out a city. Without a viewer address there is no per-address count.
    """
    if not viewer_address:
        return None
    host = viewer_address.strip().rpartition(":")[0].strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None
