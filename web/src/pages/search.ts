import { api, errorText, type Job, type SearchHit } from "../api";
import { alertBox, confirmDialog, field, formatDate, h, replace, showAlert, statusBadge } from "../dom";
import { type Page } from "../nav";

const TYPEAHEAD_MS = 150;
const JOBS_POLL_MS = 2000;

/** A snippet with its matched ranges in <mark>: offsets from the API, text nodes only (nothing to escape). */
function highlighted(snippet: string, matches: { start: number; end: number }[]): (string | HTMLElement)[] {
  const out: (string | HTMLElement)[] = [];
  let at = 0;
  for (const m of [...matches].sort((a, b) => a.start - b.start)) {
    if (m.start < at) continue;
    out.push(snippet.slice(at, m.start), h("mark", null, snippet.slice(m.start, m.end)));
    at = m.end;
  }
  out.push(snippet.slice(at));
  return out;
}

function hitItem(hit: SearchHit): HTMLElement {
  const title = hit.highlights.find((x) => x.field === "title");
  const others = hit.highlights.filter((x) => x.field !== "title");
  return h(
    "li",
    { class: "hit" },
    h("a", { href: `#/videos/${hit.video_id}`, class: "hit-title" }, title ? highlighted(title.snippet, title.matches) : hit.title),
    others.map((x) => h("p", { class: "snippet" }, h("span", { class: "muted" }, `${x.field}: `), highlighted(x.snippet, x.matches))),
  );
}

export const renderSearch: Page = (main, _params, query) => {
  let alive = true;
  let seq = 0;
  let debounce: number | undefined;
  let jobsTimer: number | undefined;
  let jobsCursor: string | null = null;
  const openJobs = new Set<string>();

  const q = h("input", { type: "search", name: "q", value: query.get("q") ?? "", autocomplete: "off", maxlength: 256, placeholder: "Titles, tags, descriptions" });
  const fuzzy = h("input", { type: "checkbox", name: "fuzzy", id: "fuzzy", checked: query.get("fuzzy") === "1" });
  const alert = alertBox();
  const results = h("section", { "aria-live": "polite", "aria-label": "Results" });
  const asJob = h("button", { type: "button" }, "Run as a background job");
  const form = h(
    "form",
    { role: "search", class: "search-form", "aria-label": "Search videos" },
    field("Search", q),
    h("div", { class: "check" }, fuzzy, h("label", { for: "fuzzy" }, "Typo-tolerant (fuzzy)")),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Search"), asJob),
  );

  const algorithm = () => (fuzzy.checked ? "fuzzy" : "text");

  async function search(): Promise<void> {
    const text = q.value.trim();
    const mine = ++seq;
    history.replaceState(null, "", `#/search${text ? `?q=${encodeURIComponent(text)}${fuzzy.checked ? "&fuzzy=1" : ""}` : ""}`);
    if (!text) {
      results.replaceChildren();
      showAlert(alert, null);
      return;
    }
    results.setAttribute("aria-busy", "true");
    try {
      const answer = await api<{ results: SearchHit[]; took_ms: number }>("GET", "/search", { query: { q: text, algorithm: algorithm(), limit: 20 } });
      if (mine !== seq || !alive) return; // a later keystroke's answer wins
      showAlert(alert, null);
      results.removeAttribute("aria-busy");
      replace(
        results,
        answer.results.length
          ? [
              h("p", { class: "muted" }, `${answer.results.length} result${answer.results.length === 1 ? "" : "s"} (${Math.round(answer.took_ms)} ms, ${algorithm()})`),
              h("ol", { class: "hits" }, answer.results.map(hitItem)),
            ]
          : h("div", { class: "empty" }, h("p", null, `No videos match “${text}”.`), fuzzy.checked ? null : h("p", { class: "muted" }, "Try the typo-tolerant search.")),
      );
    } catch (err) {
      if (mine !== seq) return;
      results.removeAttribute("aria-busy");
      results.replaceChildren();
      showAlert(alert, errorText(err));
    }
  }

  q.addEventListener("input", () => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => void search(), TYPEAHEAD_MS);
  });
  fuzzy.addEventListener("change", () => void search());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    window.clearTimeout(debounce);
    void search();
  });

  // --- background jobs ---------------------------------------------------------------------------
  const jobsAlert = alertBox();
  const jobsBody = h("div", { class: "table-wrap" });
  const more = h("button", { type: "button", hidden: true }, "Older jobs");
  let jobs: Job[] = [];

  asJob.addEventListener("click", async () => {
    const text = q.value.trim();
    if (!text) {
      showAlert(alert, "Type what to search for first.");
      q.focus();
      return;
    }
    try {
      await api("POST", "/search/jobs", { body: { query: text, algorithm: algorithm(), limit: 20 } });
      showAlert(jobsAlert, null);
      await loadJobs(true);
    } catch (err) {
      showAlert(jobsAlert, errorText(err));
    }
  });

  async function jobAction(job: Job, action: "cancel" | "retry"): Promise<void> {
    if (action === "cancel" && !(await confirmDialog("Cancel this job?", `The search for “${job.query}” stops; you can retry it later.`, "Cancel job"))) return;
    try {
      await api("POST", `/search/jobs/${job.job_id}/${action}`);
      await loadJobs(true);
    } catch (err) {
      showAlert(jobsAlert, errorText(err));
    }
  }

  function renderJobs(): void {
    if (!jobs.length) {
      replace(jobsBody, h("p", { class: "muted empty-line" }, "No search jobs yet. Run a search as a background job and follow it here."));
      return;
    }
    const rows = jobs.flatMap((job) => {
      const buttons: HTMLElement[] = [];
      if (job.status === "queued" || job.status === "running") buttons.push(h("button", { type: "button", class: "small", onclick: () => void jobAction(job, "cancel") }, "Cancel"));
      if (job.status === "failed" || job.status === "cancelled") buttons.push(h("button", { type: "button", class: "small", onclick: () => void jobAction(job, "retry") }, "Retry"));
      if (job.status === "completed") {
        const open = openJobs.has(job.job_id);
        buttons.push(
          h("button", {
            type: "button",
            class: "small",
            "aria-expanded": open ? "true" : "false",
            onclick: () => {
              if (open) openJobs.delete(job.job_id);
              else openJobs.add(job.job_id);
              renderJobs();
            },
          }, open ? "Hide results" : `Show ${job.results.length} result${job.results.length === 1 ? "" : "s"}`),
        );
      }
      const row = h(
        "tr",
        { dataset: { job: job.job_id } },
        h("td", null, job.query),
        h("td", null, job.algorithm),
        h("td", null, statusBadge(job.status), job.error ? h("div", { class: "error-text" }, job.error) : null),
        h("td", null, String(job.attempts)),
        h("td", null, formatDate(job.created_at)),
        h("td", { class: "actions" }, buttons),
      );
      if (!openJobs.has(job.job_id)) return [row];
      return [row, h("tr", { class: "job-results" }, h("td", { colspan: 6 }, job.results.length ? h("ol", { class: "hits" }, job.results.map(hitItem)) : h("p", { class: "muted" }, "No videos matched.")))];
    });
    replace(
      jobsBody,
      h(
        "table",
        null,
        h("caption", { class: "visually-hidden" }, "Your search jobs, newest first"),
        h("thead", null, h("tr", null, ["Query", "Algorithm", "Status", "Attempts", "Created", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, rows),
      ),
    );
  }

  async function loadJobs(fromStart: boolean): Promise<void> {
    window.clearTimeout(jobsTimer);
    try {
      const answer = await api<{ items: Job[]; next_cursor: string | null }>("GET", "/search/jobs", { query: { limit: 20, cursor: fromStart ? null : jobsCursor } });
      if (!alive) return;
      jobs = fromStart ? answer.items : [...jobs, ...answer.items];
      if (fromStart || answer.next_cursor === null) jobsCursor = answer.next_cursor;
      else jobsCursor = answer.next_cursor;
      more.hidden = !jobsCursor;
      renderJobs();
    } catch (err) {
      showAlert(jobsAlert, errorText(err));
    }
    if (alive && jobs.some((j) => j.status === "queued" || j.status === "running")) {
      jobsTimer = window.setTimeout(() => void refreshLive(), JOBS_POLL_MS);
    }
  }

  /** Live status: re-read each job still queued or running. */
  async function refreshLive(): Promise<void> {
    const live = jobs.filter((j) => j.status === "queued" || j.status === "running");
    await Promise.all(
      live.map(async (job) => {
        try {
          const fresh = await api<Job>("GET", `/search/jobs/${job.job_id}`);
          jobs = jobs.map((j) => (j.job_id === fresh.job_id ? fresh : j));
        } catch {
          // expired or a blip
        }
      }),
    );
    if (!alive) return;
    renderJobs();
    if (jobs.some((j) => j.status === "queued" || j.status === "running")) jobsTimer = window.setTimeout(() => void refreshLive(), JOBS_POLL_MS);
  }

  more.addEventListener("click", () => void loadJobs(false));

  main.append(
    h("h1", null, "Search"),
    form,
    alert,
    results,
    h("section", { class: "jobs", "aria-labelledby": "jobs-heading" }, h("h2", { id: "jobs-heading" }, "Search jobs"), jobsAlert, jobsBody, more),
  );
  q.focus();
  if (q.value) void search();
  void loadJobs(true);
  return () => {
    alive = false;
    window.clearTimeout(debounce);
    window.clearTimeout(jobsTimer);
  };
};
