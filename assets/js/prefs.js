/* The header's "Chế độ tối" and "Cỡ chữ lớn" buttons: toggle the theme and text size on <html> and remember
   them per browser (localStorage). prefs-early.js applies the remembered choice before the first paint. */
(function () {
  "use strict";
  var root = document.documentElement;
  var box = document.querySelector(".prefs");
  if (!box) return;
  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function store(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (e) {
      /* not remembered, but still applied to this page */
    }
  }

  function isDark() {
    var theme = root.getAttribute("data-theme");
    return theme ? theme === "dark" : !!(dark && dark.matches);
  }

  var themeButton = box.querySelector('[data-pref="theme"]');
  var sizeButton = box.querySelector('[data-pref="text-size"]');

  function sync() {
    themeButton.setAttribute("aria-pressed", String(isDark()));
    sizeButton.setAttribute("aria-pressed", String(root.getAttribute("data-text-size") === "large"));
  }

  themeButton.addEventListener("click", function () {
    var next = isDark() ? "light" : "dark";
    root.setAttribute("data-theme", next);
    store("sitegen-theme", next);
    sync();
  });
  sizeButton.addEventListener("click", function () {
    var large = root.getAttribute("data-text-size") !== "large";
    if (large) root.setAttribute("data-text-size", "large");
    else root.removeAttribute("data-text-size");
    store("sitegen-text-size", large ? "large" : "normal");
    sync();
  });
  if (dark && dark.addEventListener) dark.addEventListener("change", sync);
  sync();
})();
