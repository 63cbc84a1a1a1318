// Shared by every page: the CSRF token, a JSON API call that reports errors, a DOM helper.
"use strict";
(() => {

const Pulse = (window.Pulse = window.Pulse || {});

Pulse.csrf = () => document.querySelector('meta[name="csrf-token"]').content;

Pulse.api = async function (method, url, body, signal) {
  const response = await fetch(url, {
    method,
    signal,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": Pulse.csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    throw new Error("signed out");
  }
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) {
    const error = new Error((data && data.error && data.error.message) || `HTTP ${response.status}`);
    error.status = response.status;
    error.details = (data && data.error && data.error.details) || [];
    throw error;
  }
  return data;
};

Pulse.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
};

// The same formatting as the pages (pulsecrm.formatting): the store's locale and currency.
const format = JSON.parse(document.querySelector('meta[name="pulse-format"]').content);
const numbers = new Intl.NumberFormat(format.locale);
const money = (digits) => new Intl.NumberFormat(format.locale, { style: "currency", currency: format.currency, minimumFractionDigits: digits, maximumFractionDigits: digits });
const whole = money(0);
const cents = money(2);
Pulse.number = (n) => numbers.format(Number(n));
Pulse.money = (n) => (Number.isInteger(Number(n)) ? whole : cents).format(Number(n));

// A confirmation step as a modal <dialog> (never window.confirm): resolves true only when
// the person presses the confirming button; Escape or the other button resolves false.
Pulse.confirmDialog = function ({ title, text, confirm, cancel = "Go back" }) {
  return new Promise((resolve) => {
    const yes = Pulse.el("button", { type: "submit", value: "yes", text: confirm });
    const no = Pulse.el("button", { type: "submit", value: "no", class: "secondary outline", text: cancel });
    const dialog = Pulse.el("dialog", { class: "confirm", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-text" },
      Pulse.el("article", {},
        Pulse.el("h2", { id: "confirm-title", text: title }),
        Pulse.el("p", { id: "confirm-text", text }),
        Pulse.el("form", { method: "dialog" }, Pulse.el("footer", {}, no, yes))));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
    yes.focus();
  });
};

// The "test send to myself" box (templates' test_send_box): posts, then says where it went.
Pulse.testSend = async function (box, url, body) {
  const button = box.querySelector("#test-send");
  const out = box.querySelector("#test-send-result");
  const phone = box.querySelector("#test-phone");
  out.textContent = "";
  out.classList.remove("error");
  phone.removeAttribute("aria-invalid");
  button.setAttribute("aria-busy", "true");
  try {
    const sent = await Pulse.api("POST", url, body);
    const who = sent.customer_name ? `, filled in for ${sent.customer_name}` : "";
    out.textContent = `Test sent to ${sent.to}${who}. It is not counted in the campaign.`;
  } catch (error) {
    out.classList.add("error");
    const own = (error.details || []).find((d) => d.loc && d.loc[d.loc.length - 1] === "phone");
    if (own) phone.setAttribute("aria-invalid", "true");
    out.textContent = own ? `Phone number: ${own.message}` : error.message;
  } finally {
    button.removeAttribute("aria-busy");
  }
};
})();

// Behaviour the templates ask for by attribute, so no page needs an inline script or handler
// (the Content-Security-Policy allows neither).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const source = document.getElementById(copy.dataset.copy);
    if (navigator.clipboard && source) navigator.clipboard.writeText(source.value);
    copy.textContent = "Copied";
  }
  const back = event.target.closest("a[data-back]");
  if (back && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
