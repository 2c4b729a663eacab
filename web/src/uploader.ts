// Direct uploads to S3 (docs/videos.md): one presigned PUT up to the single-PUT limit, else a multipart
// upload whose parts go up in parallel. The upload's state is kept in localStorage, so after a page reload
// the same file resumes: GET /videos/{id}/upload lists the parts S3 has and signs URLs for the rest.

import { api, ApiError, type PartUrl, type UploadInstructions, type UploadProgress, type Video } from "./api";

const STORE_KEY = "skyreel.uploads";
export const PARALLEL_PARTS = 4;
const PART_ATTEMPTS = 3;

export interface PendingUpload {
  key: string; // the file's fingerprint: name, size, last modified
  video_id: string;
  title: string;
  filename: string;
  size: number;
  method: "PUT" | "multipart";
  part_size: number | null;
  started_at: string;
  done_bytes: number; // what had arrived when last seen, for the list of unfinished uploads
}

export interface VideoMeta {
  title: string;
  description: string;
  tags: string[];
  visibility: string;
}

export function fingerprint(file: File): string {
  return `${file.name}|${file.size}|${file.lastModified}`;
}

export function pendingUploads(): PendingUpload[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(STORE_KEY) ?? "[]");
    return Array.isArray(parsed) ? (parsed as PendingUpload[]) : [];
  } catch {
    return [];
  }
}

function savePending(list: PendingUpload[]): void {
  localStorage.setItem(STORE_KEY, JSON.stringify(list));
}

export function rememberUpload(entry: PendingUpload): void {
  savePending([...pendingUploads().filter((p) => p.key !== entry.key), entry]);
}

export function forgetUpload(key: string): void {
  savePending(pendingUploads().filter((p) => p.key !== key));
}

function updateDone(key: string, doneBytes: number): void {
  const list = pendingUploads();
  const entry = list.find((p) => p.key === key);
  if (entry) {
    entry.done_bytes = doneBytes;
    savePending(list);
  }
}

const CONTENT_TYPES: Record<string, string> = {
  mp4: "video/mp4",
  m4v: "video/x-m4v",
  mov: "video/quicktime",
  webm: "video/webm",
  mkv: "video/x-matroska",
  avi: "video/x-msvideo",
  mpeg: "video/mpeg",
  mpg: "video/mpeg",
  ts: "video/mp2t",
  ogv: "video/ogg",
  "3gp": "video/3gpp",
};
const ACCEPTED = new Set(Object.values(CONTENT_TYPES));

/** The container type to declare: the browser's if the API takes it, else from the file's extension. */
export function contentType(file: File): string | null {
  if (ACCEPTED.has(file.type)) return file.type;
  const ext = file.name.split(".").pop()?.toLowerCase() ?? "";
  return CONTENT_TYPES[ext] ?? null;
}

export class UploadCancelled extends Error {
  constructor() {
    super("The upload was cancelled.");
  }
}

/** One upload of one file; `onProgress(sent, total)` as bytes go up. */
export class Uploader {
  private readonly requests = new Set<XMLHttpRequest>();
  private readonly loaded = new Map<number, number>();
  private baseBytes = 0;
  private cancelled = false;
  videoId: string | null = null;
  method: "PUT" | "multipart" | null = null;

  constructor(
    readonly file: File,
    private readonly onProgress: (sent: number, total: number) => void,
  ) {}

  get key(): string {
    return fingerprint(this.file);
  }

  /** Create the video and send the file. Resolves with the video id once S3 has the whole file. */
  async start(meta: VideoMeta): Promise<string> {
    const type = contentType(this.file);
    if (!type) throw new Error("This file type is not a video container Skyreel takes (MP4, MOV, WebM, MKV, AVI, MPEG, TS, OGV, 3GP).");
    const created = await api<{ video: Video; upload: UploadInstructions }>("POST", "/videos", {
      body: {
        title: meta.title,
        description: meta.description,
        tags: meta.tags,
        visibility: meta.visibility,
        upload: { filename: this.file.name, content_type: type, size_bytes: this.file.size },
      },
    });
    this.videoId = created.video.id;
    this.method = created.upload.method;
    rememberUpload({
      key: this.key,
      video_id: created.video.id,
      title: meta.title,
      filename: this.file.name,
      size: this.file.size,
      method: created.upload.method,
      part_size: created.upload.part_size ?? null,
      started_at: new Date().toISOString(),
      done_bytes: 0,
    });
    if (created.upload.method === "PUT") {
      await this.putWhole(created.upload.url!, created.upload.headers ?? {}, type);
    } else {
      await this.sendParts(created.upload.parts ?? [], created.upload.part_size!, []);
    }
    forgetUpload(this.key);
    return created.video.id;
  }

  /** Resume an upload this browser started: send only what S3 does not have yet. */
  async resume(entry: PendingUpload): Promise<string> {
    this.videoId = entry.video_id;
    this.method = entry.method;
    let progress: UploadProgress;
    try {
      progress = await api<UploadProgress>("GET", `/videos/${entry.video_id}/upload`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        forgetUpload(entry.key); // S3 already has it all: nothing to resume
        return entry.video_id;
      }
      throw err;
    }
    const type = contentType(this.file)!;
    if (progress.method === "PUT") {
      await this.putWhole(progress.missing[0].url, { "Content-Type": type }, type);
    } else {
      await this.sendParts(progress.missing, progress.part_size!, progress.received);
    }
    forgetUpload(entry.key);
    return entry.video_id;
  }

  /** Stop sending, and give the video up (multipart: abort, so S3 drops the parts), then delete it. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    for (const xhr of this.requests) xhr.abort();
    this.requests.clear();
    forgetUpload(this.key);
    if (this.videoId) await discard(this.videoId, this.method);
  }

  private report(): void {
    let sent = this.baseBytes;
    for (const n of this.loaded.values()) sent += n;
    this.onProgress(Math.min(sent, this.file.size), this.file.size);
  }

  private async putWhole(url: string, headers: Record<string, string>, type: string): Promise<void> {
    const send: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) {
      if (!["content-length", "host"].includes(k.toLowerCase())) send[k] = v;
    }
    if (!Object.keys(send).some((k) => k.toLowerCase() === "content-type")) send["Content-Type"] = type;
    await this.put(url, this.file, send, 1);
  }

  private async sendParts(
    missing: PartUrl[],
    partSize: number,
    received: { part_number: number; etag: string; size: number }[],
  ): Promise<void> {
    const etags = new Map<number, string>(received.map((p) => [p.part_number, p.etag]));
    this.baseBytes = received.reduce((sum, p) => sum + p.size, 0);
    this.report();
    const queue = [...missing].sort((a, b) => a.part_number - b.part_number);
    const worker = async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        const start = (part.part_number - 1) * partSize;
        const blob = this.file.slice(start, Math.min(start + partSize, this.file.size));
        const etag = await this.put(part.url, blob, {}, part.part_number);
        etags.set(part.part_number, etag);
        this.loaded.delete(part.part_number);
        this.baseBytes += blob.size;
        updateDone(this.key, this.baseBytes);
        this.report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker));
    const parts = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([part_number, etag]) => ({ part_number, etag }));
    await api("POST", `/videos/${this.videoId}/upload/complete`, { body: { parts } });
  }

  /** One PUT with progress events, retried on a network error or a 5xx; resolves with the ETag. */
  private async put(url: string, body: Blob, headers: Record<string, string>, part: number): Promise<string> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.putOnce(url, body, headers, part);
      } catch (err) {
        if (this.cancelled) throw new UploadCancelled();
        const retriable = err instanceof PutError && (err.status === 0 || err.status >= 500);
        if (!retriable || attempt >= PART_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  private putOnce(url: string, body: Blob, headers: Record<string, string>, part: number): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.cancelled) {
        reject(new UploadCancelled());
        return;
      }
      const xhr = new XMLHttpRequest();
      this.requests.add(xhr);
      xhr.open("PUT", url);
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        this.loaded.set(part, e.loaded);
        this.report();
      };
      xhr.onload = () => {
        this.requests.delete(xhr);
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader("ETag") ?? "");
        else reject(new PutError(xhr.status, s3Message(xhr.responseText) ?? `Storage answered ${xhr.status}.`));
      };
      xhr.onerror = () => {
        this.requests.delete(xhr);
        reject(new PutError(0, "The connection to storage failed."));
      };
      xhr.onabort = () => {
        this.requests.delete(xhr);
        reject(new UploadCancelled());
      };
      xhr.send(body);
    });
  }
}

class PutError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function s3Message(xml: string): string | null {
  const m = /<Message>([^<]*)<\/Message>/.exec(xml);
  return m ? `Storage refused the upload: ${m[1]}` : null;
}

/** Give an unfinished upload up: abort a multipart upload (S3 drops its parts), then delete the video. */
export async function discard(videoId: string, method: "PUT" | "multipart" | null): Promise<void> {
  if (method === "multipart") {
    try {
      await api("POST", `/videos/${videoId}/upload/abort`);
    } catch {
      // already aborted or completed: the delete below still removes it
    }
  }
  try {
    await api("DELETE", `/videos/${videoId}`);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
}
