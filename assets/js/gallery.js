/* Photo gallery of article pages: the thumbnails under the article open a lightbox with the full photo and its
   caption. Previous/next by buttons, arrow keys or a swipe; Esc or "Đóng" closes it and focus goes back to the
   thumbnail the reader came from. Without this script each thumbnail is a plain link to the full photo.
   The lightbox is a modal <dialog>: the browser keeps focus inside it and makes the page behind it inert. */
(function () {
  "use strict";
  var links = Array.prototype.slice.call(document.querySelectorAll(".gallery .gallery-link"));
  if (!links.length || typeof HTMLDialogElement !== "function") return;

  var items = links.map(function (link) {
    var img = link.querySelector("img");
    var source = link.querySelector("source[type='image/webp']");
    var caption = link.closest("figure").querySelector("figcaption");
    return {
      link: link,
      src: link.getAttribute("href"),
      srcset: img ? img.getAttribute("srcset") || "" : "",
      webp: source ? source.getAttribute("srcset") || "" : "",
      width: img ? img.getAttribute("width") : "",
      height: img ? img.getAttribute("height") : "",
      alt: img ? img.getAttribute("alt") || "" : "",
      caption: caption ? caption.textContent : ""
    };
  });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  var dialog = el("dialog", "lightbox");
  dialog.setAttribute("aria-label", "Xem ảnh");
  var figure = el("figure", "lightbox-figure");
  var picture = el("picture");
  var webp = el("source");
  webp.type = "image/webp";
  webp.sizes = "100vw";
  var img = el("img", "lightbox-img");
  img.sizes = "100vw";
  img.decoding = "async";
  picture.appendChild(webp);
  picture.appendChild(img);
  var caption = el("figcaption", "lightbox-caption");
  var counter = el("p", "lightbox-counter");
  counter.setAttribute("aria-live", "polite");
  figure.appendChild(picture);
  figure.appendChild(caption);
  var prev = el("button", "lightbox-prev", "‹");
  prev.type = "button";
  prev.setAttribute("aria-label", "Ảnh trước");
  var next = el("button", "lightbox-next", "›");
  next.type = "button";
  next.setAttribute("aria-label", "Ảnh sau");
  var close = el("button", "lightbox-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Đóng");
  [close, figure, counter, prev, next].forEach(function (node) { dialog.appendChild(node); });
  document.body.appendChild(dialog);

  var current = 0;
  var opener = null;

  function show(index) {
    current = (index + items.length) % items.length;
    var item = items[current];
    webp.srcset = item.webp;
    img.srcset = item.srcset;
    img.src = item.src;
    if (item.width) img.width = +item.width;
    if (item.height) img.height = +item.height;
    img.alt = item.alt;
    caption.textContent = item.caption;
    caption.hidden = !item.caption;
    counter.textContent = (current + 1) + "/" + items.length;
    var single = items.length < 2;
    prev.hidden = single;
    next.hidden = single;
  }

  function open(index) {
    opener = items[index].link;
    show(index);
    dialog.showModal();
    close.focus();
  }

  links.forEach(function (link, index) {
    link.addEventListener("click", function (event) {
      // A new tab or window (Ctrl, Shift, middle click) keeps its usual meaning: the full photo.
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      open(index);
    });
  });

  prev.addEventListener("click", function () { show(current - 1); });
  next.addEventListener("click", function () { show(current + 1); });
  close.addEventListener("click", function () { dialog.close(); });
  dialog.addEventListener("close", function () {
    if (opener) opener.focus();
    opener = null;
  });
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "ArrowLeft") { show(current - 1); event.preventDefault(); }
    else if (event.key === "ArrowRight") { show(current + 1); event.preventDefault(); }
    // Esc is the dialog's own: it fires "cancel", then "close".
  });
  // A click on the dark backdrop (the dialog box itself, outside the photo and buttons) closes too.
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) dialog.close();
  });

  // Swipe on touch screens: a mostly horizontal move of 40 px or more turns the page.
  var startX = null;
  var startY = 0;
  figure.addEventListener("pointerdown", function (event) {
    if (event.pointerType === "mouse") return;
    startX = event.clientX;
    startY = event.clientY;
  });
  figure.addEventListener("pointerup", function (event) {
    if (startX === null) return;
    var dx = event.clientX - startX;
    var dy = event.clientY - startY;
    startX = null;
    if (Math.abs(dx) >= 40 && Math.abs(dx) > Math.abs(dy)) show(current + (dx < 0 ? 1 : -1));
  });
  figure.addEventListener("pointercancel", function () { startX = null; });
})();
