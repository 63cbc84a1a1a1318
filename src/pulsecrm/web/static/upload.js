// Uploads: the bytes' progress from the browser, then the import's progress streamed back.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload");
  const status = document.getElementById("upload-status");
  const bar = document.getElementById("upload-progress");
  const phase = document.getElementById("upload-phase");
  const result = document.getElementById("upload-result");
  const button = document.getElementById("upload-button");
  // The mapping step: the start of a CSV goes to the server, which answers with its columns,
  // the suggested target of each and the first values; the user may change any target.
  const mapping = document.getElementById("mapping");
  const mappingTable = document.getElementById("mapping-table");
  const mappingError = document.getElementById("mapping-error");
  const mappingValue = document.getElementById("mapping-value");
  let selects = [];

  async function showMapping() {
    const file = form.elements.file.files[0];
    selects = [];
    mappingValue.value = "";
    mapping.hidden = true;
    mappingError.textContent = "";
    if (!file || !file.name.toLowerCase().endsWith(".csv")) return;
    const body = new FormData();
    body.append("csrf_token", Pulse.csrf());
    body.append("kind", form.elements.kind.value);
    body.append("file", file.slice(0, 64 * 1024), file.name);
    const response = await fetch("/uploads/preview", { method: "POST", body, headers: { "X-CSRF-Token": Pulse.csrf() } });
    const data = await response.json();
    if (!response.ok) {
      mapping.hidden = false;
      mappingTable.replaceChildren();
      mappingError.textContent = data.error.message;
      return;
    }
    const head = Pulse.el("tr", {}, data.columns.map((column) => {
      const select = Pulse.el("select", { "aria-label": `Column “${column.header}” goes to` },
        Pulse.el("optgroup", { label: "Field" }, data.fields.map((f) => Pulse.el("option", { value: f.value, text: f.label, selected: column.target === f.value }))),
        data.attributes ? Pulse.el("option", { value: column.attribute, text: `Custom attribute “${column.attribute.slice(11)}”`, selected: column.target === column.attribute }) : null,
        Pulse.el("option", { value: "", text: "Leave out", selected: column.target === "" }),
      );
      select.addEventListener("change", () => { mappingError.textContent = ""; });
      selects.push(select);
      return Pulse.el("th", { scope: "col" }, Pulse.el("span", { class: "small", text: column.header }), select);
    }));
    const rows = (data.columns[0] ? data.columns[0].samples : []).map((_, r) =>
      Pulse.el("tr", {}, data.columns.map((column) => Pulse.el("td", { class: "small", text: column.samples[r] }))));
    mappingTable.replaceChildren(Pulse.el("thead", {}, head), Pulse.el("tbody", {}, rows));
    mapping.hidden = false;
  }
  form.elements.file.addEventListener("change", () => showMapping().catch((e) => { mappingError.textContent = e.message; }));
  form.querySelectorAll("input[name=kind]").forEach((r) => r.addEventListener("change", () => showMapping().catch(() => {})));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.elements.file.files.length) return;
    mappingValue.value = selects.length ? JSON.stringify(selects.map((s) => s.value)) : "";
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
