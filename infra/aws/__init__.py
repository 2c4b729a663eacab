"""The CDK back end. Importing it silences jsii's Node end-of-life box for the Node running here, so
`npx cdk ...` run directly is as quiet as `make synth` (set the variables yourself to see it again)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess


def _silence_node_end_of_life() -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    if "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" in os.environ or not (node := shutil.which("node")):
        return
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    if match := re.match(r"v(\d+)\.", version):
        os.environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = match.group(1)


_silence_node_end_of_life()
