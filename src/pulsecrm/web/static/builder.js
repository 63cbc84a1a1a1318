// The segment builder: a rule tree edited by clicking, with a live count and sample.
// It speaks the same rule-tree JSON as the API; errors from the API come back with JSON paths
// ($.rules.rules[1].value) that are matched to the nodes that made them.
"use strict";
(() => {

const Pulse = window.Pulse;

const CMP_LABELS = {
  eq: "is", ne: "is not", gt: "is more than", gte: "is at least", lt: "is less than", lte: "is at most",
  between: "is between", contains: "contains", starts_with: "starts with", in: "is one of",
  not_in: "is none of", before: "is before", after: "is after", within_last_days: "is within the last",
  not_within_last_days: "is not within the last", is_set: "is set", is_not_set: "is not set",
};
// Engagement fields read as "Opened · in campaign · Spring sale"; their negations say what they
// mean: received the message(s) and did not do it (docs/segments.md).
const ENGAGEMENT_DO = { received: "receive", opened: "open", clicked: "click", converted: "buy" };
const cmpLabel = (spec, cmp) => {
  if (spec && spec.type === "membership") return { in_segment: "is in", not_in_segment: "is not in" }[cmp] || cmp;
  if (!spec || spec.type !== "engagement") return CMP_LABELS[cmp] || cmp;
  const plain = spec.name === "received";
  const didNot = ENGAGEMENT_DO[spec.name] || spec.name;
  return {
    in_campaign: "in campaign",
    not_in_campaign: plain ? "not in campaign" : `received, didn't ${didNot}, in campaign`,
    within_last_days: "in messages of the last",
    not_within_last_days: plain ? "no message in the last" : `received, didn't ${didNot}, in the last`,
  }[cmp] || cmp;
};
const CAMPAIGN_CMPS = new Set(["in_campaign", "not_in_campaign"]);
const SEGMENT_CMPS = new Set(["in_segment", "not_in_segment"]);
const MAX_ENGAGEMENT_DAYS = 365;
const NUMERIC = new Set(["money", "integer", "number"]);
const NO_VALUE = new Set(["is_set", "is_not_set"]);
const MAX_DEPTH = 8;
let uid = 0;

class Builder {
  constructor(root, { catalog, rules, onChange }) {
    this.root = root;
    this.fields = catalog.fields;
    this.byName = Object.fromEntries(this.fields.map((f) => [f.name, f]));
    this.onChange = onChange || (() => {});
    this.tree = this.normalise(rules || { op: "and", rules: [] });
    this.campaigns = null; // launched campaigns for the engagement picker, loaded on first need
    this.lists = null; // list segments for the "List segment" picker, likewise
    this.render();
  }

  // The list segments a membership condition can name (lookalikes saved as lists).
  loadLists() {
    if (this.lists !== null) return;
    this.lists = [];
    Pulse.api("GET", "/api/v1/segments?limit=500")
      .then((data) => {
        this.lists = data.items.filter((s) => s.kind === "list");
        this.render();
      })
      .catch(() => { /* the picker keeps the ids it has; the preview names a bad one */ });
  }

  // The campaigns an engagement condition can name: the newest launched ones.
  loadCampaigns() {
    if (this.campaigns !== null) return;
    this.campaigns = [];
    Pulse.api("GET", "/api/v1/campaigns?limit=200")
      .then((data) => {
        this.campaigns = data.items.filter((c) => c.launched_at);
        this.render();
      })
      .catch(() => { /* the picker keeps the ids it has; the preview names a bad one */ });
  }

  normalise(node) {
    if (node.rules !== undefined || node.op !== undefined) {
      return { op: node.op || "and", not: !!node.not, rules: (node.rules || []).map((n) => this.normalise(n)) };
    }
    return { field: node.field, cmp: node.cmp, value: node.value === undefined ? null : node.value };
  }

  setRules(rules) {
    this.tree = this.normalise(rules);
    this.render();
    this.changed();
  }

  // The tree as the API wants it; `complete` drops conditions still waiting for a value.
  value({ complete = false } = {}) {
    const walk = (group) => {
      const rules = [];
      for (const node of group.rules) {
        if (node.rules) rules.push(walk(node));
        else if (!complete || this.isComplete(node)) rules.push({ field: node.field, cmp: node.cmp, value: node.value });
      }
      const out = { op: group.op, rules };
      if (group.not) out.not = true;
      return out;
    };
    return { version: 1, ...walk(this.tree) };
  }

  isComplete(cond) {
    if (NO_VALUE.has(cond.cmp)) return true;
    const v = cond.value;
    if (cond.cmp === "between") return Array.isArray(v) && v.length === 2 && v.every((x) => x !== "" && x !== null);
    if (Array.isArray(v)) return v.length > 0;
    return v !== null && v !== "" && !(typeof v === "number" && Number.isNaN(v));
  }

  incompleteCount() {
    const walk = (group) => group.rules.reduce((n, node) => n + (node.rules ? walk(node) : this.isComplete(node) ? 0 : 1), 0);
    return walk(this.tree);
  }

  changed() {
    this.render();
    this.onChange(this);
  }

  // Typing into a value only restyles its row: redrawing the tree on every change would
  // replace the button a user is in the middle of clicking.
  touched(input, cond) {
    const row = input.closest(".condition");
    if (row) row.classList.toggle("incomplete", !this.isComplete(cond));
  }

  render() {
    const focused = document.activeElement && document.activeElement.dataset.focusKey;
    this.root.replaceChildren(this.renderGroup(this.tree, "$.rules", null, 1));
    if (focused) {
      const again = this.root.querySelector(`[data-focus-key="${focused}"]`);
      if (again) again.focus();
    }
  }

  renderGroup(group, path, parent, depth) {
    const box = Pulse.el("fieldset", { class: "group" + (group.not ? " negated" : ""), "data-path": path });
    const id = `g${++uid}`;
    const opSelect = Pulse.el(
      "select",
      {
        id: id + "op", "aria-label": "Match all or any", "data-focus-key": path + ":op",
        onchange: (e) => { group.op = e.target.value; this.changed(); },
      },
      Pulse.el("option", { value: "and", selected: group.op === "and", text: "all" }),
      Pulse.el("option", { value: "or", selected: group.op === "or", text: "any" }),
    );
    const notBox = Pulse.el("input", {
      type: "checkbox", id: id + "not", role: "switch", checked: group.not, "data-focus-key": path + ":not",
      onchange: (e) => { group.not = e.target.checked; this.changed(); },
    });
    const head = Pulse.el(
      "legend",
      { class: "grouphead" },
      Pulse.el("span", { text: group.not ? "Exclude customers matching" : "Customers matching" }),
      opSelect,
      Pulse.el("span", { text: "of these" }),
      Pulse.el("label", { class: "notlabel", for: id + "not" }, notBox, " exclude"),
    );
    box.append(head);
    if (!group.rules.length) {
      box.append(Pulse.el("p", { class: "muted small", text: parent ? "An empty group matches everyone." : "No conditions yet: everyone matches. Add a condition to narrow it down." }));
    }
    group.rules.forEach((node, i) => {
      const childPath = `${path}.rules[${i}]`;
      const remove = () => { group.rules.splice(i, 1); this.changed(); };
      box.append(node.rules ? this.renderGroup(node, childPath, { remove }, depth + 1) : this.renderCondition(node, childPath, remove));
    });
    const actions = Pulse.el(
      "div",
      { class: "groupactions" },
      Pulse.el("button", {
        type: "button", class: "outline small", "data-focus-key": path + ":addc", text: "+ Condition",
        onclick: () => { group.rules.push(this.newCondition()); this.changed(); },
      }),
      depth < MAX_DEPTH
        ? Pulse.el("button", {
            type: "button", class: "outline secondary small", "data-focus-key": path + ":addg", text: "+ Group",
            onclick: () => { group.rules.push({ op: group.op === "and" ? "or" : "and", not: false, rules: [this.newCondition()] }); this.changed(); },
          })
        : null,
      parent ? Pulse.el("button", { type: "button", class: "outline contrast small", text: "Remove group", onclick: parent.remove }) : null,
    );
    box.append(Pulse.el("p", { class: "nodeerror", role: "alert", "data-error-for": path }), actions);
    return box;
  }

  newCondition() {
    return { field: "total_spend", cmp: "gt", value: null };
  }

  renderCondition(cond, path, remove) {
    const spec = this.byName[cond.field];
    const row = Pulse.el("div", { class: "condition" + (this.isComplete(cond) ? "" : " incomplete"), "data-path": path });
    const id = `c${++uid}`;
    const groups = {};
    for (const f of this.fields) {
      const label = f.name.startsWith("attributes.") ? "Custom attributes" : f.type === "engagement" ? "Engagement" : f.type === "membership" ? "Lists" : f.type === "date" ? "Dates" : NUMERIC.has(f.type) ? "Spend and orders" : "Profile";
      (groups[label] = groups[label] || []).push(f);
    }
    const fieldSelect = Pulse.el(
      "select",
      {
        id: id + "f", "aria-label": "Field", "data-focus-key": path + ":field",
        onchange: (e) => {
          const next = this.byName[e.target.value];
          cond.field = next.name;
          if (!next.operators.includes(cond.cmp)) cond.cmp = next.operators[0];
          cond.value = null;
          this.changed();
        },
      },
      spec ? null : Pulse.el("option", { value: cond.field, selected: true, text: `${cond.field} (unknown)` }),
      Object.entries(groups).map(([label, fs]) =>
        Pulse.el("optgroup", { label }, fs.map((f) => Pulse.el("option", { value: f.name, selected: f.name === cond.field, text: f.label }))),
      ),
    );
    const operators = spec ? spec.operators : [cond.cmp];
    const cmpSelect = Pulse.el(
      "select",
      {
        "aria-label": "Comparison", "data-focus-key": path + ":cmp",
        onchange: (e) => {
          const before = cond.cmp;
          cond.cmp = e.target.value;
          const shape = (c) => (c === "between" ? "pair" : c === "in" || c === "not_in" ? "list" : c.includes("within") ? "days" : CAMPAIGN_CMPS.has(c) ? "campaign" : SEGMENT_CMPS.has(c) ? "segment" : NO_VALUE.has(c) ? "none" : "one");
          if (shape(before) !== shape(cond.cmp)) cond.value = null;
          this.changed();
        },
      },
      operators.map((c) => Pulse.el("option", { value: c, selected: c === cond.cmp, text: cmpLabel(spec, c) })),
    );
    row.append(fieldSelect, cmpSelect, this.renderValue(cond, spec, path));
    row.append(
      Pulse.el("button", { type: "button", class: "icon outline contrast", "aria-label": "Remove condition", title: "Remove condition", text: "×", onclick: remove }),
      Pulse.el("p", { class: "nodeerror", role: "alert", "data-error-for": path }),
    );
    return row;
  }

  renderValue(cond, spec, path) {
    const type = spec ? spec.type : "text";
    const wrap = Pulse.el("span", { class: "value" });
    if (NO_VALUE.has(cond.cmp)) return wrap;
    // Known values (cities) are offered as suggestions, not a closed list.
    const listId = spec && spec.values.length ? `values-${spec.name.replace(/\W/g, "_")}` : undefined;
    const input = (value, onValue, extra = {}) => {
      const kind = type === "date" ? "date" : NUMERIC.has(type) ? "number" : "text";
      return Pulse.el("input", {
        type: kind, value: value === null || value === undefined ? "" : String(value).slice(0, kind === "date" ? 10 : undefined),
        step: type === "integer" ? "1" : NUMERIC.has(type) ? "any" : undefined,
        "aria-label": extra.label || "Value", placeholder: extra.placeholder, list: extra.list,
        "data-focus-key": path + ":" + (extra.key || "v"),
        // Typing updates the tree without redrawing, so focus and cursor stay put.
        oninput: (e) => { onValue(this.convert(type, e.target.value)); this.touched(e.target, cond); this.onChange(this); },
        onchange: (e) => this.touched(e.target, cond),
      });
    };
    if (type === "engagement" && CAMPAIGN_CMPS.has(cond.cmp)) {
      this.loadCampaigns();
      const known = this.campaigns || [];
      const listed = known.some((c) => c.id === cond.value);
      wrap.append(
        Pulse.el(
          "select",
          {
            "aria-label": "Campaign", "data-focus-key": path + ":v",
            onchange: (e) => { cond.value = e.target.value === "" ? null : parseInt(e.target.value, 10); this.changed(); },
          },
          Pulse.el("option", { value: "", text: known.length ? "choose a campaign…" : "no launched campaigns yet", selected: cond.value === null }),
          cond.value !== null && !listed ? Pulse.el("option", { value: String(cond.value), text: `campaign #${cond.value}`, selected: true }) : null,
          known.map((c) => Pulse.el("option", { value: String(c.id), text: `${c.name} (#${c.id})`, selected: c.id === cond.value })),
        ),
      );
    } else if (type === "membership") {
      this.loadLists();
      const known = this.lists || [];
      const listed = known.some((s) => s.id === cond.value);
      wrap.append(
        Pulse.el(
          "select",
          {
            "aria-label": "List segment", "data-focus-key": path + ":v",
            onchange: (e) => { cond.value = e.target.value === "" ? null : parseInt(e.target.value, 10); this.changed(); },
          },
          Pulse.el("option", { value: "", text: known.length ? "choose a list…" : "no list segments yet", selected: cond.value === null }),
          cond.value !== null && !listed ? Pulse.el("option", { value: String(cond.value), text: `segment #${cond.value}`, selected: true }) : null,
          known.map((s) => Pulse.el("option", { value: String(s.id), text: `${s.name} (${Pulse.number(s.last_count || 0)})`, selected: s.id === cond.value })),
        ),
      );
    } else if (cond.cmp.includes("within_last_days")) {
      wrap.append(
        Pulse.el("input", {
          type: "number", min: type === "engagement" ? "1" : "0", max: type === "engagement" ? String(MAX_ENGAGEMENT_DAYS) : undefined, step: "1", value: cond.value ?? "", "aria-label": "Days", "data-focus-key": path + ":v",
          oninput: (e) => { cond.value = e.target.value === "" ? null : parseInt(e.target.value, 10); this.touched(e.target, cond); this.onChange(this); },
          onchange: (e) => this.touched(e.target, cond),
        }),
        Pulse.el("span", { class: "unit", text: "days" }),
      );
    } else if (cond.cmp === "between") {
      const pair = Array.isArray(cond.value) ? cond.value : [null, null];
      cond.value = pair;
      wrap.append(
        input(pair[0], (v) => (pair[0] = v), { label: "From", key: "v0" }),
        Pulse.el("span", { class: "unit", text: "and" }),
        input(pair[1], (v) => (pair[1] = v), { label: "To", key: "v1" }),
      );
    } else if (cond.cmp === "in" || cond.cmp === "not_in") {
      const list = Array.isArray(cond.value) ? cond.value : [];
      wrap.append(
        Pulse.el("input", {
          type: "text", value: list.join(", "), placeholder: "Mumbai, Pune", "aria-label": "Values, separated by commas",
          list: listId, "data-focus-key": path + ":v",
          oninput: (e) => { cond.value = e.target.value.split(",").map((s) => s.trim()).filter(Boolean); this.touched(e.target, cond); this.onChange(this); },
          onchange: (e) => this.touched(e.target, cond),
        }),
      );
      if (listId) wrap.append(this.datalist(listId, spec.values));
    } else if (type === "boolean") {
      wrap.append(
        Pulse.el(
          "select",
          { "aria-label": "Value", "data-focus-key": path + ":v", onchange: (e) => { cond.value = e.target.value === "true"; this.changed(); } },
          Pulse.el("option", { value: "", text: "choose…", selected: cond.value === null }),
          Pulse.el("option", { value: "true", text: "yes", selected: cond.value === true }),
          Pulse.el("option", { value: "false", text: "no", selected: cond.value === false }),
        ),
      );
    } else {
      wrap.append(input(cond.value, (v) => (cond.value = v), { list: listId, placeholder: NUMERIC.has(type) ? "5000" : "" }));
      if (listId) wrap.append(this.datalist(listId, spec.values));
    }
    return wrap;
  }

  datalist(id, values) {
    return Pulse.el("datalist", { id }, values.map((v) => Pulse.el("option", { value: v })));
  }

  convert(type, raw) {
    if (raw === "") return null;
    if (NUMERIC.has(type)) return type === "integer" ? parseInt(raw, 10) : Number(raw);
    return raw;
  }

  // Put each API error next to the node it names (the longest matching path).
  showErrors(details) {
    this.root.querySelectorAll(".nodeerror").forEach((p) => (p.textContent = ""));
    this.root.querySelectorAll("[data-path]").forEach((n) => n.removeAttribute("aria-invalid"));
    const nodes = [...this.root.querySelectorAll("[data-path]")];
    const unplaced = [];
    for (const d of details || []) {
      const path = d.path || "";
      let best = null;
      for (const n of nodes) {
        const p = n.dataset.path;
        if ((path === p || path.startsWith(p + ".") || path.startsWith(p + "[")) && (!best || p.length > best.dataset.path.length)) best = n;
      }
      if (!best) { unplaced.push(d.message); continue; }
      best.setAttribute("aria-invalid", "true");
      const slot = best.querySelector(`:scope > .nodeerror`);
      slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + (d.message || "invalid");
    }
    return unplaced;
  }
}

// A preview that follows edits: debounced, and an older request is cancelled by a newer one.
class LivePreview {
  constructor(builder, { countEl, sampleEl, statusEl, delay = 150 }) {
    this.builder = builder;
    this.countEl = countEl;
    this.sampleEl = sampleEl;
    this.statusEl = statusEl;
    this.delay = delay;
    this.timer = null;
    this.controller = null;
    this.editedAt = null;
  }

  schedule() {
    this.editedAt = this.editedAt ?? performance.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), this.delay);
  }

  async run() {
    if (this.controller) this.controller.abort();
    const controller = (this.controller = new AbortController());
    const editedAt = this.editedAt ?? performance.now();
    this.editedAt = null;
    this.countEl.setAttribute("aria-busy", "true");
    this.statusEl.textContent = "Counting…";
    try {
      const data = await Pulse.api("POST", "/api/v1/segments/preview", { rules: this.builder.value({ complete: true }), exact: true }, controller.signal);
      if (controller !== this.controller) return;
      this.builder.showErrors([]);
      this.countEl.textContent = Pulse.number(data.count);
      this.countEl.dataset.count = data.count;
      // Counted from the tree, which every keystroke updates (a row's style follows on blur).
      const incomplete = this.builder.incompleteCount();
      this.statusEl.textContent = incomplete ? `${incomplete} condition${incomplete > 1 ? "s" : ""} still need${incomplete > 1 ? "" : "s"} a value and ${incomplete > 1 ? "are" : "is"} not counted yet.` : "customers match";
      this.renderSample(data.sample);
      // Kept for the browser tests and the latency figure: edit → count on screen.
      window.__pulsePreviewMs = performance.now() - editedAt;
      this.countEl.dataset.ms = String(Math.round(window.__pulsePreviewMs));
    } catch (error) {
      if (error.name === "AbortError") return;
      this.countEl.textContent = "—";
      delete this.countEl.dataset.count;
      const unplaced = this.builder.showErrors(error.details);
      this.statusEl.textContent = unplaced.length ? unplaced.join("; ") : "Fix the highlighted conditions to see the count.";
    } finally {
      if (controller === this.controller) this.countEl.removeAttribute("aria-busy");
    }
  }

  renderSample(sample) {
    if (!this.sampleEl) return;
    if (!sample.length) {
      this.sampleEl.replaceChildren(Pulse.el("p", { class: "muted", text: "Nobody matches yet. Loosen a condition." }));
      return;
    }
    this.sampleEl.replaceChildren(
      Pulse.el("table", { class: "striped compact" },
        Pulse.el("thead", {}, Pulse.el("tr", {}, ["Name", "City", "Spend", "Orders"].map((h) => Pulse.el("th", { scope: "col", text: h })))),
        Pulse.el("tbody", {}, sample.map((c) =>
          Pulse.el("tr", {},
            Pulse.el("td", {}, Pulse.el("a", { href: "/customers/" + encodeURIComponent(c.external_id), text: c.name })),
            Pulse.el("td", { text: c.city || "—" }),
            Pulse.el("td", { class: "num", text: Pulse.money(c.total_spend) }),
            Pulse.el("td", { class: "num", text: String(c.order_count) }),
          ))),
      ),
    );
  }
}

// "Describe your audience": the AI assistant fills the builder with a rule tree, and says
// what it read each condition as and what it did not understand.
Pulse.askAssistant = async function (prompt, builder, out) {
  out.replaceChildren(Pulse.el("p", { class: "muted small", "aria-busy": "true", text: "Reading…" }));
  try {
    const data = await Pulse.api("POST", "/api/v1/ai/segment", { prompt });
    builder.setRules(data.rules);
    const lines = (data.conditions || []).map((c) => c.text);
    // replaceChildren writes null as the text "null": leave the absent parts out instead.
    const parts = [
      Pulse.el("p", { class: "small", text: data.explanation }),
      lines.length > 1 ? Pulse.el("ul", { class: "explanation" }, lines.map((l) => Pulse.el("li", { text: l }))) : null,
      (data.not_understood || []).length
        ? Pulse.el("p", { class: "warning", text: `Not understood, so left out: ${data.not_understood.map((m) => `“${m}”`).join(", ")}. Add those conditions by hand.` })
        : null,
      (data.notes || []).length ? Pulse.el("p", { class: "muted small", text: data.notes.join(" ") }) : null,
      Pulse.el("p", { class: "muted small", text: `Answered by the ${data.engine} engine${data.fallback_reason ? ` (${data.fallback_reason})` : ""}. Check the conditions below; you can edit them.` }),
    ];
    out.replaceChildren(...parts.filter((part) => part));
  } catch (error) {
    out.replaceChildren(Pulse.el("p", { class: "error", role: "alert", text: error.message }));
  }
};

Pulse.mountAssistant = function (form, builder) {
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const prompt = form.querySelector("input[type=text]").value.trim();
    if (!prompt) return;
    const button = form.querySelector("button[type=submit]");
    button.setAttribute("aria-busy", "true");
    try {
      await Pulse.askAssistant(prompt, builder, form.querySelector(".assistant-result"));
    } finally {
      button.removeAttribute("aria-busy");
    }
  });
};

Pulse.mountBuilder = function (root, options) {
  const builder = new Builder(root, options);
  if (options.countEl) {
    const preview = new LivePreview(builder, options);
    builder.onChange = () => { preview.schedule(); if (options.onChange) options.onChange(builder); };
    preview.run();
    builder.preview = preview;
  }
  return builder;
};
})();
