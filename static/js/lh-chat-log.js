// One conversation's messages, shared by the Monitor and the interviewee's Help tab:
// stored messages by seq, exactly once; this page's own unacknowledged messages,
// resent until the server stores them (same client_id: stored once) or refuses them
// for good; who said what, in words; drawn into a list with textContent only.

import { make } from "./lh-socket.js";

// Refusals that retrying can cure (docs/protocol.md). "wait": the server says how
// long (`retry_after`); "backoff": a short wait that doubles while it lasts. Any other
// refusal of a chat is final and shown as "Not sent: <the server's words>".
const RETRYABLE = {
  rate_limited: "wait",
  store_unavailable: "backoff",
  unknown_session: "backoff", // the server forgot this page (restarting): resend after reconnecting
};
// A store outage is retried every few seconds, not hammered; the ceiling keeps it live.
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 15000;
// A server that keeps forgetting this page while the socket stays open is not
// restarting: after this many such refusals of one message, say so instead of retrying.
const MAX_FORGOTTEN = 8;
// `retry_after` missing or nonsense: wait this long.
const DEFAULT_WAIT_MS = 2000;

export class ChatLog {
  constructor(conversation) {
    this.conversation = conversation;
    this.me = null; // this page's sender id ("u:<id>" / "b:<id>"), told by the server
    this.bySeq = new Map();
    this.lastSeq = 0; // the highest seq here
    this.pending = new Map(); // client_id -> {client_id, text, time, acked, seq, failed, ...}
    // Ours that are stored: a refusal of a copy resent before we knew is no news.
    this.settled = new Set();
    this.listeners = new Set();
    this.queued = false;
    // Sends one pending item now; false when it cannot go yet (the page's, see flush()).
    this.transport = null;
    this.holdUntil = 0;
    this.holdTimer = null;
    this.backoffMs = FIRST_BACKOFF_MS;
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tell the listeners once per task, however many messages one frame brought. */
  changed() {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      for (const listener of this.listeners) listener(this);
    });
  }

  /** Add a stored message; returns false when it was already there. */
  add(message) {
    if (typeof message.seq !== "number" || this.bySeq.has(message.seq)) return false;
    this.bySeq.set(message.seq, message);
    this.lastSeq = Math.max(this.lastSeq, message.seq);
    // Only a message the server says is ours settles a pending one: client ids are
    // visible to everyone in the conversation, so anyone could send one of ours.
    if (message.sender && message.sender === this.me && message.client_id
        && this.pending.has(message.client_id)) {
      this.typedBefore(message.client_id, message.seq);
      this.pending.delete(message.client_id);
      this.settled.add(message.client_id);
    }
    for (const [clientId, other] of this.pending) {
      if (!other.acked || other.seq !== message.seq) continue;
      this.pending.delete(clientId);
      this.settled.add(clientId);
    }
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

  /** A message typed on this page: shown as "sending…" and sent as soon as it can go. */
  addPending(clientId, text, extra = {}) {
    this.pending.set(clientId, { ...extra, client_id: clientId, text, time: new Date().toISOString(),
      acked: false, seq: null, failed: null, inFlight: false, forgotten: 0,
      typedAfter: this.lastSeq });
    this.changed();
    this.flush();
  }

  /**
   * Send what waits, oldest first, through `transport`; stops at the first that cannot
   * go yet, so messages are stored in the order they were typed.
   */
  flush() {
    if (!this.transport || Date.now() < this.holdUntil) return;
    for (const item of this.pending.values()) {
      if (item.acked || item.failed || item.inFlight) continue;
      if (!this.transport(item)) break;
      item.inFlight = true;
    }
  }

  /** The socket went down: whatever was in flight is sent again after reconnecting. */
  socketDown() {
    for (const item of this.pending.values()) item.inFlight = false;
  }

  ack(clientId, seq) {
    const item = this.pending.get(clientId);
    if (!item) return;
    item.acked = true;
    item.inFlight = false;
    item.seq = seq;
    this.typedBefore(clientId, seq);
    this.backoffMs = FIRST_BACKOFF_MS;
    if (this.bySeq.has(seq)) {
      this.pending.delete(clientId);
      this.settled.add(clientId);
    }
    this.changed();
  }

  /**
   * Our message `clientId` is stored as `seq`: those typed after it were typed after
   * `seq` too, so one of them refused later still shows below it (see items()).
   */
  typedBefore(clientId, seq) {
    let later = false;
    for (const [id, item] of this.pending) {
      if (later) item.typedAfter = Math.max(item.typedAfter, seq);
      else later = id === clientId;
    }
  }

  /**
   * The server refused one of our messages (`error` whose ref is its client_id): wait
   * and resend when retrying can help, else mark it "Not sent". False when not ours.
   */
  refused(error) {
    if (this.settled.has(error.ref)) return true;
    const item = this.pending.get(error.ref);
    if (!item) return false;
    if (item.acked) return true; // an earlier copy was stored: nothing to do
    item.inFlight = false;
    const kind = RETRYABLE[error.code];
    if (kind && !(error.code === "unknown_session" && ++item.forgotten > MAX_FORGOTTEN)) {
      const seconds = Number(error.retry_after);
      this.hold(kind === "wait" ? (seconds >= 0 ? seconds * 1000 : DEFAULT_WAIT_MS) : this.backoff());
      return true;
    }
    item.failed = error.message || "The server refused this message.";
    this.changed();
    return true;
  }

  /** How long to wait after a refusal: the wait doubles with each retry that fails
   * again, while every message refused during one wait waits with it (0 more). */
  backoff() {
    if (Date.now() < this.holdUntil) return 0;
    const ms = this.backoffMs;
    this.backoffMs = Math.min(ms * 2, MAX_BACKOFF_MS);
    return ms;
  }

  /** Send nothing for `ms`, then send what waits. */
  hold(ms) {
    const until = Math.max(this.holdUntil, Date.now() + ms);
    this.holdUntil = until;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdUntil = 0;
      this.flush();
    }, until - Date.now());
  }

  /** Give up on what waits, in these words (the page can never send them now). */
  failAll(words) {
    for (const item of this.pending.values()) {
      if (!item.acked && !item.failed) item.failed = words;
    }
    clearTimeout(this.holdTimer);
    this.changed();
  }

  /** Stored messages in seq order, then those on their way; one that was not sent
   * stays where it was typed (after the messages there were then). */
  items() {
    const stored = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    const waiting = [...this.pending.values()].map((p) => ({ ...p, pending: true }));
    const failed = waiting.filter((item) => item.failed);
    if (!failed.length) return stored.concat(waiting);
    const result = [];
    let next = 0;
    for (const message of stored) {
      while (next < failed.length && failed[next].typedAfter < message.seq) result.push(failed[next++]);
      result.push(message);
    }
    return result.concat(failed.slice(next), waiting.filter((item) => !item.failed));
  }

  /**
   * Sender id -> "Participant N" for every sender of the conversation who has no name,
   * numbered by their first message (by seq): the same on every page and every reload.
   */
  participants() {
    const labels = new Map();
    for (const message of [...this.bySeq.values()].sort((a, b) => a.seq - b.seq)) {
      if (message.role !== "user" || message.name || !message.sender) continue;
      if (!labels.has(message.sender)) labels.set(message.sender, `Participant ${labels.size + 1}`);
    }
    return labels;
  }
}

/**
 * Who said it, in words: "You"; an operator's first name or "Operator"; a person's
 * first name; else "Participant N" in a shared conversation, `someone` in a private one.
 */
export function senderLabel(item, mine, participants, shared, someone = "User") {
  if (mine) return "You";
  if (item.role === "operator") return item.name || "Operator";
  if (item.name) return item.name;
  return (shared && participants.get(item.sender)) || someone;
}

function timeText(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function stateText(item) {
  if (!item.pending) return "";
  if (item.failed) return `Not sent: ${item.failed}`;
  return item.acked ? "sent" : "sending…";
}

// list element -> Map(key -> {li, signature}): a message is drawn once and its <li>
// is kept (changed in place when its state changes), so a screen reader hears only
// what is new, and a long conversation stays cheap to update.
const drawn = new WeakMap();

/**
 * Draw `log` into the list element `list`. `isMine(item)` says which side a stored
 * message goes (pending ones are always this page's); `label(item, mine)` says who
 * wrote it; `classify(item)` may add a class. Text goes in with textContent only.
 */
export function renderChat(list, log, { isMine, label, classify = () => "" }) {
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const before = drawn.get(list) || new Map();
  const after = new Map();
  let at = list.firstChild;
  for (const item of log.items()) {
    const mine = Boolean(item.pending || isMine(item));
    const className = `chat-message ${mine ? "mine" : "theirs"} ${classify(item)}`.trim();
    const who = label(item, mine);
    const state = stateText(item);
    const key = item.pending ? `p:${item.client_id}` : `s:${item.seq}`;
    const signature = [className, who, state, item.time, item.text].join("\u0000");
    // Our own message, now stored, keeps the <li> it had while it was on its way.
    const sentAs = !item.pending && mine && item.client_id ? `p:${item.client_id}` : "";
    let node = before.get(key) || (sentAs && !after.has(sentAs) && before.get(sentAs));
    if (!node) node = { li: drawMessage(), signature: "" };
    if (node.signature !== signature) {
      fillMessage(node.li, item, className, who, state);
      node.signature = signature;
    }
    after.set(key, node);
    if (node.li === at) at = at.nextSibling;
    else list.insertBefore(node.li, at);
  }
  while (at) {
    const next = at.nextSibling;
    at.remove();
    at = next;
  }
  drawn.set(list, after);
  // One of ours on its way: it was just typed here, so it is shown.
  const sending = [...log.pending.values()].some((item) => !item.failed && !item.acked);
  if (nearBottom || sending) list.scrollTop = list.scrollHeight;
}

/**
 * Put `list` (a chat's <ol>) inside a `role="log"` region named `label`: new messages
 * are announced politely while the list keeps its list semantics. Returns the region
 * (the existing one when `list` is in one already).
 */
export function chatLogRegion(list, label) {
  let region = list.parentElement;
  if (!region || region.getAttribute("role") !== "log") {
    region = make("div", "chat-log");
    region.setAttribute("role", "log");
    list.before(region);
    region.append(list);
  }
  region.setAttribute("aria-label", label);
  list.removeAttribute("aria-live");
  return region;
}

function drawMessage() {
  const li = make("li");
  const meta = make("span", "chat-meta");
  meta.append(make("span", "chat-name"), " ", make("time"));
  li.append(meta, make("span", "chat-text"));
  return li;
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/** Write one message into its <li>, touching only what changed. */
function fillMessage(li, item, className, who, state) {
  li.className = className;
  if (item.seq && !item.pending) li.dataset.seq = String(item.seq);
  else delete li.dataset.seq;
  setText(li.querySelector(".chat-name"), who);
  const when = li.querySelector("time");
  setText(when, timeText(item.time));
  when.dateTime = item.time || "";
  setText(li.querySelector(".chat-text"), item.text);
  let status = li.querySelector(".chat-state");
  if (!state) {
    if (status) status.remove();
    return;
  }
  if (!status) {
    status = make("span");
    li.append(status);
  }
  status.className = item.failed ? "chat-state failed" : "chat-state";
  setText(status, state);
}
