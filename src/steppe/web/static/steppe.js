// Steppe's own script: partial updates without a framework. Pages work without it.
// - [data-refresh-url]: refetched every data-refresh-seconds and swapped in place.
// - form[data-target]: submitted in the background; the answer replaces #target.
// - input[data-select-all]: checks every checkbox named by its value (bulk actions).
"use strict";
(function () {
  const main = document.getElementById("main");
  const csrf = main ? main.dataset.csrf || "" : "";

  async function fetchFragment(url, options) {
    const init = Object.assign({ credentials: "same-origin" }, options || {});
    init.headers = Object.assign({ "X-Steppe-Fragment": "1", "X-CSRF-Token": csrf }, init.headers || {});
    const response = await fetch(url, init);
    if (response.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search)); return null; }
    return response.text();
  }

  function refreshLoop(element) {
    const seconds = Number(element.dataset.refreshSeconds || "30");
    window.setInterval(async function () {
      if (document.hidden) return;
      // Do not swap under someone typing or choosing in the region.
      if (element.contains(document.activeElement) && document.activeElement !== document.body) return;
      const html = await fetchFragment(element.dataset.refreshUrl);
      if (html !== null) element.innerHTML = html;
    }, seconds * 1000);
  }

  function backgroundForm(form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const target = document.getElementById(form.dataset.target);
      const html = await fetchFragment(form.action, { method: "POST", body: new FormData(form) });
      if (html !== null && target) {
        target.innerHTML = html;
        const heading = target.querySelector("[role=alert], [role=status], h2");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      }
    });
  }

  function selectAll(box) {
    box.addEventListener("change", function () {
      document.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]').forEach(function (other) { other.checked = box.checked; });
    });
  }

  document.querySelectorAll("[data-refresh-url]").forEach(refreshLoop);
  document.querySelectorAll("form[data-target]").forEach(backgroundForm);
  document.querySelectorAll("input[data-select-all]").forEach(selectAll);
})();
