// The Monitor page: the operator's console. Speaks the operator socket of
// docs/protocol.md: entries by `id`, what is unread for this operator (the entry's
// seqs and the server's read marks), chat logs fetched when an entry first opens.
// The list is monitor-list.js (the line of those waiting for an operator monitor-line.js),
// one entry monitor-entry.js (its panel monitor-panel.js, passing a chat on
// monitor-transfer.js), the settings line monitor-settings.js, the messages left
// monitor-left.js.

import { ChatLog } from "./lh-chat-log.js";
import { HistoryAsker, handleRefusal } from "./lh-history.js";
import { LiveSocket, newClientId, pageUrl } from "./lh-socket.js";
import { Alerts } from "./monitor-alerts.js";
import { Announcer } from "./monitor-announce.js";
import { CannedReplies } from "./monitor-canned.js";
import { SessionEntry } from "./monitor-entry.js";
import { setupKeys } from "./monitor-keys.js";
import { LeftMessages } from "./monitor-left.js";
import { SessionList } from "./monitor-list.js";
import { MyReplies } from "./monitor-myreplies.js";
import { Notes } from "./monitor-notes.js";
import { Settings } from "./monitor-settings.js";
import { setServerNow } from "./monitor-time.js";
import { TransferDialog } from "./monitor-transfer.js";

const root = document.getElementById("monitor");
// Errors the page shows stay up long enough to read, then get out of the way.
const ERROR_SHOW_MS = 8000;

class Monitor {
  constructor() {
    // Admins may close and transfer any chat; the server checks it again.
    this.me = { id: root.dataset.userId, name: root.dataset.firstName, admin: root.dataset.admin === "true" };
    this.sender = `u:${this.me.id}`; // how the server names this operator in chat events
    this.voice = root.dataset.twilioVoice === "true";
    this.entries = new Map(); // entry id -> SessionEntry
    this.byKey = new Map(); // every client key an entry was reached by -> SessionEntry
    this.logs = new Map(); // conversation -> ChatLog
    this.read = new Map(); // conversation -> how far this operator has read it
    // Conversations whose history this socket has had or asked for since it opened:
    // the ones the page holds, named in the next `hello`.
    this.held = new Set();
    this.snapshots = 0;
    this.loading = false;
    this.history = new HistoryAsker((message) => this.send(message));
    this.helloTimer = null;
    this.errorBox = document.getElementById("monitor-error");
    this.settings = new Settings(this);
    this.announcer = new Announcer(document.getElementById("announcer"));
    this.list = new SessionList(this);
    this.alerts = new Alerts(this);
    this.left = new LeftMessages(this);
    this.transfer = new TransferDialog(this);
    this.canned = new CannedReplies(); // the `/` picker's replies (monitor-canned.js)
    this.myReplies = new MyReplies(this);
    this.notes = new Notes(this);
    setupKeys(this);
    this.socket = new LiveSocket("ws/monitor", {
      notice: document.getElementById("connection"),
      onOpen: () => {
        this.hello();
        this.notes.reconnected(); // after the snapshot: notes added while it was down
      },
      onMessage: (message) => this.receive(message),
      onDown: () => this.down(),
      onEnded: ({ words }) => this.ended(words),
      signIn: pageUrl("login?next=" + encodeURIComponent(location.pathname)),
    });
    // Other Monitor features (observe/control) hook in here.
    window.livehelpMonitor = {
      send: (message) => this.send(message),
      entry: (key) => this.byKey.get(key),
      entryById: (id) => this.entries.get(id),
      announce: (text) => this.announcer.say("status", text),
      me: this.me,
      socket: this.socket,
    };
    this.socket.connect();
  }

  send(message) {
    return this.socket.send(message);
  }

  entryById(id) {
    return this.entries.get(id);
  }

  logFor(conversation) {
    let log = this.logs.get(conversation);
    if (!log) {
      log = new ChatLog(conversation);
      log.me = this.sender;
      log.transport = (item) => this.sendPending(item);
      this.logs.set(conversation, log);
    }
    return log;
  }

  hello() {
    // The answer replays the conversations named here (those the page holds); one
    // opened later is asked for alone (askHistory).
    const lastSeq = {};
    for (const conversation of this.held) lastSeq[conversation] = this.logFor(conversation).contiguous();
    clearTimeout(this.helloTimer);
    this.history.spend();
    this.send({ type: "hello", last_seq: lastSeq });
    // Messages typed while the socket was down go once a snapshot says their entry can
    // chat (on_monitor, EntryPanel.update); same client_id, so stored once.
  }

  /** One message of this page, to the entry it was typed in, once that entry can chat. */
  sendPending(item) {
    const entry = this.entries.get(item.entry);
    if (!entry || !entry.data.chat) return false;
    return this.send({ type: "chat", session: entry.key, client_id: item.client_id, text: item.text });
  }

  down() {
    document.getElementById("status-toggle").disabled = true;
    for (const log of this.logs.values()) log.socketDown();
    this.history.reset();
    clearTimeout(this.helloTimer);
  }

  /** The server closed the socket for good (signed out, operator rights removed):
   * nothing here works any more, and the page says so (the notice has the words). */
  ended(words) {
    root.classList.add("ended");
    this.settings.ended();
    for (const control of root.querySelectorAll("button, textarea, input, select")) {
      control.disabled = true;
    }
    for (const log of this.logs.values()) log.failAll(words);
    for (const entry of this.entries.values()) entry.draw();
    document.title = `Not connected · ${document.title.replace(/^\(\d+\) /, "")}`;
  }

  /** The entry opened: its conversation's history, once per socket. */
  opened(entry) {
    const conversation = entry.data.conversation;
    if (!conversation || this.held.has(conversation)) return;
    this.held.add(conversation);
    this.history.ask(conversation, this.logFor(conversation).contiguous());
  }

  readMark(conversation) {
    return this.read.get(conversation) || 0;
  }

  /** This operator has now seen the entry's conversation: tell the server (and so this
   * operator's other tabs), once per new message. */
  markRead(entry) {
    if (!entry.unread) return;
    const { conversation, last_seq: seq } = entry.data;
    this.read.set(conversation, seq);
    this.send({ type: "read", conversation, seq });
    this.readChanged(conversation);
  }

  readChanged(conversation) {
    for (const entry of this.entries.values()) {
      if (entry.data.conversation === conversation) entry.draw();
    }
    this.list.changed();
  }

  sendChat(entry, text) {
    entry.panel.log.addPending(newClientId(), text, { session: entry.key, entry: entry.id });
  }

  receive(message) {
    const handler = this[`on_${message.type}`];
    if (handler) handler.call(this, message);
    document.dispatchEvent(new CustomEvent("livehelp:monitor", { detail: message }));
  }

  on_monitor(message) {
    // What the page first learns is its starting point, not news to announce.
    this.loading = this.snapshots === 0;
    this.snapshots += 1;
    setServerNow(message.now);
    this.settings.setOperator(message.operator || {});
    this.settings.setRequestedRoles(message.roles || []);
    // The server's marks only grow; a `read` this page sent may be newer than the snapshot.
    for (const [conversation, seq] of Object.entries(message.read || {})) {
      this.read.set(conversation, Math.max(seq, this.readMark(conversation)));
    }
    const ids = new Set();
    for (const data of message.sessions || []) {
      ids.add(data.id || data.key);
      this.upsert(data);
    }
    for (const id of [...this.entries.keys()]) {
      if (!ids.has(id)) this.removeEntry(id);
    }
    for (const log of this.logs.values()) log.flush();
    this.loading = false;
    this.list.changed();
  }

  /** One page of a conversation's history came; the server has more after `after`. */
  on_history_more(message) {
    this.history.ask(message.conversation, message.after);
  }

  on_session(message) {
    this.upsert(message.session);
  }

  on_session_gone(message) {
    this.removeEntry(message.id || message.key);
  }

  /** Cluster mode: the other servers' live updates stopped reaching this one, or flow again. */
  on_cluster(message) {
    const notice = document.getElementById("cluster-notice");
    if (notice.hidden === Boolean(message.live)) return;
    notice.hidden = Boolean(message.live);
    this.announcer.say("status", message.live ? "Live updates from the other servers are back."
      : notice.textContent.replace(/\s+/g, " ").trim());
  }

  on_messages_left(message) {
    this.left.setAll(message.messages || []);
  }

  on_message_left(message) {
    this.left.add(message.message);
  }

  on_message_left_handled(message) {
    this.left.remove(message.id);
  }

  on_canned_replies(message) { this.canned.setAll(message.replies || []); }

  on_canned_reply(message) { this.canned.upsert(message.reply); }

  on_canned_reply_gone(message) { this.canned.remove(message.id); }

  on_notes(message) { this.notes.listed(message); }

  on_note(message) { this.notes.added(message); }

  /** Who can take a conversation now: the transfer dialog's choices. */
  on_operators(message) {
    this.transfer.listed(message);
  }

  on_roles(message) {
    this.settings.setRequestedRoles(message.roles || []);
  }

  on_read(message) {
    const { conversation, seq } = message;
    if (seq <= this.readMark(conversation)) return;
    this.read.set(conversation, seq);
    this.readChanged(conversation);
  }

  on_chat(message) {
    const log = this.logFor(message.conversation);
    const lastBefore = log.lastSeq;
    if (!log.add(message)) return;
    // A live message (it says how far the team answered) after a gap in what this page
    // holds: the missing ones are asked for (replayed ones never make a gap).
    if (typeof message.answered_seq === "number" && this.held.has(message.conversation)
        && lastBefore > 0 && message.seq > lastBefore + 1) {
      this.history.ask(message.conversation, log.contiguous());
    }
    for (const entry of this.entries.values()) {
      if (entry.data.conversation !== message.conversation) continue;
      const before = entry.unread;
      if (!entry.addMessage(message)) continue;
      if (message.role === "user" && entry.panel) entry.panel.showTyping("", false);
      if (entry.unread > before && this.watching(entry)) this.markRead(entry);
      if (entry.unread > before) {
        this.alerts.newUnread(entry.id, `New message from ${message.name || entry.who}`, message.text);
        this.announceUnread(entry);
      }
      this.list.changed();
    }
  }

  /** The entry's chat is open and on screen, and the operator is on this page. */
  watching(entry) {
    if (!entry.isOpen || !entry.panel || !entry.panel.element.isConnected) return false;
    if (document.visibilityState !== "visible" || !document.hasFocus()) return false;
    const box = entry.panel.logBox.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  }

  on_ack(message) {
    if (this.left.acked(message) || this.myReplies.acked(message) || this.notes.acked(message)) return;
    const log = this.logs.get(message.conversation);
    if (log) log.ack(message.client_id, message.seq);
  }

  on_typing(message) {
    // A shared entry names one person's key; another of its people may be typing.
    const entry = this.byKey.get(message.key)
      || [...this.entries.values()].find((other) => other.data.conversation === message.conversation);
    if (entry && entry.panel) entry.panel.showTyping(message.name, message.typing);
  }

  on_error(message) {
    if (message.ref === "set_phone") {
      this.settings.phoneMessage(message.message, true);
      return;
    }
    if (message.ref === "set_capacity") {
      this.settings.capacityRefused(message.message);
      return;
    }
    if (this.transfer.refused(message) || this.left.refused(message)
      || this.myReplies.refused(message) || this.notes.refused(message)) return;
    if (message.ref === "close_chat") {
      for (const entry of this.entries.values()) if (entry.panel) entry.panel.closing = false;
    }
    const rehello = (wait) => { this.helloTimer = setTimeout(() => this.hello(), wait); };
    if (handleRefusal(message, this.logs.values(), this.history, rehello)) return;
    // Coalesced by the server (typing); a read mark of an entry that just went away.
    if (message.ref === "typing" || message.ref === "read") return;
    this.showError(message.message || "The server refused that.");
  }

  showError(text) {
    this.errorBox.textContent = text;
    this.errorBox.hidden = false;
    clearTimeout(this.errorTimer);
    this.errorTimer = setTimeout(() => { this.errorBox.hidden = true; }, ERROR_SHOW_MS);
  }

  upsert(data) {
    const id = data.id || data.key;
    let entry = this.entries.get(id);
    let previous = null;
    if (entry) {
      const unreadBefore = entry.unread;
      previous = entry.update(data);
      if (previous.status !== data.status && !this.loading) {
        this.announcer.say("status", `${entry.who}: ${data.status}`);
      }
      if (entry.unread > unreadBefore) this.announceUnread(entry);
    } else {
      entry = new SessionEntry(this, data);
      this.entries.set(id, entry);
      if (!this.loading) this.announcer.say("session", `New session: ${entry.who}, ${data.title || data.interview}`);
    }
    this.byKey.set(data.key, entry);
    const wasMine = previous && previous.chat && previous.operator_id === this.me.id;
    if (data.chat && entry.mine && !wasMine && !entry.closedByHand) entry.setOpen(true);
    if (entry.isOpen) this.opened(entry);
    this.transfer.entryChanged(entry);
    this.list.changed();
    return entry;
  }

  announceUnread(entry) {
    const count = entry.unread;
    this.announcer.say("unread", `${entry.who}: ${count} unread`);
  }

  removeEntry(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.remove();
    this.entries.delete(id);
    for (const [key, other] of this.byKey) if (other === entry) this.byKey.delete(key);
    // Not listed, it gets no events: asked again for what it missed if it comes back.
    const conversation = entry.data.conversation;
    if (![...this.entries.values()].some((other) => other.data.conversation === conversation)) {
      this.held.delete(conversation);
    }
    this.list.changed();
  }

  /** The list was drawn: the title's count and the notice follow it. */
  listDrawn() {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.unread;
    this.alerts.setTotal(total);
    this.left.refresh(); // their "Open session" links follow the sessions listed
  }

  /** The entry with unread messages whose last message came last. */
  newestUnread() {
    let newest = null;
    for (const entry of this.entries.values()) {
      if (!entry.unread) continue;
      const time = (entry.data.last_message && entry.data.last_message.time) || "";
      if (!newest || time > newest.time) newest = { entry, time };
    }
    return newest ? newest.entry : null;
  }

  /** Show the entry, open it and put the keyboard in its message box (or on its row). */
  goTo(entry) {
    this.list.reveal(entry);
    entry.setOpen(true, { byHand: true });
    entry.element.scrollIntoView({ block: "center" });
    if (!entry.panel || !entry.panel.focusComposer()) entry.focusRow();
  }

  /** The operator's phone number changed: the entries' forwarding buttons follow. */
  redrawPhones() {
    for (const entry of this.entries.values()) if (entry.panel) entry.panel.update();
  }
}

new Monitor();
