"""State machines (substitutions, grants, logging) and the wiring between resources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.aws.app import build_app
from infra.model import placeholders
from tests.infra.conftest import NO_BUNDLING, Synthesized
from tests.infra.demo import ASL, demo_topology
from tests.infra.helpers import actions_on, logical_id, policy_statements, props, resources

pytestmark = pytest.mark.infra


def machine_props(s: Synthesized, machine_id: str) -> dict[str, object]:
    return props(s.template, logical_id(s.stack.workflows.state_machines[machine_id]))


def test_every_placeholder_in_every_definition_is_substituted(synthesized: Synthesized) -> None:
    for machine in synthesized.topology.state_machines:
        p = machine_props(synthesized, machine.id)
        # CloudFormation replaces each ${key} of DefinitionString with DefinitionSubstitutions[key].
        definition = str(p["DefinitionString"])
        assert placeholders(definition) == placeholders(machine.definition_text()), machine.id
        assert placeholders(definition) <= set(p["DefinitionSubstitutions"]), machine.id  # type: ignore[call-overload]


def test_substitutions_point_at_the_declared_resources(demo: Synthesized) -> None:
    storage, functions = demo.stack.storage, demo.stack.compute.functions
    assert machine_props(demo, "publish")["DefinitionSubstitutions"] == {
        "fn_worker": {"Fn::GetAtt": [logical_id(functions["worker"]), "Arn"]},
        "table_items": {"Ref": logical_id(storage.tables["items"])},
        "bucket_media": {"Ref": logical_id(storage.buckets["media"])},
        "bus_events": {"Ref": logical_id(storage.buses["events"])},
    }


def test_state_machine_logs_traces_times_out_and_may_use_its_resources(demo: Synthesized) -> None:
    machine = demo.topology.state_machine("publish")
    p = machine_props(demo, "publish")
    assert p["TracingConfiguration"] == {"Enabled": True}
    assert p["LoggingConfiguration"]["Level"] == "ALL"  # type: ignore[index]
    assert json.loads(str(p["DefinitionString"]))["TimeoutSeconds"] == machine.timeout_s
    role = demo.stack.workflows.state_machines["publish"].role
    statements = policy_statements(demo.template, logical_id(role))
    worker = {"Fn::GetAtt": [logical_id(demo.stack.compute.functions["worker"]), "Arn"]}
    assert "lambda:InvokeFunction" in actions_on(statements, worker)
    table = {"Fn::GetAtt": [logical_id(demo.stack.storage.tables["items"]), "Arn"]}
    assert "dynamodb:PutItem" in actions_on(statements, table)
    bus = {"Fn::GetAtt": [logical_id(demo.stack.storage.buses["events"]), "Arn"]}
    assert "events:PutEvents" in actions_on(statements, bus)


def test_undeclared_placeholder_fails_synthesis(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(ASL))
    broken["States"]["Probe"] = {"Type": "Task", "Resource": "${fn_nobody}", "End": True}
    (tmp_path / "broken.asl.json").write_text(json.dumps(broken))
    (tmp_path / "functions" / "transcode").mkdir(parents=True)
    (tmp_path / "functions" / "transcode" / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(ValueError, match="fn_nobody"):
        build_app(NO_BUNDLING, topology=demo_topology(tmp_path, "broken.asl.json"), source_root=tmp_path)


def test_queue_triggers_report_partial_batch_failures(demo: Synthesized) -> None:
    for trigger in demo.topology.queue_triggers:
        demo.template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {
                "EventSourceArn": {
                    "Fn::GetAtt": [logical_id(demo.stack.storage.queues[trigger.queue]), "Arn"]
                },
                "FunctionName": {"Ref": logical_id(demo.stack.compute.functions[trigger.function])},
                "BatchSize": trigger.batch_size,
                "MaximumBatchingWindowInSeconds": trigger.max_batching_window_s,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        )


def test_stream_triggers_bisect_retry_and_park_failures(demo: Synthesized) -> None:
    for trigger in demo.topology.stream_triggers:
        mapping = next(
            m["Properties"]
            for m in resources(demo.template, "AWS::Lambda::EventSourceMapping").values()
            if m["Properties"]["EventSourceArn"]
            == {"Fn::GetAtt": [logical_id(demo.stack.storage.tables[trigger.table]), "StreamArn"]}
        )
        assert mapping["FunctionName"] == {"Ref": logical_id(demo.stack.compute.functions[trigger.function])}
        assert mapping["StartingPosition"] == "LATEST"
        assert mapping["BatchSize"] == trigger.batch_size
        assert mapping["MaximumRetryAttempts"] == trigger.retry_attempts
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        failures = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        assert demo.template.to_json()["Resources"][failures]["Type"] == "AWS::SQS::Queue"
        alarmed = [
            a["Properties"]
            for a in resources(demo.template, "AWS::CloudWatch::Alarm").values()
            if {"Name": "QueueName", "Value": {"Fn::GetAtt": [failures, "QueueName"]}}
            in a["Properties"].get("Dimensions", [])
        ]
        assert [(a["MetricName"], a["Threshold"]) for a in alarmed] == [
            ("ApproximateNumberOfMessagesVisible", 1)
        ]


def test_the_search_indexer_is_the_one_writer_fed_by_the_videos_stream(skyreel: Synthesized) -> None:
    [trigger] = [t for t in skyreel.topology.stream_triggers if t.function == "search_indexer"]
    assert trigger.table == "videos"
    fn = props(skyreel.template, logical_id(skyreel.stack.compute.functions["search_indexer"]))
    assert fn["ReservedConcurrentExecutions"] == 1


def test_rules_sit_on_their_bus_with_pattern_and_target(demo: Synthesized) -> None:
    rules = {
        json.dumps(r["Properties"]["EventPattern"], sort_keys=True): r["Properties"]
        for r in resources(demo.template, "AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"]  # not the schedules
    }
    for rule in demo.topology.rules:
        p = rules[json.dumps(dict(rule.pattern), sort_keys=True)]
        assert p["EventBusName"] == {"Ref": logical_id(demo.stack.storage.buses[rule.bus])}
        target: object = (
            {"Fn::GetAtt": [logical_id(demo.stack.compute.functions[rule.function]), "Arn"]}
            if rule.function
            else {"Ref": logical_id(demo.stack.workflows.state_machines[str(rule.state_machine)])}
        )
        assert [t["Arn"] for t in p["Targets"]] == [target]


def test_schedules_run_their_function_at_the_declared_rate(synthesized: Synthesized) -> None:
    assert synthesized.topology.schedules, "both apps must exercise a schedule"
    template = synthesized.template
    scheduled = {
        k: r["Properties"]
        for k, r in resources(template, "AWS::Events::Rule").items()
        if "ScheduleExpression" in r["Properties"]
    }
    assert len(scheduled) == len(synthesized.topology.schedules)
    for schedule in synthesized.topology.schedules:
        function = synthesized.stack.compute.functions[schedule.function]
        target = {"Fn::GetAtt": [logical_id(function), "Arn"]}
        rule_id, rule = next(
            (k, p) for k, p in scheduled.items() if [t["Arn"] for t in p["Targets"]] == [target]
        )
        minutes = schedule.every_minutes
        assert rule["ScheduleExpression"] == f"rate({minutes} minute{'s' if minutes > 1 else ''})"
        assert rule["State"] == "ENABLED"
        assert "EventBusName" not in rule  # schedules run on the default bus
        # ...and EventBridge may invoke the function for this rule.
        template.has_resource_properties(
            "AWS::Lambda::Permission",
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": target,
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
            },
        )
