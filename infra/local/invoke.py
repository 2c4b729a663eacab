"""`python -m infra.local.invoke FUNCTION_ID EVENT_FILE [--endpoint URL]`: one invocation by hand.

What `sam local invoke -e` does, for this topology: the function's real handler runs once in a
local Lambda sandbox (`LambdaRuntime`) with the environment the topology gives it, on an event
file (see events/). The result JSON goes to stdout, so it pipes into `jq`; the function's logs and
a Lambda-style REPORT line go to stderr.

Without `--endpoint` a throwaway local cloud (in-memory moto, free ports, no prewarm) is started
so the function's tables, buckets and queues exist. With `--endpoint` (the AWS endpoint `make dev`
prints) nothing is started: the sandbox talks to that endpoint, so it sees the running cloud's data.

Exit status: 0 the invocation succeeded; 1 it failed (the Lambda error payload is on stderr);
2 a bad function id, event file or endpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from functions.shared import origin
from infra.local.cloud import LocalCloud, console_log_sink, free_port
from infra.local.runtime import InvocationError, LambdaRuntime
from infra.model import ROOT, Function, Topology
from infra.topology import TOPOLOGY

EVENTS_DIR = ROOT / "events"
USAGE_ERROR = 2
INVOCATION_FAILED = 1


class UsageError(Exception):
    """A mistake in the command line: reported on stderr with exit status 2."""


def resolve_function(topology: Topology, function_id: str) -> Function:
    try:
        return topology.function(function_id)
    except KeyError:
        valid = ", ".join(sorted(fn.id for fn in topology.functions))
        raise UsageError(f"unknown function {function_id!r}; valid ids: {valid}") from None


def load_event(name: str) -> Any:
    """Read the event as JSON: a path, `-` for stdin, or a bare file name under events/."""
    if name == "-":
        text, source = sys.stdin.read(), "stdin"
    else:
        path = Path(name)
        # `make invoke EVENT=apigw-rest-get-health.json` should work without spelling out events/.
        if not path.exists() and not path.is_absolute() and (EVENTS_DIR / path).exists():
            path = EVENTS_DIR / path
        if not path.is_file():
            samples = ", ".join(sorted(p.name for p in EVENTS_DIR.glob("*.json")))
            raise UsageError(f"no event file {name!r}; samples in {EVENTS_DIR}: {samples}")
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read event file {name!r}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise UsageError(f"{source} is not valid JSON: {exc.msg} at {where}") from None


def check_endpoint(endpoint: str) -> str:
    """Fail fast (exit 2) when nothing answers there, instead of a handler timing out on retries."""
    parsed = urllib.parse.urlsplit(endpoint)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise UsageError(f"--endpoint must be an http(s) URL, e.g. http://127.0.0.1:4566; got {endpoint!r}")
    try:
        with urllib.request.urlopen(endpoint, timeout=3):  # noqa: S310 - scheme checked above
            pass
    except urllib.error.HTTPError:
        pass  # any HTTP answer means an endpoint is listening
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"nothing answers at {endpoint} ({exc}); is `make dev` running?") from None
    return endpoint.rstrip("/")


def _drain_logs(function_id: str, timeout_s: float = 2.0) -> None:
    """Wait for the sandbox's log pumps to reach EOF, so no log line lands after the REPORT line.

    Only valid once the sandboxes are stopped. The pumps are the runtime's threads named `logs-<id>`.
    """
    deadline = time.monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread.name == f"logs-{function_id}":
            thread.join(max(0.0, deadline - time.monotonic()))


def _fail(message: str) -> NoReturn:
    print(f"invoke: {message}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)


def _through_the_cdn(event: Any, cloud: LocalCloud, endpoint: str | None) -> Any:
    """An API Gateway event gets the CDN's origin header, as every request through the CDN has it (a
    function serving the API refuses events without it). An event that sets the header keeps its own."""
    if not (isinstance(event, dict) and "httpMethod" in event and "requestContext" in event):
        return event
    secret = cloud.origin_secret(endpoint)
    headers = dict(event.get("headers") or {})
    if secret is None or any(k.lower() == origin.HEADER.lower() for k in headers):
        return event
    multi = dict(event.get("multiValueHeaders") or {})
    return {
        **event,
        "headers": {**headers, origin.HEADER: secret},
        "multiValueHeaders": {**multi, origin.HEADER: [secret]},
    }


def run(function_id: str, event: Any, endpoint: str | None, log_sink: Callable[[str, str], None]) -> int:
    fn = TOPOLOGY.function(function_id)
    if endpoint is None:
        cloud = LocalCloud(TOPOLOGY, port=free_port(), state_dir=None, prewarm=False, log_sink=log_sink)
        try:
            cloud.start()
        except OSError as exc:
            print(f"invoke: could not start the local cloud: {exc}", file=sys.stderr)
            return INVOCATION_FAILED
        runtime, close = cloud.runtime, cloud.stop
    else:
        # Not started: this object only lends `function_environment`, so local and `make dev` agree.
        cloud = LocalCloud(TOPOLOGY, prewarm=False, log_sink=log_sink)
        runtime = LambdaRuntime([(fn, cloud.sandbox_environment(fn, endpoint))], log_sink)
        close = runtime.close

    try:
        try:
            event = _through_the_cdn(event, cloud, endpoint)
            invocation = runtime.invoke(function_id, event)
        finally:
            # Stopping the sandboxes ends their log pipes; draining them keeps the REPORT line last.
            close()
            _drain_logs(function_id)
    except InvocationError as exc:
        print(json.dumps(exc.payload(), indent=2), file=sys.stderr)
        print(f"invoke: {function_id} failed: {exc.error_type}", file=sys.stderr)
        return INVOCATION_FAILED
    print(json.dumps(invocation.result, indent=2))
    report = (
        f"REPORT {function_id}  Duration: {invocation.duration_ms:.2f} ms  "
        f"Memory Size: {fn.memory_mb} MB  Cold start: {'yes' if invocation.cold_start else 'no'}"
    )
    if invocation.cold_start:
        report += f"  Init Duration: {invocation.init_ms:.2f} ms"
    print(report, file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.invoke",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "function_id",
        metavar="FUNCTION_ID",
        help=f"a function of the topology: {', '.join(fn.id for fn in TOPOLOGY.functions)}",
    )
    parser.add_argument(
        "event_file",
        metavar="EVENT_FILE",
        help="JSON event: a path, a file name under events/, or - for stdin",
    )
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="the AWS endpoint `make dev` prints (default: a throwaway local cloud)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")

    try:
        resolve_function(TOPOLOGY, args.function_id)
        event = load_event(args.event_file)
        endpoint = check_endpoint(args.endpoint) if args.endpoint else None
    except UsageError as exc:
        _fail(str(exc))
    return run(args.function_id, event, endpoint, console_log_sink(sys.stderr))


if __name__ == "__main__":
    sys.exit(main())
