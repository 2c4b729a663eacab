"""What a deploy and a teardown do, read from the synthesized templates with the topology as the oracle.

The real topology is synthesized as `prod`, the demo as `dev` (tests/infra/conftest.py), so each check
runs for both stages. Discovery is template-wide where it can be (every table, bucket, secret, dead-letter
queue in the template, not only the ones this code knows it made), so a resource added another way is
held to the same rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from infra.aws.app import build_app
from infra.aws.layer import BUNDLED, PACKAGING_CONTEXT
from infra.aws.monitoring import ALARM_EMAIL_CONTEXT
from infra.aws.stack import WEB_DIST
from infra.model import ROOT, Auth, Packaging
from tests.infra.conftest import NO_BUNDLING, Synthesized, synthesize
from tests.infra.demo import demo_topology
from tests.infra.helpers import logical_id, methods_by_route, props, resources
from tests.infra.test_nag import findings

pytestmark = pytest.mark.infra

# cfn-lint findings that are CDK's own idiom, not a defect of this app.
CFN_LINT_IGNORED = {
    # CDK writes DependsOn on a role a resource also references with GetAtt (harmless redundancy).
    "W3005",
}
# A region every resource type here exists in; cfn-lint checks types and properties against it.
LINT_REGIONS = ["us-east-1", "eu-west-1"]


def template_json(synthesized: Synthesized) -> dict[str, Any]:
    return dict(synthesized.template.to_json())


def stage(synthesized: Synthesized) -> str:
    return synthesized.stack.stage.name


def expected_policy(synthesized: Synthesized) -> str:
    return "Delete" if synthesized.stack.stage.disposable else "Retain"


# --- cfn-lint -----------------------------------------------------------------------------------------


def lint_findings(template: dict[str, Any]) -> list[str]:
    matches = lint(json.dumps(template), config=ManualArgs(regions=LINT_REGIONS))
    return [
        f"{m.rule.id} {'/'.join(str(p) for p in m.path)}: {m.message}"
        for m in matches
        if m.rule.id not in CFN_LINT_IGNORED
    ]


def test_cfn_lint_finds_nothing(synthesized: Synthesized) -> None:
    assert lint_findings(template_json(synthesized)) == []


def test_cfn_lint_does_report_a_real_error() -> None:
    """Guards the test above from passing vacuously."""
    broken = {"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "FREE"}}}}
    assert any(f.startswith("E") for f in lint_findings(broken))


# --- data: names, retention, point-in-time recovery ---------------------------------------------


def test_every_table_has_pitr_a_stable_name_and_the_stages_deletion_policy(synthesized: Synthesized) -> None:
    template = template_json(synthesized)
    tables = resources(synthesized.template, "AWS::DynamoDB::Table")
    assert len(tables) == len(synthesized.topology.tables)
    for table in synthesized.topology.tables:
        resource = template["Resources"][logical_id(synthesized.stack.storage.tables[table.id])]
        assert resource["Properties"]["TableName"] == f"skyreel-{stage(synthesized)}-{table.id}"
    for table_id, resource in tables.items():
        p = resource["Properties"]
        assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, table_id
        assert resource["DeletionPolicy"] == expected_policy(synthesized), table_id
        assert resource["UpdateReplacePolicy"] == expected_policy(synthesized), table_id
        # A retained table also refuses deletion by hand until its protection is lifted.
        assert p.get("DeletionProtectionEnabled", False) is not synthesized.stack.stage.disposable, table_id


def test_every_bucket_has_a_stable_name_and_the_stages_deletion_policy(synthesized: Synthesized) -> None:
    template = template_json(synthesized)
    buckets = resources(synthesized.template, "AWS::S3::Bucket")
    named = {b.id: logical_id(synthesized.stack.storage.buckets[b.id]) for b in synthesized.topology.buckets}
    named["access-logs"] = logical_id(synthesized.stack.storage.access_logs)
    assert set(named.values()) == set(buckets)  # no bucket without a name from the stage
    for bucket_id, resource_id in named.items():
        name = template["Resources"][resource_id]["Properties"]["BucketName"]
        prefix = f"skyreel-{stage(synthesized)}-{bucket_id.replace('_', '-')}-"
        assert name == {"Fn::Join": ["", [prefix, {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]}
    for resource_id, resource in buckets.items():
        assert resource["DeletionPolicy"] == expected_policy(synthesized), resource_id
    emptied = {
        r["Properties"]["BucketName"]["Ref"]
        for r in resources(synthesized.template, "Custom::S3AutoDeleteObjects").values()
    }
    # dev: every bucket is emptied so it can be deleted; prod: none ever is.
    assert emptied == (set(buckets) if synthesized.stack.stage.disposable else set())


def test_every_secret_has_a_stable_name_and_the_stages_deletion_policy(synthesized: Synthesized) -> None:
    template = template_json(synthesized)
    secrets = resources(synthesized.template, "AWS::SecretsManager::Secret")
    assert len(secrets) == len(synthesized.topology.secrets)
    for secret in synthesized.topology.secrets:
        resource = template["Resources"][logical_id(synthesized.stack.secrets.secrets[secret.id])]
        assert resource["Properties"]["Name"] == f"skyreel/{stage(synthesized)}/{secret.id}"
        assert resource["DeletionPolicy"] == expected_policy(synthesized), secret.id


# --- alarms -------------------------------------------------------------------------------------------


def alarms(synthesized: Synthesized) -> list[dict[str, Any]]:
    return [a["Properties"] for a in resources(synthesized.template, "AWS::CloudWatch::Alarm").values()]


def topic(synthesized: Synthesized) -> dict[str, str]:
    return {"Ref": logical_id(synthesized.stack.monitoring.topic)}


def dead_letter_queues(template: dict[str, Any]) -> set[str]:
    """Every queue the template uses as a dead-letter queue or an event source's failure destination."""
    found: set[str] = set()
    for resource in template["Resources"].values():
        p = resource.get("Properties", {})
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in p:
            found.add(p["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
        if resource["Type"] == "AWS::Lambda::EventSourceMapping" and "DestinationConfig" in p:
            found.add(p["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0])
    return found


def test_every_alarm_notifies_the_one_topic(synthesized: Synthesized) -> None:
    assert len(resources(synthesized.template, "AWS::SNS::Topic")) == 1
    for alarm in alarms(synthesized):
        assert alarm["AlarmActions"] == [topic(synthesized)], alarm["AlarmName"]
        assert alarm["OKActions"] == [topic(synthesized)], alarm["AlarmName"]
        assert alarm["TreatMissingData"] == "notBreaching", alarm["AlarmName"]


def test_every_dead_letter_queue_has_a_depth_alarm(synthesized: Synthesized) -> None:
    queues = dead_letter_queues(template_json(synthesized))
    declared = len(synthesized.topology.queues) + len(synthesized.topology.stream_triggers)
    assert len(queues) == declared > 0
    for queue in queues:
        watching = [
            a
            for a in alarms(synthesized)
            if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}} in a["Dimensions"]
        ]
        assert [(a["Threshold"], a["ComparisonOperator"]) for a in watching] == [
            (1, "GreaterThanOrEqualToThreshold")
        ], queue


def test_every_route_has_a_p99_latency_alarm(synthesized: Synthesized) -> None:
    api_name = resources(synthesized.template, "AWS::ApiGateway::RestApi").popitem()[1]["Properties"]["Name"]
    by_route = {
        (d["Method"], d["Resource"]): a
        for a in alarms(synthesized)
        if a.get("MetricName") == "Latency"
        for d in [{x["Name"]: x["Value"] for x in a["Dimensions"]}]
    }
    assert set(by_route) == {(r.method, r.path) for r in synthesized.topology.api.routes}
    for alarm in by_route.values():
        assert alarm["ExtendedStatistic"] == "p99"
        assert {"Name": "ApiName", "Value": api_name} in alarm["Dimensions"]
        assert {"Name": "Stage", "Value": synthesized.topology.api.stage} in alarm["Dimensions"]


def test_the_api_5xx_rate_has_an_alarm(synthesized: Synthesized) -> None:
    [alarm] = [a for a in alarms(synthesized) if a.get("MetricName") == "5XXError"]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Average", 0.05)


def function_alarms(synthesized: Synthesized, metric: str) -> dict[str, dict[str, Any]]:
    """Alarms on a Lambda metric, by the function's logical id."""
    return {
        a["Dimensions"][0]["Value"]["Ref"]: a
        for a in alarms(synthesized)
        if a.get("Namespace") == "AWS/Lambda" and a["MetricName"] == metric
    }


def test_functions_have_throttle_alarms_and_workers_error_and_duration_alarms(
    synthesized: Synthesized,
) -> None:
    topology = synthesized.topology
    serving = {r.function for r in topology.api.routes}
    fn_ids = {fn.id: logical_id(synthesized.stack.compute.functions[fn.id]) for fn in topology.functions}
    assert set(function_alarms(synthesized, "Throttles")) == set(fn_ids.values())
    workers = {fn_ids[f.id] for f in topology.functions if f.id not in serving}
    assert set(function_alarms(synthesized, "Errors")) == workers
    durations = function_alarms(synthesized, "Duration")
    assert set(durations) == workers
    for fn in topology.functions:
        if fn.id not in serving:
            assert durations[fn_ids[fn.id]]["Threshold"] == pytest.approx(0.8 * fn.timeout_s * 1000)
    # The authorizer serves no route of its own: its errors (every protected route's 500) are alarmed.
    assert topology.api.authorizer is not None
    assert fn_ids[topology.api.authorizer.function] in workers
    # The transcode image's failures and duration are alarmed.
    images = [fn.id for fn in topology.functions if fn.packaging is Packaging.IMAGE]
    assert images
    assert all(fn_ids[i] in workers for i in images)


def test_every_workflow_has_a_failure_alarm(synthesized: Synthesized) -> None:
    machines = {logical_id(m) for m in synthesized.stack.workflows.state_machines.values()}
    watched = set()
    for alarm in alarms(synthesized):
        for query in alarm.get("Metrics", []):
            stat = query.get("MetricStat", {}).get("Metric", {})
            if stat.get("Namespace") == "AWS/States" and stat["MetricName"] == "ExecutionsFailed":
                watched.add(stat["Dimensions"][0]["Value"]["Ref"])
    assert watched == machines


def test_the_dashboard_shows_every_route_and_function(synthesized: Synthesized) -> None:
    [dashboard] = resources(synthesized.template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for route in synthesized.topology.api.routes:
        assert route.path in body, route
    for fn in synthesized.topology.functions:
        assert logical_id(synthesized.stack.compute.functions[fn.id]) in body, fn.id


# --- API: the authorizer on exactly the protected routes ------------------------------------------


def test_only_declared_routes_reach_code_and_only_protected_ones_have_the_authorizer(
    synthesized: Synthesized,
) -> None:
    """PROTECTED routes: the authorizer and a metered API key. OPTIONAL ones (a player's beacon): the
    authorizer, which lets a request with no credentials through anonymous, and no metering (an anonymous
    caller has no key). PUBLIC ones and anything undeclared: neither."""
    declared = {(r.method, r.path): r for r in synthesized.topology.api.routes}
    for key, method in methods_by_route(synthesized.template).items():
        if method["Integration"]["Type"] == "AWS_PROXY":
            assert key in declared, f"{key} invokes a function but is not a declared route"
        route = declared.get(key)
        auth = route.auth if route is not None else Auth.PUBLIC
        authorized = auth is not Auth.PUBLIC
        assert ("AuthorizerId" in method) is authorized, key
        assert method["AuthorizationType"] == ("CUSTOM" if authorized else "NONE"), key
        metered = auth is Auth.PROTECTED and bool(synthesized.topology.api.usage_plans)
        assert method.get("ApiKeyRequired", False) is metered, key


# --- the dashboard's web files --------------------------------------------------------------------


def test_the_built_dashboard_is_deployed_to_the_web_bucket_and_invalidated(demo: Synthesized) -> None:
    [web] = [b for b in demo.topology.buckets if b.website]
    [deployment] = resources(demo.template, "Custom::CDKBucketDeployment").values()
    p = deployment["Properties"]
    assert p["DestinationBucketName"] == {"Ref": logical_id(demo.stack.storage.buckets[web.id])}
    assert p["DistributionPaths"] == ["/*"]
    assert p["Prune"] is True


def test_without_a_built_dashboard_nothing_is_deployed(skyreel: Synthesized) -> None:
    built = (ROOT / WEB_DIST / "index.html").is_file()
    count = len(resources(skyreel.template, "Custom::CDKBucketDeployment"))
    assert count == (1 if built else 0)


# --- bundled packaging (LocalStack) -------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled(demo_root: Path) -> Synthesized:
    topology = demo_topology(demo_root)
    context = {**NO_BUNDLING, "stage": "local", PACKAGING_CONTEXT: BUNDLED}
    return synthesize(build_app(context, topology=topology, source_root=demo_root), topology)


def test_bundled_packaging_has_no_layer_and_no_image(bundled: Synthesized) -> None:
    """LocalStack's free tier ignores layers and has no ECR: every function is a zip holding its dependencies."""
    assert resources(bundled.template, "AWS::Lambda::LayerVersion") == {}
    for function_id, function in resources(bundled.template, "AWS::Lambda::Function").items():
        p = function["Properties"]
        assert "Layers" not in p, function_id
        assert p.get("PackageType", "Zip") == "Zip", function_id
    images = [fn.id for fn in bundled.topology.functions if fn.packaging is Packaging.IMAGE]
    for fn_id in images:
        p = props(bundled.template, logical_id(bundled.stack.compute.functions[fn_id]))
        assert p["Runtime"] == "python3.12"
        assert p["Handler"] == bundled.topology.function(fn_id).handler
    assert findings(bundled.app) == []


def test_an_unknown_packaging_is_refused(demo_root: Path) -> None:
    with pytest.raises(Exception, match="give layer or bundled"):
        build_app(
            {**NO_BUNDLING, PACKAGING_CONTEXT: "zip"},
            topology=demo_topology(demo_root),
            source_root=demo_root,
        )


def test_the_alarm_email_subscribes_to_the_topic(demo_root: Path) -> None:
    topology = demo_topology(demo_root)
    app = build_app(
        {**NO_BUNDLING, ALARM_EMAIL_CONTEXT: "ops@example.com"}, topology=topology, source_root=demo_root
    )
    template = synthesize(app, topology).template
    [subscription] = resources(template, "AWS::SNS::Subscription").values()
    assert (subscription["Properties"]["Protocol"], subscription["Properties"]["Endpoint"]) == (
        "email",
        "ops@example.com",
    )
