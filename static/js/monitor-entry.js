// One session entry on the Monitor: a compact row (status in colour and word, interview,
// who, screen, time, last message, unread, whose it is) whose heading button opens the
// entry's panel (chat and actions, monitor-panel.js). The row is built when the list
// first draws it and the panel when the entry is first opened, so 500 listed sessions
// cost little more than the ones on screen. Everything from a person goes in as text.

import { make } from "./lh-socket.js";
import { lineWords } from "./monitor-line.js";
import { EntryPanel } from "./monitor-panel.js";
import { entryTime } from "./monitor-time.js";

export const STATUSES = ["waiting", "standby", "on", "off", "offline"];
// Sort groups: what needs this operator's answer first (docs in monitor-list.js).
const GROUP_OF_STATUS = { waiting: 2, on: 3, standby: 4, off: 5, offline: 6 };
export const GROUP_UNREAD = 0;
export const GROUP_LINE = 1;
export const GROUP_WAITING = 2;
export const GROUP_OFFLINE = 6;

let entryCounter = 0;

export class SessionEntry {
  /**
   * @param {object} monitor  the page controller: me, voice, send(), readMark(), logFor(),
   *                          opened(entry), markRead(entry), ...
   * @param {object} data     the server's entry
   */
  constructor(monitor, data) {
    this.monitor = monitor;
    this.data = data;
    this.id = data.id || data.key;
    this.element = null; // the row, once the list draws it
    this.panel = null; // the panel, once opened
    this.isOpen = false;
    this.closedByHand = false;
    this.linePlace = null; // its place in its line, while it waits for an operator (monitor-line.js)
    entryCounter += 1;
    this.domId = `entry-${entryCounter}`;
  }

  get key() {
    return this.data.key;
  }

  get shared() {
    return this.data.mode === "peer" || this.data.mode === "peerhelp";
  }

  /** What to call the person (or people) in words. */
  get who() {
    return this.data.user_label || this.data.user_name || "Anonymous user";
  }

  get mine() {
    return Boolean(this.data.operator_id) && this.data.operator_id === this.monitor.me.id;
  }

  /** Messages after the team's last answer that this operator has not seen. */
  get unread() {
    const data = this.data;
    const seen = Math.max(data.answered_seq || 0, this.monitor.readMark(data.conversation));
    return Math.max(0, (data.last_seq || 0) - seen);
  }

  /** In line: chat on, waiting for an operator with a free place. */
  get queued() {
    return Boolean(this.data.queued_since);
  }

  /** Someone waits for the team: a message nobody answered, nobody there to chat, or
   * in line for an operator. */
  get waiting() {
    return (this.data.unanswered || 0) > 0 || this.data.status === "waiting" || this.queued;
  }

  get group() {
    const status = this.data.status;
    if (status === "offline") return GROUP_OFFLINE;
    if (this.unread) return GROUP_UNREAD;
    if (this.queued) return GROUP_LINE;
    if (this.waiting) return GROUP_WAITING;
    return GROUP_OF_STATUS[status] ?? GROUP_OF_STATUS.off;
  }

  /** Every text the search box looks in, lower case. */
  get searchText() {
    const data = this.data;
    const people = (data.participants || []).map((person) => person.label);
    return [this.who, data.user_name, data.email, data.title, data.interview, data.screen,
      ...(data.roles || []), ...people].filter(Boolean).join("\n").toLowerCase();
  }

  /** A new or changed entry from the server; keeps the newest of what chat events told. */
  update(data) {
    const previous = this.data;
    const fresh = { ...data };
    if ((previous.last_seq || 0) > (fresh.last_seq || 0)) {
      for (const field of ["last_seq", "last_message", "unanswered", "waiting_since"]) fresh[field] = previous[field];
    }
    fresh.answered_seq = Math.max(fresh.answered_seq || 0, previous.answered_seq || 0);
    this.data = fresh;
    this.draw();
    return previous;
  }

  /** A chat message of this entry's conversation came (the Monitor socket's `chat`). */
  addMessage(message) {
    const data = { ...this.data };
    if (message.seq <= (data.last_seq || 0)) return false;
    data.last_seq = message.seq;
    data.last_message = { seq: message.seq, role: message.role, name: message.name || "",
      text: message.text, time: message.time };
    if (typeof message.answered_seq === "number") data.answered_seq = message.answered_seq;
    else if (message.role === "operator") data.answered_seq = message.seq;
    data.unanswered = data.last_seq - (data.answered_seq || 0);
    if (!data.unanswered) data.waiting_since = null;
    else if (!data.waiting_since) data.waiting_since = message.time;
    this.data = data;
    this.draw();
    return true;
  }

  /** The row, built on first use. */
  row() {
    if (this.element) return this.element;
    const li = make("li", "entry");
    li.dataset.id = this.id;
    const row = make("div", "entry-row");
    this.indicator = make("span", "indicator");
    this.indicator.id = `${this.domId}-status`;
    this.indicatorWord = make("span", "indicator-word");
    this.indicator.append(make("span", "dot"), this.indicatorWord);
    const heading = make("h3", "entry-heading");
    this.toggle = make("button", "entry-toggle");
    this.toggle.type = "button";
    // It may have opened before its row was first drawn (a chat of mine in the snapshot).
    this.toggle.setAttribute("aria-expanded", this.isOpen ? "true" : "false");
    this.title = make("span", "entry-title");
    this.userName = make("span", "entry-user");
    this.toggle.append(this.title, this.userName);
    heading.append(this.toggle);
    const meta = make("div", "entry-meta");
    meta.id = `${this.domId}-meta`;
    this.toggle.setAttribute("aria-describedby", `${this.indicator.id} ${meta.id}`);
    this.screen = make("span", "entry-screen");
    this.time = make("span", "entry-time");
    this.preview = make("span", "entry-preview");
    this.unreadBadge = make("span", "entry-unread");
    const tags = make("span", "entry-tags");
    this.marker = make("span", "entry-marker");
    this.badgeBlocked = make("span", "badge badge-blocked", "Blocked");
    this.phoneState = make("span", "badge badge-phone");
    tags.append(this.marker, this.badgeBlocked, this.phoneState);
    meta.append(this.screen, this.time, this.preview, this.unreadBadge, tags);
    row.append(this.indicator, heading, meta);
    li.append(row);
    this.toggle.addEventListener("click", () => this.setOpen(!this.isOpen, { byHand: true }));
    this.toggle.addEventListener("keydown", (event) => {
      // Enter on an open entry goes on into its message box (the keyboard path of
      // monitor-keys.js); Space still opens and closes.
      if (event.key === "Enter" && this.isOpen && this.panel && this.panel.focusComposer()) {
        event.preventDefault();
      }
    });
    // The whole row opens the entry for a mouse; the keyboard has the heading's button.
    row.addEventListener("click", (event) => {
      if (!event.target.closest("button, a, input, textarea")) this.toggle.click();
    });
    this.element = li;
    this.draw();
    if (this.isOpen) this.buildPanel();
    return li;
  }

  draw() {
    if (this.panel) this.panel.update();
    if (!this.element) return;
    const data = this.data;
    const status = STATUSES.includes(data.status) ? data.status : "offline";
    const unread = this.unread;
    this.element.className = `entry status-${status}${unread ? " unread" : ""}${this.isOpen ? " open" : ""}`
      + (this.queued ? " queued" : "");
    this.indicator.className = `indicator status-${status}`;
    this.indicatorWord.textContent = status;
    this.title.textContent = data.title || data.interview || "Interview";
    this.userName.textContent = this.who;
    this.userName.classList.toggle("anonymous", !data.user_name);
    this.screen.textContent = data.screen || "";
    this.screen.title = data.screen || "";
    this.drawTime();
    const last = data.last_message;
    this.preview.textContent = last ? `${this.speaker(last)}: ${last.text}` : "";
    this.preview.title = this.preview.textContent;
    this.unreadBadge.textContent = unread ? `${unread} unread` : "";
    this.unreadBadge.hidden = !unread;
    let marker = "";
    if (this.mine) marker = "Mine";
    else if (data.operator_id) marker = `Taken by ${data.operator_name || "another operator"}`;
    this.marker.textContent = marker;
    this.marker.hidden = !marker;
    this.badgeBlocked.hidden = !data.blocked;
    const phone = data.phone || {};
    let phoneWords = "";
    if (phone.call_connected) phoneWords = "Call connected";
    else if (phone.forwarding && phone.operator_id !== this.monitor.me.id) phoneWords = "Calls forwarded to another operator";
    else if (phone.forwarding) phoneWords = "Forwarding calls to you";
    this.phoneState.textContent = phoneWords;
    this.phoneState.hidden = !phoneWords;
  }

  /** Refresh what depends on the clock and the line ("waiting 3 min", "In line · 2nd"). */
  drawTime() {
    if (!this.element) return;
    this.time.textContent = this.queued ? lineWords(this.data, this.linePlace) : entryTime(this.data);
    this.time.title = this.time.textContent;
  }

  /** Its place in its line now (null: not in line); the list works it out. */
  setLinePlace(place) {
    if (place === this.linePlace) return;
    this.linePlace = place;
    this.drawTime();
  }

  /** Who wrote the last message, for its preview (the entry names no sender id). */
  speaker(message) {
    if (message.role === "operator") return message.name || "Operator";
    return message.name || (this.shared ? "Participant" : this.who);
  }

  buildPanel() {
    if (!this.panel) this.panel = new EntryPanel(this);
    if (!this.panel.element.isConnected) this.element.append(this.panel.element);
    this.toggle.setAttribute("aria-controls", this.panel.element.id);
    // Once the list has placed the row and the browser laid it out: the latest messages.
    requestAnimationFrame(() => this.panel.shown());
  }

  /**
   * Open or close the panel. `byHand`: the operator did it (a hand-closed entry stays
   * closed when its chat comes to them again); opening by hand counts as reading it.
   */
  setOpen(open, { byHand = false } = {}) {
    if (byHand && !open) this.closedByHand = true;
    if (byHand && open) this.closedByHand = false;
    if (open === this.isOpen) {
      if (open && byHand) this.monitor.markRead(this);
      return;
    }
    this.isOpen = open;
    if (open) {
      if (this.element) this.buildPanel();
      this.monitor.opened(this);
    } else if (this.panel && this.panel.element.contains(document.activeElement)) {
      this.focusRow(); // closing must not drop the keyboard onto the page
    }
    if (this.panel) this.panel.element.hidden = !open;
    if (this.toggle) this.toggle.setAttribute("aria-expanded", open ? "true" : "false");
    this.draw();
    if (open && byHand) this.monitor.markRead(this);
    this.monitor.list.changed();
  }

  /** Put the keyboard on this entry's row. */
  focusRow() {
    if (this.toggle && this.toggle.isConnected) this.toggle.focus();
  }

  remove() {
    if (this.panel) this.panel.remove();
    if (this.element) this.element.remove();
  }
}
