"""Each function's settings model matches its grants in the topology, so a missing grant fails when the
function starts (the whole model is validated on the first invocation), never at one request."""

from __future__ import annotations

import importlib

import pytest
from pydantic import ValidationError

from functions.shared.config import EnvironmentModel
from infra.local.names import LocalNames
from infra.model import Access, Function
from infra.topology import TOPOLOGY

# Read by the shared API plumbing for every function serving a route (functions/shared/origin.py,
# principal.py, platform/openapi.py), not by a function's own settings.
API_PLUMBING = {"ORIGIN_SECRET_ID", "ROUTE_SCOPES", "OPTIONAL_ROUTES", "API_HANDLER_MODULES"}
# Set by the runtime for every function: its identity and logging, not configuration.
RUNTIME = {"SKYREEL_STAGE", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}

NAMES = LocalNames("http://127.0.0.1:1", public_url="http://127.0.0.1:2")


def _settings_model(fn: Function) -> type[EnvironmentModel]:
    model = getattr(importlib.import_module(fn.module), "Settings", None)
    assert isinstance(model, type), f"{fn.module} exposes no `Settings` (its function's EnvironmentModel)"
    assert issubclass(model, EnvironmentModel)
    return model


def _probed_only(fn: Function) -> set[str]:
    """Variables of DESCRIBE grants: the health check finds and probes them generically."""
    grants = [
        *((TOPOLOGY.table(g.resource).env_var, g) for g in fn.tables),
        *((TOPOLOGY.bucket(g.resource).env_var, g) for g in fn.buckets),
        *((TOPOLOGY.queue(g.resource).env_var, g) for g in fn.queues),
    ]
    return {var for var, grant in grants if grant.access is Access.DESCRIBE}


def _aliases(model: type[EnvironmentModel], required_only: bool = False) -> set[str]:
    return {
        str(field.alias or name)
        for name, field in model.model_fields.items()
        if field.is_required() or not required_only
    }


FUNCTIONS = [pytest.param(fn, id=fn.id) for fn in TOPOLOGY.functions]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_the_environment_the_topology_gives_a_function_satisfies_its_settings(fn: Function) -> None:
    model = _settings_model(fn)
    model.from_environment(TOPOLOGY.environment_for(fn, NAMES))


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_every_required_setting_comes_from_the_topology(fn: Function) -> None:
    env = TOPOLOGY.environment_for(fn, NAMES)
    missing = _aliases(_settings_model(fn), required_only=True) - set(env)
    assert not missing, f"{fn.id} requires {sorted(missing)}, which its grants in the topology do not give"


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_every_grant_a_function_has_is_read_by_its_settings(fn: Function) -> None:
    """A grant no setting reads is access to take away (least privilege), or a setting read elsewhere."""
    env = TOPOLOGY.environment_for(fn, NAMES)
    configuration = set(env) - API_PLUMBING - RUNTIME - _probed_only(fn) - set(fn.environment)
    unread = configuration - _aliases(_settings_model(fn))
    assert not unread, f"{fn.id} is given {sorted(unread)} but its Settings does not read it"


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_a_function_missing_a_grant_fails_to_start_naming_it(fn: Function) -> None:
    env = TOPOLOGY.environment_for(fn, NAMES)
    model = _settings_model(fn)
    for var in sorted(_aliases(model, required_only=True)):
        with pytest.raises(ValidationError, match=var):
            model.from_environment({k: v for k, v in env.items() if k != var})


class _Context:
    function_name = "skyreel-test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:skyreel-test"
    aws_request_id = "req-1"


def _forget_settings() -> None:
    from functions.auth import wiring as auth_wiring
    from functions.platform import handler as platform_handler
    from functions.transcode import wiring as transcode_wiring
    from functions.videos import wiring as videos_wiring

    for reset in (auth_wiring.reset, transcode_wiring.reset, videos_wiring.reset):
        reset()
    platform_handler._settings.cache_clear()


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_an_entry_point_checks_its_whole_settings_before_anything_else(
    fn: Function, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the first invocation, with any event: a missing grant fails there, naming it, not at the first
    request (or saga step, or authorization) that happens to need it."""
    env = TOPOLOGY.environment_for(fn, NAMES)
    missing = sorted(_aliases(_settings_model(fn), required_only=True))[0]
    for name in _aliases(_settings_model(fn)):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    module = importlib.import_module(fn.module)
    _forget_settings()
    try:
        with pytest.raises(ValidationError, match=missing):
            module.lambda_handler({}, _Context())
    finally:
        _forget_settings()
