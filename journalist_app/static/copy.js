// Copy buttons for reported addresses (case and report pages).
//
// An address is never a link on the officer host: the officer copies it into the isolated
// analysis browser. Each button names, in data-copy-from, the element holding the text (a
// read-only field or a <code>); its translated states come from the page (data-copied,
// data-failed). The buttons are rendered hidden: without this script, or without a
// clipboard, they stay hidden and the text is selected and copied by hand.
// Served from this host only, loaded with defer; the page's CSP allows script-src 'self'
// and nothing inline.
(function () {
  "use strict";

  if (!window.isSecureContext || !navigator.clipboard || !navigator.clipboard.writeText) {
    return;
  }

  var RESET_AFTER_MS = 2500;

  function textOf(source) {
    return source.tagName === "INPUT" || source.tagName === "TEXTAREA"
      ? source.value
      : source.textContent;
  }

  function select(source) {
    if (source.tagName === "INPUT" || source.tagName === "TEXTAREA") {
      source.focus();
      source.select();
    } else {
      window.getSelection().selectAllChildren(source);
    }
  }

  function attach(button) {
    var source = document.getElementById(button.getAttribute("data-copy-from"));
    if (!source) {
      return;
    }
    var label = button.textContent;
    var timer = null;

    function show(text) {
      button.textContent = text;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        button.textContent = label;
        button.removeAttribute("data-state");
      }, RESET_AFTER_MS);
    }

    button.addEventListener("click", function () {
      navigator.clipboard.writeText(textOf(source)).then(
        function () {
          button.setAttribute("data-state", "copied");
          show(button.getAttribute("data-copied") || label);
        },
        function () {
          button.setAttribute("data-state", "failed");
          show(button.getAttribute("data-failed") || label);
          select(source);
        }
      );
    });
    button.hidden = false;
  }

  Array.prototype.forEach.call(
    document.querySelectorAll("button.copy-button[data-copy-from]"),
    attach
  );
})();
