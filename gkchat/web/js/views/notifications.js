// The bell: the unread count, and a panel listing notifications; opening one marks it read
// and goes where it points.

import { readAllNotifications, readNotification, refreshNotifications } from "../actions.js";
import { formatAgo, h, icon, keyedList } from "../dom.js";
import { state, subscribe } from "../store.js";

export function renderNotificationsButton() {
  const badge = h("span.badge.bell-badge", { "data-testid": "notification-badge", hidden: true });
  const bell = h("button.icon-button", {
    type: "button",
    "aria-label": "Notifications",
    "aria-haspopup": "dialog",
    "aria-expanded": "false",
    "data-testid": "bell",
  }, icon("bell"), badge);
  const list = h("ul.notification-list", { "data-testid": "notification-list" });
  const empty = h("p.muted.notification-empty", {}, "Nothing new.");
  const panel = h("div.popover", { hidden: true, role: "dialog", "aria-label": "Notifications", "data-testid": "notification-panel" },
    h("div.popover-head", {},
      h("strong", {}, "Notifications"),
      h("button.text-button", { type: "button", "data-testid": "read-all", onclick: readAllNotifications }, "Mark all read")),
    list,
    empty);
  const wrapper = h("div.bell-wrapper", {}, bell, panel);

  const outside = (event) => { if (!wrapper.contains(event.target)) close(); };
  const escape = (event) => {
    if (event.key === "Escape") {
      close();
      bell.focus();
    }
  };
  function open() {
    panel.hidden = false;
    bell.setAttribute("aria-expanded", "true");
    document.addEventListener("click", outside, true);
    document.addEventListener("keydown", escape);
    refreshNotifications();
  }
  function close() {
    panel.hidden = true;
    bell.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", outside, true);
    document.removeEventListener("keydown", escape);
  }
  bell.addEventListener("click", () => (panel.hidden ? open() : close()));

  function render() {
    const { unread, items } = state.notifications;
    badge.hidden = unread === 0;
    badge.textContent = unread > 99 ? "99+" : String(unread);
    bell.setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
    const sorted = [...items.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    keyedList(list, sorted, {
      key: (n) => n.id,
      version: (n) => `${n.content}|${n.read_at}|${n.created_at}`,
      build: (n) => item(n, close),
    });
    empty.hidden = sorted.length > 0;
  }

  subscribe(["notifications"], render);
  render();
  return wrapper;
}

function item(notification, close) {
  return h("li", {},
    h("button.notification", {
      type: "button",
      "data-testid": "notification",
      dataset: { type: notification.type, unread: notification.read_at ? "false" : "true" },
      onclick: () => {
        readNotification(notification);
        close();
        location.hash = target(notification);
      },
    },
    h("span.notification-dot", { "aria-hidden": "true" }),
    h("span.notification-text", {},
      h("span", {}, notification.content),
      h("time.muted.small", { datetime: notification.created_at }, formatAgo(notification.created_at)))));
}

function target(notification) {
  if (notification.type === "message" && notification.actor_id) {
    return `#/chat/${encodeURIComponent(notification.actor_id)}`;
  }
  if (notification.type === "friend_accepted" && notification.actor_id) {
    return `#/chat/${encodeURIComponent(notification.actor_id)}`;
  }
  return "#/friends";
}
