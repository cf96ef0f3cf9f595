/* Trainbook: a running run's page follows the run (only `make serve`, generators/watch.py, publishes one).
   Every POLL_MS it asks the watch server for the run's status file and its curves: the step, ETA and last
   values are rewritten and the chart grows. When the server has published the run sealed, the page reloads
   into the run's full page. Without JavaScript the page reloads itself (<noscript> refresh). */
(function () {
  "use strict";
  var POLL_MS = 1000;
  var panel = document.querySelector("[data-live]");
  if (!panel || !window.fetch || !window.Trainbook || !window.Trainbook.charts) return;
  var base = panel.getAttribute("data-live");
  var slot = panel.querySelector(".curves-live");
  var prefer = slot ? slot.getAttribute("data-series").split(" ") : [];
  var charts = window.Trainbook.charts;
  var chart = null, chosen = null, picker = null;

  var number = window.Trainbook.format.number, duration = window.Trainbook.format.duration;

  function field(name, text) {
    var el = panel.querySelector('[data-live-field="' + name + '"]');
    if (el) el.textContent = text;
  }

  function show(status) {
    if (!status || typeof status.step !== "number") return;
    var unit = status.unit || "step";
    var text = unit + " " + number(status.step) + (status.steps ? " of " + number(status.steps) : "");
    if (typeof status.eta_s === "number") text += ", about " + duration(status.eta_s) + " left";
    if (typeof status.rate === "number") text += " (" + number(status.rate) + " " + unit + "s/s)";
    field("progress", text);
    var last = Object.keys(status.last || {}).sort().map(function (k) { return k.replace(/_/g, " ") + " " + number(status.last[k]); });
    field("last", last.join(", ") || "–");
    field("updated", (status.updated_at || "").replace("T", " ").replace("+00:00", " UTC"));
  }

  var lastCurves = null;

  function option(value, text) {
    var el = document.createElement("option");
    el.value = value;
    el.textContent = text;
    return el;
  }

  /* A menu of every series the run has logged so far; the first entry is what the page shows by default. */
  function menu(names, first) {
    if (!picker) {
      picker = document.createElement("select");
      var label = document.createElement("label");
      label.className = "live-metric";
      label.textContent = "Metric ";
      label.appendChild(picker);
      slot.parentNode.insertBefore(label, slot);
      picker.addEventListener("change", function () {
        chosen = picker.value.split(" ");
        if (chart && lastCurves) chart.update(charts.lines(lastCurves, chosen));
      });
    }
    var current = picker.value;
    picker.textContent = "";
    picker.appendChild(option(first.join(" "), first.map(charts.label).join(" and ")));
    names.forEach(function (name) { if (first.join(" ") !== name) picker.appendChild(option(name, charts.label(name))); });
    if (current) picker.value = current;
  }

  function draw(curves) {
    lastCurves = curves;
    var names = Object.keys(curves.series || {});
    if (!names.length || !slot) return;
    var first = prefer.filter(function (n) { return names.indexOf(n) !== -1; }).slice(0, 2);
    if (!first.length) first = [names[0]];
    if (!chosen) chosen = first;
    if (names.length > 1 && (!picker || picker.options.length !== names.length + (first.length > 1 ? 1 : 0))) menu(names, first);
    var found = charts.lines(curves, chosen);
    if (!chart) chart = new charts.Chart(slot, found);
    else chart.update(found);
  }

  function poll() {
    charts.fetchJSON(base + "status.json").then(function (answer) {
      if (answer.published !== "running") { window.location.reload(); return null; }
      show(answer.status);
      return charts.fetchJSON(base + "curves.json").then(draw);
    }).catch(function () { /* the server is gone (or restarting): try again later */ })
      .then(function () { window.setTimeout(poll, POLL_MS); });
  }

  charts.load().then(poll, poll);
})();
