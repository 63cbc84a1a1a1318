// The campaign page: launching a draft through the API after a confirmation that names how
// many customers it reaches and on which channel; a test send of its message to oneself.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("#launch-draft");
  if (!button) return;
  button.setAttribute("aria-busy", "true");
  try {
    const channelName = button.dataset.channel === "email" ? "e-mail" : "SMS";
    const reach = await Pulse.api("POST", "/api/v1/campaigns/reach", {
      channel: button.dataset.channel, rules: JSON.parse(button.dataset.rules),
    });
    const n = reach.reachable;
    const people = `${Pulse.number(n)} customer${n === 1 ? "" : "s"}`;
    button.removeAttribute("aria-busy");
    const confirmed = await Pulse.confirmDialog({
      title: `Launch “${button.dataset.name}”?`,
      text: `It sends ${channelName === "e-mail" ? "an e-mail" : "an SMS"} to ${people} now (counted just now: the unsubscribed, those without consent and those without an address are left out).`,
      confirm: `Send ${channelName} to ${people}`,
    });
    if (!confirmed) return;
    button.setAttribute("aria-busy", "true");
    await Pulse.api("POST", `/api/v1/campaigns/${button.dataset.campaign}/launch`);
    window.location.reload();
  } catch (error) {
    button.removeAttribute("aria-busy");
    window.alert(error.message);
  }
});

document.addEventListener("click", (event) => {
  if (!event.target.closest("#test-send")) return;
  const box = document.getElementById("test-send-box");
  const phone = box.querySelector("#test-phone");
  Pulse.testSend(box, `/api/v1/campaigns/${box.dataset.campaign}/test-send`, {
    phone: box.dataset.channel === "sms" ? phone.value : null,
  });
});
