// The wizard's A/B variants: up to four more messages beside the first (which becomes variant A),
// how they are sent (split evenly, or tested on a share first), a preview of each, and the
// `variants` / `variant_test` the API takes. Mounted by wizard.js, which owns variant A's fields.
"use strict";
(() => {

const Pulse = (window.Pulse = window.Pulse || {});
const LABELS = "ABCDE";
const MAX = 5;
const METRIC = { clicked: "click rate", converted: "conversion rate" };

// A whole number in [low, high] from an input, or a sentence saying what it must be.
function wholeNumber(field, low, high, what) {
  const text = field.value.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < low || value > high) return { field, error: `${what} must be a whole number from ${low} to ${high}.` };
  return { field, value };
}

Pulse.mountVariants = function (options) {
  const { root, form, channel, first, render, describe, onChange } = options;
  const list = root.querySelector("#variant-list");
  const add = root.querySelector("#add-variant");
  const mode = root.querySelector("#ab-mode");
  const testBox = root.querySelector("#ab-test");
  const help = root.querySelector("#ab-help");
  const percent = form.elements.test_percent;
  const hours = form.elements.test_hours;
  const metric = form.elements.test_metric;
  const extra = []; // variants B…E, in order
  let serial = 0;

  const active = () => extra.length > 0;
  const testing = () => active() && form.elements.ab_mode.value === "test";
  const email = () => channel.value === "email";

  function block() {
    serial += 1;
    const id = `variant-${serial}`;
    const v = {};
    v.heading = Pulse.el("h3", {});
    v.remove = Pulse.el("button", { type: "button", class: "outline secondary small", onclick: () => removeVariant(v) });
    v.subject = Pulse.el("input", { id: `${id}-subject`, name: `${id}-subject`, maxlength: "300", placeholder: "Leave empty to use variant A's subject" });
    v.subjectLabel = Pulse.el("label", { for: `${id}-subject` });
    v.subjectRow = Pulse.el("div", { "data-email-only": true, hidden: !email() }, v.subjectLabel, v.subject);
    v.message = Pulse.el("textarea", { id: `${id}-message`, name: `${id}-message`, rows: "4", required: true, "data-message": true });
    v.messageLabel = Pulse.el("label", { for: `${id}-message` });
    v.out = Pulse.el("div", { class: "rendered muted", text: "Start typing to see this variant as a customer gets it." });
    v.subjectOut = Pulse.el("p", { class: "subject", hidden: true });
    v.meta = Pulse.el("p", { class: "muted small" });
    v.node = Pulse.el("article", { class: "abvariant", "data-ab-variant": true },
      Pulse.el("div", { class: "sectionhead" }, v.heading, v.remove),
      Pulse.el("div", { class: "builder-layout" },
        Pulse.el("div", {}, v.subjectRow, v.messageLabel, v.message),
        Pulse.el("aside", { class: "preview", "aria-label": "Rendered preview" },
          Pulse.el("article", {}, Pulse.el("small", { text: "Preview for a real customer" }), v.subjectOut, v.out, v.meta))));
    let timer = null;
    const schedule = () => { clearTimeout(timer); timer = setTimeout(() => preview(v).catch(() => {}), 250); };
    v.message.addEventListener("input", schedule);
    v.subject.addEventListener("input", schedule);
    v.schedule = schedule;
    return v;
  }

  function relabel() {
    extra.forEach((v, i) => {
      const label = LABELS[i + 1];
      v.label = label;
      v.heading.textContent = `Variant ${label}`;
      v.remove.textContent = "Remove";
      v.remove.setAttribute("aria-label", `Remove variant ${label}`);
      v.messageLabel.textContent = `Variant ${label} message`;
      v.subjectLabel.textContent = `Variant ${label} subject`;
    });
    // The first message is variant A as soon as there is a B.
    first.messageLabel.textContent = active() ? "Variant A message" : "Message";
    first.subjectLabel.textContent = active() ? "Variant A subject" : "Subject";
    add.hidden = extra.length + 1 >= MAX;
    mode.hidden = !active();
    explain();
  }

  function addVariant() {
    const v = block();
    extra.push(v);
    list.append(v.node);
    relabel();
    v.message.focus();
    onChange();
  }

  function removeVariant(v) {
    extra.splice(extra.indexOf(v), 1);
    v.node.remove();
    relabel();
    (extra.length ? extra[extra.length - 1].message : first.message).focus();
    onChange();
  }

  // One line on what happens, from the numbers as typed.
  function explain() {
    const n = extra.length + 1;
    testBox.hidden = !testing();
    if (!testing()) {
      help.textContent = `Each customer gets one of the ${n} variants: about 1 in ${n} of the audience each.`;
      return;
    }
    const p = wholeNumber(percent, 2, 50, "");
    const h = wholeNumber(hours, 1, 72, "");
    help.textContent = p.error || h.error
      ? "A share of the audience gets the variants first; the best one then goes to everyone else."
      : `${p.value}% of the audience gets the variants first, split evenly; after ${h.value} hour${h.value === 1 ? "" : "s"} the one with the best ${METRIC[metric.value]} goes to the other ${100 - p.value}%.`;
  }

  async function preview(v) {
    if (!v.message.value.trim()) return null;
    if (v.controller) v.controller.abort();
    v.controller = new AbortController();
    try {
      const data = await render(v.message.value, subjectOf(v), v.controller.signal);
      v.out.classList.remove("muted", "error");
      v.out.textContent = data.message;
      v.subjectOut.hidden = !data.subject;
      v.subjectOut.textContent = data.subject || "";
      v.meta.textContent = describe(data);
      return data;
    } catch (error) {
      if (error.name === "AbortError") return null;
      v.out.classList.add("error");
      v.out.textContent = error.message;
      v.meta.textContent = "";
      v.subjectOut.hidden = true;
      throw error;
    }
  }

  const firstSubject = () => (email() ? first.subject.value.trim() || null : null);
  // A variant without its own subject gets variant A's, as the API does with the campaign's.
  const subjectOf = (v) => (email() ? v.subject.value.trim() || firstSubject() : null);

  add.addEventListener("click", addVariant);
  form.querySelectorAll("input[name=ab_mode]").forEach((r) => r.addEventListener("change", explain));
  for (const field of [percent, hours, metric]) field.addEventListener("input", explain);
  metric.addEventListener("change", explain);
  relabel();

  return {
    active,

    // The first problem, as { field, error }, or null.
    validate() {
      if (!active()) return null;
      const seen = new Map([[`${first.message.value.trim()}\n${firstSubject() || ""}`, "A"]]);
      for (const v of extra) {
        if (!v.message.value.trim()) return { field: v.message, error: `Write variant ${v.label}'s message.` };
        const key = `${v.message.value.trim()}\n${subjectOf(v) || ""}`;
        if (seen.has(key)) return { field: v.message, error: `Variant ${v.label} is the same as variant ${seen.get(key)}: change one of them, or remove it.` };
        seen.set(key, v.label);
      }
      if (testing()) {
        for (const checked of [wholeNumber(percent, 2, 50, "The test share"), wholeNumber(hours, 1, 72, "The test length in hours")]) {
          if (checked.error) return checked;
        }
      }
      return null;
    },

    // Renders B…E (A is the wizard's own); a failure names its variant.
    async renderAll() {
      for (const v of extra) {
        try {
          await preview(v);
        } catch (error) {
          if (error.name === "AbortError") continue;
          const wrapped = new Error(`Variant ${v.label}: ${error.message}`);
          wrapped.field = v.message;
          throw wrapped;
        }
      }
    },

    // The create body's part: { variants, variant_test? }, or null for one message.
    body() {
      if (!active()) return null;
      const out = {
        variants: [
          { message: first.message.value, subject: firstSubject() },
          ...extra.map((v) => ({ message: v.message.value, subject: email() ? v.subject.value.trim() || null : null })),
        ],
      };
      if (testing()) {
        out.variant_test = { percent: Number(percent.value), hours: Number(hours.value), metric: metric.value };
      }
      return out;
    },

    // The review step: each variant as a customer reads it, and how they are sent.
    review(messageOut, planOut, firstRendered) {
      const shown = [
        { label: "A", subject: firstRendered.subject, text: firstRendered.text },
        ...extra.map((v) => ({ label: v.label, subject: v.subjectOut.hidden ? "" : v.subjectOut.textContent, text: v.out.textContent })),
      ];
      messageOut.replaceChildren(...shown.map((s) => Pulse.el("div", { class: "abreview", "data-review-variant": s.label },
        Pulse.el("h4", { text: `Variant ${s.label}` }),
        s.subject ? Pulse.el("p", { class: "subject", text: s.subject }) : null,
        Pulse.el("div", { class: "rendered", text: s.text }))));
      planOut.textContent = testing()
        ? `Test first: ${percent.value}% of the audience gets the ${shown.length} variants, split evenly; after ${hours.value} hour${Number(hours.value) === 1 ? "" : "s"} the one with the best ${METRIC[metric.value]} goes to the other ${100 - Number(percent.value)}%.`
        : `Split evenly: each customer gets one of the ${shown.length} variants, about 1 in ${shown.length} of the audience each.`;
    },

    // The input an API error's location names (["variants", 1, "message"], ["variant_test", "percent"]).
    fieldFor(parts) {
      if (parts[0] === "variant_test") return { hours, metric }[parts[1]] || percent;
      if (parts[0] !== "variants") return null;
      if (typeof parts[1] !== "number") return add;
      if (parts[1] === 0) return parts[2] === "subject" ? first.subject : first.message;
      const v = extra[parts[1] - 1];
      if (!v) return add;
      return parts[2] === "subject" ? v.subject : v.message;
    },

    // A new variant with this message (a suggestion); false when there are five already.
    addWith(text, subject) {
      if (extra.length + 1 >= MAX) return false;
      addVariant();
      const v = extra[extra.length - 1];
      v.message.value = text;
      if (subject) v.subject.value = subject;
      v.schedule();
      return true;
    },

    refresh() {
      extra.forEach((v) => { v.subjectRow.hidden = !email(); v.schedule(); });
    },
  };
};
})();
