// The view beacon the analytics API takes: POST /videos/{id}/views with one session's cumulative figures
// (watched_s, startup_ms, rebuffer_ms, the rendition playing, a fatal error), sent every 10 s while
// playing, on pause and end, and when the page goes away. Repeated beacons never count twice: the server
// keeps the latest of a session. A 404 for the route (the analytics API not deployed yet) stops it.

import { api, isMissingRoute } from "./api";

const VIEWER_KEY = "skyreel.viewer_id";
const EVERY_MS = 10_000;

function randomId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function viewerId(): string {
  let id = localStorage.getItem(VIEWER_KEY);
  if (!id) {
    id = randomId();
    localStorage.setItem(VIEWER_KEY, id);
  }
  return id;
}

export class ViewBeacon {
  readonly sessionId = randomId();
  private watched = 0;
  private lastTime: number | null = null;
  private playRequestedAt: number | null = null;
  private startupMs: number | null = null;
  private rebufferMs = 0;
  private waitingSince: number | null = null;
  private error: string | null = null;
  private sentWatched = -1;
  private disabled = false;
  private timer: number | undefined;
  rendition: string | null = null;
  lastStatus: "idle" | "sent" | "unavailable" | "failed" = "idle";

  constructor(
    private readonly videoId: string,
    private readonly video: HTMLVideoElement,
  ) {
    video.addEventListener("play", this.onPlay);
    video.addEventListener("playing", this.onPlaying);
    video.addEventListener("waiting", this.onWaiting);
    video.addEventListener("timeupdate", this.onTime);
    video.addEventListener("seeking", this.onSeeking);
    video.addEventListener("pause", this.flush);
    video.addEventListener("ended", this.flush);
    window.addEventListener("pagehide", this.flush);
    this.timer = window.setInterval(() => this.send(false), EVERY_MS);
  }

  fail(message: string): void {
    this.error = message.slice(0, 500);
    this.send(true);
  }

  stop(): void {
    this.flush();
    window.clearInterval(this.timer);
    window.removeEventListener("pagehide", this.flush);
  }

  /** The beacon's body; a figure not known yet (no startup, no error) is left out, as the route's optional fields. */
  get figures(): Record<string, unknown> {
    const all: Record<string, unknown> = {
      session_id: this.sessionId,
      watched_s: Math.round(this.watched * 1000) / 1000,
      rendition: this.rendition,
      startup_ms: this.startupMs === null ? null : Math.round(this.startupMs),
      rebuffer_ms: Math.round(this.rebufferMs + (this.waitingSince === null ? 0 : performance.now() - this.waitingSince)),
      error: this.error,
      viewer_id: viewerId(),
    };
    return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null));
  }

  private onPlay = () => {
    if (this.playRequestedAt === null) this.playRequestedAt = performance.now();
  };

  private onPlaying = () => {
    const now = performance.now();
    if (this.startupMs === null && this.playRequestedAt !== null) this.startupMs = now - this.playRequestedAt;
    if (this.waitingSince !== null) this.rebufferMs += now - this.waitingSince;
    this.waitingSince = null;
  };

  private onWaiting = () => {
    if (this.startupMs !== null && this.waitingSince === null) this.waitingSince = performance.now();
  };

  private onSeeking = () => {
    this.lastTime = null;
  };

  private onTime = () => {
    const t = this.video.currentTime;
    if (this.lastTime !== null && !this.video.paused) {
      const delta = t - this.lastTime;
      if (delta > 0 && delta < 2) this.watched += delta;
    }
    this.lastTime = t;
  };

  private flush = () => this.send(true);

  private send(force: boolean): void {
    if (this.disabled || this.playRequestedAt === null) return;
    if (!force && this.watched === this.sentWatched) return;
    this.sentWatched = this.watched;
    api("POST", `/videos/${this.videoId}/views`, { body: this.figures, keepalive: true })
      .then(() => (this.lastStatus = "sent"))
      .catch((err) => {
        if (isMissingRoute(err)) {
          this.disabled = true; // the analytics API is not deployed here yet
          this.lastStatus = "unavailable";
        } else this.lastStatus = "failed";
      });
  }
}
