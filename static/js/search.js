/* Trainbook: search on the Hugo site, from the static Pagefind index built at publish (generators/search.py).
   The search box in the header appears with JavaScript; Pagefind's own script is loaded on the first
   keystroke, with the small indexes of the pages rendered since the whole site was last indexed merged in
   (search.json names them, and for each page the newest that holds it: an older entry of that page is
   stale and dropped; a page removed from the site since is named with no index, so all its entries are).
   Results link to pages. */
(function () {
  "use strict";
  var form = document.querySelector("form.site-search");
  if (!form || !window.fetch) return;
  var input = form.querySelector("input");
  var out = form.querySelector(".search-results");
  var site = form.getAttribute("data-site");
  var ready = null, asked = 0;

  function load() {
    if (!ready) {
      ready = fetch(form.getAttribute("data-manifest"), { cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : { deltas: [], fresh: {} }; })
        .then(function (manifest) {
          return import(form.getAttribute("data-bundle") + "pagefind.js").then(function (pagefind) {
            return pagefind.options({ baseUrl: site }).then(function () {
              return Promise.all((manifest.deltas || []).map(function (delta) {
                return pagefind.mergeIndex(site + delta);
              }));
            }).then(function () { return { pagefind: pagefind, fresh: manifest.fresh || {} }; });
          });
        });
    }
    return ready;
  }

  /* An entry of a page that a newer index holds too. */
  function stale(data, fresh) {
    var path = data.url.replace(/^https?:\/\/[^/]+/, "").slice(site.length - 1);
    var from = data.meta && data.meta.index ? data.meta.index : null;  // generators/search.py labels each delta's entries
    return Object.prototype.hasOwnProperty.call(fresh, path) && from !== fresh[path];
  }

  function show(results, term) {
    out.textContent = "";
    if (!term) return;
    if (!results.length) {
      var none = document.createElement("p");
      none.textContent = "Nothing found for “" + term + "”.";
      out.appendChild(none);
      return;
    }
    var list = document.createElement("ol");
    results.forEach(function (data) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = data.url;
      link.textContent = (data.meta && data.meta.title) || data.url;
      var excerpt = document.createElement("p");
      excerpt.textContent = (data.excerpt || "").replace(/<[^>]*>/g, "");
      item.appendChild(link);
      item.appendChild(excerpt);
      list.appendChild(item);
    });
    out.appendChild(list);
  }

  function search() {
    var term = input.value.trim(), mine = ++asked;
    if (!term) { show([], ""); return; }
    load().then(function (found) {
      return found.pagefind.search(term).then(function (answer) {
        return Promise.all(answer.results.slice(0, 20).map(function (r) { return r.data(); })).then(function (all) {
          var seen = {};
          return all.filter(function (data) {
            if (stale(data, found.fresh) || seen[data.url]) return false;
            seen[data.url] = true;
            return true;
          }).slice(0, 8);
        });
      });
    }).then(function (results) { if (mine === asked) show(results, term); })
      .catch(function () { if (mine === asked) out.textContent = "Search is not available on this copy of the site."; });
  }

  form.hidden = false;
  form.addEventListener("submit", function (event) { event.preventDefault(); search(); });
  input.addEventListener("input", search);
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input && !/input|textarea|select/i.test(document.activeElement.tagName)) {
      event.preventDefault();
      input.focus();
    }
  });
})();
