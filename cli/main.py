"""`skyreel`: the Skyreel API from a terminal or a script (docs/cli.md).

Output: what a script wants goes to stdout (an id, a URL, a table, or with `--json` the API's own
response body); progress and messages go to stderr. Exit codes: 0 done; 1 the API refused (its message
on stderr); 2 bad usage; 3 not signed in or the API unreachable; 4 the video failed processing (or
`--wait` timed out); 130 interrupted (an upload resumes when run again).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cli.api import Api, ApiError, ApiKey, CliError, Credential, SessionCredential, session_from
from cli.config import Sessions, Uploads
from cli.upload import Interrupted, Source, Uploader, wait_until_processed

DEFAULT_API_URL = "http://127.0.0.1:8000"
USAGE_FIELDS = (
    "total_requests",
    "success_rate",
    "client_errors",
    "server_errors",
    "avg_ms",
    "p50_ms",
    "p95_ms",
    "p99_ms",
)

app = typer.Typer(
    name="skyreel",
    help="Skyreel from the command line: upload, watch, search, usage and API keys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
videos_app = typer.Typer(help="Your videos: list, show, update, delete, retry, cancel.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(videos_app, name="videos")
app.add_typer(keys_app, name="keys")

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def stdout() -> Console:
    # Tables in a pipe keep whole ids rather than fold them to 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


class Visibility(StrEnum):
    public = "public"
    unlisted = "unlisted"
    private = "private"


class Status(StrEnum):
    awaiting_upload = "awaiting_upload"
    uploaded = "uploaded"
    processing = "processing"
    ready = "ready"
    failed = "failed"
    deleting = "deleting"


@dataclass
class State:
    api_url: str
    _api: Api | None = field(default=None, init=False)

    @property
    def api(self) -> Api:
        """The API with the caller's credential: SKYREEL_API_KEY if set, else the stored session."""
        if self._api is None:
            key = os.environ.get("SKYREEL_API_KEY")
            credential: Credential = ApiKey(key) if key else SessionCredential(Sessions())
            self._api = Api(self.api_url, credential)
        return self._api


def state(ctx: typer.Context) -> State:
    found = ctx.find_object(State)
    assert found is not None
    return found


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the API's response body as JSON (docs/cli.md).")
]


@app.callback()
def root(
    ctx: typer.Context,
    api_url: Annotated[
        str, typer.Option("--api-url", envvar="SKYREEL_API_URL", help="The API's origin.")
    ] = DEFAULT_API_URL,
) -> None:
    ctx.obj = State(api_url.rstrip("/"))


# --- accounts -----------------------------------------------------------------------------------------


def _sign_in(st: State, email: str, password: str) -> None:
    api = Api(st.api_url)
    pair = api.call("POST", "/auth/login", auth=False, json={"email": email, "password": password})
    Sessions().put(api.url, session_from(pair, email))


EmailOption = Annotated[str, typer.Option(prompt=True, envvar="SKYREEL_EMAIL", help="Your account's email.")]


@app.command()
def login(
    ctx: typer.Context,
    email: EmailOption,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, envvar="SKYREEL_PASSWORD", help="Your password.")
    ],
) -> None:
    """Sign in: the session (a refresh token) is kept in your config directory, per API URL."""
    st = state(ctx)
    _sign_in(st, email, password)
    stderr.print(f"Signed in to {st.api_url} as {email}.")


@app.command()
def signup(
    ctx: typer.Context,
    email: EmailOption,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="SKYREEL_PASSWORD",
            help="At least 10 characters, not a common password.",
        ),
    ],
    display_name: Annotated[str | None, typer.Option(help="How you are shown.")] = None,
) -> None:
    """Create an account, then sign in to it."""
    st = state(ctx)
    body: dict[str, Any] = {"email": email, "password": password}
    if display_name:
        body["display_name"] = display_name
    Api(st.api_url).call("POST", "/auth/register", auth=False, json=body)
    _sign_in(st, email, password)
    stderr.print(f"Account {email} created; signed in to {st.api_url}.")


@app.command()
def logout(ctx: typer.Context) -> None:
    """End the stored session (at the API too) and forget it."""
    st, sessions = state(ctx), Sessions()
    session = sessions.get(st.api_url)
    if session is not None:
        try:
            Api(st.api_url).call(
                "POST", "/auth/logout", auth=False, json={"refresh_token": session.refresh_token}
            )
        finally:  # forgotten here even if the API could not be told: the error says so, exit non-zero
            sessions.forget(st.api_url)
    stderr.print(f"Signed out of {st.api_url}.")


@app.command()
def whoami(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The signed-in account."""
    body = state(ctx).api.call("GET", "/auth/me")
    if as_json:
        emit_json(body)
        return
    user = body.get("user", body)
    stdout().print(f"{user.get('email')}  (id {user.get('id')}, plan {user.get('plan', '-')})")


# --- uploads ------------------------------------------------------------------------------------------


class RichReporter:
    """Bytes sent, then (with --wait) processing, as rich progress bars on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bytes_task: TaskID | None = None

    def start(self, total: int, done: int) -> None:
        self.bytes_task = self.progress.add_task("uploading", total=total, completed=done)

    def sent(self, count: int) -> None:
        if self.bytes_task is not None:
            self.progress.advance(self.bytes_task, count)

    def note(self, message: str) -> None:
        self.progress.console.print(message)


@app.command()
def upload(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The video file.")],
    title: Annotated[str | None, typer.Option(help="Default: the file's name.")] = None,
    description: Annotated[str, typer.Option()] = "",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag; repeat for more.")] = None,
    visibility: Annotated[Visibility, typer.Option()] = Visibility.private,
    content_type: Annotated[str | None, typer.Option(help="Default: from the file's extension.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the video is ready (or failed).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 1800,
    parallel: Annotated[int, typer.Option(min=1, max=16, help="Parts sent at once (multipart).")] = 4,
    as_json: JsonOption = False,
) -> None:
    """Upload a video; prints its id. Run it again after an interruption: only what is missing is sent."""
    st = state(ctx)
    metadata = {
        "title": title or file.stem,
        "description": description,
        "tags": tag or [],
        "visibility": visibility.value,
    }
    columns = (
        TextColumn("{task.description:<11}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as progress:
        reporter = RichReporter(progress)
        try:
            video_id = Uploader(st.api, Uploads(), reporter, parallel).upload(
                Source.of(file, content_type), metadata
            )
        except KeyboardInterrupt:
            raise Interrupted("Interrupted: run the same command again to resume the upload.") from None
    stderr.print(f"Uploaded {file.name}: video {video_id}.")
    video = _wait(st.api, video_id, timeout) if wait else st.api.call("GET", f"/videos/{video_id}")
    if as_json:
        emit_json(video)
    else:
        sys.stdout.write(video_id + "\n")


def _wait(api: Api, video_id: str, timeout: float) -> dict[str, Any]:
    with Progress(
        TextColumn("{task.description:<11}"), BarColumn(), TaskProgressColumn(), console=stderr
    ) as progress:
        task = progress.add_task("uploaded", total=100)

        def update(video: dict[str, Any]) -> None:
            done = 100 if video["status"] == "ready" else int(video.get("progress") or 0)
            progress.update(task, description=video["status"], completed=done)

        video = wait_until_processed(api, video_id, update, timeout)
    stderr.print(f"Video {video_id} is ready.")
    return video


# --- videos -------------------------------------------------------------------------------------------


def _video_table(items: list[dict[str, Any]]) -> Table:
    table = Table(box=None, header_style="bold")
    for column in ("ID", "TITLE", "STATUS", "VISIBILITY", "DURATION", "CREATED"):
        table.add_column(column, overflow="fold")
    for v in items:
        status = v["status"] + (f" {v['progress']}%" if v["status"] == "processing" else "")
        duration = f"{v['duration_s']:.1f} s" if v.get("duration_s") else "-"
        table.add_row(v["id"], v["title"], status, v["visibility"], duration, v["created_at"])
    return table


@videos_app.command("list")
def videos_list(
    ctx: typer.Context,
    status: Annotated[Status | None, typer.Option()] = None,
    tag: Annotated[str | None, typer.Option()] = None,
    visibility: Annotated[Visibility | None, typer.Option()] = None,
    public: Annotated[bool, typer.Option("--public", help="The public catalogue, not your videos.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of a previous page.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Your videos (or the public catalogue), newest first: one page."""
    params: dict[str, Any] = {"limit": limit, "scope": "public" if public else "mine"}
    for name, value in (("status", status), ("tag", tag), ("visibility", visibility), ("cursor", cursor)):
        if value is not None:
            params[name] = value.value if isinstance(value, Enum) else value
    body = state(ctx).api.call("GET", "/videos", params=params)
    if as_json:
        emit_json(body)
        return
    if not body["items"]:
        stderr.print("No videos.")
        return
    stdout().print(_video_table(body["items"]))
    if body.get("next_cursor"):
        stderr.print(f"More: --cursor {body['next_cursor']}")


@videos_app.command("show")
def videos_show(
    ctx: typer.Context, video_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOption = False
) -> None:
    """One video."""
    video = state(ctx).api.call("GET", f"/videos/{video_id}")
    if as_json:
        emit_json(video)
        return
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name in (
        "id",
        "title",
        "description",
        "status",
        "progress",
        "visibility",
        "duration_s",
        "error",
        "version",
        "created_at",
        "updated_at",
    ):
        value = video.get(name)
        if value not in (None, ""):
            table.add_row(name, str(value))
    table.add_row("tags", ", ".join(video.get("tags") or []) or "-")
    rungs = [f"{r.get('height', '?')}p" for r in video.get("renditions") or []]
    table.add_row("renditions", ", ".join(rungs) or "-")
    stdout().print(table)


@videos_app.command("update")
def videos_update(
    ctx: typer.Context,
    video_id: Annotated[str, typer.Argument(metavar="ID")],
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Replaces the tags; repeat for more.")
    ] = None,
    visibility: Annotated[Visibility | None, typer.Option()] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a video's title, description, tags or visibility (only what you give)."""
    body: dict[str, Any] = {}
    for name, value in (
        ("title", title),
        ("description", description),
        ("tags", tag),
        ("visibility", visibility),
    ):
        if value is not None:
            body[name] = value.value if isinstance(value, Enum) else value
    if not body:
        raise typer.BadParameter("give at least one of --title, --description, --tag, --visibility.")
    video = state(ctx).api.call("PATCH", f"/videos/{video_id}", json=body)
    emit_json(video) if as_json else stderr.print(f"Updated {video_id}.")


@videos_app.command("delete")
def videos_delete(
    ctx: typer.Context, video_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOption = False
) -> None:
    """Delete a video and every file of it (it is `deleting` at once, gone shortly after)."""
    body = state(ctx).api.call("DELETE", f"/videos/{video_id}")
    emit_json(body) if as_json else stderr.print(f"Deleting {video_id}.")


def _action(ctx: typer.Context, video_id: str, action: str, as_json: bool) -> None:
    body = state(ctx).api.call("POST", f"/videos/{video_id}/transcode/{action}")
    emit_json(body) if as_json else stderr.print(f"{video_id}: {body['video']['status']}.")


@videos_app.command("retry")
def videos_retry(
    ctx: typer.Context, video_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOption = False
) -> None:
    """Process a failed video again."""
    _action(ctx, video_id, "retry", as_json)


@videos_app.command("cancel")
def videos_cancel(
    ctx: typer.Context, video_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOption = False
) -> None:
    """Stop processing a video."""
    _action(ctx, video_id, "cancel", as_json)


@app.command()
def play(
    ctx: typer.Context, video_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOption = False
) -> None:
    """Print the video's HLS URL: it plays as is (ffplay, VLC, a browser with hls.js)."""
    body = state(ctx).api.call("GET", f"/videos/{video_id}/playback")
    emit_json(body) if as_json else sys.stdout.write(body["hls_url"] + "\n")


# --- search and usage ---------------------------------------------------------------------------------


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words in titles, tags and descriptions.")],
    fuzzy: Annotated[bool, typer.Option("--fuzzy", help="Typo-tolerant.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=50)] = 10,
    as_json: JsonOption = False,
) -> None:
    """Search your videos and everyone's public ones."""
    params = {"q": query, "algorithm": "fuzzy" if fuzzy else "text", "limit": limit}
    body = state(ctx).api.call("GET", "/search", params=params)
    if as_json:
        emit_json(body)
        return
    if not body["results"]:
        stderr.print("No results.")
        return
    table = Table(box=None, header_style="bold")
    for column in ("ID", "TITLE", "SCORE"):
        table.add_column(column, overflow="fold")
    for hit in body["results"]:
        table.add_row(hit["video_id"], hit["title"], f"{hit['score']:.2f}")
    stdout().print(table)


@app.command()
def usage(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Your API usage: requests, success rate, errors and latency percentiles."""
    params = {k: v for k, v in (("from", since), ("to", until)) if v}
    try:
        body = state(ctx).api.call("GET", "/analytics/usage", params=params)
    except ApiError as exc:
        if exc.status == 404 and exc.code == "not_found":
            raise CliError(
                f"Usage analytics are not available on this server ({state(ctx).api_url}): {exc.message}"
            ) from None
        raise
    if as_json:
        emit_json(body)
        return
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name in USAGE_FIELDS:
        value = body.get(name)
        table.add_row(
            name, "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
        )
    stdout().print(table)


# --- API keys -----------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for.")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope", help="videos:read, videos:write, search, analytics:read; repeat (or comma-separate)."
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Create an API key; prints the key, which is shown this once."""
    scopes = [s.strip() for value in scope for s in value.split(",") if s.strip()]
    body = state(ctx).api.call("POST", "/auth/api-keys", json={"name": name, "scopes": scopes})
    if as_json:
        emit_json(body)
        return
    stderr.print(f"Key {body['id']} ({', '.join(body['scopes'])}): keep it now, it is not shown again.")
    sys.stdout.write(body["key"] + "\n")


@keys_app.command("list")
def keys_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your API keys (their prefixes, never the keys)."""
    body = state(ctx).api.call("GET", "/auth/api-keys")
    if as_json:
        emit_json(body)
        return
    if not body["items"]:
        stderr.print("No API keys.")
        return
    table = Table(box=None, header_style="bold")
    for column in ("ID", "NAME", "PREFIX", "SCOPES", "CREATED", "LAST USED"):
        table.add_column(column, overflow="fold")
    for key in body["items"]:
        table.add_row(
            key["id"],
            key["name"],
            key["prefix"],
            ",".join(key["scopes"]),
            key["created_at"],
            key.get("last_used_at") or "-",
        )
    stdout().print(table)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Revoke an API key: it stops working at once."""
    state(ctx).api.call("DELETE", f"/auth/api-keys/{key_id}")
    stderr.print(f"Revoked {key_id}.")


def main(argv: list[str] | None = None) -> int:
    """The `skyreel` entry point: every error becomes a message on stderr and an exit code."""
    try:
        result = app(args=argv, prog_name="skyreel", standalone_mode=False)
    except typer.Abort:
        stderr.print("Aborted.")
        return 1
    except typer.TyperException as exc:  # bad usage (typer's own click): its message, exit 2
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            stderr.print(f"error: {exc}", markup=False)
        return int(getattr(exc, "exit_code", 2))
    except ApiError as exc:
        stderr.print(f"error: {exc.describe()}", markup=False)
        return exc.exit_code
    except CliError as exc:
        stderr.print(f"error: {exc.message}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        stderr.print("Interrupted.")
        return 130
    except OSError as exc:  # the config directory or a file to upload: one line, not a traceback
        stderr.print(f"error: {exc}", markup=False)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
