// The REST API (shared/API.md), signed in with the HttpOnly session cookie. Writes echo the
// CSRF cookie in X-CSRF-Token (double submit), as the server requires for cookie sessions.

const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Called with no arguments when the server says the session is gone (401). */
let onSignedOut = () => {};
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)gkchat_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function request(method, path, { body, query, quiet401 = false } = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? {};
    if (response.status === 401 && !quiet401) onSignedOut();
    throw new ApiError(
      response.status,
      error.code ?? "http_error",
      error.message ?? `The server answered ${response.status}.`,
      response.headers.get("Retry-After"),
    );
  }
  return data;
}

const seg = encodeURIComponent;

export const api = {
  register: (username, email, password) =>
    request("POST", "/auth/register", { body: { username, email, password }, quiet401: true }),
  login: (login, password) =>
    request("POST", "/auth/login", { body: { login, password }, quiet401: true }),
  logout: () => request("POST", "/auth/logout", { quiet401: true }),
  me: () => request("GET", "/me", { quiet401: true }),

  sessions: () => request("GET", "/sessions"),
  revokeSession: (id) => request("DELETE", `/sessions/${seg(id)}`),
  revokeOtherSessions: () => request("DELETE", "/sessions"),

  searchUsers: (q) => request("GET", "/users", { query: { q } }),
  user: (id) => request("GET", `/users/${seg(id)}`),

  friends: () => request("GET", "/friends", { query: { limit: 200 } }),
  friendRequests: (direction) =>
    request("GET", "/friend-requests", { query: { direction, limit: 200 } }),
  sendFriendRequest: (userId) => request("POST", "/friend-requests", { body: { user_id: userId } }),
  acceptRequest: (id) => request("POST", `/friend-requests/${seg(id)}/accept`),
  declineRequest: (id) => request("POST", `/friend-requests/${seg(id)}/decline`),
  cancelRequest: (id) => request("DELETE", `/friend-requests/${seg(id)}`),
  unfriend: (userId) => request("DELETE", `/friends/${seg(userId)}`),
  blocks: () => request("GET", "/blocks", { query: { limit: 200 } }),
  block: (userId) => request("POST", "/blocks", { body: { user_id: userId } }),
  unblock: (userId) => request("DELETE", `/blocks/${seg(userId)}`),

  conversations: (before) =>
    request("GET", "/conversations", { query: { limit: 100, before } }),
  history: (peerId, before, limit = 50) =>
    request("GET", `/conversations/${seg(peerId)}/messages`, { query: { before, limit } }),
  sendMessage: (recipientId, content, clientId) =>
    request("POST", "/messages", {
      body: { recipient_id: recipientId, content, client_id: clientId },
    }),
  editMessage: (id, content) => request("PATCH", `/messages/${seg(id)}`, { body: { content } }),
  deleteMessage: (id) => request("DELETE", `/messages/${seg(id)}`),
  markRead: (peerId, upTo) =>
    request("POST", `/conversations/${seg(peerId)}/read`, { body: { up_to: upTo } }),
  markDelivered: (peerId, upTo) =>
    request("POST", `/conversations/${seg(peerId)}/delivered`, { body: { up_to: upTo } }),
  sync: (since) => request("GET", "/sync", { query: { since } }),

  notifications: (before) => request("GET", "/notifications", { query: { before, limit: 50 } }),
  readNotification: (id) => request("POST", `/notifications/${seg(id)}/read`),
  readAllNotifications: () => request("POST", "/notifications/read-all"),
};
