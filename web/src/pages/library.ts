import { api, errorText, type Video, type Status } from "../api";
import { alertBox, append, formatDuration, h, replace, showAlert, statusBadge } from "../dom";
import { playback } from "../media";
import { type Page, takeFlash } from "../nav";

const PAGE_SIZE = 12;
const WORKING: Status[] = ["awaiting_upload", "uploaded", "processing", "deleting"];
const POLL_MS = 2000;

function poster(video: Video): HTMLElement {
  const frame = h("div", { class: "poster", "aria-hidden": "true" });
  if (video.status === "ready") {
    playback(video.id)
      .then((p) => {
        const img = h("img", { src: p.poster_url, alt: "", loading: "lazy" });
        img.addEventListener("error", () => img.remove());
        frame.append(img);
      })
      .catch(() => undefined);
  } else {
    frame.append(h("span", { class: "poster-status" }, video.status === "failed" ? "!" : "…"));
  }
  return frame;
}

function progressLine(video: Video): HTMLElement | null {
  if (video.status === "processing" || video.status === "uploaded") {
    const pct = Math.max(0, Math.min(100, video.progress ?? 0));
    return h(
      "div",
      { class: "card-progress" },
      h("progress", { max: 100, value: pct, "aria-label": `Processing ${video.title}` }),
      h("span", { class: "muted" }, `${pct}%`),
    );
  }
  if (video.status === "failed" && video.error) return h("p", { class: "error-text" }, video.error);
  return null;
}

export function videoCard(video: Video): HTMLElement {
  return h(
    "li",
    { class: "video-card", dataset: { id: video.id, status: video.status } },
    h(
      "a",
      { href: `#/videos/${video.id}`, class: "card-link" },
      poster(video),
      h("span", { class: "video-title" }, video.title),
    ),
    h(
      "div",
      { class: "card-meta" },
      statusBadge(video.status),
      h("span", { class: "muted" }, video.visibility),
      video.duration_s ? h("span", { class: "muted" }, formatDuration(video.duration_s)) : null,
    ),
    progressLine(video),
  );
}

export const renderLibrary: Page = (main, _params, query) => {
  const scope = query.get("scope") === "public" ? "public" : "mine";
  const status = query.get("status") ?? "";
  const visibility = query.get("visibility") ?? "";
  const tag = query.get("tag") ?? "";
  const cursors: (string | null)[] = [null]; // the cursor of each page seen, for "Previous"
  let page = 0;
  let timer: number | undefined;
  let alive = true;

  const select = (name: string, label: string, value: string, options: [string, string][]) => {
    const el = h("select", { name, id: `filter-${name}` }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
    return h("div", { class: "field inline" }, h("label", { for: el.id }, label), el);
  };
  const tagInput = h("input", { type: "search", name: "tag", id: "filter-tag", value: tag, placeholder: "any" });
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter videos" },
    select("scope", "Show", scope, [
      ["mine", "My videos"],
      ["public", "Public catalogue"],
    ]),
    select("status", "Status", status, [
      ["", "Any status"],
      ["ready", "Ready"],
      ["processing", "Processing"],
      ["uploaded", "Uploaded"],
      ["awaiting_upload", "Awaiting upload"],
      ["failed", "Failed"],
    ]),
    select("visibility", "Visibility", visibility, [
      ["", "Any visibility"],
      ["public", "Public"],
      ["unlisted", "Unlisted"],
      ["private", "Private"],
    ]),
    h("div", { class: "field inline" }, h("label", { for: "filter-tag" }, "Tag"), tagInput),
    h("button", { type: "submit" }, "Apply"),
  );
  const apply = () => {
    const data = new FormData(filters);
    const qs = new URLSearchParams();
    for (const [k, v] of data.entries()) if (v && !(k === "scope" && v === "mine")) qs.set(k, String(v));
    location.hash = `#/library${qs.toString() ? `?${qs}` : ""}`;
  };
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  filters.querySelectorAll("select").forEach((s) => s.addEventListener("change", apply));

  const alert = alertBox();
  const list = h("ul", { class: "video-grid", "aria-label": "Videos" });
  const prev = h("button", { type: "button" }, "← Previous");
  const next = h("button", { type: "button" }, "Next →");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, prev, h("span", { class: "muted page-no" }), next);
  const body = h("section", { "aria-live": "polite" });
  const flashed = takeFlash();
  append(main, [
    h("div", { class: "page-head" }, h("h1", null, scope === "public" ? "Public catalogue" : "Your library"), h("a", { class: "button primary", href: "#/upload" }, "Upload a video")),
    flashed ? h("p", { class: "alert ok", role: "status" }, flashed) : null,
    filters,
    alert,
    body,
  ]);

  async function load(): Promise<void> {
    window.clearTimeout(timer);
    body.setAttribute("aria-busy", "true");
    replace(body, h("p", { class: "muted loading" }, "Loading videos…"));
    try {
      const answer = await api<{ items: Video[]; next_cursor: string | null }>("GET", "/videos", {
        query: { scope, status, visibility, tag, limit: PAGE_SIZE, cursor: cursors[page] },
      });
      if (!alive) return;
      body.removeAttribute("aria-busy");
      if (answer.next_cursor) cursors[page + 1] = answer.next_cursor;
      else cursors.length = page + 1;
      if (!answer.items.length) {
        const filtered = status || visibility || tag;
        replace(
          body,
          h(
            "div",
            { class: "empty" },
            h("h2", null, filtered ? "No videos match these filters" : scope === "public" ? "Nothing public yet" : "No videos yet"),
            filtered
              ? h("p", null, h("a", { href: "#/library" }, "Clear the filters"))
              : h("p", null, "Upload your first video and it will show up here. ", h("a", { href: "#/upload" }, "Upload a video")),
          ),
        );
        if (page === 0) return;
      } else {
        replace(list, answer.items.map(videoCard));
        replace(body, list);
      }
      prev.disabled = page === 0;
      next.disabled = !answer.next_cursor;
      pager.querySelector(".page-no")!.textContent = `Page ${page + 1}`;
      if (page > 0 || answer.next_cursor) body.append(pager);
      schedulePoll();
    } catch (err) {
      body.removeAttribute("aria-busy");
      body.replaceChildren();
      showAlert(alert, errorText(err));
    }
  }

  /** While a video is uploading or processing, refresh its card every couple of seconds. */
  function schedulePoll(): void {
    const working = [...list.querySelectorAll<HTMLElement>(".video-card")].filter((el) => WORKING.includes(el.dataset.status as Status));
    if (!working.length || !alive) return;
    timer = window.setTimeout(async () => {
      await Promise.all(
        working.map(async (el) => {
          try {
            const video = await api<Video>("GET", `/videos/${el.dataset.id}`);
            if (alive) el.replaceWith(videoCard(video));
          } catch {
            // gone (deleted) or a blip: the next full load shows it
          }
        }),
      );
      schedulePoll();
    }, POLL_MS);
  }

  prev.addEventListener("click", () => {
    if (page > 0) {
      page -= 1;
      void load();
    }
  });
  next.addEventListener("click", () => {
    if (cursors[page + 1]) {
      page += 1;
      void load();
    }
  });
  void load();
  return () => {
    alive = false;
    window.clearTimeout(timer);
  };
};
