/* Trainbook: compare the runs you pick, on top of pages that work without it.
   Every run table gets a tick box per run; the runs ticked (on any page, across experiments: the selection
   is kept in this browser) open as /compare/?runs=a,b,c, an address that can be shared. There the runs'
   published records (runs/<id>/run.json) and curves (curves.json) are shown side by side: facts, the
   settings that differ, final metrics with their change against the first run, and one metric's curves
   overlaid. Better or worse follows the same rules as the pre-rendered pages (generators/diff.py, published
   as the page's rules.json): never between values in different units. Without JavaScript the comparison
   pages of each run with the one before it remain. */
(function () {
  "use strict";
  var script = document.currentScript;
  var COMPARE = script ? script.getAttribute("data-compare") : "/compare/";
  var KEY = "trainbook.compare";
  var MAX = 12;  // more columns than this do not fit a page

  // --- the selection -------------------------------------------------------------------------------

  function picked() {
    try { return JSON.parse(window.localStorage.getItem(KEY) || "[]").filter(function (id) { return typeof id === "string"; }); }
    catch (e) { return []; }
  }

  function keep(ids) {
    try { window.localStorage.setItem(KEY, JSON.stringify(ids.slice(0, MAX))); } catch (e) { /* private mode: this page only */ }
  }

  function compareUrl(ids) { return COMPARE + "?runs=" + ids.map(encodeURIComponent).join(","); }

  var RUN_ID = /^[a-z0-9][a-z0-9-]*-\d{8}T\d{6}Z-[0-9a-f]{7}$/;  // trainer/tracking/layout.py RUN_ID

  /* The run a table row is about: its first cell links to the run's page, /runs/<id>/. */
  function runOf(row) {
    var link = row.cells[0] && row.cells[0].querySelector("a");
    var parts = link ? link.pathname.split("/").filter(Boolean) : [];
    var id = parts.length ? decodeURIComponent(parts[parts.length - 1]) : "";
    return RUN_ID.test(id) ? id : null;
  }

  var bar = null;
  function showBar() {
    var ids = picked();
    if (!bar) {
      bar = document.createElement("div");
      bar.className = "compare-bar";
      bar.setAttribute("role", "region");
      bar.setAttribute("aria-label", "Runs picked to compare");
      document.body.appendChild(bar);
    }
    bar.textContent = "";
    bar.hidden = !ids.length;
    if (!ids.length) return;
    var text = document.createElement("span");
    text.textContent = ids.length + (ids.length === 1 ? " run picked" : " runs picked");
    var go = document.createElement("a");
    go.href = compareUrl(ids);
    go.textContent = "Compare";
    go.className = "compare-go";
    var clear = document.createElement("button");
    clear.type = "button";
    clear.textContent = "Clear";
    clear.addEventListener("click", function () {
      keep([]);
      Array.prototype.forEach.call(document.querySelectorAll("input.pick"), function (box) { box.checked = false; });
      showBar();
    });
    bar.appendChild(text);
    bar.appendChild(go);
    bar.appendChild(clear);
  }

  function addTicks(table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head || table.getAttribute("data-picks")) return;
    table.setAttribute("data-picks", "yes");
    // The last column: the sort buttons (runs-table.js) know the others by their place.
    var th = document.createElement("th");
    th.scope = "col";
    th.textContent = "compare";
    head.appendChild(th);
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var id = runOf(row);
      var cell = row.insertCell(-1);
      if (!id) return;
      var box = document.createElement("input");
      box.type = "checkbox";
      box.className = "pick";
      box.value = id;
      box.checked = picked().indexOf(id) !== -1;
      box.setAttribute("aria-label", "compare " + id);
      box.addEventListener("change", function () {
        var ids = picked().filter(function (other) { return other !== id; });
        if (box.checked) ids.push(id);
        keep(ids);
        showBar();
      });
      cell.appendChild(box);
    });
  }

  // --- the rules: generators/diff.py, as its rules.json says them ------------------------------------

  function endsWith(name, endings) { return endings.some(function (e) { return name.slice(-e.length) === e; }); }

  function at(record, dotted) {
    return dotted.split(".").reduce(function (value, part) { return value && typeof value === "object" ? value[part] : undefined; }, record);
  }

  function direction(rules, name, key) {
    if (key && name === key.name) return key.goal;
    if (rules.neutral.indexOf(name) !== -1) return null;
    if (endsWith(name, rules.lower_better)) return "min";
    if (endsWith(name, rules.higher_better)) return "max";
    return null;
  }

  function comparable(base, head) {
    var a = base.key_metric || {}, b = head.key_metric || {};
    var named = b.across || a.across;
    var across = named && named in (base.metrics || {}) && named in (head.metrics || {}) ? named : null;
    if (a.name !== b.name) return { comparable: false, reason: "different key metrics (" + a.name + ", " + b.name + ")", across: across };
    if (a.unit && b.unit && a.unit !== b.unit) return { comparable: false, reason: "different units (" + a.unit + ", " + b.unit + ")", across: across };
    var paths = (a.comparable_by || []).concat(b.comparable_by || []).filter(function (p, i, all) { return all.indexOf(p) === i; }).sort();
    for (var i = 0; i < paths.length; i++) {
      if (JSON.stringify(at(base, paths[i])) !== JSON.stringify(at(head, paths[i]))) {
        return { comparable: false, reason: paths[i] + " differs, so " + (b.unit || "the unit") + " is not the same unit", across: across };
      }
    }
    return { comparable: true, reason: "", across: across };
  }

  function verdict(rules, rule, name, key, base, head) {
    if (typeof base !== "number" || typeof head !== "number") return null;
    var governed = name !== rule.across && (name === key.name || endsWith(name, rules.loss_family));
    if (!rule.comparable && governed) return "incomparable";
    var delta = head - base;
    if (Math.abs(delta) <= rules.relative_same * Math.max(Math.abs(base), 1e-300)) return "same";
    var goal = direction(rules, name, key);
    if (goal !== "min" && goal !== "max") return null;
    return (delta < 0) === (goal === "min") ? "better" : "worse";
  }

  // --- the view -------------------------------------------------------------------------------------

  function number(value) { return window.Trainbook.format.number(value); }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function table(headers, rows, caption) {
    var t = el("table", null, "picked-table");
    if (caption) t.appendChild(el("caption", caption));
    var head = t.createTHead().insertRow();
    headers.forEach(function (h) {
      var th = el("th", h instanceof Node ? null : h);
      if (h instanceof Node) th.appendChild(h);
      th.scope = "col";
      head.appendChild(th);
    });
    var body = t.createTBody();
    rows.forEach(function (cells) {
      var tr = body.insertRow();
      cells.forEach(function (c, i) {
        var td = i === 0 ? el("th") : el("td");
        if (i === 0) td.scope = "row";
        if (c instanceof Node) td.appendChild(c); else td.textContent = c;
        tr.appendChild(td);
      });
    });
    return t;
  }

  function flatten(value, prefix, out) {
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      Object.keys(value).sort().forEach(function (k) { flatten(value[k], prefix ? prefix + "." + k : k, out); });
    } else {
      out[prefix] = JSON.stringify(value);
    }
    return out;
  }

  function runLink(root, id) {
    var a = el("a", id);
    a.href = root + encodeURIComponent(id) + "/";
    return a;
  }

  function facts(root, runs) {
    var rows = [
      ["experiment"].concat(runs.map(function (r) { return r.record.experiment; })),
      ["status"].concat(runs.map(function (r) { return r.record.status; })),
      ["started (UTC)"].concat(runs.map(function (r) { return (r.record.started_at || "–").replace("T", " ").replace("+00:00", ""); })),
      ["duration"].concat(runs.map(function (r) { return window.Trainbook.format.duration(r.record.duration_s); })),
      ["commit"].concat(runs.map(function (r) { return ((r.record.code || {}).commit || "–").slice(0, 7); })),
      ["data sha256"].concat(runs.map(function (r) { return ((r.record.data || {}).sha256 || "–").slice(0, 12); })),
      ["key metric"].concat(runs.map(function (r) {
        var km = r.record.key_metric || {};
        return (km.label || km.name || "–") + (km.unit ? " (" + km.unit + ")" : "") + ": " + number((r.record.metrics || {})[km.name]);
      }))
    ];
    return table(["run"].concat(runs.map(function (r) { return runLink(root, r.id); })), rows);
  }

  function configDiff(runs) {
    var flat = runs.map(function (r) { return flatten(r.record.config || {}, "", {}); });
    var keys = {};
    flat.forEach(function (f) { Object.keys(f).forEach(function (k) { keys[k] = true; }); });
    var all = Object.keys(keys).sort();
    var differ = all.filter(function (k) { return flat.some(function (f) { return f[k] !== flat[0][k]; }); });
    var box = el("div");
    box.appendChild(el("p", differ.length + " of " + all.length + " resolved settings differ" + (differ.length ? ":" : "; the configurations are identical.")));
    if (differ.length) {
      box.appendChild(table(["setting"].concat(runs.map(function (r) { return r.id; })),
        differ.map(function (k) { return [k].concat(flat.map(function (f) { return f[k] === undefined ? "–" : f[k]; })); })));
    }
    return box;
  }

  function metricsTable(rules, runs) {
    var base = runs[0].record, key = base.key_metric || {};
    var names = {};
    runs.forEach(function (r) { Object.keys(r.record.metrics || {}).forEach(function (n) { names[n] = true; }); });
    var ordered = Object.keys(names).sort(function (a, b) { return (a !== key.name) - (b !== key.name) || (a < b ? -1 : a > b ? 1 : 0); });
    var box = el("div");
    var notes = [];
    var rulesFor = runs.slice(1).map(function (r) { return comparable(base, r.record); });
    rulesFor.forEach(function (rule, i) {
      if (!rule.comparable) {
        notes.push(runs[i + 1].id + ": its " + (key.label || key.name) + " is not comparable with " + runs[0].id + "'s (" + rule.reason +
                   "); no better or worse is said about it or the other losses." + (rule.across ? " Compare " + rule.across + " instead." : ""));
      }
    });
    box.appendChild(el("p", "Final metrics; each change is against the first run, " + runs[0].id + "."));
    notes.forEach(function (n) { var q = el("blockquote"); q.appendChild(el("p", n)); box.appendChild(q); });
    var rows = ordered.map(function (name) {
      var acrossAll = rulesFor.some(function (rule) { return rule.across === name; });
      var cells = [name + (name === key.name ? " (key metric)" : acrossAll ? " (comparable across units)" : "")];
      runs.forEach(function (r, i) {
        var value = (r.record.metrics || {})[name];
        if (!i) { cells.push(number(value)); return; }
        var said = verdict(rules, rulesFor[i - 1], name, key, (base.metrics || {})[name], value);
        var change = typeof value === "number" && typeof (base.metrics || {})[name] === "number" && said !== "incomparable"
          ? " (" + (value - base.metrics[name] >= 0 ? "+" : "−") + number(Math.abs(value - base.metrics[name])) + ")" : "";
        cells.push(number(value) + change + (said ? " " + rules.marks[said] : ""));
      });
      return cells;
    });
    box.appendChild(table(["metric"].concat(runs.map(function (r) { return r.id; })), rows));
    return box;
  }

  function curvesView(runs) {
    var charts = window.Trainbook && window.Trainbook.charts;
    var withCurves = runs.filter(function (r) { return r.curves; });
    var names = {};
    withCurves.forEach(function (r) { Object.keys(r.curves.series || {}).forEach(function (n) { names[n] = true; }); });
    var list = Object.keys(names).sort();
    var box = el("div");
    if (!charts || !list.length) { box.appendChild(el("p", "None of these runs logged per-step metrics.")); return box; }
    var key = (runs[0].record.key_metric || {}).name;
    var first = ["train_loss", key, "return_mean"].filter(function (n) { return names[n]; })[0] || list[0];
    var label = el("label", "Metric ");
    var select = el("select");
    list.forEach(function (n) { var o = el("option", charts.label(n)); o.value = n; select.appendChild(o); });
    select.value = first;
    label.appendChild(select);
    box.appendChild(label);
    var holder = el("div", null, "picked-chart");
    box.appendChild(holder);
    function linesFor(name) {
      return withCurves.reduce(function (all, r) { return all.concat(charts.lines(r.curves, [name], r.id)); }, []);
    }
    charts.load().then(function () {
      var chart = new charts.Chart(holder, linesFor(first));
      select.addEventListener("change", function () { chart.update(linesFor(select.value)); });
    }).catch(function () { holder.appendChild(el("p", "The charting library did not load.")); });
    return box;
  }

  function fetchRun(root, id) {
    var charts = window.Trainbook.charts;
    return charts.fetchJSON(root + encodeURIComponent(id) + "/run.json").then(function (record) {
      var run = { id: id, record: record, curves: null };
      if (!(record.artifacts || {})["metrics.jsonl"] || (record.artifacts || {})["curves.json"]) return run;
      return charts.fetchJSON(root + encodeURIComponent(id) + "/curves.json")
        .then(function (curves) { run.curves = curves; return run; }, function () { return run; });
    });
  }

  function section(title, body) {
    var s = el("section");
    s.appendChild(el("h2", title));
    s.appendChild(body);
    return s;
  }

  function showPicked(view, ids) {
    var root = view.getAttribute("data-runs");
    var charts = window.Trainbook && window.Trainbook.charts;
    if (!charts) return;
    view.textContent = "";
    view.appendChild(el("p", "Loading " + ids.length + " runs…"));
    Promise.all([charts.fetchJSON(view.getAttribute("data-rules"))].concat(ids.map(function (id) {
      return fetchRun(root, id).catch(function () { return { id: id, missing: true }; });
    }))).then(function (found) {
      var rules = found[0], runs = found.slice(1).filter(function (r) { return !r.missing; });
      var missing = found.slice(1).filter(function (r) { return r.missing; }).map(function (r) { return r.id; });
      view.textContent = "";
      view.setAttribute("data-shown", runs.map(function (r) { return r.id; }).join(","));
      var intro = el("p", runs.length + " runs picked, side by side. Share this page's address to share the selection.");
      view.appendChild(intro);
      if (missing.length) view.appendChild(el("p", "Not on this site: " + missing.join(", ") + "."));
      if (!runs.length) return;
      view.appendChild(section("Picked runs", facts(root, runs)));
      view.appendChild(section("Settings that differ", configDiff(runs)));
      view.appendChild(section("Final metrics", metricsTable(rules, runs)));
      view.appendChild(section("Curves", curvesView(runs)));
    }).catch(function () { view.textContent = "The comparison could not be loaded."; });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll('table[data-enhance="runs"]'), addTicks);
    showBar();
    var view = document.getElementById("picked");
    var wanted = new URLSearchParams(window.location.search).get("runs");
    if (view && wanted) {
      var ids = wanted.split(",").map(function (s) { return s.trim(); }).filter(Boolean).slice(0, MAX);
      if (ids.length) { keep(ids); showBar(); showPicked(view, ids); }
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
