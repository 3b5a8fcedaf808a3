// The account: who you are, the devices signed in (sessions) and signing out.

import { endSession } from "../actions.js";
import { api } from "../api.js";
import { formatAgo, h, icon, toast } from "../dom.js";
import { state } from "../store.js";
import { confirmDialog } from "./dialog.js";

export function renderSettings(main) {
  const sessions = h("ul.sessions", { "data-testid": "sessions" });
  const signOutOthers = h("button.button", { type: "button", "data-testid": "revoke-others", onclick: revokeOthers }, "Sign out all other devices");
  main.replaceChildren(
    h("section.settings", { "data-testid": "settings" },
      h("header.chat-head", {},
        h("a.icon-button.back", { href: "#/", "aria-label": "Back to conversations" }, icon("back")),
        h("div.chat-title", {}, h("strong.chat-name", {}, "Settings"))),
      h("div.settings-body", {},
        h("section.card", {},
          h("h2", {}, "Account"),
          h("dl.details", {},
            h("dt", {}, "Username"), h("dd", { "data-testid": "settings-username" }, state.me.username),
            h("dt", {}, "Email"), h("dd", {}, state.me.email ?? ""),
            h("dt", {}, "Member since"), h("dd", {}, new Date(state.me.created_at).toLocaleDateString())),
          h("button.button.danger", { type: "button", "data-testid": "sign-out", onclick: () => endSession({ callServer: true }) }, "Sign out")),
        h("section.card", {},
          h("h2", {}, "Devices"),
          h("p.muted", {}, "Every browser or app signed in to your account. Sign out any you do not recognise."),
          sessions,
          signOutOthers))),
  );

  async function load() {
    let list;
    try {
      list = (await api.sessions()).sessions;
    } catch (error) {
      sessions.replaceChildren(h("li.muted", {}, error.message));
      return;
    }
    list.sort((a, b) => Number(b.current) - Number(a.current) || (b.last_used_at ?? "").localeCompare(a.last_used_at ?? ""));
    signOutOthers.hidden = list.length < 2;
    sessions.replaceChildren(...list.map((session) => h("li.session", { "data-testid": "session", dataset: { current: String(session.current) } },
      h("div.session-text", {},
        h("strong", {}, describeAgent(session.user_agent)),
        h("span.muted.small", {},
          session.current ? "This device · " : "",
          `signed in ${formatAgo(session.created_at)}`,
          session.last_used_at ? ` · active ${formatAgo(session.last_used_at)}` : "")),
      session.current
        ? h("span.tag", {}, "Current")
        : h("button.button.small", { type: "button", "data-testid": "revoke-session", onclick: () => revoke(session) }, "Sign out"))));
  }

  async function revoke(session) {
    try {
      await api.revokeSession(session.id);
      toast("That device is signed out.");
    } catch (error) {
      toast(error.message, { kind: "error" });
    }
    load();
  }

  async function revokeOthers() {
    if (!(await confirmDialog("Sign out every other device?", { confirm: "Sign out others", danger: true }))) return;
    try {
      await api.revokeOtherSessions();
      toast("Every other device is signed out.");
    } catch (error) {
      toast(error.message, { kind: "error" });
    }
    load();
  }

  load();
  return () => {};
}

/** "Chrome on Linux" from a User-Agent string, or the string itself when unknown. */
function describeAgent(agent) {
  if (!agent) return "Unknown device";
  const browser = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Safari/", "Safari"], ["python-httpx", "Python app"]]
    .find(([needle]) => agent.includes(needle))?.[1];
  const system = [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS", "macOS"], ["Linux", "Linux"]]
    .find(([needle]) => agent.includes(needle))?.[1];
  if (!browser) return agent.slice(0, 60);
  return system ? `${browser} on ${system}` : browser;
}
