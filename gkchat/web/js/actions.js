// What the user can do, and what the server tells us: each action talks to the API or the
// socket and records the outcome in the store. Views call these; they never fetch themselves.

import { api, ApiError } from "./api.js";
import { debounce, toast } from "./dom.js";
import { Realtime } from "./realtime.js";
import {
  addHistory, changed, chatOf, conversationOf, movePeerPositions, peerOf, rememberUser,
  forgetPresence, resetState, setConversations, setFriendsData, setNotifications, setPresence, setStatus,
  setTyping, state, upsertMessage, upsertNotification,
} from "./store.js";

const ACK_WITHIN_MS = 10_000;
const TYPING_EVERY_MS = 2_000;

let realtime = null;
let onSignedOut = () => {};
const lastTypingSent = new Map(); // peer id -> time
const readSent = new Map(); // peer id -> seq
const deliveredSent = new Map(); // peer id -> seq
const ackTimers = new Map(); // client id -> timer

/** Start a signed-in session: the socket first, then the snapshots (which are at least as new
 * as the socket's starting point, so replayed events are merely repeats). */
export async function startSession(me, { signedOut }) {
  state.me = me;
  rememberUser(me);
  onSignedOut = signedOut;
  realtime = new Realtime({
    onFrame: handleFrame,
    onStatus: setStatus,
    onReady: connected,
    onSignedOut: () => endSession(),
  });
  realtime.start();
  await Promise.all([refreshConversations(), refreshFriends(), refreshNotifications()]);
}

let firstReady = true;

function connected() {
  if (!firstReady) {
    // Anything that changed while we were away has been replayed on the socket; refresh the
    // counters that are cheaper to re-read than to re-derive.
    refreshNotifications();
  }
  firstReady = false;
  flushOutbox();
}

export async function endSession({ callServer = false } = {}) {
  if (callServer) await api.logout().catch(() => {});
  realtime?.stop();
  realtime = null;
  firstReady = true;
  [lastTypingSent, readSent, deliveredSent].forEach((map) => map.clear());
  ackTimers.forEach((timer) => clearTimeout(timer));
  ackTimers.clear();
  resetState();
  onSignedOut();
}

// Server frames

function handleFrame(frame) {
  const data = frame.data ?? {};
  switch (frame.type) {
    case "message.created":
    case "message.updated":
    case "message.deleted":
      messageArrived(data.message, frame.type);
      break;
    case "message.ack":
      clearTimeout(ackTimers.get(data.client_id));
      ackTimers.delete(data.client_id);
      upsertMessage(data.message);
      break;
    case "receipt.read":
      movePeerPositions(data.peer_id, { read: seqOf(data) });
      break;
    case "receipt.delivered":
      movePeerPositions(data.peer_id, { delivered: seqOf(data) });
      break;
    case "conversation.read":
      conversationRead(data);
      break;
    case "typing":
      setTyping(data.user_id, true);
      break;
    case "presence":
      setPresence(data.user_id, { online: data.online, last_seen: data.last_seen });
      break;
    case "notification.created":
    case "notification.updated":
      upsertNotification(data.notification);
      refreshNotificationsSoon();
      break;
    case "notification.read":
      refreshNotificationsSoon();
      break;
    case "friend_request.created":
      if (data.request.to_user.id === state.me.id) {
        toast(`${data.request.from_user.username} wants to be your friend`);
      }
      refreshFriendsSoon();
      break;
    case "friend_request.accepted":
      rememberUser(data.friendship.user);
      refreshFriendsSoon();
      break;
    case "friend.removed":
    case "user.blocked":
      forgetPresence(data.user_id);
      refreshFriendsSoon();
      break;
    case "friend_request.declined":
    case "friend_request.cancelled":
    case "user.unblocked":
      refreshFriendsSoon();
      break;
    case "error":
      sendFailed(data);
      break;
    default:
      break; // newer servers may send more; ignoring the unknown keeps old tabs working
  }
}

function seqOf(data) {
  if (typeof data.seq === "number") return data.seq;
  const message = chatOf(data.peer_id).messages.get(data.up_to);
  return message ? message.seq : 0;
}

function messageArrived(message, type) {
  const peerId = peerOf(message);
  if (!state.users.has(peerId)) fetchUser(peerId);
  const unreadBefore = conversationOf(peerId).unread_count;
  const fresh = upsertMessage(message);
  // The peer deleted a message this side may not have read: the server knows the count.
  if (type === "message.deleted" && message.sender_id === peerId && unreadBefore > 0) {
    refreshConversationsSoon();
  }
  if (type === "message.created" && message.sender_id === peerId) {
    setTyping(peerId, false);
    if (fresh) acknowledgeDelivery(peerId, message.seq, message.id);
    if (state.activePeer === peerId) markReadSoon(peerId);
  }
}

function conversationRead({ peer_id: peerId, seq }) {
  const conversation = conversationOf(peerId);
  if (conversation.last_message && seq >= conversation.last_message.seq) {
    conversation.unread_count = 0;
    changed("conversations");
  } else {
    refreshConversationsSoon();
  }
}

function sendFailed(data) {
  if (!data.client_id) {
    toast(data.message, { kind: "error" });
    return;
  }
  for (const [peerId, chat] of state.chats) {
    const pending = chat.pending.get(data.client_id);
    if (!pending) continue;
    clearTimeout(ackTimers.get(data.client_id));
    pending.status = "failed";
    pending.error = data.message;
    changed(`chat:${peerId}`, "conversations");
  }
}

async function fetchUser(userId) {
  try {
    rememberUser(await api.user(userId));
    const conversation = state.conversations.get(userId);
    if (conversation) conversation.peer = state.users.get(userId);
    changed("conversations", `chat:${userId}`);
  } catch {
    // The conversation shows a placeholder name until the next refresh.
  }
}

// Sending

/** Queue a message; it shows at once as "sending" and is retried until acknowledged. */
export function sendMessage(peerId, content) {
  const pending = {
    client_id: crypto.randomUUID(),
    recipient_id: peerId,
    content,
    created_at: new Date().toISOString(),
    status: "sending",
    error: null,
  };
  chatOf(peerId).pending.set(pending.client_id, pending);
  lastTypingSent.delete(peerId);
  changed(`chat:${peerId}`, "conversations");
  transmit(pending);
}

/** Send a failed message again, with the same client_id: the server never stores it twice. */
export function retryMessage(peerId, clientId) {
  const pending = chatOf(peerId).pending.get(clientId);
  if (!pending) return;
  pending.status = "sending";
  pending.error = null;
  changed(`chat:${peerId}`);
  transmit(pending);
}

export function discardMessage(peerId, clientId) {
  chatOf(peerId).pending.delete(clientId);
  changed(`chat:${peerId}`, "conversations");
}

function transmit(pending) {
  const frame = {
    recipient_id: pending.recipient_id,
    content: pending.content,
    client_id: pending.client_id,
  };
  if (!realtime?.send("message.send", frame)) return; // sent when the socket is back
  clearTimeout(ackTimers.get(pending.client_id));
  ackTimers.set(
    pending.client_id,
    setTimeout(() => {
      ackTimers.delete(pending.client_id);
      if (pending.status !== "sending") return;
      pending.status = "failed";
      pending.error = "Not sent: no answer from the server.";
      changed(`chat:${pending.recipient_id}`);
    }, ACK_WITHIN_MS),
  );
}

function flushOutbox() {
  for (const chat of state.chats.values()) {
    for (const pending of chat.pending.values()) {
      if (pending.status === "sending") transmit(pending);
    }
  }
}

export async function editMessage(message, content) {
  try {
    upsertMessage((await api.editMessage(message.id, content)).message);
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
}

export async function deleteMessage(message) {
  try {
    await api.deleteMessage(message.id);
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
}

export function typing(peerId) {
  const now = Date.now();
  if (now - (lastTypingSent.get(peerId) ?? 0) < TYPING_EVERY_MS) return;
  if (!state.friends.has(peerId)) return;
  lastTypingSent.set(peerId, now);
  realtime?.send("typing", { recipient_id: peerId });
}

// Conversations and history

export async function refreshConversations() {
  try {
    const { conversations } = await api.conversations();
    setConversations(conversations);
    // What arrived while this device was away has now reached it.
    for (const { peer, last_message: last, unread_count: unread } of conversations) {
      if (unread > 0 && last?.sender_id === peer.id) acknowledgeDelivery(peer.id, last.seq, last.id);
    }
  } catch (error) {
    reportUnlessSignedOut(error);
  }
}
const refreshConversationsSoon = debounce(refreshConversations, 300);

/** Open a chat: load its latest page once, then mark what is shown as read. */
export async function openChat(peerId) {
  state.activePeer = peerId;
  conversationOf(peerId);
  if (!state.users.has(peerId)) fetchUser(peerId);
  changed("conversations", "active", `chat:${peerId}`);
  const chat = chatOf(peerId);
  if (!chat.loaded && !chat.loading) {
    chat.loading = true;
    try {
      addHistory(peerId, await api.history(peerId));
    } catch (error) {
      reportUnlessSignedOut(error);
      return;
    } finally {
      chat.loading = false;
    }
  }
  const newest = newestFromPeer(peerId);
  if (newest) acknowledgeDelivery(peerId, newest.seq, newest.id);
  markReadSoon(peerId);
}

export function closeChat() {
  state.activePeer = null;
  changed("active", "conversations");
}

export async function loadOlder(peerId) {
  const chat = chatOf(peerId);
  if (!chat.loaded || !chat.nextBefore || chat.loadingOlder) return false;
  chat.loadingOlder = true;
  try {
    addHistory(peerId, await api.history(peerId, chat.nextBefore));
    return true;
  } catch (error) {
    reportUnlessSignedOut(error);
    return false;
  } finally {
    chat.loadingOlder = false;
  }
}

function newestFromPeer(peerId) {
  let newest = null;
  for (const message of chatOf(peerId).messages.values()) {
    if (message.sender_id === peerId && (!newest || message.seq > newest.seq)) newest = message;
  }
  return newest;
}

const readTimers = new Map();

/** Mark the open chat read while the page is visible (shortly, so bursts make one call). */
export function markReadSoon(peerId) {
  clearTimeout(readTimers.get(peerId));
  readTimers.set(peerId, setTimeout(() => markRead(peerId), 150));
}

async function markRead(peerId) {
  if (state.activePeer !== peerId || document.visibilityState !== "visible") return;
  const newest = newestFromPeer(peerId);
  if (!newest || (readSent.get(peerId) ?? 0) >= newest.seq) return;
  readSent.set(peerId, newest.seq);
  const conversation = conversationOf(peerId);
  conversation.unread_count = 0;
  changed("conversations");
  try {
    await api.markRead(peerId, newest.id);
  } catch (error) {
    readSent.delete(peerId);
    reportUnlessSignedOut(error);
  }
}

document.addEventListener("visibilitychange", () => {
  if (state.activePeer && document.visibilityState === "visible") markReadSoon(state.activePeer);
});

const deliveryTimers = new Map();

/** Tell the sender this device has their messages (once per burst). */
function acknowledgeDelivery(peerId, seq, messageId) {
  if ((deliveredSent.get(peerId) ?? 0) >= seq) return;
  deliveredSent.set(peerId, seq);
  clearTimeout(deliveryTimers.get(peerId));
  deliveryTimers.set(
    peerId,
    setTimeout(() => api.markDelivered(peerId, messageId).catch(() => deliveredSent.delete(peerId)), 200),
  );
}

// Friends

export async function refreshFriends() {
  try {
    const [friends, incoming, outgoing, blocked] = await Promise.all([
      api.friends(),
      api.friendRequests("incoming"),
      api.friendRequests("outgoing"),
      api.blocks(),
    ]);
    setFriendsData({
      friends: friends.friends,
      incoming: incoming.requests,
      outgoing: outgoing.requests,
      blocked: blocked.users,
    });
  } catch (error) {
    reportUnlessSignedOut(error);
  }
}
const refreshFriendsSoon = debounce(refreshFriends, 200);

/** Run a friends action, say what went wrong if it did, and refresh the lists. */
export async function friendAction(call, done) {
  try {
    await call();
    if (done) toast(done);
  } catch (error) {
    toast(error.message, { kind: "error" });
  }
  await refreshFriends();
}

// Notifications

export async function refreshNotifications() {
  try {
    setNotifications(await api.notifications());
  } catch (error) {
    reportUnlessSignedOut(error);
  }
}
const refreshNotificationsSoon = debounce(refreshNotifications, 250);

export async function readNotification(notification) {
  if (notification.read_at) return;
  notification.read_at = new Date().toISOString();
  state.notifications.unread = Math.max(0, state.notifications.unread - 1);
  changed("notifications");
  await api.readNotification(notification.id).catch(reportUnlessSignedOut);
  refreshNotificationsSoon();
}

export async function readAllNotifications() {
  for (const notification of state.notifications.items.values()) {
    notification.read_at ??= new Date().toISOString();
  }
  state.notifications.unread = 0;
  changed("notifications");
  await api.readAllNotifications().catch(reportUnlessSignedOut);
}

function reportUnlessSignedOut(error) {
  if (error instanceof ApiError && error.status === 401) return;
  toast(error.message ?? String(error), { kind: "error" });
}
