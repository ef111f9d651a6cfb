// The Monitor page: operator settings, the live list of sessions, many chats at once.
// Speaks the operator socket of docs/protocol.md.

import { ChatLog } from "./lh-chat-log.js";
import { HistoryAsker, handleRefusal } from "./lh-history.js";
import { LiveSocket, newClientId, pageUrl } from "./lh-socket.js";
import { Alerts } from "./monitor-alerts.js";
import { SessionEntry } from "./monitor-entry.js";

const root = document.getElementById("monitor");
// Errors the page shows stay up long enough to read, then get out of the way.
const ERROR_SHOW_MS = 8000;

class Monitor {
  constructor() {
    this.me = { id: root.dataset.userId, name: root.dataset.firstName };
    this.sender = `u:${this.me.id}`; // how the server names this operator in chat events
    this.voice = root.dataset.twilioVoice === "true";
    this.operator = { available: false, roles: [], phone: null };
    this.operatorPhone = null;
    this.requestedRoles = [];
    this.entries = new Map(); // key -> SessionEntry
    this.logs = new Map(); // conversation -> ChatLog
    // Conversations whose history this socket has had or asked for since it opened.
    this.asked = new Set();
    this.history = new HistoryAsker((message) => this.send(message));
    this.helloTimer = null;
    this.alerts = new Alerts();
    this.list = document.getElementById("sessions");
    this.empty = document.getElementById("sessions-empty");
    this.errorBox = document.getElementById("monitor-error");
    this.statusButton = document.getElementById("status-toggle");
    this.statusButton.addEventListener("click", () => {
      this.send({ type: "set_status", available: !this.operator.available });
    });
    this.setupPhone();
    this.socket = new LiveSocket("ws/monitor", {
      notice: document.getElementById("connection"),
      onOpen: () => this.hello(),
      onMessage: (message) => this.receive(message),
      onDown: () => this.down(),
      onEnded: ({ words }) => this.ended(words),
      signIn: pageUrl("login?next=" + encodeURIComponent(location.pathname)),
    });
    // Other Monitor features (observe/control) hook in here.
    window.livehelpMonitor = {
      send: (message) => this.send(message),
      entry: (key) => this.entries.get(key),
      me: this.me,
      socket: this.socket,
    };
    this.socket.connect();
  }

  send(message) {
    return this.socket.send(message);
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
    const lastSeq = {};
    for (const [conversation, log] of this.logs) lastSeq[conversation] = log.contiguous();
    // The answer replays only the conversations listed then (its snapshot says which);
    // one listed later (its session came back after a restart) is asked for alone.
    this.asked.clear();
    clearTimeout(this.helloTimer);
    this.history.spend();
    this.send({ type: "hello", last_seq: lastSeq });
    // Messages typed while the socket was down go once a snapshot says their entry can
    // chat (on_monitor, SessionEntry.update); same client_id, so stored once.
  }

  /** One message of this page, to the entry it was typed in, once that entry can chat. */
  sendPending(item) {
    const entry = this.entries.get(item.session);
    if (!entry || !entry.data.chat) return false;
    return this.send({ type: "chat", session: item.session, client_id: item.client_id, text: item.text });
  }

  flushAll() {
    for (const log of this.logs.values()) log.flush();
  }

  down() {
    this.statusButton.disabled = true;
    for (const log of this.logs.values()) log.socketDown();
    this.history.reset();
    clearTimeout(this.helloTimer);
  }

  /** The server closed the socket for good (signed out, operator rights removed):
   * nothing here works any more, and the page says so (the notice has the words). */
  ended(words) {
    root.classList.add("ended");
    document.getElementById("status-hint").hidden = true;
    this.statusButton.textContent = "Not connected";
    this.statusButton.classList.remove("on");
    this.statusButton.setAttribute("aria-pressed", "false");
    for (const control of root.querySelectorAll("button, textarea, input, select")) {
      control.disabled = true;
    }
    for (const log of this.logs.values()) log.failAll(words);
    for (const entry of this.entries.values()) entry.drawChat();
    document.title = `Not connected · ${document.title.replace(/^\(\d+\) /, "")}`;
  }

  /** The history of an entry's conversation that appeared after the last snapshot (a new
   * session, a peerhelp join): one `history` request for that conversation alone. */
  askForNew(entry) {
    const conversation = entry.data.conversation;
    if (!conversation || this.asked.has(conversation)) return;
    this.asked.add(conversation);
    this.history.ask(conversation, this.logFor(conversation).contiguous());
  }

  sendChat(entry, text) {
    entry.log.addPending(newClientId(), text, { session: entry.key });
  }

  receive(message) {
    const handler = this[`on_${message.type}`];
    if (handler) handler.call(this, message);
    document.dispatchEvent(new CustomEvent("livehelp:monitor", { detail: message }));
  }

  on_monitor(message) {
    this.setOperator(message.operator || {});
    this.setRoles(message.roles || []);
    const keys = new Set();
    for (const data of message.sessions || []) {
      keys.add(data.key);
      this.upsert(data);
    }
    for (const key of [...this.entries.keys()]) {
      if (!keys.has(key)) this.removeEntry(key);
    }
    // The server follows every snapshot answering `hello` (and the one on open
    // precedes our `hello`) with the history of all listed conversations.
    for (const entry of this.entries.values()) this.asked.add(entry.data.conversation);
    this.flushAll();
  }

  /** One page of a conversation's history came; the server has more after `after`. */
  on_history_more(message) {
    this.history.ask(message.conversation, message.after);
  }

  on_session(message) {
    this.askForNew(this.upsert(message.session));
  }

  on_session_gone(message) {
    this.removeEntry(message.key);
  }

  on_roles(message) {
    this.setRoles(message.roles || []);
  }

  on_chat(message) {
    const log = this.logFor(message.conversation);
    if (!log.add(message)) return;
    if (message.role !== "user") return;
    for (const entry of this.entries.values()) {
      if (entry.data.conversation !== message.conversation) continue;
      if (message.session && entry.data.session !== message.session) continue;
      if (this.watching(entry)) continue;
      this.alerts.flag(entry.key, "New message", {
        title: `New message from ${message.name || entry.data.user_name || "a user"}`,
        body: message.text,
      });
      entry.showTyping("", false);
    }
  }

  /** The operator is typing in this entry's box and can see it: no need to flag. */
  watching(entry) {
    if (document.activeElement !== entry.input || !document.hasFocus()) return false;
    const box = entry.element.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  }

  on_ack(message) {
    const log = this.logs.get(message.conversation);
    if (log) log.ack(message.client_id, message.seq);
  }

  on_typing(message) {
    const entry = this.entries.get(message.key);
    if (entry) entry.showTyping(message.name, message.typing);
  }

  on_error(message) {
    if (message.ref === "set_phone") {
      this.phoneMessage(message.message, true);
      return;
    }
    const rehello = (wait) => { this.helloTimer = setTimeout(() => this.hello(), wait); };
    if (handleRefusal(message, this.logs.values(), this.history, rehello)) return;
    if (message.ref === "typing") return; // coalesced by the server; nothing to show
    this.showError(message.message || "The server refused that.");
  }

  showError(text) {
    this.errorBox.textContent = text;
    this.errorBox.hidden = false;
    clearTimeout(this.errorTimer);
    this.errorTimer = setTimeout(() => { this.errorBox.hidden = true; }, ERROR_SHOW_MS);
  }

  upsert(data) {
    let entry = this.entries.get(data.key);
    if (entry) {
      entry.update(data);
    } else {
      entry = new SessionEntry(this, data);
      this.entries.set(data.key, entry);
      this.alerts.register(data.key, entry.element);
      this.list.append(entry.element);
    }
    this.empty.hidden = this.entries.size > 0;
    return entry;
  }

  removeEntry(key) {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.remove();
    this.entries.delete(key);
    // Not listed, it gets no events: ask again for what it missed if it comes back.
    const conversation = entry.data.conversation;
    if (![...this.entries.values()].some((other) => other.data.conversation === conversation)) {
      this.asked.delete(conversation);
    }
    this.alerts.forget(key);
    this.empty.hidden = this.entries.size > 0;
  }

  setOperator(operator) {
    this.operator = { available: Boolean(operator.available), roles: operator.roles || [],
      phone: operator.phone || null };
    const on = this.operator.available;
    this.statusButton.disabled = false;
    this.statusButton.textContent = on ? "Available for chat" : "Not available for chat";
    this.statusButton.setAttribute("aria-pressed", on ? "true" : "false");
    this.statusButton.classList.toggle("on", on);
    const phoneChanged = this.operatorPhone !== this.operator.phone;
    this.operatorPhone = this.operator.phone;
    if (this.voice && phoneChanged) {
      const input = document.getElementById("phone-input");
      if (document.activeElement !== input || !input.value) input.value = this.operatorPhone || "";
      if (this.phonePending) this.phoneMessage(this.operatorPhone ? "Saved." : "Number removed.", false);
      for (const entry of this.entries.values()) entry.update(entry.data);
    }
    this.phonePending = false;
    this.drawRoles();
  }

  setRoles(roles) {
    this.requestedRoles = roles;
    this.drawRoles();
  }

  drawRoles() {
    const list = document.getElementById("roles-list");
    const chosen = new Set(this.operator.roles);
    const all = [...new Set([...this.requestedRoles, ...this.operator.roles])].sort();
    document.getElementById("roles-empty").hidden = all.length > 0;
    const fragment = document.createDocumentFragment();
    for (const role of all) {
      const label = document.createElement("label");
      label.className = "inline-check";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = role;
      box.checked = chosen.has(role);
      box.addEventListener("change", () => this.sendRoles());
      label.append(box, " ", role);
      if (!this.requestedRoles.includes(role)) {
        const note = document.createElement("span");
        note.className = "muted small";
        note.textContent = " (no active session asks for it)";
        label.append(note);
      }
      fragment.append(label);
    }
    list.replaceChildren(fragment);
  }

  sendRoles() {
    const roles = [...document.querySelectorAll("#roles-list input:checked")].map((box) => box.value);
    this.operator.roles = roles;
    this.send({ type: "set_roles", roles });
  }

  setupPhone() {
    if (!this.voice) return;
    const form = document.getElementById("phone-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const phone = document.getElementById("phone-input").value.trim();
      this.phonePending = true;
      this.phoneMessage("Saving…", false);
      if (!this.send({ type: "set_phone", phone })) {
        this.phoneMessage("Not connected; try again in a moment.", true);
      } else if (phone === (this.operatorPhone || "")) {
        this.phoneMessage("Saved.", false);
      }
    });
  }

  phoneMessage(text, isError) {
    const box = document.getElementById("phone-message");
    box.textContent = text;
    box.classList.toggle("error", isError);
    document.getElementById("phone-input").setAttribute("aria-invalid", isError ? "true" : "false");
  }
}

new Monitor();
