/* Draws the Plotly figures a page embeds as JSON, and keeps the floor page current.
 *
 * Every 30 s the page is fetched again and only its live parts (counts, table, figure data) are
 * swapped, so a supervisor sees seats turn READY without losing scroll position or the open
 * floor picker. A lost session stops the refresh and reloads, which lands on the login page. */
(function () {
  "use strict";

  var PLOT_CONFIG = { displaylogo: false, displayModeBar: false, responsive: true, scrollZoom: false };
  var script = document.getElementById("dashboards-js");
  var refreshSeconds = Number(script && script.dataset.refreshSeconds) || 0;
  var clickBound = new WeakSet();

  function draw(element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    Plotly.react(element, figure.data, figure.layout, PLOT_CONFIG).then(function () {
      if (element.hasAttribute("data-click-through") && !clickBound.has(element)) {
        clickBound.add(element);
        element.on("plotly_click", function (event) {
          var point = event.points && event.points[0];
          var url = point && point.customdata && point.customdata[1];
          if (url) { window.location.href = url; }
        });
      }
    });
  }

  function drawAll() {
    document.querySelectorAll("[data-figure]").forEach(draw);
  }

  function refresh() {
    if (document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload();
          throw new Error("session ended");
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (text) {
        showProblem(false);
        var fresh = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (element) {
          // A form being filled in (an acknowledgement on the board) is not swapped out from
          // under the person: that part waits until the form is closed.
          if (element.querySelector("details[open]")) { return; }
          var replacement = fresh.getElementById(element.id);
          if (replacement) { element.innerHTML = replacement.innerHTML; }
        });
        drawAll();
      })
      .catch(function () {
        // The server may be restarting: say so, since a frozen page would look like a calm floor.
        // The next tick tries again.
        showProblem(true);
      });
  }

  function showProblem(on) {
    var problem = document.getElementById("refresh-problem");
    if (problem) { problem.hidden = !on; }
  }

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // "Starts in 12 min": ticks every second between refreshes, from the start time the server gave.
  function tickCountdowns() {
    document.querySelectorAll("[data-countdown-to]").forEach(function (element) {
      var left = Math.max(0, Math.round((Date.parse(element.dataset.countdownTo) - Date.now()) / 1000));
      var hours = Math.floor(left / 3600), minutes = Math.floor((left % 3600) / 60), seconds = left % 60;
      var text = hours ? hours + " h " + minutes + " min" : minutes ? minutes + " min " + seconds + " s" : seconds + " s";
      element.textContent = left ? "Starts in " + text : "Starting now";
    });
  }

  drawAll();
  tickCountdowns();
  window.setInterval(tickCountdowns, 1000);
  if (refreshSeconds > 0) {
    window.setInterval(refresh, refreshSeconds * 1000);
    // A tab brought back to the front may show minutes-old seats: catch up at once.
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { refresh(); } });
  }
})();
