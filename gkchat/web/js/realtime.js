// The WebSocket: one per tab, signed in by the session cookie. It reconnects by itself with
// exponential backoff and resumes after the last event it saw (`?since=<cursor>`), so the
// server replays whatever happened while it was away, in order and exactly once.

const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
export const CLOSE_SIGNED_OUT = 4401;

export class Realtime {
  /**
   * onFrame(frame): every frame from the server, in order.
   * onStatus(status): "connecting" | "online" | "offline".
   * onReady(): after each (re)connection, once the server has said `ready`.
   * onSignedOut(): the server closed the socket because the session is dead.
   */
  constructor({ onFrame, onStatus, onReady, onSignedOut }) {
    Object.assign(this, { onFrame, onStatus, onReady, onSignedOut });
    this.socket = null;
    this.cursor = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.status = "offline";
    this.wentOffline = () => this.socket?.close(4000, "browser offline");
    this.cameOnline = () => this.reconnectNow();
    this.becameVisible = () => {
      if (document.visibilityState === "visible" && this.status === "offline") this.reconnectNow();
    };
  }

  start() {
    this.stopped = false;
    window.addEventListener("offline", this.wentOffline);
    window.addEventListener("online", this.cameOnline);
    document.addEventListener("visibilitychange", this.becameVisible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("offline", this.wentOffline);
    window.removeEventListener("online", this.cameOnline);
    document.removeEventListener("visibilitychange", this.becameVisible);
    clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    this.socket?.close(1000, "signed out");
    this.socket = null;
  }

  /** Send a frame; false when the socket is not open (the caller keeps it for later). */
  send(type, data) {
    if (this.status !== "online") return false;
    this.socket.send(JSON.stringify(data === undefined ? { type } : { type, data }));
    return true;
  }

  reconnectNow() {
    if (this.stopped || this.status !== "offline") return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const since = this.cursor === null ? "" : `?since=${encodeURIComponent(this.cursor)}`;
    this.setStatus("connecting");
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws${since}`);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(socket, message);
    socket.onclose = (event) => this.closed(socket, event);
  }

  receive(socket, message) {
    if (socket !== this.socket) return;
    this.notePong();
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    if (frame.type === "ready") {
      this.cursor = frame.data.cursor;
      this.attempt = 0;
      this.setStatus("online");
      this.startHeartbeat();
      this.onReady();
      return;
    }
    if (frame.type === "pong") return;
    if (frame.cursor !== undefined) this.cursor = frame.cursor;
    this.onFrame(frame);
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.stopHeartbeat();
    this.setStatus("offline");
    if (event.code === CLOSE_SIGNED_OUT) {
      this.stopped = true;
      this.onSignedOut();
      return;
    }
    if (this.stopped) return;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = setTimeout(() => {
      if (navigator.onLine === false) return; // the "online" event will bring us back
      this.connect();
    }, delay);
  }

  /** A connection can die silently (a laptop lid, a NAT): ping, and give up without a pong. */
  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      if (this.status !== "online") return;
      this.socket.send('{"type":"ping"}');
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.socket?.close(4000, "no pong"), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  notePong() {
    clearTimeout(this.pongTimer);
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.onStatus(status);
  }
}
