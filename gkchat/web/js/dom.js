// Building DOM nodes. Text from users only ever goes in as text nodes (never as HTML), so
// nothing another person types can run in this page.

/**
 * h("button.primary", {onclick, type: "submit", dataset: {id}}, "Send", child, ...)
 * Children may be strings (added as text), nodes, arrays of those, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "class") el.className = [el.className, value].filter(Boolean).join(" ");
    else if (key === "text") el.textContent = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  send: "M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z",
  bell: "M12 22a2.5 2.5 0 0 0 2.5-2.5h-5A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.8V3.5a1.5 1.5 0 0 0-3 0v.7A7 7 0 0 0 5 11v5l-2 2v1h18v-1z",
  chats: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z",
  people: "M16 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zm-8 0a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zm0 2c-2.7 0-8 1.3-8 4v3h16v-3c0-2.7-5.3-4-8-4zm8 0c-.3 0-.7 0-1.1.1A4.7 4.7 0 0 1 17 17v3h7v-3c0-2.7-5.3-4-8-4z",
  gear: "M19.4 13a7.8 7.8 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7.6 7.6 0 0 0-1.7-1L15 3.2h-4l-.4 2.7a7.6 7.6 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.8 7.8 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1a7.6 7.6 0 0 0 1.7 1l.4 2.7h4l.4-2.7a7.6 7.6 0 0 0 1.7-1l2.5 1 2-3.5zM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z",
  back: "M15.5 4.5 8 12l7.5 7.5 1.4-1.4L10.8 12l6.1-6.1z",
  more: "M12 8a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 6a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 6a2 2 0 1 0 0-4 2 2 0 0 0 0 4z",
  check: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z",
  checks: "M1.4 13.4 6.8 19 8.2 17.6 2.8 12zM17.7 5.6l-1.4-1.4-8.3 8.3 1.4 1.4zM22.6 5.6 12 16.2 7.8 12l-1.4 1.4L12 19l12-12z",
  clock: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.2.8-1.3-4.5-2.7z",
  alert: "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-2h2zm0-4h-2V7h2z",
  close: "M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z",
  search: "M15.5 14h-.8l-.3-.3A6.5 6.5 0 1 0 14 15.5l.3.3v.8l5 5 1.5-1.5zm-6 0a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9z",
};

/** An inline SVG icon from the set above; decorative unless given a label. */
export function icon(name, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/** A round avatar with the user's initials, its colour derived from the username. */
export function avatar(user, { presence } = {}) {
  const name = user?.username ?? "?";
  let hash = 0;
  for (const ch of name.toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  const el = h("span.avatar", { "aria-hidden": "true" }, initials(name));
  el.style.setProperty("--hue", String(hash % 360));
  if (presence !== undefined) {
    const dot = h("span.presence-dot", { dataset: { presenceOf: user.id } });
    showPresence(dot, presence);
    el.append(dot);
  }
  return el;
}

function showPresence(dot, online) {
  dot.classList.toggle("online", online);
  dot.dataset.presence = online ? "online" : "offline";
}

/** Update every presence dot under ``root`` in place (nothing is rebuilt, focus stays). */
export function refreshPresenceDots(root, isOnline) {
  for (const dot of root.querySelectorAll("[data-presence-of]")) {
    showPresence(dot, isOnline(dot.dataset.presenceOf));
  }
}

function initials(name) {
  const parts = name.split(/[._]+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : name.slice(0, 2);
  return [...letters].slice(0, 2).join("").toUpperCase();
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
const shortDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short" });

export const formatTime = (iso) => timeFormat.format(new Date(iso));

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

const DAY = 86_400_000;

/** "Today", "Yesterday", "Monday 3 November", or a full date for older days. */
export function formatDay(iso) {
  const date = new Date(iso);
  const days = Math.round((startOfDay(new Date()) - startOfDay(date)) / DAY);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days < 7) return dayFormat.format(date);
  return dateFormat.format(date);
}

export const dayKey = (iso) => startOfDay(new Date(iso));

/** A compact time for lists: 14:05 today, "Mon" this week, "3 Nov" before. */
export function formatWhen(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const days = Math.round((startOfDay(new Date()) - startOfDay(date)) / DAY);
  if (days === 0) return timeFormat.format(date);
  if (days < 7) return weekday.format(date);
  return shortDay.format(date);
}

/** "just now", "5 min ago", "2 h ago", or a date. */
export function formatAgo(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `on ${dateFormat.format(new Date(iso))}`;
}

/** Show a short message at the bottom of the screen for a few seconds. */
export function toast(text, { kind = "info" } = {}) {
  const box = document.getElementById("toasts");
  const el = h(`div.toast.toast-${kind}`, {}, text);
  box.append(el);
  setTimeout(() => el.remove(), 4000);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/**
 * Keep ``container``'s children equal to ``items``, one element per key, reusing the element
 * of a key whose ``version`` has not changed. Unchanged elements stay in the document, so focus,
 * hover and selection survive updates; only what changed is rebuilt or moved.
 */
export function keyedList(container, items, { key, version, build }) {
  const cache = (container.keyedCache ??= new Map());
  const wanted = items.map((item) => {
    const k = key(item);
    const v = version(item);
    const known = cache.get(k);
    if (known && known.version === v) return known.el;
    const el = build(item);
    if (known?.el.contains(document.activeElement)) queueMicrotask(() => focusSame(known.el, el));
    cache.set(k, { el, version: v });
    return el;
  });
  const keep = new Set(items.map(key));
  for (const k of [...cache.keys()]) if (!keep.has(k)) cache.delete(k);
  reconcile(container, wanted);
}

/** Put ``wanted`` into ``list`` in order, moving only what is out of place. */
export function reconcile(list, wanted) {
  wanted.forEach((el, index) => {
    if (list.children[index] !== el) list.insertBefore(el, list.children[index] ?? null);
  });
  while (list.children.length > wanted.length) list.lastElementChild.remove();
}

/** A rebuilt element takes over focus from the one it replaced (same data-testid inside). */
function focusSame(before, after) {
  if (document.activeElement !== document.body && document.contains(document.activeElement)) return;
  const focusable = after.matches("a, button") ? after : after.querySelector("a, button");
  focusable?.focus();
}
