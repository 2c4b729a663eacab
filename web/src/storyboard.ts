// Storyboard previews: storyboard.vtt maps time ranges to tiles of a sprite (`sprite.jpg#xywh=x,y,w,h`).

export interface Tile {
  start: number;
  end: number;
  url: string; // absolute, resolved against the VTT's own URL (so a playback token in its path carries over)
  x: number;
  y: number;
  w: number;
  h: number;
}

function seconds(stamp: string): number {
  const parts = stamp.trim().split(":").map(Number);
  return parts.reduce((acc, p) => acc * 60 + p, 0);
}

export function parseStoryboard(vtt: string, base: string): Tile[] {
  const tiles: Tile[] = [];
  const lines = vtt.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const arrow = lines[i].indexOf("-->");
    if (arrow < 0) continue;
    const start = seconds(lines[i].slice(0, arrow));
    const end = seconds(lines[i].slice(arrow + 3).trim().split(/\s+/)[0]);
    const target = (lines[i + 1] ?? "").trim();
    const m = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(target);
    if (!m) continue;
    tiles.push({ start, end, url: new URL(m[1], base).toString(), x: +m[2], y: +m[3], w: +m[4], h: +m[5] });
  }
  return tiles;
}

export function tileAt(tiles: Tile[], t: number): Tile | null {
  if (!tiles.length) return null;
  return tiles.find((tile) => t >= tile.start && t < tile.end) ?? tiles[tiles.length - 1];
}
