// retrain's web UI script. Pages work without it; it only adds what a
// page does better with a script. It is the one script pages load (the
// Content-Security-Policy allows no other and no inline script), so each
// behaviour is switched on by a data- attribute in the markup.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // <form data-confirm="Promote version 3?">: ask before sending.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // <select data-autosubmit>: a choice sends its form.
  for (const input of document.querySelectorAll("[data-autosubmit]")) {
    input.addEventListener("change", () => input.form && input.form.requestSubmit());
  }

  // ---- Pipelines ----

  // ---- Experiments, runs and charts ----

  // ---- Models ----

  // ---- Variables and users ----
});
