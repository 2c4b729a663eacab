// The API client: the session (access + refresh token), one refresh at a time, the API's error shape.

export const API = "/api/v1";
const SESSION_KEY = "skyreel.session";
const REFRESH_MARGIN_MS = 30_000;

export interface Session {
  access_token: string;
  refresh_token: string;
  expires_at: number; // epoch ms when the access token expires
  email: string;
}

export interface ErrorDetail {
  location?: string;
  message?: string;
  type?: string;
}

/** An answer in the API's error shape, `{"error": {"code", "message", "details"}}` (or a network failure). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }

  /** The message with each detail ("title: String should have at most 200 characters"). */
  get full(): string {
    const parts = this.details
      .map((d) => [d.location, d.message].filter(Boolean).join(": "))
      .filter((s) => s && !this.message.includes(s));
    return parts.length ? `${this.message} ${parts.join("; ")}` : this.message;
  }
}

/** A 404 for a route the API does not have (yet): API Gateway's "No such route." / the resolver's own. */
export function isMissingRoute(err: unknown): boolean {
  return (
    err instanceof ApiError &&
    err.status === 404 &&
    (err.message === "No such route." || err.message.startsWith("No route for"))
  );
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.full;
  return err instanceof Error ? err.message : String(err);
}

export function getSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function setSession(tokens: { access_token: string; refresh_token: string; expires_in: number }, email: string): void {
  const session: Session = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: Date.now() + tokens.expires_in * 1000,
    email,
  };
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  localStorage.removeItem(SESSION_KEY);
}

let onExpired: () => void = () => undefined;
/** What to do when the session cannot be renewed (the router sends the user to sign in). */
export function whenSessionExpires(handler: () => void): void {
  onExpired = handler;
}

async function parseError(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText || "error"}`;
  let details: ErrorDetail[] = [];
  try {
    const body = await response.json();
    if (body && typeof body.error === "object" && body.error) {
      code = String(body.error.code ?? code);
      message = String(body.error.message ?? message);
      details = Array.isArray(body.error.details) ? body.error.details : [];
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message, details);
}

let refreshing: Promise<boolean> | null = null;

/** Trade the refresh token for a new pair; one at a time, since a refresh token is spent once. */
export function refreshSession(): Promise<boolean> {
  if (refreshing) return refreshing;
  const session = getSession();
  if (!session) return Promise.resolve(false);
  refreshing = (async () => {
    try {
      const response = await fetch(`${API}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: session.refresh_token }),
      });
      if (!response.ok) return false;
      setSession(await response.json(), session.email);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  auth?: boolean;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  keepalive?: boolean;
}

export function url(path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return `${API}${path}${qs ? `?${qs}` : ""}`;
}

/** The raw response of an API call, with the session's token (refreshed when it is about to expire or was
 * refused once); a 401 that a refresh cannot cure ends the session. Non-2xx answers throw ApiError. */
export async function apiResponse(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const auth = opts.auth ?? true;
  if (auth) {
    const session = getSession();
    if (session && session.expires_at - Date.now() < REFRESH_MARGIN_MS) await refreshSession();
  }
  const send = () => {
    const headers: Record<string, string> = { Accept: "application/json", ...(opts.headers ?? {}) };
    const session = auth ? getSession() : null;
    if (session) headers.Authorization = `Bearer ${session.access_token}`;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url(path, opts.query), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      keepalive: opts.keepalive,
    });
  };
  let response: Response;
  try {
    response = await send();
    if (response.status === 401 && auth && getSession()) {
      if (await refreshSession()) {
        response = await send();
      }
      if (response.status === 401) {
        clearSession();
        onExpired();
      }
    }
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "Could not reach the Skyreel API. Check your connection and try again.");
  }
  if (!response.ok) throw await parseError(response);
  return response;
}

export async function api<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const response = await apiResponse(method, path, opts);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// --- the shapes the dashboard reads (docs/openapi.json); extra fields are ignored -------------------

export type Status = "awaiting_upload" | "uploaded" | "processing" | "ready" | "failed" | "deleting";
export type Visibility = "public" | "unlisted" | "private";

export interface Rendition {
  name: string;
  width?: number;
  height?: number;
  bandwidth?: number;
  codecs?: string;
}

export interface Video {
  id: string;
  title: string;
  description: string;
  tags: string[];
  visibility: Visibility;
  status: Status;
  progress: number;
  duration_s: number | null;
  width: number | null;
  height: number | null;
  renditions: Rendition[];
  error: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface Playback {
  hls_url: string;
  poster_url: string;
  storyboard_url: string;
  expires_at: string | null;
}

export interface PartUrl {
  part_number: number;
  url: string;
}

export interface UploadInstructions {
  method: "PUT" | "multipart";
  url?: string | null;
  headers?: Record<string, string> | null;
  upload_id?: string | null;
  part_size?: number | null;
  parts?: PartUrl[] | null;
  expires_at: string;
}

export interface UploadProgress {
  method: "PUT" | "multipart";
  received: { part_number: number; etag: string; size: number }[];
  missing: PartUrl[];
  part_size: number | null;
  upload_id: string | null;
  expires_at: string;
}

export interface SearchHit {
  video_id: string;
  title: string;
  score: number;
  highlights: { field: string; snippet: string; matches: { start: number; end: number }[] }[];
}

export interface Job {
  job_id: string;
  status: "queued" | "running" | "completed" | "failed" | "cancelled";
  query: string;
  algorithm: "text" | "fuzzy";
  limit: number;
  results: SearchHit[];
  error: string | null;
  attempts: number;
  created_at: string;
  updated_at: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at?: string | null;
}

export const API_KEY_SCOPES: { scope: string; what: string }[] = [
  { scope: "videos:read", what: "list, read and play videos" },
  { scope: "videos:write", what: "upload, edit and delete videos" },
  { scope: "search", what: "search and search jobs" },
  { scope: "analytics:read", what: "usage and viewer analytics" },
];
