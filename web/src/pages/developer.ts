import { api, apiResponse, errorText, isMissingRoute, type ApiKey } from "../api";
import { timeChart } from "../charts";
import { alertBox, field, formatNumber, h, replace, showAlert } from "../dom";
import { type Page } from "../nav";

type Row = Record<string, unknown>;
const DAY_MS = 86_400_000;

/** The rows of an answer, whatever the list is called (`items`, `days`, `endpoints`...): parsing stays
 * tolerant so the page keeps working as the analytics API grows fields. */
export function rowsOf(answer: unknown): Row[] {
  if (Array.isArray(answer)) return answer as Row[];
  if (answer && typeof answer === "object") {
    const obj = answer as Record<string, unknown>;
    for (const key of ["items", "days", "daily", "endpoints", "rows", "keys", "data", "results"]) {
      if (Array.isArray(obj[key])) return obj[key] as Row[];
    }
    const first = Object.values(obj).find(Array.isArray);
    if (first) return first as Row[];
  }
  return [];
}

const num = (row: Row, ...keys: string[]): number | null => {
  for (const k of keys) if (typeof row[k] === "number") return row[k] as number;
  return null;
};
const requests = (row: Row) => num(row, "total_requests", "requests", "count") ?? 0;
const dayOf = (row: Row): string => String(row.date ?? row.day ?? row.bucket ?? "");
const endpointOf = (row: Row): string => {
  if (typeof row.endpoint === "string") return row.endpoint;
  const path = row.route ?? row.path ?? row.resource ?? "";
  return `${row.method ?? ""} ${path}`.trim() || "(unknown)";
};
const pct = (v: number | null) => (v === null ? "–" : `${(v <= 1 ? v * 100 : v).toFixed(1)}%`);
const ms = (v: number | null) => (v === null ? "–" : `${formatNumber(v, 1)} ms`);
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

function notAvailable(what: string): HTMLElement {
  return h(
    "div",
    { class: "notice not-available", role: "status", "data-state": "not-available" },
    h("h2", null, "Usage analytics are not available yet"),
    h("p", null, `This API does not serve ${what} yet (it answered 404 for the route). The page fills in by itself once the analytics routes are deployed; until then, the API keys and the rest of the dashboard work as usual.`),
  );
}

function barCell(value: number, max: number): HTMLElement {
  const width = max > 0 ? Math.max(2, Math.round((value / max) * 100)) : 0;
  return h("td", { class: "bar-cell" }, h("span", { class: "bar", style: `width:${width}%`, "aria-hidden": "true" }), h("span", null, formatNumber(value)));
}

function summary(usage: Row): HTMLElement {
  const cards: [string, string][] = [
    ["Requests", formatNumber(requests(usage))],
    ["Success rate", pct(num(usage, "success_rate"))],
    ["Client errors (4xx)", formatNumber(num(usage, "client_errors"))],
    ["Server errors (5xx)", formatNumber(num(usage, "server_errors"))],
    ["Average", ms(num(usage, "avg_ms"))],
    ["p50", ms(num(usage, "p50_ms"))],
    ["p95", ms(num(usage, "p95_ms"))],
    ["p99", ms(num(usage, "p99_ms"))],
  ];
  return h("dl", { class: "kpis", "aria-label": "Usage summary" }, cards.map(([k, v]) => h("div", { class: "kpi" }, h("dt", null, k), h("dd", null, v))));
}

function table(caption: string, head: string[], body: HTMLElement[]): HTMLElement {
  return h(
    "div",
    { class: "table-wrap" },
    h("table", null, h("caption", null, caption), h("thead", null, h("tr", null, head.map((c) => h("th", { scope: "col" }, c)))), h("tbody", null, body)),
  );
}

const latencyCells = (row: Row) => [h("td", null, ms(num(row, "p50_ms"))), h("td", null, ms(num(row, "p95_ms"))), h("td", null, ms(num(row, "p99_ms")))];

export const renderDeveloper: Page = (main) => {
  let alive = true;
  const disposers: (() => void)[] = [];
  const today = new Date();
  const from = h("input", { type: "date", name: "from", value: isoDay(new Date(today.getTime() - 6 * DAY_MS)) });
  const to = h("input", { type: "date", name: "to", value: isoDay(today) });
  const alert = alertBox();
  const body = h("div", { class: "dev-body", "aria-live": "polite" });
  const range = () => ({ from: from.value, to: to.value });

  const exportButton = (format: "csv" | "json") =>
    h("button", {
      type: "button",
      onclick: async () => {
        showAlert(alert, null);
        try {
          const response = await apiResponse("GET", "/analytics/export", { query: { format, ...range() } });
          const blob = await response.blob();
          const a = h("a", { href: URL.createObjectURL(blob), download: `skyreel-usage-${from.value}-to-${to.value}.${format}` });
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
        } catch (err) {
          showAlert(alert, isMissingRoute(err) ? "Export is not available yet on this API." : errorText(err));
        }
      },
    }, `Export ${format.toUpperCase()}`);

  const form = h(
    "form",
    { class: "filters", "aria-label": "Date range" },
    field("From", from),
    field("To", to),
    h("button", { type: "submit", class: "primary" }, "Show"),
    exportButton("csv"),
    exportButton("json"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void load();
  });

  async function load(): Promise<void> {
    disposers.splice(0).forEach((d) => d());
    showAlert(alert, null);
    body.setAttribute("aria-busy", "true");
    replace(body, h("p", { class: "muted loading" }, "Loading usage…"));
    const q = { query: range() };
    let usage: Row;
    try {
      usage = await api<Row>("GET", "/analytics/usage", q);
    } catch (err) {
      body.removeAttribute("aria-busy");
      if (isMissingRoute(err)) replace(body, notAvailable("GET /api/v1/analytics/usage"));
      else {
        body.replaceChildren();
        showAlert(alert, errorText(err));
      }
      return;
    }
    const [daily, endpoints, keys, overview] = await Promise.allSettled([
      api<unknown>("GET", "/analytics/usage/daily", q),
      api<unknown>("GET", "/analytics/usage/endpoints", q),
      api<{ items: ApiKey[] }>("GET", "/auth/api-keys"),
      api<Row>("GET", "/analytics/overview", q),
    ]);
    if (!alive) return;
    body.removeAttribute("aria-busy");
    const sections: HTMLElement[] = [h("section", { "aria-labelledby": "sum-h" }, h("h2", { id: "sum-h" }, "Requests"), summary(usage))];

    // daily: requests as bars, p50/p95/p99 as lines, and the same as a table
    const days = daily.status === "fulfilled" ? rowsOf(daily.value).filter((r) => dayOf(r)) : [];
    const dailySection = h("section", { "aria-labelledby": "daily-h" }, h("h2", { id: "daily-h" }, "Daily"));
    if (daily.status === "rejected") dailySection.append(h("p", { class: "muted" }, isMissingRoute(daily.reason) ? "Daily figures are not available yet." : errorText(daily.reason)));
    else if (!days.length) dailySection.append(h("p", { class: "muted empty-line" }, "No requests in this range."));
    else {
      const xs = days.map((r) => Date.parse(`${dayOf(r).slice(0, 10)}T00:00:00Z`) / 1000);
      const reqChart = h("div", { class: "chart", role: "img", "aria-label": "Requests per day" });
      const latChart = h("div", { class: "chart", role: "img", "aria-label": "Latency percentiles per day" });
      dailySection.append(h("div", { class: "charts" }, reqChart, latChart));
      queueMicrotask(() => {
        if (!alive) return;
        disposers.push(timeChart(reqChart, "Requests per day", xs, [{ label: "Requests", values: days.map(requests), color: "#3b5bdb", bars: true }], "requests"));
        disposers.push(
          timeChart(latChart, "Latency", xs, [
            { label: "p50", values: days.map((r) => num(r, "p50_ms")), color: "#2f9e44" },
            { label: "p95", values: days.map((r) => num(r, "p95_ms")), color: "#f08c00" },
            { label: "p99", values: days.map((r) => num(r, "p99_ms")), color: "#c92a2a" },
          ], "ms"),
        );
      });
      dailySection.append(
        table("Requests per day", ["Day", "Requests", "Success", "p50", "p95", "p99"], days.map((r) => h("tr", null, h("td", null, dayOf(r).slice(0, 10)), h("td", null, formatNumber(requests(r))), h("td", null, pct(num(r, "success_rate"))), latencyCells(r)))),
      );
    }
    sections.push(dailySection);

    // per endpoint
    const eps = endpoints.status === "fulfilled" ? rowsOf(endpoints.value).sort((a, b) => requests(b) - requests(a)) : [];
    const epSection = h("section", { "aria-labelledby": "ep-h" }, h("h2", { id: "ep-h" }, "By endpoint"));
    if (endpoints.status === "rejected") epSection.append(h("p", { class: "muted" }, isMissingRoute(endpoints.reason) ? "The per-endpoint breakdown is not available yet." : errorText(endpoints.reason)));
    else if (!eps.length) epSection.append(h("p", { class: "muted empty-line" }, "No requests in this range."));
    else {
      const max = Math.max(...eps.map(requests));
      epSection.append(
        table("Requests by endpoint", ["Endpoint", "Requests", "Success", "4xx", "5xx", "p50", "p95", "p99"], eps.map((r) => h("tr", null, h("td", null, h("code", null, endpointOf(r))), barCell(requests(r), max), h("td", null, pct(num(r, "success_rate"))), h("td", null, formatNumber(num(r, "client_errors"))), h("td", null, formatNumber(num(r, "server_errors"))), latencyCells(r)))),
      );
    }
    sections.push(epSection);

    // per API key
    const keySection = h("section", { "aria-labelledby": "keys-h" }, h("h2", { id: "keys-h" }, "By API key"));
    const keyList = keys.status === "fulfilled" ? keys.value.items : [];
    if (!keyList.length) keySection.append(h("p", { class: "muted empty-line" }, "No API keys. ", h("a", { href: "#/keys" }, "Create one"), " to call the API from your code; its usage shows here."));
    else {
      const perKey = await Promise.all(keyList.map((k) => api<Row>("GET", `/analytics/api-keys/${k.id}/usage`, q).then((u) => ({ key: k, usage: u as Row | null, err: null as unknown }), (err) => ({ key: k, usage: null, err }))));
      if (!alive) return;
      const max = Math.max(0, ...perKey.map((p) => (p.usage ? requests(p.usage) : 0)));
      keySection.append(
        table("Requests by API key", ["Key", "Requests", "Success", "p50", "p95", "p99"], perKey.map(({ key, usage: u, err }) =>
          u
            ? h("tr", null, h("td", null, key.name, " ", h("code", null, key.prefix)), barCell(requests(u), max), h("td", null, pct(num(u, "success_rate"))), latencyCells(u))
            : h("tr", null, h("td", null, key.name, " ", h("code", null, key.prefix)), h("td", { colspan: 5, class: "muted" }, isMissingRoute(err) ? "not available yet" : errorText(err))),
        )),
      );
    }
    sections.push(keySection);

    if (overview.status === "fulfilled" && overview.value && typeof overview.value === "object") {
      const pairs = Object.entries(overview.value).filter(([, v]) => typeof v === "number" || typeof v === "string");
      if (pairs.length) sections.push(h("section", { "aria-labelledby": "ov-h" }, h("h2", { id: "ov-h" }, "Your videos' viewers"), h("dl", { class: "stats" }, pairs.map(([k, v]) => [h("dt", null, k.replace(/_/g, " ")), h("dd", null, typeof v === "number" ? formatNumber(v, 2) : String(v))]))));
    }
    replace(body, sections);
  }

  main.append(h("h1", null, "Developer dashboard"), h("p", { class: "muted" }, "Your API usage: every request your account and its API keys made."), form, alert, body);
  void load();
  return () => {
    alive = false;
    disposers.forEach((d) => d());
  };
};
