"""The embedded local cloud: the whole topology on one machine, no Docker, no AWS account.

    moto server (S3, SQS, DynamoDB + streams, Step Functions, EventBridge, Secrets Manager)
      ^  resources provisioned from the topology, data restored from the state directory
      |
    Lambda runtime (a sandbox process pool per function)  <- pollers (SQS, streams, rules)
      ^                                                   <- Step Functions tasks (moto hook)
      |
    front door (CloudFront layout: /api -> API Gateway semantics, /media, /)

`LocalCloud(...).start()` brings it all up and returns once healthy; `stop()` snapshots and tears down.
The same class backs `make dev` and the integration tests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import uvicorn
from botocore.config import Config
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from functions.shared.media_token import MediaKeys
from infra.local import dynamodb, stepfunctions, uploads
from infra.local.accesslog import AccessLogEmitter
from infra.local.frontdoor import FrontDoor
from infra.local.gateway import ApiGateway
from infra.local.names import REGION, LocalNames
from infra.local.provision import Provisioner
from infra.local.runtime import LambdaRuntime
from infra.local.sources import start_pollers
from infra.local.state import StateStore
from infra.local.usage import PlanDirectory, create_plans, reconcile_keys
from infra.model import ROOT, Function, Topology

log = logging.getLogger("skyreel.local")

# moto keeps its state in module globals, Step Functions finds Lambda through the process-wide MOTO_PORT,
# and the task and DynamoDB hooks patch moto's classes: two clouds running in one process would share
# and overwrite all of that. A second one started while the first runs is refused (sequential is fine).
_running_lock = threading.Lock()
_running: LocalCloud | None = None


class CloudAlreadyRunningError(RuntimeError):
    """Another LocalCloud is running in this process; start this one in a process of its own."""


LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "skyreel-local", "AWS_SECRET_ACCESS_KEY": "skyreel-local"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AwsClients:
    """boto3 clients for the local endpoint, one per service, shared by the cloud's own threads."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._config = Config(
            retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32, read_timeout=30
        )

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint, config=self._config
                )
            return self._clients[service]


def _metrics_line(emf: dict[str, Any]) -> str:
    names = [m["Name"] for d in emf["_aws"].get("CloudWatchMetrics", []) for m in d.get("Metrics", [])]
    figures = []
    for name in names:
        value = emf.get(name)
        values = value if isinstance(value, list) else [value]
        figures.append(
            f"{name}=" + ",".join(f"{v:g}" if isinstance(v, float | int) else str(v) for v in values)
        )
    return "METRICS " + " ".join(figures)


def console_log_sink(stream: Any = None) -> Callable[[str, str], None]:
    """Label each log line with its function; render powertools' JSON lines as one readable line."""
    out = stream or sys.stderr
    lock = threading.Lock()

    def sink(source: str, line: str) -> None:
        text = line
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict) and "_aws" in record:
                text = _metrics_line(record)  # an EMF document: CloudWatch reads it; show its figures
            if isinstance(record, dict) and "message" in record:
                extras = {
                    k: v
                    for k, v in record.items()
                    if k
                    not in {
                        "level",
                        "message",
                        "timestamp",
                        "service",
                        "location",
                        "cold_start",
                        "function_name",
                        "function_memory_size",
                        "function_arn",
                        "function_request_id",
                        "xray_trace_id",
                        "sampling_rate",
                    }
                }
                text = f"{record.get('level', 'INFO'):<7} {record['message']}" + (
                    f"  {json.dumps(extras, default=str)}" if extras else ""
                )
        with lock:
            out.write(f"{source:>14} | {text}\n")
            out.flush()

    return sink


@dataclass
class LocalCloud:
    topology: Topology
    port: int = 8000
    aws_port: int = 0  # 0: pick a free one
    state_dir: Path | None = None
    web_root: Path | None = None
    log_sink: Callable[[str, str], None] = field(default_factory=console_log_sink)
    snapshot_interval_s: float = 30.0
    prewarm: bool = True
    names: LocalNames = field(init=False)
    runtime: LambdaRuntime = field(init=False)
    gateway: ApiGateway = field(init=False)
    aws: AwsClients = field(init=False)
    started_in_s: float = field(init=False, default=0.0)
    _prewarming: list[threading.Thread] = field(init=False, default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def function_environment(self, endpoint: str | None = None) -> dict[str, str]:
        """What every sandbox gets besides its own topology environment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "SKYREEL_"))}
        env.update(LOCAL_CREDENTIALS)
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint or self.aws_endpoint,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
                "SKYREEL_PUBLIC_URL": self.url,
                # Presigned upload URLs point at the front door's checked S3 endpoint (infra/local/uploads.py).
                "S3_PUBLIC_ENDPOINT_URL": uploads.public_endpoint(self.url),
            }
        )
        return env

    def sandbox_environment(self, fn: Function, endpoint: str | None = None) -> dict[str, str]:
        """The whole environment of `fn`'s sandboxes: the common part plus the topology's, as in Lambda."""
        endpoint = endpoint or self.aws_endpoint
        names = LocalNames(endpoint, public_url=self.url)  # the front door is the local CDN
        env = {**self.function_environment(endpoint), **self.topology.environment_for(fn, names)}
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": names.function_name(fn),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
                "SKYREEL_FUNCTION_ARN": names.function_arn(fn),
                "_HANDLER": fn.handler,
            }
        )
        return env

    def start(self) -> LocalCloud:
        global _running  # noqa: PLW0603 - the one running cloud of this process
        with _running_lock:
            if _running is not None:
                raise CloudAlreadyRunningError(
                    f"a local cloud already runs in this process (front door {_running.url}): moto's state "
                    "is process-wide, so start another in a process of its own"
                )
            _running = self
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()  # a half-started cloud would keep its server threads and sandboxes alive
            raise
        self.started_in_s = time.perf_counter() - started
        return self

    def _start(self) -> None:
        self.aws_port = self.aws_port or free_port()
        # moto's Step Functions engine calls Lambda back through this port (see ARCHITECTURE.md).
        os.environ["MOTO_PORT"] = str(self.aws_port)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.aws_port, verbose=False)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines drown ours
        self._moto.start()
        self._configure_moto()
        self.names = LocalNames(self.aws_endpoint)
        self.aws = AwsClients(self.aws_endpoint)
        self.store = (
            StateStore(self.state_dir, self.topology, self.names, self.aws) if self.state_dir else None
        )
        provisioner = Provisioner(self.topology, self.names, self.aws)
        if self.store:
            provisioner.seed_secrets(self.store.saved_secrets())
        provisioner.create_resources()
        if self.store:
            restored = self.store.restore()
            if restored["items"] or restored["objects"]:
                log.info("restored %(items)d items and %(objects)d objects", restored)
        provisioner.wire_triggers()
        self._usage_plans()

        functions = [(fn, self.sandbox_environment(fn)) for fn in self.topology.functions]
        self.runtime = LambdaRuntime(functions, self.log_sink)
        self._uninstall_hook = stepfunctions.install(
            self.runtime, {self.names.function_name(fn): fn.id for fn in self.topology.functions}
        )
        self._uninstall_atomic_dynamodb = dynamodb.install()  # conditional writes race in moto otherwise

        self._stop = threading.Event()
        self._pollers = start_pollers(self.topology, self.names, self.aws, self.runtime, self._stop)
        self.gateway = ApiGateway(
            self.topology.api,
            lambda fid, event: self.runtime.invoke(fid, event).result,
            usage_plan_of=PlanDirectory(self.topology, self.names, self.aws.client("apigateway")),
        )
        self._access_log()
        self._serve()
        if self.prewarm:
            self._prewarm()
        if self.store:
            threading.Thread(target=self._snapshot_loop, name="snapshots", daemon=True).start()

    def _configure_moto(self) -> None:
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            f"{self.aws_endpoint}/moto-api/config",
            method="POST",
            data=json.dumps(
                {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def media_token_keys(self) -> dict[str, str]:
        """The playback token keys by id, as the CDN's key value store holds them in AWS (read at start:
        a key added to the secret is used after a restart)."""
        media = self.topology.media
        if media is None:
            return {}
        value = self.aws.client("secretsmanager").get_secret_value(
            SecretId=self.names.secret(media.signing_secret)
        )["SecretString"]
        return dict(MediaKeys.from_json(value).keys)

    def origin_secret(self, endpoint: str | None = None) -> str | None:
        """The value the CDN sends the API (`Api.origin_secret`); the front door adds it as CloudFront does."""
        secret_id = self.topology.api.origin_secret
        if secret_id is None:
            return None
        endpoint = endpoint or self.aws_endpoint
        aws = self.aws if hasattr(self, "aws") and self.aws.endpoint == endpoint else AwsClients(endpoint)
        value: str = aws.client("secretsmanager").get_secret_value(
            SecretId=LocalNames(endpoint).secret(secret_id)
        )["SecretString"]
        return value

    def _serve(self) -> None:
        media = self.topology.media
        front = FrontDoor(
            self.gateway,
            media=media,
            media_bucket=self.topology.bucket(media.bucket) if media else None,
            media_bucket_name=self.names.bucket(media.bucket) if media else None,
            s3=self.aws.client("s3"),
            media_keys=self.media_token_keys(),
            web_root=self.web_root or ROOT / self.topology.web_root,
            access_log=lambda line: self.log_sink("frontdoor", line),
            origin_secret=self.origin_secret(),
            uploads=uploads.PresignedUploads(
                {self.names.bucket(b.id): b for b in self.topology.buckets},
                self.aws_endpoint,
                Credentials(
                    LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"], LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
                ),
                REGION,
                access_log=lambda line: self.log_sink("frontdoor", line),
            ),
        )
        config = uvicorn.Config(
            front.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self._server.run, name="frontdoor", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the front door could not listen on 127.0.0.1:{self.port}")
            time.sleep(0.01)

    def _prewarm(self) -> None:
        """Start one sandbox per API function, and the authorizer's, in the background, so first requests
        are warm (`warm()` waits for them)."""
        api_functions = {r.function for r in self.topology.api.routes}
        if self.topology.api.authorizer is not None:
            api_functions.add(self.topology.api.authorizer.function)
        for fid in sorted(api_functions):
            thread = threading.Thread(
                target=self.runtime.prewarm, args=(fid,), daemon=True, name=f"prewarm-{fid}"
            )
            thread.start()
            self._prewarming.append(thread)

    def warm(self, timeout_s: float) -> bool:
        """Wait until the prewarmed sandboxes have started (True), so a first request waits for none;
        False if that takes longer than `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        for thread in self._prewarming:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._prewarming)

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(self.snapshot_interval_s):
            self.snapshot()

    def snapshot(self) -> None:
        if self.store is None:
            return
        try:
            self.store.save()
        except Exception:
            log.exception("snapshot failed; the previous one is kept")

    def _access_log(self) -> None:
        """The stage's access log (the topology's AccessLog): delivered to its bucket as Firehose would."""
        for access_log in self.topology.access_logs:
            self.access_logs = AccessLogEmitter(
                access_log,
                self.names.bucket(access_log.bucket),
                f"amazon-apigateway-{self.topology.name}-{access_log.id.replace('_', '-')}",
                self.aws.client("s3"),
                flush_s=float(os.environ.get("SKYREEL_LOCAL_ACCESS_LOG_FLUSH_S", "1.0")),
            )
            self.gateway.access_log = self.access_logs.emit

    def _usage_plans(self) -> None:
        """The API's usage plans, and every account's metering key on its plan (moto keeps no state)."""
        if not self.topology.api.usage_plans:
            return
        create_plans(self.topology, self.names, self.aws.client("apigateway"))
        salt_id = self.topology.api.usage_key_salt
        assert salt_id is not None  # the topology refuses usage plans without it
        salt = self.aws.client("secretsmanager").get_secret_value(SecretId=self.names.secret(salt_id))
        checked = reconcile_keys(self.topology, self.names, self.aws, salt["SecretString"])
        if checked:
            log.info("usage plan keys checked for %d accounts", checked)

    def stop(self) -> None:
        """Stop whatever has started; safe after a start() that failed or was interrupted midway."""
        started = vars(self)
        if "_stop" in started:
            self._stop.set()
        if "_server" in started:  # only snapshot a cloud that was fully provisioned and serving
            if "access_logs" in started:
                self.access_logs.close()  # the last records reach the bucket before the snapshot
            self.snapshot()
            self._server.should_exit = True
            self._server_thread.join(timeout=5)
        for poller in started.get("_pollers", []):
            poller.join(timeout=3)
        if "runtime" in started:
            self.runtime.close()
        if "_uninstall_hook" in started:
            self._uninstall_hook()
        if "_uninstall_atomic_dynamodb" in started:
            self._uninstall_atomic_dynamodb()
        if "_moto" in started:
            self._moto.stop()
        global _running  # noqa: PLW0603 - released once everything above has stopped
        with _running_lock:
            if _running is self:
                _running = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
