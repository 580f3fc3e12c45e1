/* The search page (tim-kiem/): asks this site's own Pagefind index (pagefind/, built with the pages) and lists
   the articles found, with title, date, category, an excerpt with the matched words marked and a thumbnail.
   Readers may type with or without Vietnamese accents: the index matches "hoi nghi" to "Hội nghị".

   The index is split by date into shards (pagefind/shards.json lists them, newest first, with their filter
   counts; see sitegen/build/search.py). By default the newest results come first: the shards are asked one
   after another, newest first, each sorted newest first, so the first results are painted as soon as the
   newest shard has answered, and older shards are asked only when the reader scrolls on or asks for more.
   "Liên quan nhất" asks every shard (of the chosen year) and ranks all results by Pagefind's score.
   A year or category filter skips the shards that have no such article without opening them, and the word map
   (pagefind/words/, see sitegen/build/search_words.py) the shards that cannot hold a word of the query: a word
   only old articles hold is looked up in one small file instead of in every shard of the archive.

   The query and filters live in the address (?q=&chuyen-muc=&nam=&sap-xep=), so the header's plain GET form,
   the back button and a shared link all show the same results. Nothing is sent to any server. */
(function () {
  "use strict";
  var box = document.querySelector(".search[data-bundle]");
  if (!box) return;
  var form = box.querySelector(".search-form");
  var input = form.querySelector('input[name="q"]');
  var category = form.querySelector('select[name="chuyen-muc"]');
  var year = form.querySelector('select[name="nam"]');
  var order = form.querySelector('select[name="sap-xep"]');
  var status = box.querySelector(".search-status");
  var list = box.querySelector(".search-results");
  var bundle = box.getAttribute("data-bundle");
  var PAGE = 10;
  var NO_RESULT_HINT = "Hãy thử từ khóa khác hoặc bỏ bớt bộ lọc.";
  var AT_ONCE = 3; // shards asked side by side when every one must answer (relevance)
  var pagefind = null;
  var shards = []; // from shards.json, newest first
  var words = null; // what shards.json says of the word map (none: every shard may hold any word)
  var maps = {}; // first two letters -> the promise of that file of the word map
  var instances = {}; // shard id -> the promise of its Pagefind instance, made on first use
  var current = null; // the latest search: its results so far, how many are shown, the shards left to ask
  var generation = 0; // a newer search makes the answers of older ones moot
  var timer = 0;
  var loading = null; // the engine's promise, once asked for
  var watcher = null; // scrolling near the end of the list asks for more

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

  // `hint`: what the reader can do next, said to screen readers with the message (the status is what they hear)
  // and shown in the list under it (site.css keeps the status two lines high, whatever it says).
  function say(message, hint) {
    status.textContent = message;
    if (hint) status.appendChild(text("span", "visually-hidden", " " + hint));
  }

  function day(iso) { // "2024-03-29" -> "29/03/2024", as the results show dates
    var p = (iso || "").split("-");
    return p.length === 3 ? p[2] + "/" + p[1] + "/" + p[0] : iso;
  }

  // One Pagefind instance per shard, sharing Pagefind's web worker and its WebAssembly (one download). The
  // WebAssembly module is one per worker: instances that start loading it at the same moment would each
  // instantiate it, the last replacing the memory the others already point into (results from the wrong shard,
  // "invalid gzip data"). So the first instance loads it (an empty search waits for that) before any other
  // instance is made.
  var warm = null;
  function instance(shard) {
    if (!instances[shard.id]) {
      var make = function () {
        var made = pagefind.createInstance({ basePath: bundle + shard.id + "/" });
        return made.options({ baseUrl: box.getAttribute("data-base") || "/" }).then(function () { return made; });
      };
      if (warm) {
        instances[shard.id] = warm.then(make);
      } else {
        instances[shard.id] = warm = make().then(function (made) {
          return made.search("").then(function () { return made; });
        });
      }
    }
    return instances[shard.id];
  }

  // Pagefind ignores a query word that its index does not hold at all. One index for the whole archive rarely
  // lacks a word of a real query, but a shard of one period often does, and would then answer "Đống Đa" with
  // every page holding "đa". So a shard answers a query of several words only if it holds each of them (the
  // single-word searches load the same chunks the query needs: no extra download).
  function ask(shard, s) {
    var options = { filters: s.filters };
    if (!s.relevance) options.sort = { date: "desc" };
    return instance(shard).then(function (engine) {
      var words = s.words.length > 1 ? s.words : [];
      return Promise.all(words.map(function (word) {
        return engine.search(word).then(function (found) { return found.results.length > 0; });
      })).then(function (held) {
        return held.indexOf(false) >= 0 ? { results: [] } : engine.search(s.q || null, options);
      });
    });
  }

  // The word map folds words as sitegen/build/search_words.py does (the same marks dropped): lower case, no
  // diacritics, đ -> d. A word that is not plain letters then, or shorter than two, is not looked up.
  function fold(word) {
    return word.toLowerCase().normalize("NFD")
      .replace(/[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g, "").replace(/đ/g, "d");
  }

  // The bit masks (hexadecimal, bit n for shards[n]) of the shards that may hold a word starting with this
  // one: its own words, and words cut short at a letter the map does not fold. null: any shard may.
  function lookup(word) {
    var t = fold(word);
    if (!words || !/^[a-z]{2,}$/.test(t)) return Promise.resolve(null);
    var key = t.slice(0, 2);
    if (words.keys.indexOf(key) < 0) return Promise.resolve([]); // no shard holds a word starting so
    if (!maps[key]) {
      // The version in the address: a browser may keep an older build's file under its bare name.
      var address = bundle + "words/" + key + ".json?v=" + encodeURIComponent(words.v || "");
      maps[key] = fetch(address).then(function (response) {
        if (!response.ok) throw new Error(key + ".json: " + response.status);
        return response.json();
      });
    }
    return maps[key].then(function (map) {
      var masks = [];
      Object.keys(map.w).forEach(function (w) { if (w.indexOf(t) === 0) masks.push(map.w[w]); });
      Object.keys(map.p).forEach(function (p) { if (p.indexOf(t) === 0 || t.indexOf(p) === 0) masks.push(map.p[p]); });
      return masks;
    }, function () { return null; }); // not loaded: ask the shards themselves
  }

  function marked(masks, n) {
    return masks === null || masks.some(function (hex) {
      var digit = hex.length - 1 - (n >> 2);
      return digit >= 0 && (parseInt(hex.charAt(digit), 16) >> (n & 3)) & 1;
    });
  }

  // Whether this shard may answer the search: it may hold, for every word of the query, a word starting with it.
  // Pagefind, finding no such word in a shard, falls back to the longest word that starts the query word (made
  // for stemmed languages): a shard without "nại" would answer every page holding "na". Those answers are not
  // shown, in any shard, so that what a search finds does not depend on how the archive is cut into shards.
  function holds(s, shard) {
    if (!words || !s.words.length) return Promise.resolve(true);
    if (!s.masks) s.masks = Promise.all(s.words.map(lookup));
    var n = shards.indexOf(shard);
    return s.masks.then(function (all) {
      return words.open.indexOf(n) >= 0 || all.every(function (masks) { return marked(masks, n); });
    });
  }

  // Newest first: ask the next shards, in order, until there are `target` results (or no shard is left).
  // Results of an older shard are all older than those of a newer one, so they simply follow. A rare word
  // may take many shards to fill a screen: what the first shards found is painted meanwhile. The newest shard
  // is asked at once (it answers most searches); the others only if the word map says they may hold the words,
  // and what a shard without them answers is left out (see holds).
  function fill(s, target) {
    if (s.mine !== generation || s.results.length >= target || !s.todo.length) return Promise.resolve();
    var shard = s.todo.shift();
    var answer = s.asked ? null : ask(shard, s); // the newest shard is asked at once, beside the word map
    s.asked = true;
    return holds(s, shard).then(function (may) {
      if (s.mine !== generation) return;
      if (!may) {
        s.reached = shard.first; // nothing there: the search has reached past it
        return fill(s, target);
      }
      return (answer || ask(shard, s)).then(function (found) {
        if (s.mine !== generation) return;
        s.results = s.results.concat(found.results);
        s.reached = shard.first;
        if (s.todo.length) { // open the next shard that may answer while the reader reads these
          var next = s.todo[0];
          holds(s, next).then(function (yes) { if (yes) instance(next); });
        }
        var early = s.shown === 0 && s.results.length && s.results.length < target && s.todo.length;
        return Promise.all([early ? paint(s, target, false) : null, fill(s, target)]);
      });
    });
  }

  // Relevance: every shard answers (a few at a time), then all results are ranked together by score, as
  // Pagefind ranks the results of merged indexes.
  function fillAll(s) {
    var queue = s.todo.splice(0);
    var each = queue.map(function () { return []; }); // by shard, newest first, whichever answers first
    var next = 0;
    function worker() {
      var n = next++;
      var shard = queue[n];
      if (!shard || s.mine !== generation) return Promise.resolve();
      return holds(s, shard).then(function (may) {
        return may ? ask(shard, s) : { results: [] };
      }).then(function (found) {
        each[n] = found.results;
        return worker();
      });
    }
    var workers = [];
    for (var i = 0; i < AT_ONCE; i++) workers.push(worker());
    return Promise.all(workers).then(function () {
      // Equal scores keep the newer shard's result first (the sort is stable): the same order every time.
      s.results = [].concat.apply([], each).sort(function (a, b) { return b.score - a.score; });
    });
  }

  // The status box is two lines high whatever it says (site.css), so it says little: the count and the words.
  // What the reader can do next (other words, older articles) is said in the list, below the results.
  function describe(s) {
    var what = s.q ? " cho “" + s.q + "”" : "";
    if (!s.results.length) return "Không tìm thấy kết quả" + what + ".";
    return "Tìm thấy " + s.results.length.toLocaleString("vi-VN") + " kết quả" + (s.todo.length ? " mới nhất" : "") +
      what + ".";
  }

  // Paint the results up to `target` not painted yet, after any paint still under way; `last`: the paint that
  // ends this screenful, which offers more (a button, pressed for the reader when it scrolls into view).
  function paint(s, target, last) {
    var batch = s.results.slice(s.shown, target);
    s.shown += batch.length; // taken now: a later paint goes on after them
    var items = Promise.all(batch.map(function (r) { return r.data(); }));
    s.painting = Promise.all([s.painting, items]).then(function (got) {
      if (s.mine !== generation) return;
      var more = list.querySelector(".search-more");
      if (more) more.remove();
      got[1].forEach(function (data) { list.appendChild(render(data)); });
      if (!s.painted) box.setAttribute("data-ms", String(Math.round(performance.now() - s.started)));
      s.painted = true; // data-ms: from the query to its first results painted (or to "no result")
      var none = !s.results.length && !s.todo.length;
      say(describe(s), none ? NO_RESULT_HINT : "");
      if (last && none) {
        var hint = text("li", "search-hint", NO_RESULT_HINT);
        hint.setAttribute("aria-hidden", "true"); // (heard in the status already)
        list.appendChild(hint);
      }
      if (last && (s.shown < s.results.length || s.todo.length)) {
        var li = text("li", "search-more");
        if (s.shown >= s.results.length && s.reached) {
          li.appendChild(text("p", "", "Đã tìm các bài từ ngày " + day(s.reached) +
            " trở lại đây. Các bài cũ hơn được tìm tiếp khi bạn xem thêm."));
        }
        var button = text("button", "", s.shown < s.results.length ? "Xem thêm kết quả" : "Tìm trong các bài cũ hơn");
        button.type = "button";
        button.addEventListener("click", function () {
          if (button.disabled) return;
          button.disabled = true;
          button.textContent = "Đang tìm…";
          var next = list.children.length - 1;
          showMore(s).then(function () {
            var link = list.children[next] && list.children[next].querySelector(".result-title a");
            if (link && document.activeElement === button) link.focus(); // keyboard readers go on from there
          });
        });
        li.appendChild(button);
        list.appendChild(li);
        if (watcher) watcher.observe(li);
      }
    });
    return s.painting;
  }

  function showMore(s) {
    var target = s.shown + PAGE;
    return (s.relevance ? Promise.resolve() : fill(s, target)).then(function () {
      if (s.mine === generation) return paint(s, target, true);
    });
  }

  function remember() {
    var params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value.trim());
    if (category.value) params.set("chuyen-muc", category.value);
    if (year.value) params.set("nam", year.value);
    if (order.value) params.set("sap-xep", order.value);
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
      if (mine !== generation) return;
      var s = current = {
        mine: mine, q: q, filters: filters, relevance: order.value === "lien-quan", results: [], shown: 0,
        painting: Promise.resolve(), painted: false, started: started,
        words: q.split(/\s+/).filter(function (w) { return /[\p{L}\p{N}]/u.test(w); }),
        reached: "",
        todo: shards.filter(function (shard) { // only shards that have an article of the chosen year/category
          return Object.keys(filters).every(function (k) {
            return (shard.filters[k] || {})[filters[k]];
          });
        })
      };
      if (s.relevance) say("Đang tìm trong " + s.todo.length + " phần của chỉ mục…");
      return (s.relevance ? fillAll(s) : Promise.resolve()).then(function () {
        if (mine !== generation) return;
        list.replaceChildren();
        return showMore(s);
      });
    });
  }

  function choices(select, name, newestFirst) {
    var counts = {};
    shards.forEach(function (shard) {
      var values = shard.filters[name] || {};
      Object.keys(values).forEach(function (v) { counts[v] = (counts[v] || 0) + values[v]; });
    });
    var values = Object.keys(counts).sort(function (a, b) { return a.localeCompare(b, "vi"); });
    if (newestFirst) values.reverse();
    var wanted = select.getAttribute("data-wanted") || "";
    values.forEach(function (value) {
      var option = text("option", "", value + " (" + counts[value].toLocaleString("vi-VN") + ")");
      option.value = value;
      select.appendChild(option);
    });
    select.value = values.indexOf(wanted) >= 0 ? wanted : "";
  }

  // The engine (pagefind.js and its WebAssembly, about 115 KB) loads only when the reader searches or reaches
  // for the form, so an empty search page stays light; each shard's own files then load when it is asked.
  function engine() {
    if (!loading) {
      say("Đang tải chỉ mục tìm kiếm…");
      var listing = fetch(bundle + "shards.json", { cache: "no-cache" }).then(function (response) {
        if (!response.ok) throw new Error("shards.json: " + response.status);
        return response.json();
      });
      // Both at once (one round trip less on a phone); a site without articles yet has no shard and no engine.
      var code = import(bundle + "pagefind.js").catch(function (error) { return error; });
      loading = Promise.all([code, listing]).then(function (got) {
        shards = got[1].shards || [];
        words = got[1].words || null;
        if (got[0] instanceof Error && shards.length) throw got[0];
        pagefind = got[0];
        choices(category, "category", false);
        choices(year, "year", true);
        if (shards.length) instance(shards[0]); // the newest shard answers most searches: open it now
        say("");
        box.setAttribute("data-ready", "true");
      }, function (error) {
        say("Chưa tải được chỉ mục tìm kiếm. Mời bạn thử lại sau.");
        box.setAttribute("data-ready", "error");
        throw error;
      });
    }
    return loading;
  }

  if ("IntersectionObserver" in window) {
    watcher = new IntersectionObserver(function (seen) {
      seen.forEach(function (item) {
        if (!item.isIntersecting) return;
        watcher.unobserve(item.target);
        var button = item.target.querySelector("button");
        if (button) button.click();
      });
    }, { rootMargin: "0px 0px 400px 0px" });
  }

  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  category.setAttribute("data-wanted", params.get("chuyen-muc") || "");
  year.setAttribute("data-wanted", params.get("nam") || "");
  order.value = params.get("sap-xep") === "lien-quan" ? "lien-quan" : "";
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
  order.addEventListener("change", run);
  form.addEventListener("focusin", function () {
    engine().catch(function () { /* already said */ });
  });
  if (input.value || category.getAttribute("data-wanted") || year.getAttribute("data-wanted")) {
    engine().then(run).then(function () {
      box.setAttribute("data-searched", "true");
    }, function () { /* already said */ });
  }
})();
