/* Reader widgets of article pages: the five-star rating, the view counter and the readers' comment form.
   The page carries the figures baked in by the build, so nothing here is needed to read them. With a collector
   (data-stats-url, from stats_url in site.toml) a page view is recorded, totals are refreshed, votes and
   comments are sent; without one, a vote is counted and remembered in this browser only and nothing is sent
   anywhere. One vote per article and browser: the vote is kept in localStorage (the collector also refuses a
   second vote from the same reader). No inline handlers, nothing from another site: CSP-friendly. */
(function () {
  "use strict";
  var article = document.querySelector("article[data-article-id]");
  if (!article) return;
  var id = article.getAttribute("data-article-id");
  var statsUrl = article.getAttribute("data-stats-url") || "";
  if (statsUrl && statsUrl.slice(-1) !== "/") statsUrl += "/";
  var base = {
    views: num(article.getAttribute("data-base-views")),
    comments: num(article.getAttribute("data-base-comments")),
    total: num(article.getAttribute("data-base-rating-total")),
    count: num(article.getAttribute("data-base-rating-count"))
  };

  function num(text) {
    var n = parseInt(text, 10);
    return isNaN(n) ? 0 : n;
  }

  // Vietnamese digit grouping, as the build writes it (babel): 1532 -> "1.532".
  function formatNumber(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  }

  // localStorage may be missing or refused (private windows, disabled storage): fall back to this page's memory.
  var memory = {};
  var store = {
    get: function (key) {
      try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, value); } catch (e) { memory[key] = value; }
    }
  };

  function clientToken() {
    var token = store.get("sitegen-client");
    if (!token || !/^[A-Za-z0-9_-]{8,64}$/.test(token)) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      token = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      store.set("sitegen-client", token);
    }
    return token;
  }

  function setText(selector, value) {
    var nodes = article.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = formatNumber(value);
  }

  // Collector figures are what readers added; the page's baseline is the front matter.
  function showTotals(t) {
    if (!t) return;
    setText(".rating-total", base.total + num(t.rating_total));
    setText(".rating-count", base.count + num(t.rating_count));
    setText(".views-count", base.views + num(t.views));
    setText(".comments-count", base.comments + num(t.comments));
  }

  function send(path, payload) {
    payload.article = id;
    payload.client = clientToken();
    return window.fetch(statsUrl + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload)
    }).then(answer);
  }

  function answer(response) {
    return response.json().catch(function () { return {}; }).then(function (data) {
      return { status: response.status, data: data || {} };
    });
  }

  // --- rating ---
  var widget = article.querySelector(".rating-widget");
  var stars = widget ? Array.prototype.slice.call(widget.querySelectorAll(".rating-star")) : [];
  var status = widget ? widget.querySelector(".rating-status") : null;
  var voteKey = "sitegen-vote:" + id;
  var busy = false;

  function voted() {
    return num(store.get(voteKey));
  }

  function light(n) {
    stars.forEach(function (star, i) {
      star.classList.toggle("is-lit", i < n);
    });
  }

  function mark(n) {
    stars.forEach(function (star, i) {
      star.setAttribute("aria-pressed", i + 1 === n ? "true" : "false");
    });
    light(n);
  }

  function focusStar(i) {
    stars.forEach(function (star, j) { star.tabIndex = j === i ? 0 : -1; });
    stars[i].focus();
    light(i + 1);
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  function vote(score) {
    if (voted()) {
      say("Bạn đã đánh giá bài viết này.");
      return;
    }
    if (busy) return;
    if (!statsUrl) {
      store.set(voteKey, String(score));
      var total = num(article.querySelector(".rating-total").textContent.replace(/\./g, ""));
      var count = num(article.querySelector(".rating-count").textContent.replace(/\./g, ""));
      setText(".rating-total", total + score);
      setText(".rating-count", count + 1);
      mark(score);
      say("Cảm ơn bạn đã đánh giá " + score + " sao.");
      return;
    }
    busy = true;
    say("Đang gửi đánh giá…");
    send("api/vote", { score: score }).then(function (r) {
      busy = false;
      if (r.status === 200 || r.status === 409) {
        store.set(voteKey, String(score));
        showTotals(r.data);
        mark(score);
        say(r.status === 200 ? "Cảm ơn bạn đã đánh giá " + score + " sao." : "Bạn đã đánh giá bài viết này.");
      } else {
        mark(voted());
        say(r.data.error || "Chưa gửi được đánh giá. Hãy thử lại sau.");
      }
    }, function () {
      busy = false;
      mark(voted());
      say("Chưa gửi được đánh giá (mất kết nối). Hãy thử lại sau.");
    });
  }

  if (widget && stars.length) {
    widget.hidden = false;
    var mine = voted();
    mark(mine);
    if (mine && !statsUrl) {
      // No collector: the baked figures cannot contain this browser's vote, so add it back.
      setText(".rating-total", base.total + mine);
      setText(".rating-count", base.count + 1);
    }
    stars.forEach(function (star, i) {
      star.addEventListener("click", function () { vote(i + 1); });
      star.addEventListener("mouseenter", function () { light(i + 1); });
      star.addEventListener("focus", function () { light(i + 1); });
      star.addEventListener("keydown", function (event) {
        var next = { ArrowRight: i + 1, ArrowUp: i + 1, ArrowLeft: i - 1, ArrowDown: i - 1, Home: 0, End: stars.length - 1 }[event.key];
        if (next === undefined) return;
        event.preventDefault();
        focusStar(Math.max(0, Math.min(stars.length - 1, next)));
      });
    });
    var group = widget.querySelector(".rating-stars");
    group.addEventListener("mouseleave", function () { light(voted()); });
    group.addEventListener("focusout", function (event) {
      if (!group.contains(event.relatedTarget)) light(voted());
    });
  }

  // --- views and fresh totals (collector only) ---
  if (statsUrl) {
    var viewedKey = "sitegen-viewed:" + id;
    var seen = false;
    try { seen = window.sessionStorage.getItem(viewedKey) === "1"; } catch (e) { seen = false; }
    var fresh = seen
      ? window.fetch(statsUrl + "api/stats?article=" + encodeURIComponent(id), { mode: "cors", credentials: "omit" }).then(answer)
      : send("api/view", {});
    fresh.then(function (r) {
      if (r.status !== 200) return;
      if (!seen) {
        try { window.sessionStorage.setItem(viewedKey, "1"); } catch (e) { /* counted again next load: harmless */ }
      }
      showTotals(r.data);
    }, function () { /* collector unreachable: the baked figures stay */ });
  }

  // --- comments (collector only: without one the form is not in the page) ---
  var form = article.querySelector(".comment-form");
  if (form && statsUrl) {
    var noJs = article.querySelector(".comments-nojs");
    if (noJs) noJs.hidden = true;
    form.hidden = false;
    var formStatus = form.querySelector(".comment-status");
    var button = form.querySelector(".comment-submit");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.elements.name.value.trim();
      var text = form.elements.text.value.trim();
      if (!name || !text) {
        formStatus.textContent = "Hãy ghi họ tên và ý kiến của bạn.";
        (name ? form.elements.text : form.elements.name).focus();
        return;
      }
      button.disabled = true;
      formStatus.textContent = "Đang gửi ý kiến…";
      send("api/comment", { name: name, text: text }).then(function (r) {
        button.disabled = false;
        if (r.status === 202) {
          form.reset();
          formStatus.textContent = "Ý kiến của bạn đang chờ duyệt.";
        } else {
          formStatus.textContent = r.data.error || "Chưa gửi được ý kiến. Hãy thử lại sau.";
        }
      }, function () {
        button.disabled = false;
        formStatus.textContent = "Chưa gửi được ý kiến (mất kết nối). Hãy thử lại sau.";
      });
    });
  }
})();
