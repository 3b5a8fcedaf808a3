// The signed-in layout: a sidebar (chats or friends) beside the main pane (a chat or the
// settings). On a phone one of the two fills the screen. The address's hash is the route:
// #/ chats, #/chat/<user id>, #/friends, #/settings.

import { closeChat, openChat } from "../actions.js";
import { avatar, h, icon } from "../dom.js";
import { state, subscribe } from "../store.js";
import { renderChat } from "./chat.js";
import { renderChatList } from "./chatlist.js";
import { renderFriends } from "./friends.js";
import { renderNotificationsButton } from "./notifications.js";
import { renderSettings } from "./settings.js";

const STATUS_TEXT = { online: "", connecting: "Connecting…", offline: "Offline: reconnecting…" };

export function renderShell(root) {
  const statusBar = h("div.status-bar", { role: "status", "data-testid": "connection-status" });
  const me = h("div.me");
  const chatsTab = tab("#/", "chats", "Chats");
  const friendsTab = tab("#/friends", "people", "Friends");
  const requestsBadge = h("span.badge", { "data-testid": "requests-badge", hidden: true });
  friendsTab.append(requestsBadge);
  const sidebarBody = h("div.sidebar-body");
  const main = h("main.main", { "data-testid": "main" });
  const shell = h(
    "div.shell",
    {},
    h(
      "aside.sidebar",
      { "aria-label": "Conversations and friends" },
      h(
        "header.sidebar-head",
        {},
        me,
        h("div.head-actions", {},
          renderNotificationsButton(),
          h("a.icon-button", { href: "#/settings", title: "Settings", "aria-label": "Settings", "data-testid": "settings-link" }, icon("gear"))),
      ),
      statusBar,
      h("nav.tabs", { "aria-label": "Sections" }, chatsTab, friendsTab),
      sidebarBody,
    ),
    main,
  );
  root.replaceChildren(shell);

  let unmountSidebar = () => {};
  let unmountMain = () => {};
  let current = { sidebar: null, main: null };

  function route() {
    const [, section, id] = (location.hash || "#/").split("/");
    const sidebar = section === "friends" ? "friends" : "chats";
    const mainView = section === "chat" && id ? `chat:${decodeURIComponent(id)}` : section === "settings" ? "settings" : "empty";
    shell.dataset.focus = mainView === "empty" ? "sidebar" : "main";
    chatsTab.setAttribute("aria-current", sidebar === "chats" ? "page" : "false");
    friendsTab.setAttribute("aria-current", sidebar === "friends" ? "page" : "false");

    if (current.sidebar !== sidebar) {
      unmountSidebar();
      unmountSidebar = sidebar === "friends" ? renderFriends(sidebarBody) : renderChatList(sidebarBody);
      current.sidebar = sidebar;
    }
    if (current.main !== mainView) {
      unmountMain();
      if (mainView.startsWith("chat:")) {
        const peerId = mainView.slice(5);
        unmountMain = renderChat(main, peerId);
        openChat(peerId);
      } else {
        closeChat();
        unmountMain = mainView === "settings" ? renderSettings(main) : renderEmpty(main);
      }
      current.main = mainView;
    }
  }

  function renderHeader() {
    me.replaceChildren(
      avatar(state.me ?? { username: "?" }),
      h("div.me-text", {}, h("strong", { "data-testid": "me-username" }, state.me?.username ?? ""),
        h("span.muted", {}, state.status === "online" ? "Online" : "…")),
    );
    statusBar.textContent = STATUS_TEXT[state.status] ?? "";
    statusBar.hidden = state.status === "online";
    statusBar.dataset.status = state.status;
    requestsBadge.textContent = String(state.incoming.size);
    requestsBadge.hidden = state.incoming.size === 0;
  }

  function renderTitle() {
    let unread = 0;
    for (const conversation of state.conversations.values()) unread += conversation.unread_count;
    document.title = unread ? `(${unread}) GK-Chat` : "GK-Chat";
  }

  const unsubscribe = subscribe(["status", "friends", "me"], renderHeader);
  const unsubscribeTitle = subscribe(["conversations"], renderTitle);
  window.addEventListener("hashchange", route);
  renderHeader();
  route();

  return () => {
    unsubscribe();
    unsubscribeTitle();
    document.title = "GK-Chat";
    unmountSidebar();
    unmountMain();
    window.removeEventListener("hashchange", route);
  };
}

function tab(href, iconName, label) {
  return h("a.tab", { href, "data-testid": `tab-${label.toLowerCase()}` }, icon(iconName), h("span", {}, label));
}

function renderEmpty(main) {
  main.replaceChildren(
    h("div.empty-state", {},
      h("img.empty-logo", { src: "/assets/icon.svg", alt: "" }),
      h("h2", {}, "Your messages"),
      h("p.muted", {}, "Pick a conversation, or find friends to start one.")),
  );
  return () => {};
}
