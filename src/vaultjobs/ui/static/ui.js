// The Job Status page's few behaviours on top of htmx: pause, polling fallback, selections kept
// across live updates, and a sign-in page when the session ends. Without JavaScript the page still
// works: filters, paging and actions are plain links and forms.
(function () {
  "use strict";
  var POLL_MS = 3000;
  var sseOpen = false;
  var selected = new Set();

  function paused() {
    var box = document.getElementById("pause");
    return !!(box && box.checked);
  }
  function mode(text) {
    var el = document.getElementById("live-mode");
    if (el) el.textContent = text;
  }
  function restoreSelection() {
    document.querySelectorAll('input[type=checkbox][name=job_id]').forEach(function (box) {
      box.checked = selected.has(box.value);
    });
  }

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box && box.name === "job_id" && box.type === "checkbox") {
      if (box.checked) selected.add(box.value); else selected.delete(box.value);
    }
    if (box && box.id === "pause") {
      mode(box.checked ? "paused" : (sseOpen ? "live (events)" : "live (polling)"));
      // the stream sends a part only when it changes: what changed while paused is fetched once now
      var live = document.getElementById("live");
      if (!box.checked && live && window.htmx) window.htmx.trigger(live, "vj-poll");
    }
  });
  document.addEventListener("htmx:sseOpen", function () { sseOpen = true; if (!paused()) mode("live (events)"); });
  document.addEventListener("htmx:sseError", function () { sseOpen = false; if (!paused()) mode("live (polling)"); });
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (paused()) event.preventDefault();
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail && event.detail.type === "expired") window.location.reload();
    restoreSelection();
  });
  document.addEventListener("htmx:afterSettle", restoreSelection);
  document.addEventListener("htmx:afterSwap", restoreSelection);
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    var stamp = xhr && xhr.getResponseHeader("X-Updated");
    var el = document.getElementById("last-updated");
    if (stamp && el) el.textContent = stamp;  // a poll's answer: the server's time, in your zone
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail && event.detail.xhr && event.detail.xhr.status === 401) window.location.reload();
  });
  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    if (!live) return;
    if (!window.EventSource) mode("live (polling)");
    window.setInterval(function () {
      if (!sseOpen && !paused() && window.htmx) window.htmx.trigger(live, "vj-poll");
    }, POLL_MS);
  });
})();
