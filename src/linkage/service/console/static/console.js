// The console's only script: follows a run's progress until it ends, then
// reloads the page to show its results. Everything else works without it.
"use strict";
(function () {
  const box = document.querySelector("[data-progress-url]");
  if (!box || !["queued", "running"].includes(box.dataset.state)) {
    return;
  }
  const bar = document.getElementById("run-progress");
  const state = document.getElementById("run-state");
  const percent = document.getElementById("run-percent");
  const message = document.getElementById("run-message");
  async function poll() {
    try {
      const answer = await fetch(box.dataset.progressUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (answer.ok) {
        const run = await answer.json();
        bar.value = run.progress;
        bar.textContent = percent.textContent = Math.round(run.progress * 100) + "%";
        state.textContent = run.state;
        message.textContent = run.message;
        if (run.state !== "queued" && run.state !== "running") {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // A missed poll is retried on the next tick.
    }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 500);
})();
