"""Build each CDK app ONCE per test session (per xdist worker) and share its templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.aws.app import build_app
from infra.aws.stack import SkyreelStack
from infra.model import Topology
from infra.topology import TOPOLOGY
from tests.infra.demo import demo_topology, write_source_root

# Skip asset bundling (the layer's pip install): tests stay fast and offline.
NO_BUNDLING: dict[str, object] = {"aws:cdk:bundling-stacks": []}


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: SkyreelStack
    topology: Topology
    templates: dict[str, Template]  # every stack in the app, by stack name

    @property
    def template(self) -> Template:
        return self.templates[self.stack.stack_name]


def synthesize(app: App, topology: Topology) -> Synthesized:
    stacks = [c for c in app.node.children if isinstance(c, SkyreelStack)]
    templates = {s.stack_name: Template.from_stack(s) for s in stacks}
    return Synthesized(app=app, stack=stacks[0], topology=topology, templates=templates)


@pytest.fixture(scope="session")
def skyreel() -> Synthesized:
    """The real topology (infra/topology/) as the CLI would synthesize it."""
    return synthesize(build_app(NO_BUNDLING), TOPOLOGY)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_source_root(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo(demo_root: Path) -> Synthesized:
    """A topology exercising every construct: authorizer, triggers, rules, workflow, image function, a
    built dashboard to deploy; in the disposable `dev` stage (the real one is `prod`), so both are checked."""
    topology = demo_topology(demo_root)
    app = build_app({**NO_BUNDLING, "stage": "dev"}, topology=topology, source_root=demo_root)
    return synthesize(app, topology)


@pytest.fixture(scope="session", params=["skyreel", "demo"])
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Each test using this runs against both apps."""
    result: Synthesized = request.getfixturevalue(request.param)
    return result
