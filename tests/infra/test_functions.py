"""Every topology function is a Lambda with the declared shape, environment and grants."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from infra.model import Access, Packaging
from tests.infra.conftest import Synthesized
from tests.infra.helpers import actions_on, logical_id, policy_statements, props, ref

READS = (Access.READ, Access.READ_WRITE)
WRITES = (Access.WRITE, Access.READ_WRITE)

pytestmark = pytest.mark.infra


def lambda_props(s: Synthesized, function_id: str) -> dict[str, Any]:
    return props(s.template, logical_id(s.stack.compute.functions[function_id]))


def role_statements(s: Synthesized, function_id: str) -> list[dict[str, Any]]:
    role = s.stack.compute.functions[function_id].role
    assert role is not None
    return policy_statements(s.template, logical_id(role))


def test_every_function_is_a_lambda_with_its_declared_shape(synthesized: Synthesized) -> None:
    for fn in synthesized.topology.functions:
        p = lambda_props(synthesized, fn.id)
        assert p["MemorySize"] == fn.memory_mb, fn.id
        assert p["Timeout"] == fn.timeout_s, fn.id
        assert p["Description"] == fn.description, fn.id
        assert p.get("ReservedConcurrentExecutions") == fn.reserved_concurrency, fn.id
        assert p["Architectures"] == ["arm64"], fn.id
        assert p["TracingConfig"] == {"Mode": "Active"}, fn.id
        assert "LoggingConfig" in p, f"{fn.id} has no dedicated log group"
        if fn.packaging is Packaging.ZIP:
            assert p["Handler"] == fn.handler, fn.id
            assert p["Runtime"] == "python3.12", fn.id
            assert len(p["Layers"]) == 1, f"{fn.id} must use exactly the shared layer"
        else:
            assert p["PackageType"] == "Image", fn.id
            assert p["ImageConfig"]["Command"] == [fn.handler], fn.id


def test_environment_is_what_the_topology_derives(synthesized: Synthesized) -> None:
    stack, storage = synthesized.stack, synthesized.stack.storage
    for fn in synthesized.topology.functions:
        env = lambda_props(synthesized, fn.id)["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == fn.service_name
        assert env["SKYREEL_STAGE"] == synthesized.stack.stage.name
        for grant in fn.tables:
            assert env[synthesized.topology.table(grant.resource).env_var] == ref(
                storage.tables[grant.resource]
            )
        for grant in fn.buckets:
            assert env[synthesized.topology.bucket(grant.resource).env_var] == ref(
                storage.buckets[grant.resource]
            )
        for grant in fn.queues:
            assert env[synthesized.topology.queue(grant.resource).env_var] == ref(
                storage.queues[grant.resource]
            )
        for bus_id in fn.buses:
            assert env[synthesized.topology.bus(bus_id).env_var] == ref(storage.buses[bus_id])
        for secret_id in fn.secrets:
            assert env[synthesized.topology.secret(secret_id).env_var] == ref(
                stack.secrets.secrets[secret_id]
            )
        for machine_id in fn.state_machines:
            # A computed ARN (no Ref to the machine, which may itself invoke this function: no cycle).
            machine = props(synthesized.template, logical_id(stack.workflows.state_machines[machine_id]))
            arn = env[synthesized.topology.state_machine(machine_id).env_var]
            assert arn["Fn::Join"][1][-1] == f":stateMachine:{machine['StateMachineName']}"
        for key, value in fn.environment.items():
            assert env[key] == value


def test_grants_follow_declared_access(synthesized: Synthesized) -> None:
    storage = synthesized.stack.storage
    for fn in synthesized.topology.functions:
        statements = role_statements(synthesized, fn.id)
        for grant in fn.tables:
            actions = actions_on(
                statements, {"Fn::GetAtt": [logical_id(storage.tables[grant.resource]), "Arn"]}
            )
            assert ("dynamodb:Query" in actions) == (grant.access in READS), (fn.id, grant)
            assert ("dynamodb:PutItem" in actions) == (grant.access in WRITES), (fn.id, grant)
            assert "dynamodb:DescribeTable" in actions, (fn.id, grant)
        for grant in fn.queues:
            actions = actions_on(
                statements, {"Fn::GetAtt": [logical_id(storage.queues[grant.resource]), "Arn"]}
            )
            consume = {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
            assert "sqs:GetQueueAttributes" in actions, (fn.id, grant)  # health checks read queue depth
            assert (consume <= actions) == (grant.access in READS), (fn.id, grant)
            assert ("sqs:SendMessage" in actions) == (grant.access in WRITES), (fn.id, grant)
        for grant in fn.buckets:
            bucket_objects = {
                "Fn::Join": ["", [{"Fn::GetAtt": [logical_id(storage.buckets[grant.resource]), "Arn"]}, "/*"]]
            }
            actions = actions_on(statements, bucket_objects)
            assert ("s3:GetObject*" in actions) == (grant.access in READS), (fn.id, grant)
            assert ("s3:PutObject" in actions) == (grant.access in WRITES), (fn.id, grant)
            if grant.access is Access.DESCRIBE:
                bucket = {"Fn::GetAtt": [logical_id(storage.buckets[grant.resource]), "Arn"]}
                assert actions_on(statements, bucket) == {"s3:GetBucketLocation"}, (fn.id, grant)


# Actions that read or take data. A describe-level grant gives none of them, on any resource.
DATA_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:GetRecords",
    "s3:GetObject",
    "s3:ListBucket",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
)


def granted_actions(statements: list[dict[str, Any]]) -> list[str]:
    actions: list[str] = []
    for statement in statements:
        if statement.get("Effect", "Allow") == "Allow":
            action = statement["Action"]
            actions += action if isinstance(action, list) else [action]
    return actions


def test_the_public_platform_function_may_describe_but_never_read_data(skyreel: Synthesized) -> None:
    """/health is public: its function sees that each dependency answers, never a password hash, an
    object or an ingest message (and cannot take messages off the queue)."""
    platform = skyreel.topology.function("platform")
    assert platform.tables
    assert platform.buckets
    assert platform.queues
    assert {g.access for g in (*platform.tables, *platform.buckets, *platform.queues)} == {Access.DESCRIBE}
    granted = granted_actions(role_statements(skyreel, "platform"))
    for action in DATA_ACTIONS:
        assert not [g for g in granted if fnmatch.fnmatchcase(action, g)], f"platform may {action}"
    storage = skyreel.stack.storage
    statements = role_statements(skyreel, "platform")
    for grant in platform.tables:
        arn = {"Fn::GetAtt": [logical_id(storage.tables[grant.resource]), "Arn"]}
        assert actions_on(statements, arn) == {"dynamodb:DescribeTable"}, grant
    for grant in platform.queues:
        arn = {"Fn::GetAtt": [logical_id(storage.queues[grant.resource]), "Arn"]}
        assert actions_on(statements, arn) == {"sqs:GetQueueAttributes"}, grant
    # The one secret it reads is the CDN's origin secret, which every API function checks.
    readable = [
        st["Resource"] for st in statements if "secretsmanager:GetSecretValue" in str(st.get("Action"))
    ]
    assert readable == [ref(skyreel.stack.secrets.secrets[str(skyreel.topology.api.origin_secret)])]


def test_cross_resource_grants(demo: Synthesized) -> None:
    statements = role_statements(demo, "items")
    assert "events:PutEvents" in actions_on(
        statements, {"Fn::GetAtt": [logical_id(demo.stack.storage.buses["events"]), "Arn"]}
    )
    machine_arn = lambda_props(demo, "items")["Environment"]["Variables"]["PUBLISH_STATE_MACHINE_ARN"]
    assert actions_on(statements, machine_arn) == {"states:StartExecution"}
    # ...and may watch its executions (a caller waiting for the outcome needs this).
    executions = [st for st in statements if "states:DescribeExecution" in str(st.get("Action"))]
    assert executions, "no states:DescribeExecution grant"
    assert ":execution:" in json.dumps(executions[0]["Resource"])
    authorizer = role_statements(demo, "authorizer")
    assert "secretsmanager:GetSecretValue" in actions_on(
        authorizer, ref(demo.stack.secrets.secrets["token_key"])
    )


def test_the_authorizer_reads_the_public_keys_never_the_private(skyreel: Synthesized) -> None:
    secrets = skyreel.stack.secrets
    statements = role_statements(skyreel, "auth_authorizer")
    assert "secretsmanager:GetSecretValue" in actions_on(statements, ref(secrets.secrets["jwt_public_keys"]))
    assert actions_on(statements, ref(secrets.secrets["jwt_signing_keys"])) == set()
    assert "jwt_signing_keys" not in json.dumps(statements)
    env = lambda_props(skyreel, "auth_authorizer")["Environment"]["Variables"]
    assert "JWT_SIGNING_KEYS_SECRET_ID" not in env
    assert "JWT_PUBLIC_KEYS_SECRET_ID" in env
    # The key generator writes the public half where the authorizer reads it.
    keygen = props(skyreel.template, logical_id(secrets.keygens["jwt_signing_keys"]))
    assert keygen["PublicSecretArn"] == ref(secrets.secrets["jwt_public_keys"])


def test_media_signers_get_the_cdn_url_and_the_token_keys(synthesized: Synthesized) -> None:
    """Playback URLs are built from configuration: the distribution's own domain, straight from
    CloudFormation, never from a request header."""
    media, stack = synthesized.topology.media, synthesized.stack
    assert media is not None
    assert media.signers, "both apps must exercise a signer"
    assert stack.cdn is not None
    cdn_url = {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [logical_id(stack.cdn.distribution), "DomainName"]}]]
    }
    secret = ref(stack.secrets.secrets[media.signing_secret])
    env_var = synthesized.topology.secret(media.signing_secret).env_var
    for fn in synthesized.topology.functions:
        env = lambda_props(synthesized, fn.id)["Environment"]["Variables"]
        reads = "secretsmanager:GetSecretValue" in actions_on(role_statements(synthesized, fn.id), secret)
        if fn.id in media.signers:
            assert env["CDN_URL"] == cdn_url, fn.id
            assert env[env_var] == secret, fn.id
            assert reads, f"{fn.id} signs media URLs but may not read {media.signing_secret}"
        else:
            assert "CDN_URL" not in env, fn.id
            if media.signing_secret not in fn.secrets:
                assert env_var not in env, fn.id
                assert not reads, f"{fn.id} does not sign media URLs but may read {media.signing_secret}"


def test_media_invalidators_get_the_distribution_and_may_invalidate_only_it(synthesized: Synthesized) -> None:
    media, stack = synthesized.topology.media, synthesized.stack
    assert media is not None
    assert media.invalidators, "both apps must exercise an invalidator"
    assert stack.cdn is not None
    distribution = logical_id(stack.cdn.distribution)
    for fn in synthesized.topology.functions:
        env = lambda_props(synthesized, fn.id)["Environment"]["Variables"]
        statements = role_statements(synthesized, fn.id)
        grants = [st for st in statements if "cloudfront:CreateInvalidation" in json.dumps(st.get("Action"))]
        if fn.id in media.invalidators:
            assert env["CDN_DISTRIBUTION_ID"] == {"Ref": distribution}, fn.id
            (grant,) = grants
            assert grant["Action"] == "cloudfront:CreateInvalidation"
            assert distribution in json.dumps(grant["Resource"])  # that distribution, not `*`
        else:
            assert "CDN_DISTRIBUTION_ID" not in env, fn.id
            assert not grants, fn.id


def test_zip_code_is_only_the_functions_package(skyreel: Synthesized) -> None:
    code = lambda_props(skyreel, "platform")["Code"]
    asset = Path(skyreel.app.outdir) / f"asset.{code['S3Key'].removesuffix('.zip')}"
    top = {p.name for p in Path(asset).iterdir()}
    assert top == {"functions"}
    assert (Path(asset) / "functions" / "__init__.py").exists()
    assert not list(Path(asset).rglob("__pycache__"))
    assert not list(Path(asset).rglob("tests"))


def test_every_api_function_and_the_authorizer_checks_the_origin_secret(skyreel: Synthesized) -> None:
    """They get ORIGIN_SECRET_ID and may read that secret; no other function may."""
    topology = skyreel.topology
    secret_id = topology.api.origin_secret
    assert secret_id is not None
    checkers = {r.function for r in topology.api.routes}
    assert topology.api.authorizer is not None
    checkers.add(topology.api.authorizer.function)
    assert topology.origin_checkers() == checkers
    secret = ref(skyreel.stack.secrets.secrets[secret_id])
    for fn in topology.functions:
        env = lambda_props(skyreel, fn.id)["Environment"]["Variables"]
        reads = "secretsmanager:GetSecretValue" in actions_on(role_statements(skyreel, fn.id), secret)
        assert (env.get("ORIGIN_SECRET_ID") == secret) == (fn.id in checkers), fn.id
        assert reads == (fn.id in checkers), fn.id
