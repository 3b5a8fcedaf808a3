// Start-up: find out who is signed in, then show the sign-in screen or the messenger.

import { api, whenSignedOut } from "./api.js";
import { endSession, startSession } from "./actions.js";
import { renderAuth } from "./views/auth.js";
import { renderShell } from "./views/shell.js";

const root = document.getElementById("app");
let unmountShell = null;

whenSignedOut(() => endSession());

async function boot() {
  try {
    signedIn(await api.me());
  } catch (error) {
    if (error.status === 401) showAuth();
    else showUnreachable(error);
  }
}

function showAuth() {
  unmountShell?.();
  unmountShell = null;
  if (location.hash && location.hash !== "#/") history.replaceState(null, "", "#/");
  renderAuth(root, { onSignedIn: signedIn });
}

function signedIn(me) {
  unmountShell = renderShell(root);
  startSession(me, { signedOut: showAuth });
}

function showUnreachable(error) {
  root.replaceChildren();
  const box = document.createElement("div");
  box.className = "boot";
  const text = document.createElement("p");
  text.textContent = error.message;
  const retry = document.createElement("button");
  retry.className = "button primary";
  retry.textContent = "Try again";
  retry.addEventListener("click", boot);
  box.append(text, retry);
  root.append(box);
}

boot();
