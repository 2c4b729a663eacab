"""What the publish workflow (infra/workflows/publish.asl.json) sends the transcode function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

# what each step needs besides the video and its key
NEEDS = {
    "plan": (),
    "whole": ("media_prefix",),
    "chunk": ("media_prefix", "plan", "chunk"),
    "finish": ("media_prefix", "plan", "chunks"),
}


@dataclass(frozen=True)
class Run:
    """One publish run's claim on a video: what to encode and where its outputs go."""

    video_id: str
    key: str  # the original in the uploads bucket
    media_prefix: str  # where the claim said to write (the visibility's prefix when it claimed)
    attempt: str | None = None  # the run (execution id); None: an execution from before attempts
    # the prefix to write to instead if the video is private by the time it writes (None: an
    # execution from before it was passed: the claim's prefix)
    private_prefix: str | None = None


class TranscodePayload(BaseModel):
    """Every step's input: `plan` needs only the video and its key; `whole`, `chunk` and `finish` the
    claim's prefixes and attempt; `chunk` the plan and its chunk; `finish` the plan and the chunks' results."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    step: str
    video_id: str
    key: str
    media_prefix: str | None = None
    private_prefix: str | None = None
    attempt: str | None = None
    plan: dict[str, Any] | None = None
    chunk: dict[str, Any] | None = None
    chunks: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _has_what_its_step_needs(self) -> TranscodePayload:
        missing = [name for name in NEEDS.get(self.step, ()) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"step {self.step!r} needs {', '.join(missing)}")
        return self

    def run(self) -> Run:
        assert self.media_prefix is not None  # checked for every step that runs an encode
        return Run(self.video_id, self.key, self.media_prefix, self.attempt, self.private_prefix)

    # the validator checked each of these is there for the steps that read it
    def planned(self) -> dict[str, Any]:
        assert self.plan is not None
        return self.plan

    def planned_chunk(self) -> dict[str, Any]:
        assert self.chunk is not None
        return self.chunk

    def chunk_results(self) -> list[dict[str, Any]]:
        assert self.chunks is not None
        return self.chunks
