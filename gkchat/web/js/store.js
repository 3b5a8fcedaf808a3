// What the client knows, and the one place where it changes. Views read the state and
// subscribe to topics; every change goes through a function here that names its topics.
//
// Applying a server event twice changes nothing: messages are kept by id, positions only move
// forward, and counters move only for messages newer than the conversation's last one. That
// is what makes reconnecting and replaying safe.

export const state = {
  me: null,
  status: "connecting",
  users: new Map(), // id -> public user
  friends: new Map(), // user id -> {user, since}
  incoming: new Map(), // request id -> request
  outgoing: new Map(), // request id -> request
  blocked: new Map(), // user id -> user
  friendsLoaded: false,
  conversations: new Map(), // peer id -> conversation
  chats: new Map(), // peer id -> chat (see chatOf)
  presence: new Map(), // user id -> {online, last_seen}
  typing: new Map(), // user id -> timer
  notifications: { items: new Map(), unread: 0, nextBefore: null, loaded: false },
  activePeer: null,
};

const listeners = new Map(); // topic -> Set(fn)
const dirty = new Set();
let scheduled = false;

/** Call fn after any change to one of the topics, at most once per animation frame. */
export function subscribe(topics, fn) {
  for (const topic of topics) {
    if (!listeners.has(topic)) listeners.set(topic, new Set());
    listeners.get(topic).add(fn);
  }
  return () => topics.forEach((topic) => listeners.get(topic)?.delete(fn));
}

export function changed(...topics) {
  topics.forEach((topic) => dirty.add(topic));
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    const calls = new Set();
    for (const topic of dirty) listeners.get(topic)?.forEach((fn) => calls.add(fn));
    dirty.clear();
    calls.forEach((fn) => fn());
  });
}

export function resetState() {
  state.me = null;
  state.friendsLoaded = false;
  for (const key of ["users", "friends", "incoming", "outgoing", "blocked", "conversations", "chats", "presence"]) {
    state[key].clear();
  }
  state.typing.forEach((timer) => clearTimeout(timer));
  state.typing.clear();
  state.notifications = { items: new Map(), unread: 0, nextBefore: null, loaded: false };
  state.activePeer = null;
}

export const peerOf = (message) =>
  message.sender_id === state.me.id ? message.recipient_id : message.sender_id;

export function rememberUser(user) {
  if (user?.id) state.users.set(user.id, user);
  return user;
}

/** A conversation's messages as far as loaded: by id, plus the sends still in flight. */
export function chatOf(peerId) {
  let chat = state.chats.get(peerId);
  if (!chat) {
    chat = {
      messages: new Map(), // id -> message
      pending: new Map(), // client_id -> {client_id, content, created_at, status, error}
      nextBefore: null,
      loaded: false,
      loading: false,
      loadingOlder: false,
    };
    state.chats.set(peerId, chat);
  }
  return chat;
}

/** The conversation with a peer, created empty when there is none yet. */
export function conversationOf(peerId) {
  let conversation = state.conversations.get(peerId);
  if (!conversation) {
    conversation = {
      peer: state.users.get(peerId) ?? { id: peerId, username: "…" },
      last_message: null,
      unread_count: 0,
      muted: false,
      peer_delivered_seq: 0,
      peer_read_seq: 0,
    };
    state.conversations.set(peerId, conversation);
  }
  return conversation;
}

export function setConversations(list) {
  for (const conversation of list) {
    rememberUser(conversation.peer);
    const known = state.conversations.get(conversation.peer.id);
    // A live event may have brought something newer than this snapshot: keep the newer.
    if (known?.last_message && conversation.last_message &&
        known.last_message.seq > conversation.last_message.seq) continue;
    state.conversations.set(conversation.peer.id, { ...conversation });
  }
  changed("conversations");
}

/** Conversations with activity, newest first. */
export function sortedConversations() {
  return [...state.conversations.values()]
    .filter((c) => c.last_message || state.chats.get(c.peer.id)?.pending.size)
    .sort((a, b) => activityOf(b).localeCompare(activityOf(a)));
}

function activityOf(conversation) {
  return conversation.last_message?.created_at ?? "";
}

/** Put a message (new, edited or deleted) where it belongs; true if it is new to us. */
export function upsertMessage(message) {
  const peerId = peerOf(message);
  const chat = chatOf(peerId);
  const isNew = !chat.messages.has(message.id);
  // A chat not opened yet keeps nothing (its history loads when opened); one that is loading
  // keeps what arrives meanwhile, which the history page may not have.
  if (chat.loaded || chat.loading || !isNew) chat.messages.set(message.id, message);
  if (message.sender_id === state.me.id && message.client_id) chat.pending.delete(message.client_id);

  const conversation = conversationOf(peerId);
  const last = conversation.last_message;
  if (!last || message.seq > last.seq) {
    const seenNow = state.activePeer === peerId && document.visibilityState === "visible";
    if (message.sender_id === peerId && !message.deleted_at && !seenNow) conversation.unread_count += 1;
    conversation.last_message = message;
  } else if (last.id === message.id) {
    conversation.last_message = message;
  }
  changed("conversations", `chat:${peerId}`);
  return isNew;
}

/** The chat's messages in order, oldest first, then the sends still in flight. */
export function orderedMessages(peerId) {
  const chat = chatOf(peerId);
  const stored = [...chat.messages.values()].sort((a, b) => a.seq - b.seq);
  return { stored, pending: [...chat.pending.values()] };
}

export function addHistory(peerId, page) {
  const chat = chatOf(peerId);
  for (const message of page.messages) chat.messages.set(message.id, message);
  chat.nextBefore = page.next_before;
  chat.loaded = true;
  changed(`chat:${peerId}`);
}

export function movePeerPositions(peerId, { delivered, read }) {
  const conversation = conversationOf(peerId);
  if (read) conversation.peer_read_seq = Math.max(conversation.peer_read_seq, read);
  const received = Math.max(delivered ?? 0, read ?? 0);
  conversation.peer_delivered_seq = Math.max(conversation.peer_delivered_seq, received);
  changed("conversations", `chat:${peerId}`);
}

export function setPresence(userId, presence) {
  state.presence.set(userId, presence);
  changed("presence");
}

/** No longer friends: their presence is not ours to show. */
export function forgetPresence(userId) {
  state.presence.delete(userId);
  setTyping(userId, false);
}

export const isOnline = (userId) => Boolean(state.presence.get(userId)?.online);

const TYPING_SHOWN_MS = 4000;

export function setTyping(userId, typing) {
  clearTimeout(state.typing.get(userId));
  if (typing) {
    state.typing.set(userId, setTimeout(() => setTyping(userId, false), TYPING_SHOWN_MS));
  } else {
    state.typing.delete(userId);
  }
  changed("typing");
}

export function setStatus(status) {
  state.status = status;
  changed("status");
}

export function setNotifications(page) {
  const n = state.notifications;
  n.items = new Map(page.notifications.map((item) => [item.id, item]));
  n.unread = page.unread_count;
  n.nextBefore = page.next_before;
  n.loaded = true;
  changed("notifications");
}

export function upsertNotification(notification) {
  state.notifications.items.set(notification.id, notification);
  changed("notifications");
}

export function setFriendsData({ friends, incoming, outgoing, blocked }) {
  if (friends) {
    state.friends = new Map(friends.map((f) => [f.user.id, f]));
    friends.forEach((f) => rememberUser(f.user));
  }
  if (incoming) state.incoming = new Map(incoming.map((r) => [r.id, r]));
  if (outgoing) state.outgoing = new Map(outgoing.map((r) => [r.id, r]));
  if (blocked) state.blocked = new Map(blocked.map((u) => [u.id, u]));
  state.friendsLoaded = true;
  changed("friends");
}

/** How one of my messages stands: "sent", "delivered" or "read". */
export function receiptOf(message) {
  const conversation = state.conversations.get(peerOf(message));
  if (!conversation) return "sent";
  if (conversation.peer_read_seq >= message.seq) return "read";
  if (conversation.peer_delivered_seq >= message.seq) return "delivered";
  return "sent";
}
