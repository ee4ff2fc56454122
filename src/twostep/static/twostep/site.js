// Copy buttons: progressive enhancement (the key is always visible as text).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      var text = button.hasAttribute("data-copy-keep-lines")
        ? Array.prototype.map.call(target.querySelectorAll("li"), function (li) { return li.textContent.trim(); }).join("\n")
        : target.textContent.replace(/\s+/g, "");
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});
