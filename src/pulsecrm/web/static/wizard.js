// The campaign wizard: audience → message (with a rendered preview and suggestions) → review
// with the exact audience size → launch. Every step calls the same JSON API as any client.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("wizard");
  const steps = [...form.querySelectorAll("[data-step]")];
  const markers = [...document.querySelectorAll(".steps li")];
  let current = 0;

  const builder = Pulse.mountBuilder(document.getElementById("builder"), {
    catalog: JSON.parse(form.dataset.catalog),
    rules: null,
    countEl: document.getElementById("count"),
    sampleEl: null,
    statusEl: document.getElementById("count-status"),
  });

  // The assistant box lives inside the wizard's form, so it is wired by hand, not as a form.
  const assistant = document.getElementById("assistant-box");
  const assistantGo = document.getElementById("assistant-go");
  const assistantInput = document.getElementById("assistant-prompt");
  assistantGo.addEventListener("click", () => askAssistant());
  assistantInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); askAssistant(); } });
  async function askAssistant() {
    const prompt = assistantInput.value.trim();
    if (!prompt) return;
    assistantGo.setAttribute("aria-busy", "true");
    try {
      await Pulse.askAssistant(prompt, builder, assistant.querySelector(".assistant-result"));
    } finally {
      assistantGo.removeAttribute("aria-busy");
    }
  }

  const source = () => form.elements.source.value;
  const showSource = () => {
    form.querySelectorAll("[data-source]").forEach((el) => (el.hidden = el.dataset.source !== source()));
  };
  form.querySelectorAll("input[name=source]").forEach((r) => r.addEventListener("change", showSource));
  showSource();

  async function audienceRules() {
    if (source() === "segment") {
      const segment = await Pulse.api("GET", `/api/v1/segments/${form.elements.segment_id.value}`);
      return { rules: segment.rules, segment_id: segment.id, label: segment.name };
    }
    return { rules: builder.value(), segment_id: null, label: "new rules" };
  }

  function stepError(text) {
    steps[current].querySelector(".steperror").textContent = text || "";
  }
  // An error is about what the user typed: once they change it, it no longer applies.
  form.addEventListener("input", (event) => { stepError(""); clearFieldError(event.target); });
  form.addEventListener("change", (event) => { stepError(""); clearFieldError(event.target); });

  // A problem with one input, written next to it and tied to it for screen readers.
  function fieldError(field, text) {
    clearFieldError(field);
    const note = Pulse.el("small", { class: "fielderror error", id: `${field.id || field.name}-error`, text });
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", note.id);
    field.after(note);
  }
  function clearFieldError(field) {
    if (!field || !field.hasAttribute || !field.hasAttribute("aria-invalid")) return;
    field.removeAttribute("aria-invalid");
    const id = field.getAttribute("aria-describedby");
    if (id && id.endsWith("-error")) {
      document.getElementById(id)?.remove();
      field.removeAttribute("aria-describedby");
    }
  }
  function refuse(field, text) {
    stepError(text);
    fieldError(field, text);
    field.focus();
    return false;
  }

  function show(index) {
    current = index;
    steps.forEach((s, i) => (s.hidden = i !== index));
    markers.forEach((m, i) => (i === index ? m.setAttribute("aria-current", "step") : m.removeAttribute("aria-current")));
    stepError("");
    const heading = steps[index].querySelector("h2");
    heading.setAttribute("tabindex", "-1");
    heading.focus();
    if (index === 2) review();
  }

  async function validateStep() {
    if (current === 0) {
      if (source() === "rules") {
        try {
          await Pulse.api("POST", "/api/v1/segments/preview", { rules: builder.value(), exact: false, cap: 1 });
        } catch (error) {
          const unplaced = builder.showErrors(error.details);
          stepError(unplaced.length ? unplaced.join("; ") : "Fix the highlighted conditions first.");
          return false;
        }
      }
      return true;
    }
    if (current === 1) {
      if (!form.elements.name.value.trim()) { stepError("Give the campaign a name."); form.elements.name.focus(); return false; }
      if (!form.elements.message.value.trim()) {
        if (variants.active()) return refuse(message, "Write variant A's message.");
        stepError("Write the message."); form.elements.message.focus(); return false;
      }
      if (channel.value === "email" && !form.elements.subject.value.trim()) {
        return refuse(form.elements.subject, variants.active() ? "Give variant A a subject: the others use it unless they have their own." : "An e-mail needs a subject.");
      }
      const problem = variants.validate();
      if (problem) return refuse(problem.field, problem.error);
      const measuring = measure();
      if (measuring.error) { stepError(measuring.error); measuring.field.focus(); return false; }
      try {
        await renderPreview();
      } catch (error) {
        stepError(variants.active() ? `Variant A: ${error.message}` : error.message);
        return false;
      }
      try {
        await variants.renderAll();
      } catch (error) {
        stepError(error.message);
        if (error.field) error.field.focus();
        return false;
      }
      return true;
    }
    return true;
  }

  form.querySelectorAll("[data-next]").forEach((b) => b.addEventListener("click", async () => {
    b.setAttribute("aria-busy", "true");
    try { if (await validateStep()) show(current + 1); } finally { b.removeAttribute("aria-busy"); }
  }));
  form.querySelectorAll("[data-back]").forEach((b) => b.addEventListener("click", () => show(current - 1)));
  form.addEventListener("submit", (e) => e.preventDefault());

  // --- step 2: the message -------------------------------------------------------------------
  const channel = form.elements.channel;
  const emailOnly = form.querySelector("[data-email-only]");
  channel.addEventListener("change", () => { emailOnly.hidden = channel.value !== "email"; schedulePreview(); variants.refresh(); });
  const message = form.elements.message;
  // A detail goes into the message last written in: variant A's or another variant's.
  let writing = message;
  form.addEventListener("focusin", (event) => {
    if (event.target === message || event.target.matches("textarea[data-message]")) writing = event.target;
  });
  form.querySelectorAll("[data-insert]").forEach((chip) => chip.addEventListener("click", () => {
    const text = chip.dataset.insert;
    const target = writing.isConnected ? writing : message;
    const start = target.selectionStart ?? target.value.length;
    target.setRangeText(text, start, target.selectionEnd ?? start, "end");
    target.focus();
    target.dispatchEvent(new Event("input", { bubbles: true }));
  }));

  let previewTimer = null;
  let previewController = null;
  const schedulePreview = () => { clearTimeout(previewTimer); previewTimer = setTimeout(() => renderPreview().catch(() => {}), 250); };
  message.addEventListener("input", schedulePreview);
  form.elements.subject.addEventListener("input", () => { schedulePreview(); variants.refresh(); });

  // Rendered for someone the campaign would reach, not for whoever spends most overall.
  const audienceForPreview = () => (source() === "segment" ? { segment_id: Number(form.elements.segment_id.value) } : { rules: builder.value({ complete: true }) });
  const describe = (data) => `${data.customer_name ? `As ${data.customer_name} (${data.customer_external_id}) reads it` : "Nobody in this audience yet"} · ${data.characters} characters` +
    (channel.value === "sms" ? ` · ${data.sms_segments} SMS part${data.sms_segments > 1 ? "s" : ""}` : "");
  const variants = Pulse.mountVariants({
    root: document.getElementById("ab"),
    form,
    channel,
    first: {
      message,
      subject: form.elements.subject,
      messageLabel: document.getElementById("message-label"),
      subjectLabel: document.getElementById("subject-label"),
    },
    render: (text, subject, signal) => Pulse.api("POST", "/api/v1/campaigns/preview-message", { message: text, subject, ...audienceForPreview() }, signal),
    describe,
    onChange: () => stepError(""),
  });

  async function renderPreview() {
    const out = document.getElementById("preview-message");
    const meta = document.getElementById("preview-meta");
    const subjectOut = document.getElementById("preview-subject");
    if (!message.value.trim()) return null;
    if (previewController) previewController.abort();
    previewController = new AbortController();
    const subject = channel.value === "email" ? form.elements.subject.value.trim() || null : null;
    try {
      const data = await Pulse.api("POST", "/api/v1/campaigns/preview-message", { message: message.value, subject, ...audienceForPreview() }, previewController.signal);
      out.classList.remove("muted", "error");
      out.textContent = data.message;
      subjectOut.hidden = !data.subject;
      subjectOut.textContent = data.subject || "";
      meta.textContent = describe(data);
      return data;
    } catch (error) {
      if (error.name === "AbortError") return null;
      out.classList.add("error");
      out.textContent = error.message;
      // A message that does not render has no length yet: no count beside the error.
      meta.textContent = "";
      subjectOut.hidden = true;
      throw error;
    }
  }

  document.getElementById("suggest").addEventListener("click", async (event) => {
    const button = event.target;
    const goal = document.getElementById("goal").value.trim();
    const box = document.getElementById("variants");
    if (!goal) { box.replaceChildren(Pulse.el("p", { class: "muted", text: "Type a goal first, e.g. “welcome new customers”." })); return; }
    button.setAttribute("aria-busy", "true");
    try {
      const audience = await audienceRules();
      const data = await Pulse.api("POST", "/api/v1/ai/messages", {
        goal, rules: audience.segment_id ? undefined : audience.rules, segment_id: audience.segment_id || undefined,
        channel: channel.value, count: 3,
      });
      box.replaceChildren(...data.variants.map((v, i) => Pulse.el("article", { class: "variant" },
        Pulse.el("small", { class: "muted", text: `Option ${i + 1}${v.angle ? " · " + v.angle : ""}` }),
        v.preview_subject || v.subject ? Pulse.el("p", { class: "subject", text: v.preview_subject || v.subject }) : null,
        // What a customer reads; the template itself goes into the editor on "Use this".
        Pulse.el("p", { class: "rendered", text: v.preview }),
        Pulse.el("button", { type: "button", class: "outline small", text: "Use this", onclick: () => {
          message.value = v.message;
          if (v.subject) form.elements.subject.value = v.subject;
          renderPreview().catch(() => {});
          message.focus();
        } }),
        // Suggestions take different angles: each can be tested against the first.
        Pulse.el("button", { type: "button", class: "outline secondary small", text: "Add as a variant", onclick: () => {
          if (!message.value.trim()) {
            stepError("Write the first message (variant A) or use a suggestion for it first.");
          } else if (!variants.addWith(v.message, v.subject)) {
            stepError("A campaign has at most 5 variants: remove one to add another.");
          }
        } }),
      )));
    } catch (error) {
      box.replaceChildren(Pulse.el("p", { class: "error", role: "alert", text: error.message }));
    } finally {
      button.removeAttribute("aria-busy");
    }
  });

  // Holdout and attribution window: whole numbers in the API's ranges, or a sentence why not.
  function measure() {
    const read = (name, low, high, label) => {
      const field = form.elements[name];
      const text = field.value.trim();
      const value = Number(text);
      if (!/^\d+$/.test(text) || value < low || value > high) return { field, error: `${label} must be a whole number from ${low} to ${high}.` };
      return { field, value };
    };
    const holdout = read("holdout_percent", 0, 50, "The holdout");
    if (holdout.error) return holdout;
    const days = read("attribution_days", 1, 30, "The attribution window");
    if (days.error) return days;
    return { holdout_percent: holdout.value, attribution_days: days.value };
  }

  // --- step 3: review and launch -------------------------------------------------------------
  async function review() {
    document.getElementById("review-name").textContent = form.elements.name.value.trim();
    document.getElementById("review-channel").textContent = channel.value === "email" ? "E-mail" : "SMS";
    const rendered = document.getElementById("preview-message").textContent;
    const messageOut = document.getElementById("review-message");
    const ab = variants.active();
    document.getElementById("review-message-term").textContent = ab ? "Messages" : "Message";
    messageOut.classList.toggle("rendered", !ab);
    form.querySelectorAll("[data-ab-only]").forEach((el) => (el.hidden = !ab));
    if (ab) {
      const subjectOut = document.getElementById("preview-subject");
      variants.review(messageOut, document.getElementById("review-ab"), { text: rendered, subject: subjectOut.hidden ? "" : subjectOut.textContent });
    } else {
      messageOut.textContent = rendered;
    }
    const measuring = measure();
    document.getElementById("review-holdout").textContent = measuring.holdout_percent
      ? `${measuring.holdout_percent}% of the reachable audience held out as a control group (not messaged), to measure the lift`
      : "None: everyone reachable gets the message (lift can't be measured)";
    document.getElementById("review-attribution").textContent =
      `Orders within ${measuring.attribution_days} day${measuring.attribution_days === 1 ? "" : "s"} of a message are credited to it`;
    const countOut = document.getElementById("review-count");
    countOut.textContent = "…";
    countOut.setAttribute("aria-busy", "true");
    try {
      const audience = await audienceRules();
      const data = await Pulse.api("POST", "/api/v1/campaigns/reach", {
        channel: channel.value, rules: audience.segment_id ? undefined : audience.rules,
        segment_id: audience.segment_id || undefined,
      });
      const channelName = channel.value === "email" ? "e-mail" : "SMS";
      countOut.textContent = Pulse.number(data.matched);
      countOut.dataset.count = data.reachable;
      document.getElementById("review-reach").replaceChildren(
        countOut, ` match · ${Pulse.number(data.reachable)} reachable by ${channelName}`);
      const reasons = [
        [data.excluded.unsubscribed, "unsubscribed"],
        [data.excluded.no_consent, `without consent for ${channelName}`],
        [data.excluded.no_address, channel.value === "email" ? "without an e-mail address" : "without a phone number"],
      ].filter(([n]) => n > 0).map(([n, why]) => `${Pulse.number(n)} ${why}`);
      document.getElementById("review-excluded").textContent = reasons.length
        ? `Left out at launch: ${reasons.join(", ")}.`
        : "Everyone who matches can be reached.";
    } catch (error) {
      countOut.textContent = "?";
      stepError(error.message);
    } finally {
      countOut.removeAttribute("aria-busy");
    }
    plannedHours().catch((error) => stepError(error.message));
  }

  // Best-hour sending: how many messages each hour of the day would get (store time).
  async function plannedHours() {
    const box = document.getElementById("review-hours");
    const bestHour = form.elements.send_at.value === "best_hour";
    box.hidden = !bestHour;
    if (!bestHour) return;
    const audience = await audienceRules();
    const data = await Pulse.api("POST", "/api/v1/campaigns/send-hours", {
      channel: channel.value, rules: audience.segment_id ? undefined : audience.rules,
      segment_id: audience.segment_id || undefined,
    });
    const hours = Object.entries(data.hours).filter(([, n]) => n > 0);
    const top = Math.max(1, ...hours.map(([, n]) => n));
    box.replaceChildren(
      Pulse.el("p", { class: "muted", text: `Planned send hours (${data.timezone}):` }),
      Pulse.el("table", { class: "hours", "data-planned-hours": "" }, Pulse.el("tbody", {}, hours.map(([hour, n]) =>
        Pulse.el("tr", { "data-hour": hour },
          Pulse.el("th", { scope: "row", text: `${String(hour).padStart(2, "0")}:00` }),
          Pulse.el("td", {}, Pulse.el("progress", { max: top, value: n })),
          Pulse.el("td", { class: "num", text: Pulse.number(n) }))))),
    );
  }
  for (const radio of form.querySelectorAll('input[name="send_at"]')) {
    radio.addEventListener("change", () => plannedHours().catch((error) => stepError(error.message)));
  }

  // Smart send time (POST /api/v1/ai/send-time): the three hours most of this audience's
  // orders fall in, and one button that starts the campaign at the next such hour, store time.
  const timeBox = document.getElementById("send-time-box");
  const timeOut = document.getElementById("send-time-result");
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  document.getElementById("suggest-time").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.setAttribute("aria-busy", "true");
    timeOut.classList.remove("error");
    timeOut.replaceChildren();
    try {
      const audience = await audienceRules();
      const data = await Pulse.api("POST", "/api/v1/ai/send-time", {
        rules: audience.segment_id ? undefined : audience.rules,
        segment_id: audience.segment_id || undefined,
        timezone: timeBox.dataset.timezone,
      });
      const sentence = Pulse.el("span", { "data-testid": "send-time-sentence", text: data.sentence });
      if (!data.next_at) { timeOut.replaceChildren(sentence); return; }
      // The store's wall time, as the datetime-local input takes it: 2026-12-02T17:00.
      const local = data.next_at.slice(0, 16);
      const [date, clock] = local.split("T");
      const [year, month, day] = date.split("-").map(Number);
      const label = `${clock} on ${day} ${MONTHS[month - 1]} ${year}`;
      const apply = Pulse.el("button", { type: "button", class: "outline small", text: `Start at ${label}`, onclick: () => {
        const when = form.elements.scheduled_at;
        when.value = local;
        // That day's offset, which a daylight-saving change can make differ from today's.
        when.dataset.appliedValue = local;
        when.dataset.appliedOffset = data.next_at.endsWith("Z") ? "+00:00" : data.next_at.slice(-6);
        // Sent as soon as it starts, so the messages go out in that window.
        const now = form.querySelector('input[name="send_at"][value="now"]');
        now.checked = true;
        now.dispatchEvent(new Event("change", { bubbles: true }));
        timeOut.replaceChildren(sentence, " ", Pulse.el("strong", { "data-testid": "send-time-applied", text: `Starts at ${label} (${timeBox.dataset.timezone}).` }));
        when.focus();
      } });
      timeOut.replaceChildren(sentence, " ", apply);
    } catch (error) {
      timeOut.classList.add("error");
      timeOut.textContent = error.message;
    } finally {
      button.removeAttribute("aria-busy");
    }
  });

  async function create(launch) {
    const audience = await audienceRules();
    const body = {
      name: form.elements.name.value.trim(),
      channel: channel.value,
      message: message.value,
      subject: channel.value === "email" ? form.elements.subject.value.trim() || null : null,
      rate_limit: form.elements.rate_limit.value ? parseInt(form.elements.rate_limit.value, 10) : null,
      holdout_percent: measure().holdout_percent,
      attribution_days: measure().attribution_days,
      send_at: form.elements.send_at.value,
    };
    const when = form.elements.scheduled_at;
    // The input is store time, without a zone: the store's offset makes it ISO 8601 (the
    // suggested time's own offset while the input still holds it).
    const offset = when.value === when.dataset.appliedValue ? when.dataset.appliedOffset : when.dataset.utcOffset;
    if (when.value) body.scheduled_at = `${when.value.length === 16 ? `${when.value}:00` : when.value}${offset}`;
    if (audience.segment_id) body.segment_id = audience.segment_id;
    else body.rules = audience.rules;
    const ab = variants.body();
    if (ab) {
      delete body.message;  // the first message is variant A
      Object.assign(body, ab);
    }
    const campaign = await Pulse.api("POST", "/api/v1/campaigns", body);
    if (launch) await Pulse.api("POST", `/api/v1/campaigns/${campaign.id}/launch`);
    window.location = `/campaigns/${campaign.id}`;
  }

  // A 422 names its fields (`loc`, or a template's `path` like $.variants[1].message): each
  // message goes next to its input, on the step that has it.
  function fieldOf(detail) {
    let parts = detail.loc ? detail.loc.filter((p, i) => !(i === 0 && p === "body")) : null;
    if (!parts && detail.path) {
      parts = [...detail.path.matchAll(/\.(\w+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
    }
    if (!parts || !parts.length) return null;
    const own = variants.fieldFor(parts);
    if (own) return own;
    const named = form.elements[parts[0]];
    return named instanceof Element ? named : null;
  }

  function showRefusal(error) {
    const placed = (error.details || []).map((d) => [fieldOf(d), d]).filter(([field]) => field);
    if (!placed.length) { stepError(error.message); return; }
    const step = steps.findIndex((s) => s.contains(placed[0][0]));
    if (step >= 0 && step !== current) show(step);
    for (const [field, detail] of placed) fieldError(field, detail.message || error.message);
    stepError(error.message);
    placed[0][0].focus();
  }

  // Launching asks first, naming the channel and how many customers it reaches (the count the
  // review step made just now), and when it starts.
  function launchQuestion() {
    const email = channel.value === "email";
    const n = Number(document.getElementById("review-count").dataset.count);
    const people = Number.isFinite(n) ? `${Pulse.number(n)} customer${n === 1 ? "" : "s"}` : "everyone it reaches";
    const when = form.elements.scheduled_at.value
      ? `starting at ${form.elements.scheduled_at.value.replace("T", " ")} store time (counted again then)`
      : form.elements.send_at.value === "best_hour" ? "over the next 24 hours, each at their best hour" : "now";
    return {
      title: `Launch “${form.elements.name.value.trim()}”?`,
      text: `It sends ${email ? "an e-mail" : "an SMS"} to ${people} ${when}. This can't be undone, only paused or cancelled.`,
      confirm: `Send ${email ? "e-mail" : "SMS"} to ${people}`,
    };
  }

  // A test of the message as it stands, to oneself: variant A's text when testing variants.
  const testBox = document.getElementById("test-send-box");
  function showTestBox() {
    const email = channel.value === "email";
    testBox.querySelector("[data-email-only]").hidden = !email;
    testBox.querySelector("[data-sms-only]").hidden = email;
  }
  channel.addEventListener("change", showTestBox);
  document.getElementById("test-send").addEventListener("click", async () => {
    let audience;
    try {
      audience = await audienceRules();
    } catch (error) {
      stepError(error.message);
      return;
    }
    const email = channel.value === "email";
    Pulse.testSend(testBox, "/api/v1/campaigns/test-send", {
      channel: channel.value,
      message: message.value,
      subject: email ? form.elements.subject.value.trim() || null : null,
      rules: audience.segment_id ? undefined : audience.rules,
      segment_id: audience.segment_id || undefined,
      phone: email ? null : document.getElementById("test-phone").value,
    });
  });
  showTestBox();

  for (const [id, launch] of [["launch", true], ["save-draft", false]]) {
    document.getElementById(id).addEventListener("click", async (event) => {
      const button = event.target;
      if (launch && !(await Pulse.confirmDialog(launchQuestion()))) return;
      button.setAttribute("aria-busy", "true");
      stepError("");
      try {
        await create(launch);
      } catch (error) {
        button.removeAttribute("aria-busy");
        showRefusal(error);
      }
    });
  }
});
