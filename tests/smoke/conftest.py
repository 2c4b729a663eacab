"""Where the smoke suite runs: a base URL, and how to reach it.

- `SMOKE_URL=https://<CdnUrl>` (`make smoke URL=...`): a deployed platform, through its front door only.
- otherwise: a local cloud of the real topology, started here (what `make test` runs in CI), and, marked
  `localstack`, the stack `make localstack-deploy` made, when a LocalStack endpoint answers.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import boto3
import httpx
import pytest

from functions.shared import origin
from infra.local.cloud import LocalCloud, free_port
from infra.topology import TOPOLOGY

LOCALSTACK_ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://localhost:4566")
LOCALSTACK_STACK = "Skyreel-local"


@dataclass
class Target:
    """One platform under test: its base URL and what every API request to it carries."""

    name: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    # A transcode in AWS waits for a cold container; a shared CI machine is slow: generous either way.
    ready_within_s: float = 600


def _targets() -> list[object]:
    if os.environ.get("SMOKE_URL"):
        return ["url"]
    return ["local", pytest.param("localstack", marks=pytest.mark.localstack)]


def _localstack_target() -> Target:
    try:
        httpx.get(f"{LOCALSTACK_ENDPOINT}/_localstack/health", timeout=2).raise_for_status()
    except httpx.HTTPError as error:
        pytest.skip(
            f"no LocalStack endpoint answers at {LOCALSTACK_ENDPOINT} ({type(error).__name__}): start LocalStack "
            "(it needs Docker) and run make localstack-deploy; LOCALSTACK_ENDPOINT=... to point elsewhere"
        )
    region = os.environ.get("AWS_REGION", "us-east-1")
    cloudformation = boto3.client("cloudformation", endpoint_url=LOCALSTACK_ENDPOINT, region_name=region)
    stacks = cloudformation.describe_stacks(StackName=LOCALSTACK_STACK)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    # No CloudFront in LocalStack: the API is called on its stage URL with the origin header the CDN adds.
    secret_id = TOPOLOGY.api.origin_secret
    headers = {}
    if secret_id:
        secretsmanager = boto3.client("secretsmanager", endpoint_url=LOCALSTACK_ENDPOINT, region_name=region)
        secret = secretsmanager.get_secret_value(SecretId=f"skyreel/local/{secret_id}")
        headers[origin.HEADER] = secret["SecretString"]
    # The stage URL is the API's root: routes (/api/v1/...) are under it, as behind the CDN's origin path.
    return Target("localstack", outputs["ApiUrl"].rstrip("/"), headers)


@pytest.fixture(scope="session", params=_targets())
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "url":
        yield Target("url", os.environ["SMOKE_URL"].rstrip("/"))
    elif request.param == "localstack":
        yield _localstack_target()
    else:
        cloud = LocalCloud(TOPOLOGY, port=free_port(), prewarm=False, log_sink=lambda source, line: None)
        cloud.start()
        try:
            yield Target("local", cloud.url, ready_within_s=300)
        finally:
            cloud.stop()


@pytest.fixture(scope="session")
def api(target: Target) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.base_url, headers=target.headers, timeout=60) as client:
        yield client


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Each phase's report on the test item, so a later step can see that an earlier one failed."""
    report: pytest.TestReport = yield
    setattr(item, f"rep_{report.when}", report)
    return report
