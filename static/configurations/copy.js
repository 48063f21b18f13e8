// A "Copy" button for a value shown once (the new API token): copies the text of the element it names.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-target]");
  if (!button) { return; }
  var source = document.getElementById(button.getAttribute("data-copy-target"));
  if (!source || !navigator.clipboard) { return; }
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    button.textContent = button.getAttribute("data-copied-label") || "Copied";
  });
});
