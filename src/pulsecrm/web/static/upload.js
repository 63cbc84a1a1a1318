// Uploads: the bytes' progress from the browser, then the import's progress streamed back.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload");
  const status = document.getElementById("upload-status");
  const bar = document.getElementById("upload-progress");
  const phase = document.getElementById("upload-phase");
  const result = document.getElementById("upload-result");
  const button = document.getElementById("upload-button");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.elements.file.files.length) return;
    const xhr = new XMLHttpRequest();
    let seen = 0;
    status.hidden = false;
    result.replaceChildren();
    button.setAttribute("aria-busy", "true");
    phase.textContent = "Uploading…";
    bar.value = 0;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = (50 * e.loaded) / e.total;
    });
    const handleLines = () => {
      const lines = xhr.responseText.slice(seen).split("\n");
      const complete = lines.slice(0, -1);
      seen += complete.reduce((n, l) => n + l.length + 1, 0);
      for (const line of complete) {
        if (!line.trim()) continue;
        const update = JSON.parse(line);
        if (update.phase === "importing") {
          phase.textContent = "Importing…";
          bar.value = 50 + (50 * update.done) / Math.max(update.total, 1);
        } else if (update.phase === "done") {
          bar.value = 100;
          phase.textContent = "Done";
          result.replaceChildren(
            Pulse.el("p", { class: update.rejected ? "warning" : "notice", text: `Read ${update.read.toLocaleString()} rows: ${update.written.toLocaleString()} imported, ${update.rejected.toLocaleString()} rejected.` }),
            update.errors.length ? Pulse.el("ul", { class: "small" }, update.errors.map((e) => Pulse.el("li", { text: `line ${e.line}: ${e.reason}` }))) : "",
          );
        } else if (update.phase === "failed") {
          phase.textContent = "Failed";
          result.replaceChildren(Pulse.el("p", { class: "error", text: update.error }));
        }
      }
    };
    xhr.addEventListener("progress", handleLines);
    xhr.addEventListener("load", () => {
      button.removeAttribute("aria-busy");
      if (xhr.status >= 400) {
        phase.textContent = "Not imported";
        let message = `HTTP ${xhr.status}`;
        try { message = JSON.parse(xhr.responseText).error.message; } catch (e) { /* not JSON */ }
        result.replaceChildren(Pulse.el("p", { class: "error", role: "alert", text: message }));
        return;
      }
      handleLines();
    });
    xhr.addEventListener("error", () => {
      button.removeAttribute("aria-busy");
      phase.textContent = "The connection dropped. Importing the same file again is safe.";
    });
    xhr.open("POST", "/uploads");
    xhr.setRequestHeader("X-CSRF-Token", document.querySelector('meta[name="csrf-token"]').content);
    xhr.setRequestHeader("Accept", "application/x-ndjson");
    xhr.send(new FormData(form));
  });
});
