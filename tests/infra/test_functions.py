"""Every topology function is a Lambda with the declared shape, environment and grants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.model import Access, Packaging
from tests.infra.conftest import Synthesized
from tests.infra.helpers import actions_on, logical_id, policy_statements, props, ref

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
        assert env["SKYREEL_STAGE"] == "prod"
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
            assert ("dynamodb:Query" in actions) == (grant.access is not Access.WRITE), (fn.id, grant)
            assert ("dynamodb:PutItem" in actions) == (grant.access is not Access.READ), (fn.id, grant)
        for grant in fn.queues:
            actions = actions_on(
                statements, {"Fn::GetAtt": [logical_id(storage.queues[grant.resource]), "Arn"]}
            )
            consume = {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
            assert "sqs:GetQueueAttributes" in actions, (fn.id, grant)  # health checks read queue depth
            assert (consume <= actions) == (grant.access is not Access.WRITE), (fn.id, grant)
            assert ("sqs:SendMessage" in actions) == (grant.access is not Access.READ), (fn.id, grant)
        for grant in fn.buckets:
            bucket_objects = {
                "Fn::Join": ["", [{"Fn::GetAtt": [logical_id(storage.buckets[grant.resource]), "Arn"]}, "/*"]]
            }
            actions = actions_on(statements, bucket_objects)
            assert ("s3:GetObject*" in actions) == (grant.access is not Access.WRITE), (fn.id, grant)
            assert ("s3:PutObject" in actions) == (grant.access is not Access.READ), (fn.id, grant)


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


def test_media_signers_get_the_key_pair_id_and_the_signing_secret(synthesized: Synthesized) -> None:
    media, stack = synthesized.topology.media, synthesized.stack
    assert media is not None
    assert media.signers, "both apps must exercise a signer"
    key = stack.secrets.media_public_key
    assert key is not None
    key_id = {"Fn::GetAtt": [stack.get_logical_id(key), "Id"]}  # the CloudFront public key's id
    secret = ref(stack.secrets.secrets[media.signing_secret])
    env_var = synthesized.topology.secret(media.signing_secret).env_var
    for fn in synthesized.topology.functions:
        env = lambda_props(synthesized, fn.id)["Environment"]["Variables"]
        reads = "secretsmanager:GetSecretValue" in actions_on(role_statements(synthesized, fn.id), secret)
        if fn.id in media.signers:
            assert env["MEDIA_KEY_PAIR_ID"] == key_id, fn.id
            assert env[env_var] == secret, fn.id
            assert reads, f"{fn.id} signs media URLs but may not read {media.signing_secret}"
        else:
            assert "MEDIA_KEY_PAIR_ID" not in env, fn.id
            if media.signing_secret not in fn.secrets:
                assert env_var not in env, fn.id
                assert not reads, f"{fn.id} does not sign media URLs but may read {media.signing_secret}"


def test_zip_code_is_only_the_functions_package(skyreel: Synthesized) -> None:
    code = lambda_props(skyreel, "platform")["Code"]
    asset = Path(skyreel.app.outdir) / f"asset.{code['S3Key'].removesuffix('.zip')}"
    top = {p.name for p in Path(asset).iterdir()}
    assert top == {"functions"}
    assert (Path(asset) / "functions" / "__init__.py").exists()
    assert not list(Path(asset).rglob("__pycache__"))
    assert not list(Path(asset).rglob("tests"))
