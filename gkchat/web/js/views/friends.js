// Friends: find people by username, answer and cancel requests, unfriend, block and unblock.

import { friendAction } from "../actions.js";
import { api } from "../api.js";
import { avatar, debounce, h, icon, refreshPresenceDots } from "../dom.js";
import { isOnline, state, subscribe } from "../store.js";
import { confirmDialog } from "./dialog.js";

export function renderFriends(container) {
  const search = h("input.search-input", {
    type: "search",
    placeholder: "Find people by username",
    "aria-label": "Find people by username",
    "data-testid": "user-search",
    autocomplete: "off",
    maxLength: 32,
  });
  const results = h("ul.people", { "data-testid": "search-results" });
  const sections = h("div.friends-sections");
  container.replaceChildren(
    h("div.friends-panel", {},
      h("div.search-box", {}, icon("search"), search),
      results,
      sections),
  );

  let lastResults = [];
  const runSearch = debounce(async () => {
    const q = search.value.trim();
    if (!q) {
      lastResults = [];
      renderResults();
      return;
    }
    try {
      lastResults = (await api.searchUsers(q)).users.filter((u) => u.id !== state.me.id);
    } catch (error) {
      lastResults = [];
      results.replaceChildren(h("li.muted", {}, error.message));
      return;
    }
    renderResults();
  }, 200);
  search.addEventListener("input", runSearch);

  function renderResults() {
    const q = search.value.trim();
    results.hidden = !q;
    if (q && lastResults.length === 0) {
      results.replaceChildren(h("li.muted.people-empty", {}, `Nobody called “${q}…”`));
      return;
    }
    results.replaceChildren(...lastResults.map((user) => person(user, searchActions(user), "search-result")));
  }

  function render() {
    const incoming = [...state.incoming.values()];
    const outgoing = [...state.outgoing.values()];
    const friends = [...state.friends.values()].sort((a, b) => a.user.username.localeCompare(b.user.username));
    const blocked = [...state.blocked.values()];
    const parts = [
      section("Requests", "incoming-requests", incoming.map((r) => person(r.from_user, [
        button("Accept", () => friendAction(() => api.acceptRequest(r.id), `You and ${r.from_user.username} are now friends`), "primary", "accept-request"),
        button("Decline", () => friendAction(() => api.declineRequest(r.id)), "", "decline-request"),
      ], "incoming-request"))),
      section("Sent requests", "outgoing-requests", outgoing.map((r) => person(r.to_user, [
        h("span.muted.small", {}, "Pending"),
        button("Cancel", () => friendAction(() => api.cancelRequest(r.id)), "", "cancel-request"),
      ], "outgoing-request"))),
      section(`Friends (${friends.length})`, "friends", friends.map((f) => person(f.user, [
        h("a.button.small", { href: `#/chat/${encodeURIComponent(f.user.id)}`, "data-testid": "message-friend" }, "Message"),
        menuButton(f.user),
      ], "friend", true)), friends.length ? null : "No friends yet: search for someone above."),
      blocked.length ? section("Blocked", "blocked", blocked.map((user) => person(user, [
        button("Unblock", () => friendAction(() => api.unblock(user.id), `${user.username} is unblocked`), "", "unblock"),
      ], "blocked-user"))) : null,
    ];
    sections.replaceChildren(...parts.filter(Boolean));
    if (search.value.trim()) renderResults();
  }

  const unsubscribers = [
    subscribe(["friends"], render),
    subscribe(["presence"], () => refreshPresenceDots(sections, isOnline)),
  ];
  render();
  return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
}

function searchActions(user) {
  if (state.friends.has(user.id)) {
    return [h("a.button.small", { href: `#/chat/${encodeURIComponent(user.id)}` }, "Message")];
  }
  if (state.blocked.has(user.id)) return [h("span.muted.small", {}, "Blocked")];
  const incoming = [...state.incoming.values()].find((r) => r.from_user.id === user.id);
  if (incoming) {
    return [button("Accept", () => friendAction(() => api.acceptRequest(incoming.id), `You and ${user.username} are now friends`), "primary", "accept-request")];
  }
  if ([...state.outgoing.values()].some((r) => r.to_user.id === user.id)) {
    return [h("span.muted.small", {}, "Request sent")];
  }
  return [button("Add friend", () => friendAction(() => api.sendFriendRequest(user.id), `Friend request sent to ${user.username}`), "primary", "add-friend")];
}

function section(title, testId, items, emptyText = null) {
  if (!items.length && !emptyText) return null;
  return h("section.people-section", { "data-testid": testId },
    h("h3.section-title", {}, title),
    items.length ? h("ul.people", {}, items) : h("p.muted.small.people-empty", {}, emptyText));
}

function person(user, actions, testId, withPresence = false) {
  return h("li.person", { "data-testid": testId, dataset: { username: user.username } },
    avatar(user, withPresence ? { presence: isOnline(user.id) } : {}),
    h("span.person-name", {}, user.username),
    h("span.person-actions", {}, actions));
}

function button(label, onclick, kind, testId) {
  return h(`button.button.small${kind ? `.${kind}` : ""}`, { type: "button", onclick, "data-testid": testId }, label);
}

function menuButton(user) {
  const menu = h("div.menu", { hidden: true, role: "menu" },
    h("button.menu-item", {
      type: "button", role: "menuitem", "data-testid": "unfriend",
      onclick: async () => {
        close();
        if (await confirmDialog(`Remove ${user.username} from your friends?`, { confirm: "Unfriend", danger: true })) {
          friendAction(() => api.unfriend(user.id), `${user.username} is no longer your friend`);
        }
      },
    }, "Unfriend"),
    h("button.menu-item.danger", {
      type: "button", role: "menuitem", "data-testid": "block",
      onclick: async () => {
        close();
        const question = `Block ${user.username}? They will not be able to message you or send you friend requests.`;
        if (await confirmDialog(question, { confirm: "Block", danger: true })) {
          friendAction(() => api.block(user.id), `${user.username} is blocked`);
        }
      },
    }, "Block"));
  const toggle = h("button.icon-button.small", {
    type: "button", "aria-label": `More for ${user.username}`, "aria-haspopup": "menu", "aria-expanded": "false",
    "data-testid": "friend-menu",
    onclick: () => (menu.hidden ? open() : close()),
  }, icon("more"));
  const wrapper = h("span.menu-wrapper", {}, toggle, menu);
  const outside = (event) => { if (!wrapper.contains(event.target)) close(); };
  function open() {
    menu.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    document.addEventListener("click", outside, true);
    menu.querySelector("button")?.focus();
  }
  function close() {
    menu.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", outside, true);
  }
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      close();
      toggle.focus();
    }
  });
  return wrapper;
}
