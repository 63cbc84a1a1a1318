// "Find customers like these", on a segment's page (the seed: its members) and on a sent
// campaign's page (the seed: its converters): a ranked preview of the customers outside the seed
// who resemble it, what sets the seed apart, and saving them as a list segment.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const section = document.getElementById("lookalike");
  if (!section) return;
  // The API takes the seed as {segment_id} or {campaign_id}.
  const seedField = section.dataset.seedKind === "campaign" ? "campaign_id" : "segment_id";
  const seed = { [seedField]: parseInt(section.dataset.seedId, 10) };
  const seedName = section.dataset.seedName;
  const find = document.getElementById("lookalike-find");
  const save = document.getElementById("lookalike-save");
  const out = section.querySelector(".lookalike-result");
  const saveError = save.querySelector(".formerror");
  let size = null; // the size of the preview on screen: saving keeps the same ranking

  const render = (data) => {
    const found = data.seed;
    const who = found.kind === "campaign" ? `who converted after “${found.name}”` : `in “${found.name}”`;
    const parts = [
      Pulse.el("p", {
        class: "small",
        text: `Found ${Pulse.number(data.size)} customers like the ${Pulse.number(found.customers)} ${who}, out of ${Pulse.number(data.scanned)} outside ${found.kind === "campaign" ? "them" : "it"}${data.sampled ? " (an even sample: the base is over the scan cap)" : ""}.`,
      }),
      data.drivers.length
        ? Pulse.el("div", {},
            Pulse.el("p", { class: "small", text: found.kind === "campaign" ? "What sets these converters apart:" : `What sets “${found.name}” apart:` }),
            Pulse.el("ul", { class: "explanation drivers" }, data.drivers.map((d) => Pulse.el("li", { text: d.text }))))
        : Pulse.el("p", { class: "muted small", text: `${found.kind === "campaign" ? "These converters look" : "This segment looks"} like everyone on every feature, so the ranking has little to go on.` }),
      data.customers.length
        ? Pulse.el("table", { class: "striped compact" },
            Pulse.el("thead", {}, Pulse.el("tr", {}, ["Most alike", "City", "Spend", "Orders", "Similarity"].map((h) => Pulse.el("th", { scope: "col", text: h })))),
            Pulse.el("tbody", {}, data.customers.map((c) =>
              Pulse.el("tr", {},
                Pulse.el("td", {}, Pulse.el("a", { href: "/customers/" + encodeURIComponent(c.external_id), text: c.name })),
                Pulse.el("td", { text: c.city || "—" }),
                Pulse.el("td", { class: "num", text: Pulse.money(c.total_spend) }),
                Pulse.el("td", { class: "num", text: String(c.order_count) }),
                Pulse.el("td", { class: "num", text: c.similarity.toFixed(2) }),
              ))))
        : null,
    ];
    out.replaceChildren(...parts.filter((part) => part));
  };

  find.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = find.querySelector("button[type=submit]");
    button.setAttribute("aria-busy", "true");
    out.replaceChildren(Pulse.el("p", { class: "muted small", text: "Ranking…" }));
    try {
      const asked = parseInt(find.elements.size.value, 10);
      const data = await Pulse.api("POST", "/api/v1/ai/lookalikes", { ...seed, size: asked, preview: 10 });
      render(data);
      size = data.size;
      save.hidden = data.size === 0;
      if (!save.elements.name.value) save.elements.name.value = `Like ${seedName}`.slice(0, 200);
    } catch (error) {
      save.hidden = true;
      const messages = (error.details || []).map((d) => d.message).filter(Boolean);
      out.replaceChildren(Pulse.el("p", { class: "error", role: "alert", text: messages.length ? messages.join("; ") : error.message }));
    } finally {
      button.removeAttribute("aria-busy");
    }
  });

  save.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = save.querySelector("button[type=submit]");
    button.setAttribute("aria-busy", "true");
    saveError.textContent = "";
    try {
      const body = { ...seed, size, preview: 0, name: save.elements.name.value.trim() };
      const saved = await Pulse.api("POST", "/api/v1/ai/lookalikes/save", body);
      window.location = `/segments/${saved.segment.id}?saved=1`;
    } catch (error) {
      saveError.textContent = error.status === 409 ? "A segment with this name already exists: pick another name." : error.message;
    } finally {
      button.removeAttribute("aria-busy");
    }
  });
});
