// The Job Status page's few behaviours on top of htmx: pause, polling fallback, selections kept
// across live updates, clicks kept from them, and a sign-in page when the session ends. Without
// JavaScript the page still works: filters, paging and actions are plain links and forms.
(function () {
  "use strict";
  var POLL_MS = 3000;
  // Longest a press (pointer or Space) holds the live part still: a release outside the window may
  // never come.
  var HOLD_MS = 5000;
  var sseOpen = false;
  var selected = new Set();
  // While a pointer or Space is pressed, a live update would replace the button under it: the press
  // and the release would land on two different elements and the browser would drop the click. So
  // an update waits for the release, and what it would have shown is fetched once then.
  var holding = null;
  var missed = false;

  function paused() {
    var box = document.getElementById("pause");
    return !!(box && box.checked);
  }
  function mode(text) {
    var el = document.getElementById("live-mode");
    if (el) el.textContent = text;
  }
  function poll() {
    var live = document.getElementById("live");
    if (live && window.htmx) window.htmx.trigger(live, "vj-poll");
  }
  function release() {
    if (holding === null) return;
    window.clearTimeout(holding);
    holding = null;
    if (missed && !paused()) poll();
    missed = false;
  }
  function hold() {
    if (holding === null) holding = window.setTimeout(release, HOLD_MS);  // a held key repeats: once
  }
  document.addEventListener("pointerdown", hold, true);
  // after the click that follows the release, so that the click reaches the element pressed
  document.addEventListener("pointerup", function () { window.setTimeout(release, 0); }, true);
  document.addEventListener("pointercancel", release, true);
  // The keyboard's press: Space clicks a button or ticks a box when it is let go, on the element
  // that has the focus then, which a swap in between would have replaced.
  document.addEventListener("keydown", function (event) { if (event.key === " ") hold(); }, true);
  document.addEventListener("keyup", function (event) {
    if (event.key === " ") window.setTimeout(release, 0);
  }, true);

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
      if (!box.checked) poll();
    }
  });
  document.addEventListener("htmx:sseOpen", function () { sseOpen = true; if (!paused()) mode("live (events)"); });
  document.addEventListener("htmx:sseError", function () { sseOpen = false; if (!paused()) mode("live (polling)"); });
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (paused()) event.preventDefault();
    else if (holding !== null && event.detail && event.detail.type === "update") {
      missed = true;
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail && event.detail.type === "expired") window.location.reload();
    restoreSelection();
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    // a polled part that arrives while a pointer is pressed waits like an event's
    if (holding !== null && event.detail && event.detail.target && event.detail.target.id === "live-body") {
      missed = true;
      event.detail.shouldSwap = false;
    }
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
      if (sseOpen || paused() || !window.htmx) return;
      if (holding !== null) missed = true;  // fetched at the release
      else poll();
    }, POLL_MS);
  });
})();
