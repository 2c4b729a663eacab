"""Acknowledging cdk-nag findings (cdk-nag 3 uses CDK's native `Validations.of(...).acknowledge`).

Every acknowledgment names one finding and says why it is accepted; nothing is silenced wholesale.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

RESOURCE_STAR = "AwsSolutions-IAM5[Resource::*]"
RESOURCE_STAR_REASON = (
    "only actions without resource-level permissions get Resource::* "
    "(X-Ray trace writes, CloudWatch Logs delivery, dynamodb:ListStreams)"
)
BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)
BASIC_EXECUTION_REASON = "AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_all(scope: IConstruct, rules: dict[str, str]) -> None:
    for rule, reason in rules.items():
        acknowledge(scope, rule, reason)


def wildcard_resource(arn: str, suffix: str, scope: IConstruct) -> str:
    """The IAM5 finding id cdk-nag reports for `<arn><suffix>`, e.g. `<Bucket.Arn>/*`."""
    resolved: Any = Stack.of(scope).resolve(arn)
    logical_id, attribute = resolved["Fn::GetAtt"]
    return f"AwsSolutions-IAM5[Resource::<{logical_id}.{attribute}>{suffix}]"


def wildcard_action(action: str) -> str:
    return f"AwsSolutions-IAM5[Action::{action}]"


def wildcard_arn(arn: str, scope: IConstruct) -> str:
    """The IAM5 finding id cdk-nag reports for a wildcard ARN built with `format_arn` (tokens rendered
    the way cdk-nag renders them: `<AWS::AccountId>`, `<Logical.Attribute>`)."""
    resolved: Any = Stack.of(scope).resolve(arn)
    if isinstance(resolved, str):
        return f"AwsSolutions-IAM5[Resource::{resolved}]"
    separator, parts = resolved["Fn::Join"]
    rendered = []
    for part in parts:
        if isinstance(part, str):
            rendered.append(part)
        elif "Ref" in part:
            rendered.append(f"<{part['Ref']}>")
        else:
            logical_id, attribute = part["Fn::GetAtt"]
            rendered.append(f"<{logical_id}.{attribute}>")
    return f"AwsSolutions-IAM5[Resource::{separator.join(rendered)}]"
