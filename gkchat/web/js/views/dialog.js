// A small modal question, on the native <dialog> (focus trap, Escape and backdrop for free).

import { h } from "../dom.js";

/** Resolve true if the person confirms, false if they cancel or press Escape. */
export function confirmDialog(question, { confirm = "OK", danger = false } = {}) {
  return new Promise((resolve) => {
    const ok = h(`button.button${danger ? ".danger" : ".primary"}`, { value: "ok", "data-testid": "confirm" }, confirm);
    const dialog = h("dialog.dialog", { "data-testid": "dialog" },
      h("form", { method: "dialog" },
        h("p.dialog-text", {}, question),
        h("div.dialog-actions", {},
          h("button.button", { value: "cancel", "data-testid": "cancel" }, "Cancel"),
          ok)));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}
