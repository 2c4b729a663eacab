"""A new user's path through the dashboard in a real browser (Debian's Chromium): sign up, upload a generated
clip in parallel multipart parts, watch it become ready, play it (hls.js: the video's clock passes 2 s), pick
a quality, search for it (type-ahead, typo-tolerant, a background job), read the developer dashboard, create
and revoke an API key. And the upload's and the session's hard cases: resume after a reload, cancel, a
refreshed and an expired session. Screenshots of each page go to artifacts/e2e/."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from infra.model import ROOT
from tests.clips import make_clip
from tests.e2e.conftest import Cloud, shot
from tests.e2e.serve import SINGLE_PUT_MAX_BYTES

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough passphrase"
READY_TIMEOUT_MS = 180_000
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 14 s 640x360 H.264/AAC clip of about 7.7 MiB: over the single-PUT limit, so it goes in 2 parts."""
    path = make_clip(tmp_path_factory.mktemp("e2e") / "galaxy-tour.mp4", "640x360", 14, kbps=16000)
    assert path.stat().st_size > SINGLE_PUT_MAX_BYTES, "the clip must be large enough for a multipart upload"
    return path


def sign_up(page: Page, cloud: Cloud) -> str:
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    page.goto(f"{cloud.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Your library")).to_be_visible()
    return email


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def session(page: Page) -> dict[str, Any]:
    stored: dict[str, Any] = json.loads(page.evaluate("localStorage.getItem('skyreel.session')"))
    return stored


def api(cloud: Cloud, page: Page, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The API as the signed-in browser user (its access token, read from the page)."""
    headers = {"Authorization": f"Bearer {session(page)['access_token']}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{cloud.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)


def recorded(page: Page) -> list[Request]:
    """Every request the page makes from now on (playwright wants a Python function, not a bound builtin)."""
    seen: list[Request] = []

    def record(request: Request) -> None:
        seen.append(request)

    page.on("request", record)
    return seen


def part_puts(requests: list[Request]) -> list[str]:
    return [r.url for r in requests if r.method == "PUT" and "/_s3/" in r.url and "partNumber=" in r.url]


def part_number(url: str) -> int:
    return int(url.split("partNumber=", 1)[1].split("&", 1)[0])


def test_a_new_user_uploads_watches_searches_and_manages_keys(
    page: Page, e2e_cloud: Cloud, clip: Path
) -> None:
    cloud = e2e_cloud
    requests = recorded(page)

    # sign up
    page.goto(f"{cloud.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "01-sign-in")
    sign_up(page, cloud)
    expect(page.get_by_text("No videos yet")).to_be_visible()
    shot(page, "02-library-empty")

    # upload: a file picker, the title, multipart in parallel parts, a progress bar
    title = f"Galaxy tour {uuid.uuid4().hex[:6]}"
    nav(page, "Upload")
    page.locator("input[type=file]").set_input_files(clip)
    expect(page.get_by_text("galaxy-tour.mp4")).to_be_visible()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Tags").fill("space, e2e")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Uploaded.")).to_be_visible(timeout=60_000)
    expect(page.get_by_label("Upload progress")).to_have_js_property("value", 100)
    shot(page, "03-upload")
    parts = part_puts(requests)
    assert sorted({part_number(u) for u in parts}) == [1, 2], parts
    assert not page.evaluate("JSON.parse(localStorage.getItem('skyreel.uploads') || '[]')"), (
        "a finished upload stays listed"
    )

    # the library: live status while it processes, then ready with its poster
    nav(page, "Library")
    card = page.locator(".video-card", has_text=title)
    expect(card).to_be_visible()
    shot(page, "04-library-processing")
    expect(card).to_have_attribute("data-status", "ready", timeout=READY_TIMEOUT_MS)
    poster = card.locator(".poster img")
    expect(poster).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=poster.element_handle())
    library_png = shot(page, "05-library")

    # the player
    video_id = card.get_attribute("data-id")
    record = api(cloud, page, "GET", f"/videos/{video_id}").json()
    codecs = record["renditions"][0]["codecs"]
    mime = f'video/mp4; codecs="{codecs}"'
    supported = page.evaluate("mime => window.MediaSource && MediaSource.isTypeSupported(mime)", mime)
    assert supported, (
        f"this Chromium cannot play the ladder's H.264/AAC through Media Source Extensions: "
        f"MediaSource.isTypeSupported('{mime}') is false (Debian's chromium package plays it)"
    )
    card.locator("a").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    quality = page.get_by_label("Quality")
    expect(quality).to_be_enabled()
    rungs = [r["name"] for r in sorted(record["renditions"], key=lambda r: -r["height"])]
    assert quality.locator("option").all_inner_texts() == ["Auto", *rungs]
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_function("document.getElementById('player').currentTime > 2", timeout=60_000)
    quality.select_option(label=rungs[-1])
    expect(page.locator("#now-playing")).to_contain_text(f"Playing {rungs[-1]}", timeout=20_000)
    # pausing sends the view beacon with the session's figures (the analytics API takes it, or is not there yet)
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith(f"/videos/{video_id}/views")
    ) as sent:
        page.evaluate("document.getElementById('player').pause()")
    body = json.loads(sent.value.post_data or "{}")
    assert body["watched_s"] > 1.5, body
    assert body["startup_ms"] >= 0, body
    assert body["rebuffer_ms"] >= 0, body
    assert body["session_id"], body
    assert body["viewer_id"] == page.evaluate("localStorage.getItem('skyreel.viewer_id')")
    assert body["rendition"] == rungs[-1], body
    assert "error" not in body, body  # no error: the optional field is left out
    # storyboard preview on hover over the timeline
    seek = page.get_by_label("Seek")
    box = seek.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    preview = page.locator(".preview")
    expect(preview).to_be_visible()
    assert "storyboard.jpg" in preview.locator(".preview-img").evaluate("el => el.style.backgroundImage")
    player_png = shot(page, "06-player")
    page.mouse.move(0, 0)

    # search: type-ahead (text), typo-tolerant (fuzzy), a background job
    nav(page, "Search")
    box_ = page.get_by_label("Search", exact=True)
    box_.press_sequentially("galax", delay=60)
    expect(page.locator(".hit-title", has_text=title)).to_be_visible(timeout=20_000)
    expect(page.locator(".hit-title mark").first).to_have_text("Galaxy")
    box_.fill("galaxu tour")
    expect(page.get_by_text("No videos match")).to_be_visible()
    page.get_by_label("Typo-tolerant (fuzzy)").check()
    expect(page.locator(".hit-title", has_text=title)).to_be_visible()
    page.get_by_role("button", name="Run as a background job").click()
    job_row = page.locator("tr[data-job]").first
    expect(job_row.locator(".badge")).to_have_text("completed", timeout=60_000)
    job_row.get_by_role("button", name="Show 1 result").click()
    expect(page.locator(".job-results .hit-title", has_text=title)).to_be_visible()
    shot(page, "07-search")

    # the developer dashboard: the requests, or a clear "not available yet" until the analytics API lands
    nav(page, "Developer")
    usage = page.locator(".kpis, [data-state=not-available]")
    expect(usage.first).to_be_visible(timeout=30_000)
    if page.locator(".kpis").count():
        requests_kpi = page.locator(".kpi", has_text="Requests").locator("dd").inner_text()
        assert int(requests_kpi.replace(",", "")) > 0, requests_kpi
    else:
        expect(page.get_by_role("heading", name="Usage analytics are not available yet")).to_be_visible()
    shot(page, "08-developer")

    # API keys: create with scopes, shown once with a copy button, listed, revoked
    nav(page, "API keys")
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    page.get_by_label("Name").fill("e2e uploads")
    page.get_by_label("search and search jobs").check()
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("New API key").input_value()
    assert len(key) > 20
    expect(page.get_by_role("button", name="Copy key")).to_be_visible()
    row = page.locator("tr[data-key]", has_text="e2e uploads")
    expect(row).to_contain_text("videos:read")
    expect(row).to_contain_text("search")
    assert httpx.get(f"{cloud.url}/api/v1/videos", headers={"X-API-Key": key}, timeout=30).status_code == 200
    shot(page, "09-keys")
    page.get_by_role("button", name="I have saved it").click()
    expect(page.get_by_label("New API key")).to_have_count(0)
    row.get_by_role("button", name="Revoke e2e uploads").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    refused = httpx.get(f"{cloud.url}/api/v1/videos", headers={"X-API-Key": key}, timeout=30)
    assert refused.status_code in (401, 403), refused.text

    # readable at phone width: nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    nav(page, "Library")
    expect(card).to_have_attribute("data-status", "ready")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "10-library-phone")
    page.goto(f"{cloud.url}/#/videos/{video_id}")
    expect(page.get_by_label("Quality")).to_be_enabled()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "11-player-phone")

    # sign out: back to sign in, and the pages ask for it again
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{cloud.url}/#/keys")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(library_png, SCREENSHOTS / "library.png")
    shutil.copyfile(player_png, SCREENSHOTS / "player.png")


def test_an_upload_resumes_after_a_reload_and_a_cancel_leaves_nothing(
    page: Page, e2e_cloud: Cloud, clip: Path
) -> None:
    cloud = e2e_cloud
    sign_up(page, cloud)
    requests = recorded(page)

    # part 2 cannot get through: the upload stops, and says how to resume
    page.route("**/_s3/**partNumber=2**", lambda route: route.abort())
    nav(page, "Upload")
    page.locator("input[type=file]").set_input_files(clip)
    page.get_by_label("Title").fill("Resumed upload")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Choose the same file again to resume", timeout=60_000)
    pending = page.evaluate("JSON.parse(localStorage.getItem('skyreel.uploads'))")
    assert len(pending) == 1, pending
    assert pending[0]["method"] == "multipart", pending
    video_id = pending[0]["video_id"]
    assert api(cloud, page, "GET", f"/videos/{video_id}").json()["status"] == "awaiting_upload"
    page.unroute("**/_s3/**partNumber=2**")

    # after a reload the unfinished upload is listed; the same file resumes and sends only part 2
    page.reload()
    expect(page.get_by_role("heading", name="Unfinished uploads")).to_be_visible()
    shot(page, "12-upload-resumable")
    requests.clear()
    page.locator("input[type=file]").set_input_files(clip)
    resume = page.get_by_role("button", name="Resume upload")
    expect(resume).to_be_visible()
    resume.click()
    expect(page.get_by_role("status").filter(has_text="Uploaded.")).to_be_visible(timeout=60_000)
    assert [part_number(u) for u in part_puts(requests)] == [2]
    assert not page.evaluate("JSON.parse(localStorage.getItem('skyreel.uploads') || '[]')")
    # S3's notification reaches ingest asynchronously: the file is checked, and the video moves on
    deadline = time.monotonic() + 60
    while (status := api(cloud, page, "GET", f"/videos/{video_id}").json()["status"]) == "awaiting_upload":
        assert time.monotonic() < deadline, "the resumed upload never arrived"
        time.sleep(0.5)
    assert status in ("uploaded", "processing", "ready"), status

    # cancel while the parts are in flight: the upload is aborted and the video deleted
    page.route("**/_s3/**partNumber=**", lambda route: None)  # held: never answered
    page.locator("input[type=file]").set_input_files(clip)
    page.get_by_label("Title").fill("Cancelled upload")
    page.get_by_role("button", name="Upload", exact=True).click()
    cancel = page.get_by_role("button", name="Cancel upload")
    expect(cancel).to_be_visible()
    page.wait_for_function("JSON.parse(localStorage.getItem('skyreel.uploads') || '[]').length === 1")
    cancelled_id = page.evaluate("JSON.parse(localStorage.getItem('skyreel.uploads'))[0].video_id")
    cancel.click()
    expect(page.get_by_role("status").filter(has_text="Upload cancelled")).to_be_visible()
    assert not page.evaluate("JSON.parse(localStorage.getItem('skyreel.uploads') || '[]')")
    answer = api(cloud, page, "GET", f"/videos/{cancelled_id}")
    assert answer.status_code == 404 or answer.json()["status"] == "deleting", answer.text


def test_a_session_is_refreshed_and_an_expired_one_goes_back_to_sign_in(page: Page, e2e_cloud: Cloud) -> None:
    cloud = e2e_cloud
    email = sign_up(page, cloud)
    # an access token the API refuses: the refresh token buys a new pair, and the page loads
    page.evaluate(
        "() => { const s = JSON.parse(localStorage.getItem('skyreel.session')); s.access_token = 'not-a-token';"
        " localStorage.setItem('skyreel.session', JSON.stringify(s)); }"
    )
    page.goto(f"{cloud.url}/#/keys")
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    assert session(page)["access_token"] != "not-a-token"
    # a session whose refresh token is spent too: back to sign in, saying why, then back where it was
    page.evaluate(
        "() => { const s = JSON.parse(localStorage.getItem('skyreel.session')); s.access_token = 'not-a-token';"
        " s.refresh_token = 'spent-refresh-token'; localStorage.setItem('skyreel.session', JSON.stringify(s)); }"
    )
    page.goto(f"{cloud.url}/#/search")
    expect(page.get_by_text("Your session has expired")).to_be_visible()
    shot(page, "13-session-expired")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).not_to_be_empty()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()


USAGE_ROW = {
    "total_requests": 1234,
    "success_rate": 0.975,
    "client_errors": 25,
    "server_errors": 6,
    "avg_ms": 41.5,
    "p50_ms": 22.0,
    "p95_ms": 120.0,
    "p99_ms": 310.0,
}


def test_the_developer_dashboard_draws_the_answers_of_the_analytics_contract(
    page: Page, e2e_cloud: Cloud
) -> None:
    """The analytics routes are built beside this page (ARCHITECTURE.md's contract): answered here in the
    browser with that contract's shapes (plus a field the page does not know), the page draws the summary,
    the daily charts and table, the endpoints, the per-key usage, and exports the file the API gives."""
    cloud = e2e_cloud
    sign_up(page, cloud)
    created = api(cloud, page, "POST", "/auth/api-keys", json={"name": "ci", "scopes": ["videos:read"]})
    assert created.status_code == 201, created.text
    days = [
        {"date": f"2026-11-{d:02d}", **USAGE_ROW, "total_requests": 100 + d, "new_field": 1}
        for d in range(24, 31)
    ]
    endpoints = [
        {"method": "GET", "route": "/api/v1/videos", **USAGE_ROW},
        {"method": "POST", "route": "/api/v1/videos", **USAGE_ROW, "total_requests": 40},
    ]
    answers = {
        "/api/v1/analytics/usage": USAGE_ROW,
        "/api/v1/analytics/usage/daily": {"items": days},
        "/api/v1/analytics/usage/endpoints": {"items": endpoints},
        f"/api/v1/analytics/api-keys/{created.json()['id']}/usage": {**USAGE_ROW, "total_requests": 77},
        "/api/v1/analytics/overview": {"views": 12, "unique_viewers": 5, "watch_s": 321.5},
    }

    def answer(route: Any) -> None:
        path = route.request.url.split(cloud.url, 1)[1].split("?", 1)[0]
        if path == "/api/v1/analytics/export":
            route.fulfill(status=200, content_type="text/csv", body="date,total_requests\n2026-11-30,130\n")
        elif path in answers:
            route.fulfill(status=200, json=answers[path])
        else:
            route.continue_()

    page.route("**/api/v1/analytics/**", answer)
    nav(page, "Developer")
    expect(page.locator(".kpi", has_text="Requests").locator("dd")).to_have_text("1,234")
    expect(page.locator(".kpi", has_text="Success rate").locator("dd")).to_have_text("97.5%")
    expect(page.locator(".kpi", has_text="p99").locator("dd")).to_have_text("310 ms")
    expect(page.locator(".chart canvas")).to_have_count(2)  # uPlot: requests per day, latency percentiles
    expect(page.get_by_role("table", name="Requests per day").locator("tbody tr")).to_have_count(7)
    endpoint_rows = page.get_by_role("table", name="Requests by endpoint").locator("tbody tr")
    expect(endpoint_rows).to_have_count(2)
    expect(endpoint_rows.first).to_contain_text("GET /api/v1/videos")
    expect(page.get_by_role("table", name="Requests by API key")).to_contain_text("77")
    expect(page.get_by_text("unique viewers")).to_be_visible()
    shot(page, "14-developer-with-usage")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    assert Path(download.value.path()).read_text() == "date,total_requests\n2026-11-30,130\n"
