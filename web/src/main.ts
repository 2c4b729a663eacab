import "./style.css";
import { api, clearSession, getSession, whenSessionExpires } from "./api";
import { h, replace } from "./dom";
import { type Cleanup, go, onRerender, type Page } from "./nav";
import { renderSignIn, renderSignUp } from "./pages/auth";
import { renderDeveloper } from "./pages/developer";
import { renderKeys } from "./pages/keys";
import { renderLibrary } from "./pages/library";
import { renderPlayer } from "./pages/player";
import { renderSearch } from "./pages/search";
import { renderUpload } from "./pages/upload";


interface RouteDef {
  pattern: RegExp;
  keys: string[];
  page: Page;
  title: string;
  public?: boolean;
}

function route(path: string, page: Page, title: string, isPublic = false): RouteDef {
  const keys: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/:([a-z_]+)/g, (_, key: string) => {
      keys.push(key);
      return "([^/]+)";
    })}$`,
  );
  return { pattern, keys, page, title, public: isPublic };
}

const ROUTES: RouteDef[] = [
  route("/signin", renderSignIn, "Sign in", true),
  route("/signup", renderSignUp, "Sign up", true),
  route("/library", renderLibrary, "Library"),
  route("/upload", renderUpload, "Upload"),
  route("/videos/:id", renderPlayer, "Video"),
  route("/search", renderSearch, "Search"),
  route("/developer", renderDeveloper, "Developer"),
  route("/keys", renderKeys, "API keys"),
];

const NAV: [string, string][] = [
  ["#/library", "Library"],
  ["#/upload", "Upload"],
  ["#/search", "Search"],
  ["#/developer", "Developer"],
  ["#/keys", "API keys"],
];


function parseHash(): { path: string; query: URLSearchParams } {
  const raw = location.hash.replace(/^#/, "") || "/library";
  const [path, qs] = raw.split("?", 2);
  return { path: path || "/library", query: new URLSearchParams(qs ?? "") };
}

async function signOut(): Promise<void> {
  const session = getSession();
  if (session) {
    try {
      await api("POST", "/auth/logout", { body: { refresh_token: session.refresh_token }, auth: false });
    } catch {
      // the session ends here whatever the API says
    }
  }
  clearSession();
  go("#/signin");
}

function renderHeader(currentPath: string): void {
  const top = document.getElementById("top")!;
  const session = getSession();
  const brand = h("a", { class: "brand", href: session ? "#/library" : "#/signin" }, "▶ Skyreel");
  if (!session) {
    replace(top, brand);
    return;
  }
  const links = NAV.map(([href, label]) =>
    h("a", { href, "aria-current": currentPath.startsWith(href.slice(1)) ? "page" : undefined }, label),
  );
  replace(
    top,
    brand,
    h("nav", { "aria-label": "Main" }, links),
    h(
      "div",
      { class: "account" },
      h("span", { class: "muted", title: "Signed in as" }, session.email),
      h("button", { type: "button", class: "link", onclick: () => void signOut() }, "Sign out"),
    ),
  );
}

let cleanup: Cleanup;
let renderSeq = 0;

async function render(): Promise<void> {
  const seq = ++renderSeq;
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  const { path, query } = parseHash();
  const main = document.getElementById("main")!;
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match) {
    renderHeader(path);
    replace(main, h("h1", null, "Not found"), h("p", null, "There is no page here. ", h("a", { href: "#/library" }, "Go to your library.")));
    return;
  }
  const { r, m } = match;
  if (!r.public && !getSession()) {
    go(`#/signin?next=${encodeURIComponent(`#${path}${query.toString() ? `?${query}` : ""}`)}`);
    return;
  }
  if (r.public && getSession() && (path === "/signin" || path === "/signup")) {
    go("#/library");
    return;
  }
  const params: Record<string, string> = {};
  r.keys.forEach((key, i) => (params[key] = decodeURIComponent(m![i + 1])));
  document.title = `${r.title} · Skyreel`;
  renderHeader(path);
  main.replaceChildren();
  main.removeAttribute("aria-busy");
  const result = await r.page(main, params, query);
  if (seq === renderSeq) cleanup = result;
  else if (typeof result === "function") result();
}

whenSessionExpires(() => {
  const { path, query } = parseHash();
  if (path === "/signin") return;
  const next = encodeURIComponent(`#${path}${query.toString() ? `?${query}` : ""}`);
  go(`#/signin?expired=1&next=${next}`);
});

onRerender(() => void render());
window.addEventListener("hashchange", () => void render());
void render();
