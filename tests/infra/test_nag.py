"""cdk-nag (AwsSolutions) finds nothing unacknowledged, and CDK itself reports no errors or warnings.

cdk-nag 3 is a CDK validation plugin: findings are a validation report (which fails `cdk synth`), not
construct annotations, so the report is read directly; CDK's own messages are read as annotations.
"""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from tests.infra.conftest import Synthesized
from tests.infra.helpers import dependencies, find_cycle

pytestmark = pytest.mark.infra


def findings(app: App) -> list[str]:
    report = AwsSolutionsChecks().validate_scope(app)
    return [
        f"{v.rule_name} ({v.severity}) at {[r.construct_path for r in v.violating_resources]}"
        for v in report.violations
    ]


def test_no_unacknowledged_nag_findings(synthesized: Synthesized) -> None:
    assert findings(synthesized.app) == []


def test_nag_does_report_a_real_finding() -> None:
    """Guards the test above from passing vacuously: a bare bucket must be reported."""
    app = App()
    s3.Bucket(Stack(app, "Bare"), "Bucket")
    assert any(f.startswith("AwsSolutions-S1") for f in findings(app))


def test_no_cdk_errors_or_warnings(synthesized: Synthesized) -> None:
    annotations = Annotations.from_stack(synthesized.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []


def test_no_dependency_cycle(synthesized: Synthesized) -> None:
    """CDK does not detect cycles inside one stack; CloudFormation refuses them only at deploy time."""
    assert find_cycle(dependencies(synthesized.template)) == []


def test_cycle_detection_finds_a_cycle() -> None:
    assert find_cycle({"A": {"B"}, "B": {"C"}, "C": {"A"}, "D": set()}) == ["A", "B", "C", "A"]
