// The campaign page: launching a draft through the API, after the user confirms.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("#launch-draft");
  if (!button) return;
  if (!window.confirm(button.dataset.confirm)) return;
  button.setAttribute("aria-busy", "true");
  try {
    await Pulse.api("POST", `/api/v1/campaigns/${button.dataset.campaign}/launch`);
    window.location.reload();
  } catch (error) {
    button.removeAttribute("aria-busy");
    window.alert(error.message);
  }
});
