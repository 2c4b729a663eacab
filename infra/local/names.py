"""How the local cloud names resources: fixed, readable names in one account and region."""

from __future__ import annotations

from functions.shared.cdn import NO_CACHE_DISTRIBUTION_ID
from infra.model import Function, ResourceNames

ACCOUNT = "123456789012"
REGION = "us-east-1"


class LocalNames(ResourceNames):
    def __init__(self, endpoint: str, prefix: str = "skyreel", public_url: str | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.prefix = prefix
        self.stage = "local"
        self.public_url = public_url  # the front door's own origin: the local CDN

    def _name(self, resource_id: str) -> str:
        return f"{self.prefix}-{resource_id.replace('_', '-')}"

    def table(self, table_id: str) -> str:
        return self._name(table_id)

    def bucket(self, bucket_id: str) -> str:
        return self._name(bucket_id)

    def queue_name(self, queue_id: str) -> str:
        return self._name(queue_id)

    def queue_url(self, queue_id: str) -> str:
        return f"{self.endpoint}/{ACCOUNT}/{self.queue_name(queue_id)}"

    def queue_arn(self, queue_id: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.queue_name(queue_id)}"

    def bus(self, bus_id: str) -> str:
        return self._name(bus_id)

    def secret(self, secret_id: str) -> str:
        return f"{self.prefix}/{secret_id}"

    def state_machine_name(self, machine_id: str) -> str:
        return self._name(machine_id)

    def state_machine_arn(self, machine_id: str) -> str:
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self.state_machine_name(machine_id)}"

    def cdn_url(self) -> str:
        if self.public_url is None:
            raise RuntimeError("the local CDN's URL is the front door's; these names were made without it")
        return self.public_url.rstrip("/")

    def cdn_distribution_id(self) -> str:
        return NO_CACHE_DISTRIBUTION_ID  # the front door caches nothing

    def usage_plan(self, plan_id: str) -> str:
        return self._name(plan_id)

    def function_name(self, fn: Function) -> str:
        return self._name(fn.id)

    def function_arn(self, fn: Function) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name(fn)}"

    def rule_queue(self, rule_id: str) -> str:
        """Locally an EventBridge rule targets an SQS queue that a poller drains into the real target."""
        return self._name(f"rule_{rule_id}")
