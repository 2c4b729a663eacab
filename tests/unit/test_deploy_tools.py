"""`make deploy`'s preflight, `make destroy`'s leftovers report, the layer's way to uv, and jsii's quiet Node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import boto3
import pytest
from moto import mock_aws

from infra.aws import layer, preflight, teardown
from infra.aws.stage import Stage

REGION: Final = "eu-west-1"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def completed(returncode: int = 0, stdout: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], returncode, stdout, "")


# --- preflight --------------------------------------------------------------------------------------


def test_an_account_without_bootstrap_is_told_the_command(session: boto3.Session) -> None:
    checks = {c.name: c for c in preflight.preflight(session, run=lambda _: completed(), machine="aarch64")}
    assert checks["credentials"].ok
    assert not checks["bootstrap"].ok
    assert f"npx cdk bootstrap aws://123456789012/{REGION}" in checks["bootstrap"].detail


def test_a_bootstrapped_account_passes(session: boto3.Session) -> None:
    session.client("cloudformation").create_stack(
        StackName="CDKToolkit", TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}'
    )
    ssm = session.client("ssm")
    ssm.put_parameter(Name=preflight.BOOTSTRAP_VERSION_PARAMETER, Value="28", Type="String")
    assert preflight.check_bootstrap(session, "123456789012", REGION).ok
    ssm.put_parameter(Name=preflight.BOOTSTRAP_VERSION_PARAMETER, Value="4", Type="String", Overwrite=True)
    old = preflight.check_bootstrap(session, "123456789012", REGION)
    assert not old.ok
    assert "older than 6" in old.detail


def test_an_unreachable_aws_is_a_failed_check_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    unreachable = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    check = preflight.check_bootstrap(unreachable, "123456789012", REGION)
    assert not check.ok
    assert "could not ask" in check.detail


def test_no_region_is_a_clear_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    check, _, _ = preflight.check_account(boto3.Session())
    assert not check.ok
    assert "AWS_REGION" in check.detail


def test_docker_missing_says_why_it_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _: None)
    check = preflight.check_docker(run=lambda _: completed())
    assert not check.ok
    assert "linux/arm64 container image" in check.detail


@pytest.mark.parametrize(
    ("answers", "ok", "says"),
    [
        ({"info": completed(1)}, False, "daemon"),
        ({"info": completed(), "buildx": completed(1)}, False, "buildx"),
        ({"info": completed(), "buildx": completed(0, "default  docker  linux/amd64")}, False, "binfmt"),
        (
            {"info": completed(), "buildx": completed(0, "default docker linux/amd64, linux/arm64")},
            True,
            "emulated",
        ),
    ],
)
def test_docker_on_x86_needs_a_daemon_buildx_and_arm64_emulation(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, subprocess.CompletedProcess[str]], ok: bool, says: str
) -> None:
    monkeypatch.setattr("shutil.which", lambda _: "/usr/bin/docker")
    check = preflight.check_docker(run=lambda command: answers[command[1]], machine="x86_64")
    assert (check.ok, says in check.detail) == (ok, True), check


# --- teardown --------------------------------------------------------------------------------------


def make_leftovers(session: boto3.Session, stage: str) -> None:
    session.client("dynamodb").create_table(
        TableName=f"skyreel-{stage}-videos",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    session.client("s3").create_bucket(
        Bucket=f"skyreel-{stage}-media-123456789012-{REGION}",
        CreateBucketConfiguration={"LocationConstraint": REGION},
    )
    secrets = session.client("secretsmanager")
    secrets.create_secret(Name=f"skyreel/{stage}/kept", SecretString="x")
    secrets.create_secret(Name=f"skyreel/{stage}/deleted", SecretString="x")
    secrets.delete_secret(SecretId=f"skyreel/{stage}/deleted", RecoveryWindowInDays=7)
    secrets.create_secret(Name="skyreel/other/kept", SecretString="x")  # another stage: not ours


def test_prod_lists_what_it_keeps_and_purges_nothing(session: boto3.Session) -> None:
    make_leftovers(session, "prod")
    found = teardown.leftovers(session, Stage("prod"))
    assert found.tables == ["skyreel-prod-videos"]
    assert found.buckets == [f"skyreel-prod-media-123456789012-{REGION}"]
    assert found.secrets == ["skyreel/prod/kept"]
    assert found.purged_secrets == []


def test_dev_purges_secrets_pending_deletion_so_a_redeploy_can_reuse_the_names(
    session: boto3.Session,
) -> None:
    make_leftovers(session, "dev")
    found = teardown.leftovers(session, Stage("dev"))
    assert found.purged_secrets == ["skyreel/dev/deleted"]
    secrets = session.client("secretsmanager")
    names = [s["Name"] for s in secrets.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    assert "skyreel/dev/deleted" not in names
    secrets.create_secret(Name="skyreel/dev/deleted", SecretString="again")  # the name is free again


# --- the stage ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Prod", "dev_1", "1dev", "averylongstagename", "dev-eu", ""])
def test_a_stage_name_that_cannot_be_part_of_every_resource_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="stage"):
        Stage(name)


# --- uv for the layer build ---------------------------------------------------------------------


def test_the_layer_finds_uv_as_a_python_module_when_it_is_not_on_the_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make setup` installs uv as `python3 -m uv`; without it the layer fell back to Docker bundling."""
    monkeypatch.delenv("SKYREEL_UV", raising=False)
    real_which = shutil.which
    monkeypatch.setattr("shutil.which", lambda name: None if name == "uv" else real_which(name))
    command = layer.uv_command()
    assert command is not None
    assert command[1:] == ["-m", "uv"]
    assert subprocess.run([*command, "--version"], capture_output=True, check=False).returncode == 0


def test_make_can_name_the_uv_to_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYREEL_UV", "python3 -m uv")
    assert layer.uv_command() == ["python3", "-m", "uv"]
    assert layer.with_uv(layer.EXPORT, ["python3", "-m", "uv"])[:4] == ["python3", "-m", "uv", "export"]


# --- Node's end-of-life box -----------------------------------------------------------------------


def test_the_cdk_app_silences_nodes_end_of_life_box() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_SILENCE")}
    ran = subprocess.run(
        [sys.executable, "-c", "import infra.aws, aws_cdk; aws_cdk.App()"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert "end-of-life" not in ran.stderr


def test_bundled_packaging_installs_each_export_next_to_the_code_without_tests_or_caches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The local bundler of a LocalStack zip: the wheels are PyPI's (not reachable offline), so the
    commands are recorded; the copy is real."""
    source = tmp_path / "src" / "functions"
    for name in ("__init__.py", "videos/handler.py", "videos/tests/test_x.py", "videos/__pycache__/h.pyc"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("")
    ran: list[list[str]] = []
    monkeypatch.setattr("subprocess.run", lambda command, **_: ran.append(command))
    monkeypatch.setenv("SKYREEL_UV", "python3 -m uv")
    out = tmp_path / "asset"
    bundler = layer.UvLocalBundling(
        exports=[layer.EXPORT, layer.KEYGEN_EXPORT], target="", copy=[(source, "functions")]
    )
    assert bundler.try_bundle(str(out), image=None)  # type: ignore[arg-type]
    exports = [c for c in ran if "export" in c]
    installs = [c for c in ran if "install" in c]
    assert [c[:4] for c in exports] == [["python3", "-m", "uv", "export"]] * 2
    assert len(installs) == 2
    assert all(c[c.index("--target") + 1] == str(out) for c in installs)
    copied = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert copied == ["functions/__init__.py", "functions/videos/handler.py"]
