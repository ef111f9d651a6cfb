// Shared by the Monitor and the interviewee's Help tab: a WebSocket that
// reconnects by itself, and a chat log that keeps messages sorted by seq,
// exactly once, with "sending…" entries until the server acknowledges them.

/** ws:// or wss:// URL of `path` under the site's url root. */
export function socketUrl(path) {
  const root = document.body.dataset.urlRoot || "/";
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${root}${path}`;
}

/** Page-relative URL of `path` under the url root. */
export function pageUrl(path) {
  return (document.body.dataset.urlRoot || "/") + path;
}

// Backoff: quick first retry (a reload or a blip), doubling up to a ceiling
// that still feels live; jitter keeps many pages from reconnecting in step.
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10000;

export class LiveSocket {
  /**
   * @param {string} path  socket path under the url root
   * @param {{onOpen: function, onMessage: function, onDown?: function, notice?: HTMLElement}} handlers
   */
  constructor(path, handlers) {
    this.path = path;
    this.handlers = handlers;
    this.retryMs = FIRST_RETRY_MS;
    this.ws = null;
    this.closedForGood = false;
    this.timer = null;
    window.addEventListener("online", () => this.retryNow());
  }

  connect() {
    clearTimeout(this.timer);
    const ws = new WebSocket(socketUrl(this.path));
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.retryMs = FIRST_RETRY_MS;
      this.showNotice(false);
      this.handlers.onOpen();
    });
    ws.addEventListener("message", (event) => {
      let decoded;
      try {
        decoded = JSON.parse(event.data);
      } catch {
        return;
      }
      // The server sends several messages queued in one turn as one JSON array.
      for (const message of Array.isArray(decoded) ? decoded : [decoded]) {
        if (message && typeof message.type === "string") this.handlers.onMessage(message);
      }
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.handlers.onDown) this.handlers.onDown(event);
      if (this.closedForGood) return;
      this.showNotice(true);
      const delay = this.retryMs * (0.75 + Math.random() * 0.5);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  retryNow() {
    if (!this.ws && !this.closedForGood) {
      this.retryMs = FIRST_RETRY_MS;
      this.connect();
    }
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  /** Send one JSON frame; false when the socket is down (the caller keeps it for later). */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  showNotice(down) {
    const notice = this.handlers.notice;
    if (notice) notice.hidden = !down;
  }
}

let clientCounter = 0;
let clientPrefix = null;

/** Use `prefix` for client ids from now on (a page that must recognise its own messages). */
export function setClientIdPrefix(prefix) {
  clientPrefix = prefix;
}

export function clientIdPrefix() {
  if (!clientPrefix) clientPrefix = `c-${Math.random().toString(36).slice(2, 10)}`;
  return clientPrefix;
}

/** A client message id unique for this sender: prefix + time + counter. */
export function newClientId() {
  clientCounter += 1;
  return `${clientIdPrefix()}-${Date.now().toString(36)}-${clientCounter}`;
}

/** Messages of one conversation: stored ones by seq, plus unacknowledged ones. */
export class ChatLog {
  constructor(conversation) {
    this.conversation = conversation;
    this.bySeq = new Map();
    this.pending = new Map(); // client_id -> {client_id, text, name, time, acked, failed}
    this.listeners = new Set();
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed() {
    for (const listener of this.listeners) listener(this);
  }

  /** Add a stored message; returns false when it was already there. */
  add(message) {
    if (typeof message.seq !== "number" || this.bySeq.has(message.seq)) return false;
    this.bySeq.set(message.seq, message);
    if (message.client_id) this.pending.delete(message.client_id);
    this.changed();
    return true;
  }

  /** Highest seq up to which every message is here (what `hello` asks after). */
  contiguous() {
    let seq = 0;
    while (this.bySeq.has(seq + 1)) seq += 1;
    return seq;
  }

  get size() {
    return this.bySeq.size + this.pending.size;
  }

  addPending(clientId, text, name) {
    this.pending.set(clientId, { client_id: clientId, text, name, time: new Date().toISOString(),
      acked: false, failed: null });
    this.changed();
  }

  ack(clientId, seq) {
    const item = this.pending.get(clientId);
    if (!item) return;
    if (this.bySeq.has(seq)) this.pending.delete(clientId);
    else item.acked = true;
    this.changed();
  }

  fail(clientId, reason) {
    const item = this.pending.get(clientId);
    if (!item) return false;
    item.failed = reason;
    this.changed();
    return true;
  }

  /** Unacknowledged, not refused messages, oldest first: resent after a reconnect. */
  unacked() {
    return [...this.pending.values()].filter((item) => !item.acked && !item.failed);
  }

  /** Stored messages in seq order, then pending ones. */
  items() {
    const stored = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    return stored.concat([...this.pending.values()].map((p) => ({ ...p, pending: true })));
  }
}

function timeText(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * Draw `log` into the list element `list`. `isMine(item)` says which side a
 * message goes; `classify(item)` may add a class. Text goes in with textContent only.
 */
/** A new element; `text` goes in as text, never as markup. */
export function make(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

export function renderChat(list, log, isMine, classify = () => "") {
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const fragment = document.createDocumentFragment();
  for (const item of log.items()) {
    const mine = item.pending || isMine(item);
    const li = make("li", `chat-message ${mine ? "mine" : "theirs"} ${classify(item)}`.trim());
    if (item.seq) li.dataset.seq = String(item.seq);
    const who = make("span", "chat-name",
      mine ? "You" : (item.name || (item.role === "operator" ? "Operator" : "User")));
    const when = make("time", "", timeText(item.time));
    when.dateTime = item.time || "";
    const meta = make("span", "chat-meta");
    meta.append(who, " ", when);
    li.append(meta, make("span", "chat-text", item.text));
    if (item.pending) {
      li.append(make("span", item.failed ? "chat-state failed" : "chat-state",
        item.failed ? `Not sent: ${item.failed}` : (item.acked ? "sent" : "sending…")));
    }
    fragment.append(li);
  }
  list.replaceChildren(fragment);
  if (nearBottom || log.pending.size) list.scrollTop = list.scrollHeight;
}

/** Calls `send(true)` at most every `everyMs` while typing and `send(false)` after a pause. */
export function typingNotifier(send, everyMs = 3000, idleMs = 4000) {
  let lastSent = 0;
  let idleTimer = null;
  return {
    input() {
      const now = Date.now();
      if (now - lastSent > everyMs) {
        lastSent = now;
        send(true);
      }
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => this.stop(), idleMs);
    },
    stop() {
      clearTimeout(idleTimer);
      if (lastSent) send(false);
      lastSent = 0;
    },
  };
}
