/* Drag a post to another day (or hour) of the Kairos calendar to move it.
 * Part of Kairos, MIT licence (see pyproject.toml). No library: HTML drag and drop and fetch.
 * The server decides through the workflow; its sentence is shown, then the page reloads. */
(function () {
  "use strict";
  function ready(fn) { document.readyState !== "loading" ? fn() : document.addEventListener("DOMContentLoaded", fn); }
  ready(function () {
    var root = document.getElementById("kairos-calendar");
    if (!root || root.dataset.canMove !== "1") return;
    var message = document.getElementById("kairos-message");
    var token = root.querySelector("input[name=csrfmiddlewaretoken]").value;
    var dragged = null;
    function say(text, isError) {
      message.hidden = false;
      message.textContent = text;
      message.className = "k-message" + (isError ? " error" : "");
    }
    root.addEventListener("dragstart", function (e) {
      var item = e.target.closest && e.target.closest(".k-item.movable");
      if (!item) return;
      dragged = item;
      item.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", item.dataset.id);
    });
    root.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      root.querySelectorAll(".drop").forEach(function (el) { el.classList.remove("drop"); });
    });
    function target(e) { return e.target.closest && (e.target.closest(".k-hour") || e.target.closest(".k-day")); }
    root.addEventListener("dragover", function (e) {
      var cell = target(e);
      if (!cell || !dragged) return;
      e.preventDefault();
      root.querySelectorAll(".drop").forEach(function (el) { if (el !== cell) el.classList.remove("drop"); });
      cell.classList.add("drop");
    });
    root.addEventListener("drop", function (e) {
      var cell = target(e);
      if (!cell || !dragged) return;
      e.preventDefault();
      var id = dragged.dataset.id;
      var body = new URLSearchParams();
      body.set("date", cell.dataset.date);
      body.set("time", cell.dataset.time || dragged.dataset.time);
      var url = root.dataset.moveUrl.replace("/0/", "/" + id + "/");
      say("Moving…", false);
      fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": token, "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        say(result.data.message, !result.ok);
        root.dataset.lastMove = result.ok ? "ok" : "refused";
        if (result.ok) { window.setTimeout(function () { window.location.reload(); }, 900); }
      }).catch(function () { say("The move could not reach the server; nothing changed.", true); });
    });
  });
})();
