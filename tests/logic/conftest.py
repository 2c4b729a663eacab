"""The logic tier: use cases against in-memory fakes of their ports (tests/fakes), with the network off.

Every test here runs with sockets disabled (pytest-socket): a test that reaches for boto3, moto's
server or any other endpoint fails at once instead of silently becoming an integration test.
The same assertions run against the real adapters on moto in tests/contract, so fakes cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _network_off() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)  # xdist's workers talk over unix pipes, not the network
    yield
    enable_socket()
