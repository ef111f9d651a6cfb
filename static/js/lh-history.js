// Asking for history one page at a time (docs/protocol.md: `history_more` → `history`),
// paced below the server's limit on hello/history frames so a Monitor that sees many
// sessions at once (after a restart) is not refused; when it is refused anyway
// (`rate_limited`), it waits as told and asks again for what may have been refused.

// The server allows a burst of 10 hello/history frames, then 5 a second; staying
// under both leaves room for the page's hello after a reconnect.
const BURST = 8;
const PER_SECOND = 4;
// A refusal names no conversation, only "history": every request sent this recently
// may be the refused one and is asked again (a repeat costs one read; pages dedupe by seq).
const RECENT_MS = 3000;
// `retry_after` missing from a refusal: wait this long.
const DEFAULT_WAIT_MS = 2000;

export class HistoryAsker {
  /** @param {function(object): boolean} send  sends one frame; false while the socket is down */
  constructor(send) {
    this.send = send;
    this.queue = new Map(); // conversation -> after
    this.recent = []; // [{conversation, after, at}]
    this.tokens = BURST;
    this.refilled = Date.now();
    this.pausedUntil = 0;
    this.timer = null;
  }

  /** Ask for `conversation`'s messages after `after`, as soon as the pace allows. */
  ask(conversation, after) {
    this.queue.set(conversation, after);
    this.pump();
  }

  /** A `hello` is about to go: it costs what a history request costs. */
  spend() {
    this.refill();
    this.tokens -= 1;
  }

  refill() {
    const now = Date.now();
    this.tokens = Math.min(BURST, this.tokens + ((now - this.refilled) / 1000) * PER_SECOND);
    this.refilled = now;
  }

  pump() {
    clearTimeout(this.timer);
    this.timer = null;
    this.refill();
    const now = Date.now();
    while (this.queue.size && this.tokens >= 1 && now >= this.pausedUntil) {
      const [conversation, after] = this.queue.entries().next().value;
      if (!this.send({ type: "history", conversation, after })) return; // down: hello covers it
      this.queue.delete(conversation);
      this.tokens -= 1;
      this.recent.push({ conversation, after, at: now });
    }
    this.recent = this.recent.filter((sent) => now - sent.at < RECENT_MS);
    if (this.queue.size) {
      const wait = Math.max(this.pausedUntil - now, ((1 - this.tokens) / PER_SECOND) * 1000, 10);
      this.timer = setTimeout(() => this.pump(), wait);
    }
  }

  /** The server refused a hello or history frame as too frequent (`rate_limited`). */
  refused(error) {
    const seconds = Number(error.retry_after);
    const now = Date.now();
    this.pausedUntil = now + (seconds >= 0 ? seconds * 1000 : DEFAULT_WAIT_MS);
    this.tokens = 0;
    this.refilled = now;
    if (error.ref === "history") {
      for (const sent of this.recent) {
        if (!this.queue.has(sent.conversation)) this.queue.set(sent.conversation, sent.after);
      }
      this.recent = [];
    }
    this.pump();
    return this.pausedUntil - now;
  }

  /** The socket went down: the next `hello` asks for everything again. */
  reset() {
    clearTimeout(this.timer);
    this.timer = null;
    this.queue.clear();
    this.recent = [];
  }
}

/**
 * The refusals both pages handle alike: one of a chat log's own messages (the log decides:
 * retry or "Not sent"), or a hello/history frame refused as too frequent (asked again after
 * the wait; a refused hello is sent again by `rehello(wait)`). True when handled.
 */
export function handleRefusal(message, logs, history, rehello) {
  for (const log of logs) {
    if (message.ref && log.refused(message)) return true;
  }
  if (message.code === "rate_limited" && (message.ref === "hello" || message.ref === "history")) {
    const wait = history.refused(message);
    if (message.ref === "hello") rehello(wait);
    return true;
  }
  return false;
}
