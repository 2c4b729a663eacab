import { errorText } from "../api";
import { alertBox, confirmDialog, field, formatBytes, h, replace, showAlert } from "../dom";
import { type Page } from "../nav";
import { contentType, discard, fingerprint, forgetUpload, pendingUploads, UploadCancelled, Uploader, type PendingUpload } from "../uploader";

export function parseTags(text: string): string[] {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

export const renderUpload: Page = (main) => {
  let file: File | null = null;
  let uploader: Uploader | null = null;

  const input = h("input", { type: "file", accept: "video/*,.mkv,.ts,.m4v", class: "visually-hidden" });
  const chosen = h("p", { class: "chosen", "aria-live": "polite" }, "No file chosen.");
  const drop = h(
    "div",
    { class: "dropzone", tabindex: 0, role: "button", "aria-label": "Choose a video file, or drop one here" },
    h("strong", null, "Drop a video here"),
    h("span", null, " or "),
    h("span", { class: "linkish" }, "choose a file"),
    chosen,
  );
  const title = h("input", { type: "text", name: "title", required: true, maxlength: 200 });
  const description = h("textarea", { name: "description", rows: 3, maxlength: 5000 });
  const tags = h("input", { type: "text", name: "tags", placeholder: "travel, drone" });
  const visibility = h(
    "select",
    { name: "visibility" },
    h("option", { value: "private" }, "Private: only you"),
    h("option", { value: "unlisted" }, "Unlisted: anyone with the link"),
    h("option", { value: "public" }, "Public: in the catalogue and search"),
  );
  const alert = alertBox();
  const bar = h("progress", { max: 100, value: 0, "aria-label": "Upload progress" });
  const barText = h("span", { class: "muted", "aria-live": "polite" });
  const progress = h("div", { class: "progress-row", hidden: true }, bar, barText);
  const submit = h("button", { type: "submit", class: "primary" }, "Upload");
  const cancel = h("button", { type: "button", hidden: true }, "Cancel upload");
  const pendingBox = h("section", { class: "pending", "aria-label": "Unfinished uploads" });

  const pick = (f: File | null) => {
    file = f;
    showAlert(alert, null);
    if (!f) {
      chosen.textContent = "No file chosen.";
      return;
    }
    chosen.textContent = `${f.name} · ${formatBytes(f.size)}`;
    if (!contentType(f)) showAlert(alert, `${f.name} is not a video container Skyreel takes (MP4, MOV, WebM, MKV, AVI, MPEG, TS, OGV, 3GP).`);
    const resumable = pendingUploads().find((p) => p.key === fingerprint(f));
    if (resumable) {
      title.value = resumable.title;
      submit.textContent = "Resume upload";
    } else {
      submit.textContent = "Upload";
      if (!title.value) title.value = f.name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").slice(0, 200);
    }
  };

  input.addEventListener("change", () => pick(input.files?.[0] ?? null));
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    pick(e.dataTransfer?.files?.[0] ?? null);
  });

  const setBusy = (busy: boolean) => {
    submit.disabled = busy;
    input.disabled = busy;
    cancel.hidden = !busy;
    progress.hidden = false;
    // leaving mid-upload interrupts it (it resumes from the same file later): ask first
    window.onbeforeunload = busy ? (e: BeforeUnloadEvent) => e.preventDefault() : null;
  };

  const onProgress = (sent: number, total: number) => {
    const pct = total ? Math.floor((sent / total) * 100) : 100;
    bar.value = pct;
    barText.textContent = `${formatBytes(sent)} of ${formatBytes(total)} (${pct}%)`;
  };

  const form = h(
    "form",
    { class: "card", "aria-labelledby": "upload-heading" },
    alert,
    h("div", { class: "field" }, h("span", { class: "label", id: "file-label" }, "Video file"), drop, input),
    field("Title", title),
    field("Description", description),
    field("Tags", tags, "Separated by commas."),
    field("Visibility", visibility),
    progress,
    h("div", { class: "actions" }, submit, cancel),
  );
  input.setAttribute("aria-labelledby", "file-label");

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!file) {
      showAlert(alert, "Choose a video file first.");
      drop.focus();
      return;
    }
    if (!title.value.trim()) {
      showAlert(alert, "Give the video a title.");
      title.focus();
      return;
    }
    showAlert(alert, null);
    uploader = new Uploader(file, onProgress);
    setBusy(true);
    onProgress(0, file.size);
    const resumable = pendingUploads().find((p) => p.key === fingerprint(file!));
    try {
      const videoId = resumable
        ? await uploader.resume(resumable)
        : await uploader.start({
            title: title.value.trim(),
            description: description.value,
            tags: parseTags(tags.value),
            visibility: visibility.value,
          });
      onProgress(file.size, file.size);
      replace(
        alert,
        "Uploaded. Skyreel is processing it now: ",
        h("a", { href: `#/videos/${videoId}` }, "watch its progress"),
        " or ",
        h("a", { href: "#/library" }, "go to your library"),
        ".",
      );
      alert.className = "alert ok";
      alert.hidden = false;
      alert.setAttribute("role", "status");
      submit.textContent = "Upload";
      file = null;
      form.reset();
      chosen.textContent = "No file chosen.";
    } catch (err) {
      // a cancel says so itself, once the video is given up (the cancel handler below)
      if (!(err instanceof UploadCancelled))
        showAlert(
          alert,
          `${errorText(err)}${uploader.videoId ? " Choose the same file again to resume." : ""}`,
        );
    } finally {
      uploader = null;
      setBusy(false);
      renderPending();
    }
  });

  cancel.addEventListener("click", async () => {
    if (!uploader) return;
    const current = uploader;
    cancel.disabled = true;
    try {
      await current.cancel();
      showAlert(alert, "Upload cancelled: the video and the parts already sent are deleted.", "ok");
    } catch (err) {
      showAlert(alert, errorText(err));
    } finally {
      cancel.disabled = false;
      bar.value = 0;
      barText.textContent = "Cancelled.";
    }
  });

  function renderPending(): void {
    const list = pendingUploads();
    if (!list.length) {
      pendingBox.replaceChildren();
      return;
    }
    replace(
      pendingBox,
      h("h2", null, "Unfinished uploads"),
      h("p", { class: "muted" }, "Choose the same file again to resume where it stopped."),
      h(
        "ul",
        { class: "plain" },
        list.map((p: PendingUpload) =>
          h(
            "li",
            { class: "pending-item" },
            h("span", null, h("strong", null, p.title), ` · ${p.filename} · ${formatBytes(p.done_bytes)} of ${formatBytes(p.size)}`),
            h(
              "button",
              {
                type: "button",
                class: "link",
                onclick: async () => {
                  if (!(await confirmDialog("Discard this upload?", `“${p.title}” and the parts already sent are deleted.`, "Discard upload"))) return;
                  forgetUpload(p.key);
                  try {
                    await discard(p.video_id, p.method);
                  } catch (err) {
                    showAlert(alert, errorText(err));
                  }
                  renderPending();
                },
              },
              "Discard",
            ),
          ),
        ),
      ),
    );
  }

  main.append(h("h1", { id: "upload-heading" }, "Upload a video"), pendingBox, form);
  renderPending();
  return () => {
    // leaving the page for another of the app's pages does not stop an upload in flight: it keeps going
    // (and stays resumable); only the warning before closing the tab goes with the page
    window.onbeforeunload = null;
  };
};
