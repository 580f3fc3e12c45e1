/* The reader's choices (dark mode, larger text), set on <html> before the first paint so the page never
   flashes in the wrong theme. Loaded synchronously from <head>, hence this small; prefs.js does the rest. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("has-js"); // shows the preference buttons from the first paint: no layout shift later
  try {
    var theme = localStorage.getItem("sitegen-theme");
    if (theme === "dark" || theme === "light") root.setAttribute("data-theme", theme);
    if (localStorage.getItem("sitegen-text-size") === "large") root.setAttribute("data-text-size", "large");
  } catch (e) {
    /* storage refused (private mode, blocked cookies): the defaults stay */
  }
})();
