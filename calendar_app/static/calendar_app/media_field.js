// The item page's media field: previews of the files chosen (before they are saved), and the
// rows marked for removal dimmed. Without JavaScript the field still works; only the previews go.
"use strict";
(function () {
  function previews(input) {
    const box = input.closest(".kairos-media").querySelector(".kairos-media-previews");
    box.replaceChildren();
    for (const file of input.files) {
      const figure = document.createElement("figure");
      const url = URL.createObjectURL(file);
      const shown = document.createElement(file.type.startsWith("video/") ? "video" : "img");
      shown.src = url;
      if (shown.tagName === "IMG") shown.alt = "Preview of " + file.name;
      else shown.muted = true;
      const caption = document.createElement("figcaption");
      caption.textContent = file.name;
      figure.append(shown, caption);
      box.append(figure);
    }
  }
  document.addEventListener("change", function (event) {
    const target = event.target;
    if (!(target instanceof HTMLInputElement) || !target.closest(".kairos-media")) return;
    if (target.type === "file") previews(target);
    if (target.type === "checkbox" && target.name.endsWith("-remove")) {
      target.closest(".kairos-media-row").classList.toggle("is-removed", target.checked);
    }
  });
})();
