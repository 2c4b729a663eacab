import type { Level } from "hls.js";
import { api, ApiError, errorText, isMissingRoute, type Video } from "../api";
import { ViewBeacon } from "../beacon";
import { alertBox, confirmDialog, copyText, field, formatDate, formatDuration, formatNumber, h, replace, showAlert, statusBadge } from "../dom";
import { forgetPlayback, playback } from "../media";
import { flash, go, type Page } from "../nav";
import { parseStoryboard, tileAt, type Tile } from "../storyboard";
import { parseTags } from "./upload";

const POLL_MS = 2000;

function levelName(level: Level, video: Video): string {
  const rung = video.renditions.find((r) => r.height === level.height && (!r.width || r.width === level.width));
  return rung?.name ?? `${level.height}p`;
}

/** The player: hls.js (or native HLS), a quality selector over the renditions, storyboard previews. */
async function mountPlayer(host: HTMLElement, video: Video, urls: { hls_url: string; poster_url: string; storyboard_url: string }): Promise<() => void> {
  const { default: Hls } = await import("hls.js"); // its own chunk: only the player page loads it
  const el = h("video", { id: "player", controls: true, playsinline: true, preload: "metadata", poster: urls.poster_url, "aria-label": `Video: ${video.title}` });
  const quality = h("select", { id: "quality", name: "quality", disabled: true }, h("option", { value: "-1" }, "Auto"));
  const now = h("span", { class: "muted", id: "now-playing", "aria-live": "polite" });
  const seek = h("input", { type: "range", id: "seek", min: 0, max: video.duration_s ?? 0, step: 0.1, value: 0, "aria-label": "Seek" });
  const preview = h("div", { class: "preview", hidden: true, "aria-hidden": "true" }, h("div", { class: "preview-img" }), h("span", { class: "preview-time" }));
  const errorBox = alertBox();
  const beacon = new ViewBeacon(video.id, el);
  let tiles: Tile[] = [];
  let hls: InstanceType<typeof Hls> | null = null;

  replace(
    host,
    h("div", { class: "player-frame" }, el),
    h("div", { class: "scrubber" }, seek, preview),
    h(
      "div",
      { class: "player-bar" },
      h("div", { class: "field inline" }, h("label", { for: "quality" }, "Quality"), quality),
      now,
    ),
    errorBox,
  );

  const setLevels = (levels: Level[]) => {
    const order = levels.map((level, index) => ({ level, index })).sort((a, b) => b.level.height - a.level.height);
    replace(quality, h("option", { value: "-1" }, "Auto"), order.map(({ level, index }) => h("option", { value: String(index) }, levelName(level, video))));
    quality.disabled = false;
  };
  const showLevel = (index: number) => {
    const level = hls?.levels[index];
    if (!level) return;
    beacon.rendition = levelName(level, video);
    now.textContent = `Playing ${beacon.rendition}${hls && hls.autoLevelEnabled ? " (auto)" : ""}`;
  };

  if (Hls.isSupported()) {
    hls = new Hls({ capLevelToPlayerSize: false });
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => setLevels(data.levels));
    hls.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => showLevel(data.level));
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      const message = `Playback failed (${data.type}: ${data.details}).`;
      beacon.fail(message);
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls?.recoverMediaError();
        return;
      }
      showAlert(errorBox, `${message} Reload the page to try again.`);
    });
    hls.loadSource(urls.hls_url);
    hls.attachMedia(el);
    quality.addEventListener("change", () => {
      if (!hls) return;
      hls.currentLevel = Number(quality.value); // -1: automatic
      showLevel(hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel);
    });
  } else if (el.canPlayType("application/vnd.apple.mpegurl")) {
    el.src = urls.hls_url; // Safari plays HLS itself and picks the rendition itself
    replace(quality, h("option", { value: "-1" }, `Auto (${video.renditions.map((r) => r.name).join(", ")})`));
  } else {
    showAlert(errorBox, "This browser cannot play HLS video (no Media Source Extensions).");
  }
  el.addEventListener("error", () => {
    if (!hls && el.error) beacon.fail(`Playback failed (media error ${el.error.code}).`);
  });

  // The seek bar follows the video; hovering it shows the storyboard tile of that moment.
  el.addEventListener("loadedmetadata", () => {
    if (Number.isFinite(el.duration)) seek.max = String(el.duration);
  });
  el.addEventListener("timeupdate", () => {
    if (document.activeElement !== seek) seek.value = String(el.currentTime);
  });
  seek.addEventListener("input", () => {
    el.currentTime = Number(seek.value);
  });
  fetch(urls.storyboard_url)
    .then((r) => (r.ok ? r.text() : ""))
    .then((text) => (tiles = parseStoryboard(text, urls.storyboard_url)))
    .catch(() => undefined);
  const img = preview.querySelector<HTMLElement>(".preview-img")!;
  const label = preview.querySelector<HTMLElement>(".preview-time")!;
  seek.addEventListener("mousemove", (e) => {
    const rect = seek.getBoundingClientRect();
    const duration = Number(seek.max) || video.duration_s || 0;
    const ratio = Math.min(1, Math.max(0, (e.clientX - rect.left) / rect.width));
    const t = ratio * duration;
    const tile = tileAt(tiles, t);
    label.textContent = formatDuration(t);
    if (tile) {
      img.style.width = `${tile.w}px`;
      img.style.height = `${tile.h}px`;
      img.style.backgroundImage = `url("${tile.url}")`;
      img.style.backgroundPosition = `-${tile.x}px -${tile.y}px`;
    }
    img.hidden = !tile;
    preview.hidden = false;
    const half = (tile?.w ?? 60) / 2;
    preview.style.left = `${Math.min(rect.width - half, Math.max(half, ratio * rect.width))}px`;
  });
  seek.addEventListener("mouseleave", () => (preview.hidden = true));

  return () => {
    beacon.stop();
    hls?.destroy();
    el.removeAttribute("src");
    el.load();
  };
}

function editForm(video: Video, onSaved: (v: Video) => void): HTMLElement {
  const title = h("input", { type: "text", name: "title", value: video.title, required: true, maxlength: 200 });
  const description = h("textarea", { name: "description", rows: 3, maxlength: 5000 });
  description.value = video.description ?? "";
  const tags = h("input", { type: "text", name: "tags", value: video.tags.join(", ") });
  const visibility = h(
    "select",
    { name: "visibility" },
    (["private", "unlisted", "public"] as const).map((v) => h("option", { value: v, selected: v === video.visibility }, v[0].toUpperCase() + v.slice(1))),
  );
  const alert = alertBox();
  const save = h("button", { type: "submit", class: "primary" }, "Save changes");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "edit-heading" },
    h("h2", { id: "edit-heading" }, "Details"),
    alert,
    field("Title", title),
    field("Description", description),
    field("Tags", tags, "Separated by commas."),
    field("Visibility", visibility),
    h("div", { class: "actions" }, save),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    showAlert(alert, null);
    try {
      const saved = await api<Video>("PATCH", `/videos/${video.id}`, {
        body: { title: title.value.trim(), description: description.value, tags: parseTags(tags.value), visibility: visibility.value, version: video.version },
      });
      if (saved.visibility !== video.visibility) forgetPlayback(video.id);
      video = saved;
      showAlert(alert, "Saved.", "ok");
      onSaved(saved);
    } catch (err) {
      const text = err instanceof ApiError && err.status === 409 ? "This video changed since you opened it. Reload the page to see the latest version, then edit again." : errorText(err);
      showAlert(alert, text);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function analyticsPanel(videoId: string): HTMLElement {
  const box = h("section", { class: "card", "aria-labelledby": "views-heading" }, h("h2", { id: "views-heading" }, "Viewers"), h("p", { class: "muted" }, "Loading…"));
  api<Record<string, unknown>>("GET", `/analytics/videos/${videoId}`)
    .then((stats) => {
      const rows: [string, string][] = [
        ["Views", formatNumber(stats.views)],
        ["Unique viewers", formatNumber(stats.unique_viewers)],
        ["Watch time", typeof stats.watch_s === "number" ? formatDuration(stats.watch_s) : "–"],
        ["Startup p50 / p95", `${formatNumber(stats.startup_p50_ms)} / ${formatNumber(stats.startup_p95_ms)} ms`],
        ["Rebuffer ratio", typeof stats.rebuffer_ratio === "number" ? `${(stats.rebuffer_ratio * 100).toFixed(2)}%` : "–"],
        ["Failures", formatNumber(stats.failures)],
      ];
      replace(box, h("h2", { id: "views-heading" }, "Viewers"), h("dl", { class: "stats" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])));
    })
    .catch((err) => {
      const text = isMissingRoute(err) ? "Viewer analytics are not available yet on this API." : err instanceof ApiError && err.status === 404 ? "Only the owner sees this video's viewers." : errorText(err);
      replace(box, h("h2", { id: "views-heading" }, "Viewers"), h("p", { class: "muted notice", "data-state": isMissingRoute(err) ? "not-available" : "error" }, text));
    });
  return box;
}

export const renderPlayer: Page = (main, params) => {
  const id = params.id;
  let alive = true;
  let timer: number | undefined;
  let unmount: (() => void) | null = null;
  let shownStatus: string | null = null; // the side panel is redrawn only when the status changes

  const head = h("div", { class: "page-head" });
  const stage = h("section", { class: "stage", "aria-label": "Player" });
  const alert = alertBox();
  const side = h("div", { class: "side" });
  main.append(head, alert, h("div", { class: "player-layout" }, h("div", null, stage), side));
  main.setAttribute("aria-busy", "true");
  replace(stage, h("p", { class: "muted loading" }, "Loading…"));

  const renderHead = (video: Video) =>
    replace(
      head,
      h("div", null, h("h1", null, video.title), h("p", { class: "muted" }, statusBadge(video.status), ` ${video.visibility} · ${formatDuration(video.duration_s)} · added ${formatDate(video.created_at)}`)),
      h("a", { href: "#/library" }, "← Library"),
    );

  const actions = (video: Video) => {
    const del = h("button", { type: "button", class: "danger" }, "Delete video");
    del.addEventListener("click", async () => {
      if (!(await confirmDialog("Delete this video?", `“${video.title}” and every file of it (renditions, poster, storyboard) will be deleted. This cannot be undone.`, "Delete video"))) return;
      try {
        await api("DELETE", `/videos/${video.id}`);
        flash(`“${video.title}” is being deleted.`);
        go("#/library");
      } catch (err) {
        showAlert(alert, errorText(err));
      }
    });
    const buttons: HTMLElement[] = [];
    if (video.status === "failed") {
      buttons.push(
        h("button", { type: "button", onclick: () => transcode("retry") }, "Retry processing"),
      );
    }
    if (video.status === "processing" || video.status === "uploaded") {
      buttons.push(h("button", { type: "button", onclick: () => transcode("cancel") }, "Cancel processing"));
    }
    if (video.status === "ready") {
      buttons.push(
        h("button", {
          type: "button",
          onclick: async (e: Event) => {
            const p = await playback(video.id);
            const ok = await copyText(p.hls_url);
            (e.target as HTMLButtonElement).textContent = ok ? "Copied the playback URL" : "Copy failed";
          },
        }, "Copy playback URL"),
      );
    }
    return h("div", { class: "card actions-card" }, h("h2", null, "Actions"), h("div", { class: "actions" }, buttons, del));
  };

  async function transcode(action: "retry" | "cancel"): Promise<void> {
    try {
      await api("POST", `/videos/${id}/transcode/${action}`);
      await load();
    } catch (err) {
      showAlert(alert, errorText(err));
    }
  }

  async function load(): Promise<void> {
    window.clearTimeout(timer);
    try {
      const video = await api<Video>("GET", `/videos/${id}`);
      if (!alive) return;
      main.removeAttribute("aria-busy");
      renderHead(video);
      if (video.status !== shownStatus) {
        shownStatus = video.status;
        replace(side, editForm(video, renderHead), actions(video), video.status === "ready" ? analyticsPanel(video.id) : null);
      }
      if (video.status === "ready") {
        if (!unmount) {
          const urls = await playback(video.id);
          if (alive && !unmount) unmount = await mountPlayer(stage, video, urls);
          if (!alive) unmount?.();
        }
        return;
      }
      unmount?.();
      unmount = null;
      const pct = Math.max(0, Math.min(100, video.progress ?? 0));
      replace(
        stage,
        h(
          "div",
          { class: "placeholder" },
          video.status === "failed"
            ? [h("p", null, "Processing failed."), h("p", { class: "error-text" }, video.error ?? "")]
            : [
                h("p", null, video.status === "awaiting_upload" ? "Waiting for the file to arrive." : `Processing: ${pct}%`),
                h("progress", { max: 100, value: pct, "aria-label": "Processing progress" }),
              ],
        ),
      );
      if (["awaiting_upload", "uploaded", "processing", "deleting"].includes(video.status)) timer = window.setTimeout(() => void load(), POLL_MS);
    } catch (err) {
      main.removeAttribute("aria-busy");
      stage.replaceChildren();
      showAlert(alert, err instanceof ApiError && err.status === 404 ? "This video does not exist, or it is not yours." : errorText(err));
    }
  }

  void load();
  return () => {
    alive = false;
    window.clearTimeout(timer);
    unmount?.();
  };
};
