// The segment page: mounts the builder with its live preview, the assistant, and saving.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("builder");
  const builder = Pulse.mountBuilder(root, {
    catalog: JSON.parse(root.dataset.catalog),
    rules: root.dataset.rules ? JSON.parse(root.dataset.rules) : null,
    countEl: document.getElementById("count"),
    sampleEl: document.getElementById("sample"),
    statusEl: document.getElementById("count-status"),
  });
  Pulse.mountAssistant(document.getElementById("assistant"), builder);
  // The customer list filtered by the rules as they stand, saved or not.
  document.getElementById("list-customers").addEventListener("click", (event) => {
    event.preventDefault();
    window.location = `/customers?rules=${encodeURIComponent(JSON.stringify(builder.value()))}`;
  });
  const form = document.getElementById("segment-form");
  const formError = form.querySelector(".formerror");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = form.dataset.segmentId;
    const button = document.getElementById("save");
    button.setAttribute("aria-busy", "true");
    formError.textContent = "";
    const body = {
      name: form.elements.name.value.trim(),
      description: form.elements.description.value.trim() || null,
      rules: builder.value(),
    };
    try {
      const saved = await Pulse.api(id ? "PUT" : "POST", id ? `/api/v1/segments/${id}` : "/api/v1/segments", body);
      window.location = `/segments/${saved.id}?saved=1`;
    } catch (error) {
      const unplaced = builder.showErrors(error.details);
      formError.textContent = error.status === 409 ? "A segment with this name already exists: pick another name." : unplaced.length ? unplaced.join("; ") : error.message;
    } finally {
      button.removeAttribute("aria-busy");
    }
  });
});
