/* Trainbook: interactive curves, on top of pages that work without them.
   A figure of per-step curves sits in <div class="curves" data-series="a b" data-src="curves.json">; with
   JavaScript the same curves are drawn again with uPlot (vendored from the npm registry by `make setup`,
   served with the site) from the page's compact metrics (generators/curves.py): values on hover, drag to
   zoom (double-click resets), a linear or log y axis, and smoothing. The PNG stays one click away.
   Trainbook.charts is also what the live run pages and the comparison view draw with. */
(function () {
  "use strict";
  var script = document.currentScript;
  var vendor = script ? script.getAttribute("data-vendor") : null;
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
  var SPARSE = 60;  // a series with fewer points (validation, evaluations) is drawn as points and never smoothed
  var loading = null;

  function loadLibrary() {
    if (window.uPlot) return Promise.resolve(window.uPlot);
    if (!vendor) return Promise.reject(new Error("no charting library configured"));
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var css = document.createElement("link");
        css.rel = "stylesheet";
        css.href = vendor + "uPlot.min.css";
        document.head.appendChild(css);
        var tag = document.createElement("script");
        tag.src = vendor + "uPlot.iife.min.js";
        tag.onload = function () { resolve(window.uPlot); };
        tag.onerror = function () { reject(new Error("the charting library did not load")); };
        document.head.appendChild(tag);
      });
    }
    return loading;
  }

  function fetchJSON(url) {
    return fetch(url, { cache: "no-store" }).then(function (response) {
      if (!response.ok) throw new Error(url + ": " + response.status);
      return response.json();
    });
  }

  function label(name) { return name.replace(/_/g, " "); }

  /* Numbers and durations as the generators write them (generators/markup.py: number, duration). */
  function number(value) {
    if (typeof value !== "number") return value === undefined || value === null ? "–" : String(value);
    if (!isFinite(value)) return String(value);
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(3);
    if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
    return Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(4);
  }

  function duration(seconds) {
    if (typeof seconds !== "number") return "–";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  /* Lines from one run's curves: [{label, x, y}] for each of `names` it logged. */
  function lines(curves, names, prefix) {
    var found = [];
    (names || []).forEach(function (name) {
      var s = curves && curves.series ? curves.series[name] : null;
      if (s && s.x.length) found.push({ name: name, label: (prefix ? prefix + ": " : "") + label(name), x: s.x, y: s.y });
    });
    return found;
  }

  function smooth(ys, weight) {
    if (!weight) return ys;
    var out = [], acc = null;
    for (var i = 0; i < ys.length; i++) {
      if (ys[i] === null) { out.push(null); continue; }
      acc = acc === null ? ys[i] : weight * acc + (1 - weight) * ys[i];
      out.push(acc);
    }
    return out;
  }

  /* uPlot wants one x array and a y array per line aligned to it, null where a line has no point. */
  function align(found, weight) {
    var steps = {};
    found.forEach(function (line) { line.x.forEach(function (x) { steps[x] = true; }); });
    var xs = Object.keys(steps).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    xs.forEach(function (x, i) { index[x] = i; });
    var data = [xs];
    found.forEach(function (line) {
      var ys = xs.map(function () { return null; });
      line.x.forEach(function (x, i) { ys[index[x]] = line.y[i]; });
      data.push(line.x.length < SPARSE ? ys : smooth(ys, weight));
    });
    return data;
  }

  function positive(found) {
    return found.every(function (line) { return line.y.every(function (v) { return v > 0; }); });
  }

  function control(text, input) {
    var wrap = document.createElement("label");
    wrap.appendChild(input);
    wrap.appendChild(document.createTextNode(" " + text));
    return wrap;
  }

  /* A chart in `container` of `found` lines; chart.update(found) redraws with new data (a live run). */
  function Chart(container, found, options) {
    options = options || {};
    var self = this;
    this.container = container;
    this.found = found;
    this.log = false;
    this.weight = 0;
    container.classList.add("chart");
    var bar = document.createElement("div");
    bar.className = "chart-controls";
    this.logBox = document.createElement("input");
    this.logBox.type = "checkbox";
    bar.appendChild(control("log scale", this.logBox));
    this.slider = document.createElement("input");
    this.slider.type = "range";
    this.slider.min = "0";
    this.slider.max = "0.98";
    this.slider.step = "0.02";
    this.slider.value = "0";
    this.slider.setAttribute("aria-label", "smoothing");
    var shown = document.createElement("output");
    shown.textContent = "smoothing 0";
    var smoothing = document.createElement("label");
    smoothing.appendChild(this.slider);
    smoothing.appendChild(document.createTextNode(" "));
    smoothing.appendChild(shown);
    bar.appendChild(smoothing);
    var hint = document.createElement("span");
    hint.className = "chart-hint";
    hint.textContent = "drag to zoom, double-click to reset";
    bar.appendChild(hint);
    this.plot = document.createElement("div");
    container.appendChild(bar);
    container.appendChild(this.plot);
    this.logBox.addEventListener("change", function () { self.log = self.logBox.checked; self.draw(); });
    this.slider.addEventListener("input", function () {
      self.weight = Number(self.slider.value);
      shown.textContent = "smoothing " + self.weight.toFixed(2);
      self.redata();
    });
    this.xlabel = options.xlabel || "step";
    this.draw();
    if (window.ResizeObserver) {
      new ResizeObserver(function () { if (self.u) self.u.setSize(self.size()); }).observe(container);
    }
  }

  Chart.prototype.size = function () {
    return { width: Math.max(280, this.container.clientWidth - 4), height: 300 };
  };

  Chart.prototype.draw = function () {
    var found = this.found;
    this.logBox.disabled = !positive(found);
    if (this.logBox.disabled) { this.log = false; this.logBox.checked = false; }
    if (this.u) this.u.destroy();
    var series = [{ label: this.xlabel }];
    found.forEach(function (line, i) {
      var sparse = line.x.length < SPARSE;
      series.push({ label: line.label, stroke: COLORS[i % COLORS.length], width: sparse ? 1 : 1.5, spanGaps: true,
                    points: { show: sparse, size: 5 } });
    });
    var size = this.size();
    this.u = new window.uPlot({
      width: size.width, height: size.height, series: series,
      scales: { x: { time: false }, y: { distr: this.log ? 3 : 1 } },
      axes: [{ label: this.xlabel }, { size: 64 }],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true }
    }, align(found, this.weight), this.plot);
    this.mark();
  };

  Chart.prototype.redata = function () {
    this.u.setData(align(this.found, this.weight), false);
    this.u.redraw();
    this.mark();
  };

  Chart.prototype.update = function (found) {
    var same = found.length === this.found.length;
    this.found = found;
    if (same) {
      this.u.setData(align(found, this.weight));
      this.mark();
    } else {
      this.draw();
    }
  };

  /* What the chart shows, for readers of the page's DOM (and its tests): points per line and the y scale. */
  Chart.prototype.mark = function () {
    this.container.setAttribute("data-points", this.found.map(function (l) { return l.x.length; }).join(" "));
    this.container.setAttribute("data-scale", this.log ? "log" : "linear");
  };

  function enhanceFigures() {
    var slots = document.querySelectorAll(".curves[data-src][data-series]");
    if (!slots.length) return;
    var byUrl = {};
    loadLibrary().then(function () {
      Array.prototype.forEach.call(slots, function (slot) {
        var src = slot.getAttribute("data-src");
        byUrl[src] = byUrl[src] || fetchJSON(src);
        byUrl[src].then(function (curves) {
          var found = lines(curves, slot.getAttribute("data-series").split(" "));
          if (!found.length) return;
          var figure = slot.querySelector("figure");
          var holder = document.createElement("div");
          slot.insertBefore(holder, figure);
          new Chart(holder, found);
          var img = figure && figure.querySelector("img");
          if (img) {
            var link = document.createElement("a");
            link.href = img.getAttribute("src");
            link.textContent = "the same curves as a static image (PNG)";
            img.hidden = true;
            figure.insertBefore(link, img);
          }
        }).catch(function () { /* the PNG stays: nothing is lost */ });
      });
    }).catch(function () { /* no library: the PNGs stay */ });
  }

  window.Trainbook = window.Trainbook || {};
  window.Trainbook.charts = { load: loadLibrary, fetchJSON: fetchJSON, lines: lines, Chart: Chart, label: label };
  window.Trainbook.format = { number: number, duration: duration };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhanceFigures);
  else enhanceFigures();
})();
