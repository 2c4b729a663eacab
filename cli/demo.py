"""`make demo`: the first ten minutes in one command, against a running `make dev`.

Signs up (or back in) a demo account with the CLI, uploads a generated ten-second clip as a public video,
waits until it is ready and prints a URL that plays as is, and the dashboard's. Every step is a `skyreel`
command, printed as it runs, so it doubles as the CLI's tutorial (docs/cli.md).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import imageio_ffmpeg

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "skyreel first ten minutes"  # noqa: S105 - a local demo account's, printed for the dashboard
CLIP_SECONDS = 10


def make_clip(path: Path) -> Path:
    """A 640x360 H.264/AAC MP4 of FFmpeg's test pattern and a tone: nothing to download."""
    source = f"testsrc2=size=640x360:rate=25:duration={CLIP_SECONDS}"
    tone = f"sine=frequency=440:duration={CLIP_SECONDS}"
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "lavfi", "-i", source, "-f", "lavfi", "-i", tone, "-shortest"]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)]
    subprocess.run(command, check=True)  # noqa: S603 - our own arguments
    return path


class Demo:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.skyreel = str(Path(sys.executable).with_name("skyreel"))
        self.env = {**os.environ, "SKYREEL_API_URL": self.api_url, "SKYREEL_PASSWORD": DEMO_PASSWORD}
        self.env.pop("SKYREEL_API_KEY", None)  # the demo signs in as its own account

    def run(self, *args: str, capture: bool = False, quiet: bool = False) -> subprocess.CompletedProcess[str]:
        print(f"$ {shlex.join(['skyreel', *args])}", flush=True)
        return subprocess.run(  # noqa: S603 - the CLI installed next to this interpreter
            [self.skyreel, *args],
            env=self.env,
            text=True,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if quiet else None,
            check=False,
        )

    def check(self, done: subprocess.CompletedProcess[str]) -> str:
        if done.returncode != 0:
            raise SystemExit(done.returncode)
        return (done.stdout or "").strip()

    def main(self) -> int:
        try:
            httpx.get(f"{self.api_url}/api/v1/health", timeout=10)
        except httpx.TransportError:
            print(
                f"Nothing answers at {self.api_url}: start `make dev` first (in another terminal).",
                file=sys.stderr,
            )
            return 1
        signup = self.run("signup", "--email", DEMO_EMAIL, "--display-name", "Demo", quiet=True)
        if "HTTP 409" in signup.stderr:
            print("(the demo account exists already: signing in)", flush=True)
            self.check(self.run("login", "--email", DEMO_EMAIL))
        else:
            sys.stderr.write(signup.stderr)
            self.check(signup)
        with tempfile.TemporaryDirectory(prefix="skyreel-demo-") as work:
            clip = make_clip(Path(work) / "skyreel-demo.mp4")
            video_id = self.check(
                self.run(
                    "upload", str(clip), "--title", "Skyreel demo", "--tag", "demo",
                    "--visibility", "public", "--wait", capture=True,
                )
            )  # fmt: skip
        url = self.check(self.run("play", video_id, capture=True))
        print(
            f"""
Your video {video_id} is ready. It plays as is:
  ffplay {url}
  (or open it in VLC, or in Safari)

The dashboard: {self.api_url}/  (sign in as {DEMO_EMAIL} / {DEMO_PASSWORD})
The CLI is signed in as the demo account: try `.venv/bin/skyreel videos list` (docs/cli.md).""",
            flush=True,
        )
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--api-url", default=os.environ.get("SKYREEL_API_URL", "http://127.0.0.1:8000"))
    return Demo(parser.parse_args(argv).api_url).main()


if __name__ == "__main__":
    sys.exit(main())
