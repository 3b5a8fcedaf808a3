// The conversation list: each friend's last message, unread badge and presence, newest first.

import { avatar, formatWhen, h, keyedList } from "../dom.js";
import { isOnline, sortedConversations, state, subscribe } from "../store.js";

export function renderChatList(container) {
  const list = h("ul.conversation-list", { "data-testid": "conversation-list" });
  const empty = h("div.list-empty", {},
    h("p", {}, "No conversations yet."),
    h("a.button.primary", { href: "#/friends" }, "Find friends"));
  container.replaceChildren(list, empty);

  function render() {
    const conversations = sortedConversations();
    empty.hidden = conversations.length > 0;
    keyedList(list, conversations, { key: (c) => c.peer.id, version, build: item });
  }

  const unsubscribe = subscribe(["conversations", "presence", "typing", "active"], render);
  render();
  return unsubscribe;
}

/** Everything an entry shows: when it changes, the entry is rebuilt. */
function version(conversation) {
  const peer = conversation.peer;
  const last = conversation.last_message;
  return [
    peer.username, last?.id, last?.content, last?.deleted_at, last?.created_at, conversation.unread_count,
    isOnline(peer.id), state.typing.has(peer.id), state.chats.get(peer.id)?.pending.size ?? 0,
    state.activePeer === peer.id,
  ].join("|");
}

function item(conversation) {
  const peer = conversation.peer;
  const last = conversation.last_message;
  const typing = state.typing.has(peer.id);
  const pending = state.chats.get(peer.id)?.pending.size;
  let preview;
  if (typing) preview = h("span.typing-text", {}, "typing…");
  else if (!last) preview = pending ? "Sending…" : "";
  else if (last.deleted_at) preview = h("em", {}, "Message deleted");
  else preview = (last.sender_id === state.me.id ? "You: " : "") + last.content.slice(0, 200);

  const unread = conversation.unread_count;
  return h(
    "li",
    {},
    h(
      "a.conversation",
      {
        href: `#/chat/${encodeURIComponent(peer.id)}`,
        "aria-current": state.activePeer === peer.id ? "page" : "false",
        "data-testid": "conversation",
        dataset: { peer: peer.username },
      },
      avatar(peer, { presence: isOnline(peer.id) }),
      h("span.conversation-text", {},
        h("span.conversation-top", {},
          h("strong.conversation-name", {}, peer.username),
          h("time.conversation-time", { datetime: last?.created_at ?? "" }, formatWhen(last?.created_at))),
        h("span.conversation-bottom", {},
          h("span.conversation-preview", { "data-testid": "conversation-preview" }, preview),
          unread > 0 ? h("span.badge", { "data-testid": "unread-badge", "aria-label": `${unread} unread` }, String(unread)) : null)),
    ),
  );
}
