/* Trainbook: sorting and filtering of run tables, on top of pages that work without it.
   Without JavaScript every order and status filter is a page of its own (links above the table);
   with it, any column sorts in place and a text box and a status menu filter the rows shown. */
(function () {
  "use strict";

  function cellKey(row, index) {
    var cell = row.cells[index];
    if (!cell) return "";
    var value = cell.getAttribute("data-value");
    if (value !== null && value !== "" && !isNaN(Number(value))) return Number(value);
    return cell.textContent.trim().toLowerCase();
  }

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    if (typeof a === "number") return -1;
    if (typeof b === "number") return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function makeSortable(table) {
    var body = table.tBodies[0];
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = th.textContent;
      button.title = "Sort by " + th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var order = compare(cellKey(a, index), cellKey(b, index));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }

  function addFilter(table) {
    var body = table.tBodies[0];
    var statuses = {};
    Array.prototype.forEach.call(body.rows, function (row) { statuses[row.getAttribute("data-status")] = true; });
    var bar = document.createElement("div");
    bar.className = "runs-filter";
    var label = document.createElement("label");
    label.textContent = "Filter this page ";
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = "run id, commit, value…";
    label.appendChild(input);
    bar.appendChild(label);
    var select = null;
    var names = Object.keys(statuses).sort();
    if (names.length > 1) {
      var statusLabel = document.createElement("label");
      statusLabel.textContent = "Status ";
      select = document.createElement("select");
      ["all"].concat(names).forEach(function (name) {
        var option = document.createElement("option");
        option.value = name;
        option.textContent = name;
        select.appendChild(option);
      });
      statusLabel.appendChild(select);
      bar.appendChild(statusLabel);
    }
    var count = document.createElement("output");
    bar.appendChild(count);
    function apply() {
      var text = input.value.trim().toLowerCase();
      var status = select ? select.value : "all";
      var shown = 0;
      Array.prototype.forEach.call(body.rows, function (row) {
        var visible = (status === "all" || row.getAttribute("data-status") === status) &&
          (!text || row.textContent.toLowerCase().indexOf(text) !== -1);
        row.hidden = !visible;
        if (visible) shown += 1;
      });
      count.textContent = shown + " of " + body.rows.length + " runs shown";
    }
    input.addEventListener("input", apply);
    if (select) select.addEventListener("change", apply);
    table.parentNode.insertBefore(bar, table);
    apply();
  }

  function enhance() {
    Array.prototype.forEach.call(document.querySelectorAll('table[data-enhance="runs"]'), function (table) {
      if (!table.tBodies.length || table.getAttribute("data-enhanced")) return;
      table.setAttribute("data-enhanced", "yes");
      makeSortable(table);
      addFilter(table);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhance);
  else enhance();
})();
