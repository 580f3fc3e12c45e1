/* Share bar of article pages: "Sao chép liên kết" copies the article's address, "In bài" prints it.
   No third-party code and nothing sent anywhere. Both buttons stay hidden when this script does not run,
   and copying falls back to a selected text field where the clipboard API is missing or refused. */
(function () {
  "use strict";
  var nav = document.querySelector("nav.share");
  if (!nav) return;
  var status = nav.querySelector(".share-status");
  var copy = nav.querySelector(".share-copy");
  var print = nav.querySelector(".share-print");

  function say(text) {
    status.textContent = text;
  }

  function showField(url) {
    // Where copying is impossible the reader copies by hand: the address, selected, ready for Ctrl+C.
    var field = nav.querySelector(".share-url");
    if (!field) {
      field = document.createElement("input");
      field.type = "text";
      field.readOnly = true;
      field.className = "share-url";
      field.setAttribute("aria-label", "Địa chỉ bài viết");
      nav.appendChild(field);
    }
    field.value = url;
    field.focus();
    field.select();
    say("Không sao chép tự động được. Hãy sao chép địa chỉ đã chọn (Ctrl+C).");
  }

  if (copy) {
    copy.addEventListener("click", function () {
      var url = copy.getAttribute("data-url") || window.location.href;
      if (!navigator.clipboard || !navigator.clipboard.writeText) {
        showField(url);
        return;
      }
      navigator.clipboard.writeText(url).then(function () {
        say("Đã sao chép liên kết.");
      }, function () {
        showField(url);
      });
    });
  }
  if (print) {
    print.addEventListener("click", function () {
      window.print();
    });
  }
  var hidden = nav.querySelectorAll(".share-js");
  for (var i = 0; i < hidden.length; i++) hidden[i].hidden = false;
})();
