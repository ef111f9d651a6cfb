// The interviewee's side of live help (loaded by livehelp-user.js): nav icons, the chat in the Help tab,
// speaking `ws/user/<session id>` (docs/protocol.md). Text goes in with textContent.

import {
  ChatLog, LiveSocket, clientIdPrefix, newClientId, renderChat, setClientIdPrefix, typingNotifier,
} from "./lh-socket.js";
import { UserCoBrowse } from "./livehelp-cobrowse.js";

const main = document.querySelector("main[data-session]");
const sessionId = main && main.dataset.session;
const $ = (id) => document.getElementById(id);
// Partner typing indicators vanish by themselves if "stopped typing" never arrives.
const TYPING_TIMEOUT_MS = 6000;

// Client ids start with a per-browser prefix so a page knows its own messages
// in a group (peer) conversation, even after a reload.
const PREFIX_KEY = "livehelp-client-prefix";
let prefix = localStorage.getItem(PREFIX_KEY);
if (!prefix) {
  prefix = clientIdPrefix();
  localStorage.setItem(PREFIX_KEY, prefix);
}
setClientIdPrefix(prefix);

class UserChat {
  constructor() {
    this.activeKey = `livehelp-active:${sessionId}`;
    this.meKey = `livehelp-me:${sessionId}`;
    this.me = sessionStorage.getItem(this.meKey);
    this.state = null;
    this.statesSinceOpen = 0;
    this.logs = new Map();
    this.log = this.logFor("");
    this.typingTimer = null;
    this.input = $("lh-input");
    this.list = $("lh-messages");
    const typing = typingNotifier((on) => this.socket.send({ type: "typing", typing: on }));
    this.typingOut = typing;
    $("lh-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => typing.input());
    $("lh-activate").addEventListener("click", () => {
      this.error("");
      sessionStorage.setItem(this.activeKey, "1");
      if (!this.socket.send({ type: "activate" })) this.error("Not connected yet; trying again…");
    });
    $("lh-deactivate").addEventListener("click", () => {
      sessionStorage.removeItem(this.activeKey);
      this.socket.send({ type: "deactivate" });
    });
    for (const id of ["lh-chat-icon", "lh-phone-icon"]) {
      const button = $(id);
      if (button) button.addEventListener("click", () => {
        if (window.livehelpShowHelp) window.livehelpShowHelp();
        if (!this.input.disabled) this.input.focus();
      });
    }
    // Observe and control ride on the same socket (livehelp-cobrowse.js).
    this.cobrowse = new UserCoBrowse((message) => this.send(message));
    this.socket = new LiveSocket(`ws/user/${encodeURIComponent(sessionId)}`, {
      notice: $("lh-connection"),
      onOpen: () => this.hello(),
      onMessage: (message) => this.receive(message),
    });
    this.socket.connect();
  }

  logFor(conversation) {
    let log = this.logs.get(conversation);
    if (!log) {
      log = new ChatLog(conversation);
      log.onChange(() => this.draw());
      this.logs.set(conversation, log);
    }
    return log;
  }

  hello() {
    this.statesSinceOpen = 0;
    this.cobrowse.opened();
    this.send({
      type: "hello",
      last_seq: this.log.contiguous(),
      active: sessionStorage.getItem(this.activeKey) === "1",
    });
    for (const item of this.log.unacked()) {
      this.send({ type: "chat", client_id: item.client_id, text: item.text });
    }
  }

  send(message) {
    return this.socket.send(message);
  }

  submit() {
    const text = this.input.value.trim();
    if (!text || this.input.disabled) return;
    const clientId = newClientId();
    this.log.addPending(clientId, text, "You");
    this.send({ type: "chat", client_id: clientId, text });
    this.input.value = "";
    this.typingOut.stop();
  }

  receive(message) {
    if (message.type === "state") this.onState(message);
    else if (message.type === "chat") this.onChat(message);
    else if (message.type === "ack") {
      const log = this.logs.get(message.conversation) || this.log;
      log.ack(message.client_id, message.seq);
    } else if (message.type === "typing") this.onTyping(message);
    else if (message.type === "error") this.onError(message);
    else this.cobrowse.receive(message);
  }

  isMine(item) {
    if (this.me && item.sender === this.me) return true;
    if (item.client_id && item.client_id.startsWith(`${prefix}-`)) return true;
    return Boolean(this.state && this.state.mode === "help" && item.role === "user");
  }

  onChat(message) {
    if (message.client_id && message.client_id.startsWith(`${prefix}-`) && message.sender) {
      this.me = message.sender;
      sessionStorage.setItem(this.meKey, this.me);
    }
    const log = this.logFor(message.conversation || "");
    log.add(message);
    if (message.role !== "user" || !this.isMine(message)) this.showTyping("", false);
  }

  onTyping(message) {
    this.showTyping(message.name, message.typing);
  }

  showTyping(name, on) {
    clearTimeout(this.typingTimer);
    $("lh-typing").textContent = on ? `${name || "Someone"} is typing…` : "";
    if (on) this.typingTimer = setTimeout(() => { $("lh-typing").textContent = ""; }, TYPING_TIMEOUT_MS);
  }

  onError(message) {
    // Screen reports are best effort; a refused one is no business of the chat box.
    if (message.ref === "screen" || message.ref === "field") return;
    if (message.ref && this.log.fail(message.ref, message.message)) return;
    if (message.ref === "activate") sessionStorage.removeItem(this.activeKey);
    this.error(message.message || "Something went wrong.");
  }

  error(text) {
    $("lh-error").textContent = text;
  }

  onState(state) {
    this.statesSinceOpen += 1;
    this.state = state;
    const conversation = state.conversation || "";
    if (conversation !== this.log.conversation) {
      // The first conversation name replaces the placeholder log; keep its pending messages.
      const old = this.log;
      this.log = this.logFor(conversation);
      if (old.conversation === "") {
        for (const [id, item] of old.pending) this.log.pending.set(id, item);
        this.logs.delete("");
      }
    }
    // The state sent as the socket opens predates our hello; only later ones
    // say whether chat is really on.
    if (this.statesSinceOpen >= 2 || state.active) {
      if (state.active) sessionStorage.setItem(this.activeKey, "1");
      else sessionStorage.removeItem(this.activeKey);
    }
    if (state.active) this.error("");
    this.cobrowse.state(state);
    this.drawState();
    this.draw();
  }

  drawState() {
    const state = this.state;
    const offered = state.availability === "available";
    const peerMode = state.mode === "peer" || state.mode === "peerhelp";
    const helpBlocked = state.blocked && state.mode === "help";
    const green = offered && !helpBlocked && (state.operators > 0 || peerMode);
    const icon = $("lh-chat-icon");
    if (icon) {
      const label = green
        ? (state.operators > 0 ? "Live chat: operator available" : "Live chat: chat with others in this session")
        : "Live chat: no one available";
      icon.dataset.state = green ? "on" : "off";
      icon.setAttribute("aria-label", label);
      icon.title = label;
      icon.querySelector(".lh-icon-text").textContent = green ? "Chat now" : "Chat";
    }
    const phone = state.phone;
    const phoneIcon = $("lh-phone-icon");
    if (phoneIcon) phoneIcon.hidden = !phone;
    $("lh-phone").hidden = !phone;
    if (phone) {
      const link = $("lh-phone-number");
      link.href = `tel:${phone.tel || phone.number}`;
      link.textContent = phone.number || phone.tel;
      $("lh-phone-code").textContent = phone.code;
    }

    const active = Boolean(state.active);
    this.input.disabled = !active;
    $("lh-send").disabled = !active;
    this.input.placeholder = active ? "Type a message and press Enter"
      : (state.can_activate ? "Press “Activate chat” to start chatting" : "Chat is not available right now");
    $("lh-activate").hidden = active;
    $("lh-activate").disabled = !state.can_activate;
    $("lh-deactivate").hidden = !active;

    const withLine = $("lh-with");
    withLine.hidden = !(active && state.operator_name);
    withLine.textContent = state.operator_name ? `You are chatting with ${state.operator_name}.` : "";
    $("lh-partners").textContent = this.partnersText(state, offered, peerMode);
  }

  partnersText(state, offered, peerMode) {
    if (!offered) return "Live chat is not offered in this interview.";
    const parts = [];
    if (state.blocked) {
      parts.push(peerMode ? "Chat with operators is blocked for this session; you can still talk with others here."
        : "Chat with operators is blocked for this session.");
    } else if (state.mode !== "peer") {
      const n = state.operators || 0;
      parts.push(n === 0 ? "No operators are available right now."
        : `${n} operator${n === 1 ? "" : "s"} standing by.`);
    }
    if (peerMode) {
      const p = state.peers || 0;
      parts.push(p === 0 ? "No one else is in this session right now; your messages stay here for them."
        : `${p} other ${p === 1 ? "person" : "people"} in this session.`);
    }
    return parts.join(" ");
  }

  draw() {
    renderChat(this.list, this.log, (item) => this.isMine(item),
      (item) => (item.role === "operator" ? "from-operator" : ""));
  }
}

// Exposed for other scripts on the page and for tests.
if (sessionId) window.livehelpUserChat = new UserChat();
