// The progress of a bulk action, polled every second from its JSON endpoint.
// Served as a file (no inline script: CSP); without it the page shows the same
// figures and a « Rafraîchir » link.
(function () {
  "use strict";
  var box = document.querySelector("[data-bulk-progress]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-bulk-progress");
  var bar = box.querySelector("progress");

  function show(name, value) {
    var el = box.querySelector('[data-count="' + name + '"]');
    if (el) {
      el.textContent = String(value);
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (p) {
        bar.max = p.total || 1;
        bar.value = p.processed;
        bar.textContent = p.percent + " %";
        show("processed", p.processed);
        show("percent", p.percent);
        show("done", p.done);
        show("skipped", p.skipped);
        show("label", p.label);
        if (p.finished) {
          window.location.reload(); // the report is on the page once the job is done
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000); // the server is busy or restarting: slow down
      });
  }

  window.setTimeout(poll, 1000);
})();
