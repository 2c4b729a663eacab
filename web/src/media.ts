import { api, type Playback } from "./api";

// Playback URLs per video, reused until shortly before they expire (private ones carry a 6 h token).
const cache = new Map<string, { playback: Playback; until: number }>();

export async function playback(videoId: string): Promise<Playback> {
  const hit = cache.get(videoId);
  if (hit && hit.until > Date.now()) return hit.playback;
  const answer = await api<Playback>("GET", `/videos/${videoId}/playback`);
  const expires = answer.expires_at ? Date.parse(answer.expires_at) : Date.now() + 3_600_000;
  cache.set(videoId, { playback: answer, until: Math.min(expires - 300_000, Date.now() + 3_600_000) });
  return answer;
}

export function forgetPlayback(videoId: string): void {
  cache.delete(videoId);
}
