// One conversation: live messages with day separators, older ones loaded as you scroll up,
// ticks (sending, sent, delivered, read), typing, edit and delete, and the composer.

import {
  deleteMessage, discardMessage, editMessage, loadOlder, retryMessage, sendMessage, typing,
} from "../actions.js";
import { avatar, dayKey, formatAgo, formatDay, formatTime, h, icon, reconcile } from "../dom.js";
import { chatOf, isOnline, orderedMessages, receiptOf, state, subscribe } from "../store.js";
import { confirmDialog } from "./dialog.js";

const MAX_CODE_POINTS = 4000;
const GROUP_WITHIN_MS = 5 * 60_000;
const RECEIPT_TEXT = { sending: "Sending", failed: "Not sent", sent: "Sent", delivered: "Delivered", read: "Read" };

export function renderChat(main, peerId) {
  const title = h("strong.chat-name", { "data-testid": "chat-name" });
  const subtitle = h("span.chat-subtitle", { "data-testid": "chat-subtitle" });
  const headAvatar = h("span.chat-avatar");
  const header = h(
    "header.chat-head",
    {},
    h("a.icon-button.back", { href: "#/", "aria-label": "Back to conversations" }, icon("back")),
    headAvatar,
    h("div.chat-title", {}, title, subtitle),
  );

  const top = h("div.history-top", { "data-testid": "history-top" });
  const list = h("ol.message-list", { "data-testid": "messages" });
  const scroller = h("div.messages", { role: "log", "aria-label": "Messages", tabIndex: 0 }, top, list);

  const composer = createComposer(peerId, {
    onSend: () => stickToBottom(),
    lastOwnMessage: () => orderedMessages(peerId).stored.filter((m) => m.sender_id === state.me.id && !m.deleted_at).at(-1),
  });
  const notice = h("p.chat-notice", { "data-testid": "chat-notice" });
  main.replaceChildren(h("section.chat", { "data-testid": "chat", dataset: { peerId } }, header, scroller, notice, composer.form));

  const nodes = new Map(); // key -> {el, version}
  let firstPaint = true;
  let forceBottom = false;

  function stickToBottom() {
    forceBottom = true;
  }

  function renderHeader() {
    const peer = state.users.get(peerId) ?? { id: peerId, username: "…" };
    title.textContent = peer.username;
    headAvatar.replaceChildren(avatar(peer, { presence: isOnline(peerId) }));
    const presence = state.presence.get(peerId);
    let text = "";
    if (state.typing.has(peerId)) text = "typing…";
    else if (presence?.online) text = "online";
    else if (presence?.last_seen) text = `last seen ${formatAgo(presence.last_seen)}`;
    subtitle.textContent = text;
    subtitle.classList.toggle("typing-text", state.typing.has(peerId));

    const blocked = state.blocked.has(peerId);
    const friend = state.friends.has(peerId);
    const canWrite = friend && !blocked;
    composer.setEnabled(canWrite || !state.friendsLoaded);
    notice.hidden = canWrite || !state.friendsLoaded;
    notice.textContent = blocked
      ? `You blocked ${peer.username}. Unblock them under Friends to write again.`
      : `You and ${peer.username} are not friends, so you can read but not write.`;
  }

  function renderMessages() {
    const chat = chatOf(peerId);
    const { stored, pending } = orderedMessages(peerId);
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const atBottom = fromBottom - scroller.clientHeight < 48;

    top.replaceChildren(
      !chat.loaded ? h("p.muted", {}, "Loading…")
        : chat.nextBefore ? h("p.muted", {}, chat.loadingOlder ? "Loading earlier messages…" : "")
          : h("p.history-start", {}, `This is the beginning of your conversation with ${state.users.get(peerId)?.username ?? "…"}.`),
    );

    const wanted = [];
    let previous = null;
    for (const message of [...stored, ...pending]) {
      const day = dayKey(message.created_at);
      if (!previous || dayKey(previous.created_at) !== day) {
        wanted.push(node(`day:${day}`, String(day), () => daySeparator(message.created_at)));
      }
      const grouped = previous && !previous.deleted_at && previous.sender_id === (message.sender_id ?? state.me.id) &&
        new Date(message.created_at) - new Date(previous.created_at) < GROUP_WITHIN_MS && dayKey(previous.created_at) === day;
      wanted.push(messageNode(message, Boolean(grouped)));
      previous = message.sender_id ? message : { ...message, sender_id: state.me.id };
    }
    reconcile(list, wanted);
    const keep = new Set(wanted.map((el) => el.dataset.key));
    for (const key of [...nodes.keys()]) {
      if (!keep.has(key)) nodes.delete(key);
    }

    if (firstPaint || forceBottom || atBottom) {
      scroller.scrollTop = scroller.scrollHeight;
    } else {
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
    }
    if (chat.loaded) firstPaint = false;
    forceBottom = false;
    maybeLoadOlder();
  }

  function node(key, version, build) {
    const known = nodes.get(key);
    if (known && known.version === version) return known.el;
    const el = build();
    el.dataset.key = key;
    nodes.set(key, { el, version });
    return el;
  }

  function messageNode(message, grouped) {
    const mine = !message.id || message.sender_id === state.me.id;
    if (!message.id) {
      const version = `${message.status}|${message.error}|${grouped}`;
      return node(`pending:${message.client_id}`, version, () => pendingBubble(peerId, message, grouped));
    }
    const receipt = mine ? receiptOf(message) : "";
    const version = `${message.content}|${message.edited_at}|${message.deleted_at}|${receipt}|${grouped}`;
    // A sent message keeps its place: its node key is the client_id it was pending under.
    const key = mine && message.client_id ? `pending:${message.client_id}` : `message:${message.id}`;
    return node(key, version, () => storedBubble(message, { mine, receipt, grouped, composer }));
  }

  let loadingOlder = false;
  async function maybeLoadOlder() {
    const chat = chatOf(peerId);
    if (loadingOlder || !chat.loaded || !chat.nextBefore || scroller.scrollTop > 300) return;
    loadingOlder = true;
    try {
      await loadOlder(peerId);
    } finally {
      loadingOlder = false;
    }
  }

  scroller.addEventListener("scroll", maybeLoadOlder, { passive: true });
  const unsubscribers = [
    subscribe([`chat:${peerId}`, "conversations"], renderMessages),
    subscribe(["presence", "typing", "friends", "conversations"], renderHeader),
  ];
  renderHeader();
  renderMessages();
  composer.focus();
  return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
}

function daySeparator(iso) {
  return h("li.day-separator", { "data-testid": "day-separator" }, h("span", {}, formatDay(iso)));
}

function receiptIcon(receipt) {
  const name = { sending: "clock", failed: "alert", sent: "check", delivered: "checks", read: "checks" }[receipt];
  return h(`span.receipt.receipt-${receipt}`, { "data-testid": "receipt", dataset: { receipt }, title: RECEIPT_TEXT[receipt] },
    icon(name, RECEIPT_TEXT[receipt]));
}

function storedBubble(message, { mine, receipt, grouped, composer }) {
  const deleted = Boolean(message.deleted_at);
  const text = deleted
    ? h("p.message-text.deleted", {}, mine ? "You deleted this message" : "This message was deleted")
    : h("p.message-text", { "data-testid": "message-text" }, message.content);
  const meta = h("span.message-meta", {},
    message.edited_at && !deleted ? h("span.edited", { "data-testid": "edited" }, "edited") : null,
    h("time", { datetime: message.created_at, title: new Date(message.created_at).toLocaleString() }, formatTime(message.created_at)),
    mine && !deleted ? receiptIcon(receipt) : null);
  const actions = mine && !deleted
    ? h("div.message-actions", {},
      h("button.text-button", { type: "button", "data-testid": "edit-message", onclick: () => composer.edit(message) }, "Edit"),
      h("button.text-button.danger", {
        type: "button",
        "data-testid": "delete-message",
        onclick: async () => {
          if (await confirmDialog("Delete this message for everyone?", { confirm: "Delete", danger: true })) {
            deleteMessage(message);
          }
        },
      }, "Delete"))
    : null;
  return h(
    `li.message.${mine ? "mine" : "theirs"}${grouped ? ".grouped" : ""}`,
    { "data-testid": "message", dataset: { id: message.id, clientId: message.client_id ?? "", status: mine ? receipt : "received" } },
    h("div.bubble", {}, text, meta),
    actions,
  );
}

function pendingBubble(peerId, pending, grouped) {
  const failed = pending.status === "failed";
  return h(
    `li.message.mine.pending${grouped ? ".grouped" : ""}${failed ? ".failed" : ""}`,
    { "data-testid": "message", dataset: { clientId: pending.client_id, status: pending.status } },
    h("div.bubble", {},
      h("p.message-text", { "data-testid": "message-text" }, pending.content),
      h("span.message-meta", {}, h("time", {}, formatTime(pending.created_at)), receiptIcon(pending.status))),
    failed
      ? h("div.send-failed", { role: "alert" },
        h("span", {}, pending.error ?? "Not sent."),
        h("button.text-button", { type: "button", "data-testid": "retry-message", onclick: () => retryMessage(peerId, pending.client_id) }, "Retry"),
        h("button.text-button", { type: "button", onclick: () => discardMessage(peerId, pending.client_id) }, "Discard"))
      : null,
  );
}

function createComposer(peerId, { onSend, lastOwnMessage }) {
  let editing = null;
  const input = h("textarea.composer-input", {
    rows: 1,
    placeholder: "Message",
    "aria-label": "Message",
    "data-testid": "composer",
    maxLength: MAX_CODE_POINTS * 2,
  });
  const counter = h("span.composer-counter", { "aria-live": "polite" });
  const editBanner = h("div.edit-banner", { hidden: true },
    h("span", {}, "Editing message"),
    h("button.text-button", { type: "button", onclick: () => stopEditing() }, "Cancel"));
  const send = h("button.icon-button.send", { type: "submit", "aria-label": "Send", "data-testid": "send" }, icon("send"));
  const form = h("form.composer", { onsubmit: submit }, editBanner, h("div.composer-row", {}, input, counter, send));

  function grow() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
    const length = [...input.value].length;
    counter.textContent = length > MAX_CODE_POINTS - 200 ? String(MAX_CODE_POINTS - length) : "";
    counter.classList.toggle("over", length > MAX_CODE_POINTS);
  }

  function submit(event) {
    event.preventDefault();
    const content = input.value;
    if (!content.trim() || [...content].length > MAX_CODE_POINTS) return;
    if (editing) {
      if (content !== editing.content) editMessage(editing, content);
      stopEditing();
    } else {
      sendMessage(peerId, content);
      onSend();
    }
    input.value = "";
    grow();
    input.focus();
  }

  function edit(message) {
    editing = message;
    editBanner.hidden = false;
    input.value = message.content;
    grow();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function stopEditing() {
    editing = null;
    editBanner.hidden = true;
    input.value = "";
    grow();
    input.focus();
  }

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape" && editing) {
      stopEditing();
    } else if (event.key === "ArrowUp" && !input.value) {
      const last = lastOwnMessage();
      if (last) {
        event.preventDefault();
        edit(last);
      }
    }
  });
  input.addEventListener("input", () => {
    grow();
    if (input.value.trim() && !editing) typing(peerId);
  });

  return {
    form,
    edit,
    focus: () => input.focus(),
    setEnabled(enabled) {
      input.disabled = !enabled;
      send.disabled = !enabled;
      form.hidden = !enabled;
    },
  };
}
