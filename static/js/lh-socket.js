// Shared by the Monitor and the interviewee's Help tab: a WebSocket that
// reconnects by itself and says in words why it is down, plus small DOM helpers.
// The chat log (messages by seq, resending) is in lh-chat-log.js.

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

/** A new element; `text` goes in as text, never as markup. */
export function make(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

// Backoff: quick first retry (a reload or a blip), doubling up to a ceiling
// that still feels live; jitter keeps many pages from reconnecting in step.
// A refused upgrade (HTTP 429, too many sockets) never opens, so it keeps doubling.
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10000;

// Close codes the server uses (docs/protocol.md).
export const CLOSE_RESTARTING = 1012; // graceful shutdown: come back in a moment
export const CLOSE_TOO_FAR_BEHIND = 1013; // this page read too slowly: reconnect and replay
// The account lost its right to this socket: reconnecting cannot help.
export const CLOSE_FOR_GOOD = {
  4001: { words: "You were signed out.", link: "Sign in again" },
  4003: { words: "Your operator rights were removed.", link: "Sign in with another account" },
};

const WORDS_DISCONNECTED = "Disconnected — reconnecting…";
const WORDS_RESTARTING = "The server is restarting; reconnecting…";

export class LiveSocket {
  /**
   * @param {string} path  socket path under the url root
   * @param {{onOpen: function, onMessage: function, onDown?: function,
   *          onEnded?: function({code: number, words: string}), notice?: HTMLElement,
   *          signIn?: string}} handlers
   *   `notice` is a live region (role="status") that says why the socket is down;
   *   `signIn` (a URL) is offered there when the account lost its right to the socket.
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
    this.timer = null;
    if (this.closedForGood) return;
    const ws = new WebSocket(socketUrl(this.path));
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.retryMs = FIRST_RETRY_MS;
      this.showNotice("");
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
    ws.addEventListener("close", (event) => this.closed(ws, event));
  }

  closed(ws, event) {
    if (this.ws !== ws) return;
    this.ws = null;
    const forGood = CLOSE_FOR_GOOD[event.code];
    if (forGood) {
      this.closedForGood = true;
      const words = event.reason ? sentence(event.reason) : forGood.words;
      this.showNotice(words, forGood.link);
      if (this.handlers.onDown) this.handlers.onDown(event);
      if (this.handlers.onEnded) this.handlers.onEnded({ code: event.code, words });
      return;
    }
    if (this.handlers.onDown) this.handlers.onDown(event);
    if (this.closedForGood) return;
    if (event.code === CLOSE_RESTARTING) {
      this.retryMs = FIRST_RETRY_MS; // it will be back soon; do not wait long for it
      this.showNotice(WORDS_RESTARTING);
    } else {
      this.showNotice(WORDS_DISCONNECTED);
    }
    const delay = this.retryMs * (0.75 + Math.random() * 0.5);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.timer = setTimeout(() => this.connect(), delay);
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

  /** Say why the socket is down ("" when it is up); `signInWords`, when the socket is
   * down for good, label a link to sign in. The notice is a live region that stays in
   * the page (empty when all is well), so screen readers announce each change. */
  showNotice(words, signInWords = "") {
    const notice = this.handlers.notice;
    if (!notice) return;
    const final = Boolean(signInWords);
    notice.hidden = false;
    notice.classList.toggle("bad", final);
    notice.classList.toggle("warn", !final);
    if (!words) {
      notice.replaceChildren();
      return;
    }
    const parts = [make("strong", "", words)];
    if (final && this.handlers.signIn) {
      const link = make("a", "", signInWords);
      link.href = this.handlers.signIn;
      parts.push(" ", link);
    }
    notice.replaceChildren(...parts);
  }
}

/** "You were signed out" → "You were signed out." */
function sentence(text) {
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}

// A fresh random prefix per page load keeps this page's client ids apart from
// those of the sender's other tabs. It says nothing about who the sender is:
// the server tells every page whose message is whose (`sender`).
const CLIENT_PREFIX = `c-${Math.random().toString(36).slice(2, 10)}`;
let clientCounter = 0;

/** A client message id unique for this sender: page prefix + time + counter. */
export function newClientId() {
  clientCounter += 1;
  return `${CLIENT_PREFIX}-${Date.now().toString(36)}-${clientCounter}`;
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
