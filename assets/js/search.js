/* The search page (tim-kiem/): asks this site's own Pagefind index (pagefind/, built with the pages) and lists
   the articles found, with title, date, category, an excerpt with the matched words marked and a thumbnail.
   Readers may type with or without Vietnamese accents: the index matches "hoi nghi" to "Hội nghị".
   The query and filters live in the address (?q=&chuyen-muc=&nam=), so the header's plain GET form, the back
   button and a shared link all show the same results. Nothing is sent to any server. */
(function () {
  "use strict";
  var box = document.querySelector(".search[data-bundle]");
  if (!box) return;
  var form = box.querySelector(".search-form");
  var input = form.querySelector('input[name="q"]');
  var category = form.querySelector('select[name="chuyen-muc"]');
  var year = form.querySelector('select[name="nam"]');
  var status = box.querySelector(".search-status");
  var list = box.querySelector(".search-results");
  var PAGE = 10;
  var pagefind = null;
  var current = null; // the results of the latest search, and how many are shown
  var generation = 0; // a newer search makes the answers of older ones moot
  var timer = 0;
  var loading = null; // the engine's promise, once asked for

  function text(tag, cls, value) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (value) el.textContent = value;
    return el;
  }

  // Pagefind's excerpt is escaped text with <mark> around the matched words. Keep exactly that: text and
  // marks, never other markup, so nothing from an article can run here.
  function excerpt(html) {
    var p = text("p", "result-excerpt");
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    tpl.content.childNodes.forEach(function (node) {
      if (node.nodeType === 1 && node.nodeName === "MARK") p.appendChild(text("mark", "", node.textContent));
      else p.appendChild(document.createTextNode(node.textContent));
    });
    return p;
  }

  function render(data) {
    var meta = data.meta || {};
    var li = text("li", "search-result");
    if (meta.image) {
      var thumb = text("a", "result-thumb");
      thumb.href = data.url;
      thumb.tabIndex = -1;
      thumb.setAttribute("aria-hidden", "true");
      var img = document.createElement("img");
      img.src = meta.image;
      img.alt = "";
      img.width = 160; // the box is fixed in CSS (object-fit), so the list never jumps as photos arrive
      img.height = 107;
      img.loading = "lazy";
      img.decoding = "async";
      thumb.appendChild(img);
      li.appendChild(thumb);
      li.classList.add("has-image");
    }
    var body = text("div", "result-text");
    var h = text("h2", "result-title");
    var a = text("a", "", meta.title || data.url);
    a.href = data.url;
    h.appendChild(a);
    body.appendChild(h);
    var line = text("p", "result-meta");
    if (meta.date) line.appendChild(text("span", "result-date", meta.date));
    if (meta.date && meta.category) line.appendChild(document.createTextNode(" · "));
    if (meta.category) line.appendChild(text("span", "result-category", meta.category));
    body.appendChild(line);
    body.appendChild(excerpt(data.excerpt || ""));
    li.appendChild(body);
    return li;
  }

  function say(message) {
    status.textContent = message;
  }

  function showMore(mine) {
    var batch = current.results.slice(current.shown, current.shown + PAGE);
    return Promise.all(batch.map(function (r) { return r.data(); })).then(function (items) {
      if (mine !== generation) return;
      var more = list.querySelector(".search-more");
      if (more) more.remove();
      items.forEach(function (data) { list.appendChild(render(data)); });
      current.shown += batch.length;
      if (current.shown < current.results.length) {
        var li = text("li", "search-more");
        var button = text("button", "", "Xem thêm kết quả");
        button.type = "button";
        button.addEventListener("click", function () {
          var next = list.children.length - 1;
          showMore(generation).then(function () {
            var link = list.children[next] && list.children[next].querySelector(".result-title a");
            if (link) link.focus(); // keyboard readers continue where the new results begin
          });
        });
        li.appendChild(button);
        list.appendChild(li);
      }
    });
  }

  function remember() {
    var params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value.trim());
    if (category.value) params.set("chuyen-muc", category.value);
    if (year.value) params.set("nam", year.value);
    var query = params.toString();
    history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  function run() {
    var mine = ++generation;
    var q = input.value.trim();
    var filters = {};
    if (category.value) filters.category = category.value;
    if (year.value) filters.year = year.value;
    remember();
    if (!q && !filters.category && !filters.year) {
      list.replaceChildren();
      say("");
      return Promise.resolve();
    }
    var started = performance.now();
    return engine().then(function () {
      return mine === generation ? pagefind.search(q || null, { filters: filters }) : null;
    }).then(function (found) {
      if (mine !== generation || found === null) return; // null: a newer search replaced this one
      current = { results: found.results, shown: 0 };
      list.replaceChildren();
      return showMore(mine).then(function () {
        if (mine !== generation) return;
        box.setAttribute("data-ms", String(Math.round(performance.now() - started)));
        var n = found.results.length;
        var what = q ? " cho “" + q + "”" : "";
        say(n ? "Tìm thấy " + n.toLocaleString("vi-VN") + " kết quả" + what + "."
              : "Không tìm thấy kết quả" + what + ". Hãy thử từ khóa khác hoặc bỏ bớt bộ lọc.");
      });
    });
  }

  function fill(select, counts, newestFirst) {
    var values = Object.keys(counts || {}).sort(function (a, b) { return a.localeCompare(b, "vi"); });
    if (newestFirst) values.reverse();
    var wanted = select.getAttribute("data-wanted") || "";
    values.forEach(function (value) {
      var option = text("option", "", value + " (" + counts[value] + ")");
      option.value = value;
      select.appendChild(option);
    });
    select.value = values.indexOf(wanted) >= 0 ? wanted : "";
  }

  // The engine (pagefind.js and its WebAssembly, about 115 KB) loads only when the reader searches or reaches
  // for the form, so an empty search page stays light; the index's own chunks then load per query.
  function engine() {
    if (!loading) {
      say("Đang tải chỉ mục tìm kiếm…");
      loading = import(box.getAttribute("data-bundle") + "pagefind.js").then(function (module) {
        pagefind = module;
        return pagefind.options({ baseUrl: box.getAttribute("data-base") || "/" });
      }).then(function () {
        return pagefind.filters();
      }).then(function (filters) {
        fill(category, filters.category, false);
        fill(year, filters.year, true);
        say("");
        box.setAttribute("data-ready", "true");
      }, function (error) {
        say("Chưa tìm kiếm được: trang chưa có chỉ mục tìm kiếm hoặc không tải được. Mời bạn thử lại sau.");
        box.setAttribute("data-ready", "error");
        throw error;
      });
    }
    return loading;
  }

  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  category.setAttribute("data-wanted", params.get("chuyen-muc") || "");
  year.setAttribute("data-wanted", params.get("nam") || "");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    run();
  });
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  category.addEventListener("change", run);
  year.addEventListener("change", run);
  form.addEventListener("focusin", function () {
    engine().catch(function () { /* already said */ });
  });
  if (input.value || category.getAttribute("data-wanted") || year.getAttribute("data-wanted")) {
    engine().then(run).then(function () {
      box.setAttribute("data-searched", "true");
    }, function () { /* already said */ });
  }
})();
