// One session entry on the Monitor: status in colour and words, title, name,
// buttons (Observe, Join, Block/Unblock, phone) and the chat area.
// Everything that came from a person goes in with textContent.

import { renderChat, senderLabel } from "./lh-chat-log.js";
import { make, pageUrl, typingNotifier } from "./lh-socket.js";

const STATUS_WORDS = {
  waiting: "waiting",
  standby: "standby",
  on: "on",
  off: "off",
  offline: "offline",
};
// Typing indicators vanish on their own if the "stopped" frame never comes.
const TYPING_TIMEOUT_MS = 6000;

let entryCounter = 0;

export class SessionEntry {
  /**
   * @param {object} monitor  the page controller: me, voice, send(), sendChat(), logFor(), alerts
   * @param {object} data     the server's entry
   */
  constructor(monitor, data) {
    this.monitor = monitor;
    this.key = data.key;
    this.data = data;
    this.log = null;
    this.unsubscribe = null;
    this.typingTimer = null;
    entryCounter += 1;
    const id = `entry-${entryCounter}`;

    const li = make("li", "entry");
    li.dataset.key = data.key;
    this.element = li;

    const head = make("div", "entry-head");
    this.indicator = make("span", "indicator");
    this.indicatorWord = make("span", "indicator-word");
    this.indicator.append(make("span", "dot"), this.indicatorWord);
    const who = make("div", "entry-who");
    this.title = make("span", "entry-title");
    this.userName = make("span", "entry-user");
    who.append(this.title, this.userName);
    const badges = make("div", "badges");
    this.badgeNew = make("span", "badge badge-new", "New message");
    this.badgeNew.hidden = true;
    this.badgeBlocked = make("span", "badge badge-blocked", "Blocked");
    this.phoneState = make("span", "badge badge-phone");
    badges.append(this.badgeNew, this.badgeBlocked, this.phoneState);

    const actions = make("div", "entry-actions");
    this.observe = make("button", "secondary observe", "Observe");
    this.observe.type = "button";
    this.observe.addEventListener("click", () => monitor.send({ type: "observe", session: this.key }));
    // Joining is audited, so it is a POST with the page's XSRF token, into a new tab.
    this.joinForm = make("form", "join-form");
    this.joinForm.method = "post";
    this.joinForm.target = "_blank";
    this.joinForm.rel = "noopener";
    const xsrf = document.querySelector('#monitor-xsrf input[name="_xsrf"]').cloneNode();
    this.join = make("button", "secondary join", "Join");
    this.join.type = "submit";
    this.joinForm.append(xsrf, this.join);
    this.block = make("button", "secondary block", "Block");
    this.block.type = "button";
    this.block.addEventListener("click", () => {
      monitor.send({ type: this.data.blocked ? "unblock" : "block", session: this.key });
    });
    this.phone = make("button", "secondary phone-toggle", "Forward calls");
    this.phone.type = "button";
    this.phone.addEventListener("click", () => {
      monitor.send({ type: "phone", session: this.key, on: !this.forwardingMine() });
    });
    actions.append(this.observe, this.joinForm, this.block, this.phone);
    head.append(this.indicator, who, badges, actions);

    this.observeView = make("div", "observe-view");
    this.observeView.hidden = true;

    // Chat area
    this.chat = make("div", "entry-chat");
    this.chat.hidden = true;
    const taken = make("p", "taken");
    this.takenText = make("span");
    this.takeButton = make("button", "secondary small-button", "Take over");
    this.takeButton.type = "button";
    this.takeButton.addEventListener("click", () => monitor.send({ type: "take", session: this.key }));
    taken.append(this.takenText, " ", this.takeButton);
    this.taken = taken;
    this.messages = make("ol", "chat-messages");
    this.messages.setAttribute("aria-live", "polite");
    this.messages.setAttribute("aria-label", "Conversation");
    this.typing = make("p", "chat-typing");
    this.typing.setAttribute("aria-live", "polite");
    const form = make("form", "chat-form");
    this.label = make("label", "chat-label");
    this.label.htmlFor = `${id}-text`;
    this.input = make("textarea", "chat-input");
    this.input.id = `${id}-text`;
    this.input.rows = 2;
    this.send = make("button", "chat-send", "Send");
    this.send.type = "submit";
    const row = make("div", "chat-row");
    row.append(this.input, this.send);
    form.append(this.label, row);
    this.chat.append(taken, this.messages, this.typing, form);

    const typing = typingNotifier((on) => monitor.send({ type: "typing", session: this.key, typing: on }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(typing);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit(typing);
      }
    });
    this.input.addEventListener("input", () => typing.input());
    // Clicking into (or tabbing to) the message box means "I have seen it".
    const seen = () => monitor.alerts.clear(this.key);
    this.input.addEventListener("focus", seen);
    this.input.addEventListener("click", seen);

    li.append(head, this.observeView, this.chat);
    this.update(data);
  }

  submit(typing) {
    const text = this.input.value.trim();
    if (!text || this.input.disabled) return;
    this.monitor.sendChat(this, text);
    this.input.value = "";
    typing.stop();
  }

  forwardingMine() {
    const phone = this.data.phone;
    return Boolean(phone && phone.forwarding && phone.operator_id === this.monitor.me.id);
  }

  /** A new or changed entry from the server. */
  update(data) {
    const previous = this.data;
    this.data = data;
    const status = STATUS_WORDS[data.status] ? data.status : "offline";
    this.element.className = this.element.className.replace(/\bstatus-\S+/g, "").trim();
    this.element.classList.add(`status-${status}`);
    this.indicator.className = `indicator status-${status}`;
    this.indicatorWord.textContent = STATUS_WORDS[status];
    this.indicator.title = `Status: ${STATUS_WORDS[status]}`;
    this.title.textContent = data.title || data.interview || "Interview";
    this.userName.textContent = data.user_name || "Anonymous user";
    this.userName.classList.toggle("anonymous", !data.user_name);
    this.joinForm.action = pageUrl(`share/${encodeURIComponent(data.session)}`);
    this.block.textContent = data.blocked ? "Unblock" : "Block";
    this.block.setAttribute("aria-pressed", data.blocked ? "true" : "false");
    this.badgeBlocked.hidden = !data.blocked;

    const monitor = this.monitor;
    const phone = data.phone || {};
    this.phone.hidden = !(monitor.voice && monitor.operatorPhone && !data.blocked);
    const mine = this.forwardingMine();
    this.phone.textContent = mine ? "Call forwarding on" : "Forward calls";
    this.phone.setAttribute("aria-pressed", mine ? "true" : "false");
    this.phone.classList.toggle("on", mine);
    let phoneWords = "";
    if (phone.call_connected) phoneWords = "Call connected";
    else if (phone.forwarding && !mine) phoneWords = "Calls forwarded to another operator";
    this.phoneState.textContent = phoneWords;
    this.phoneState.hidden = !phoneWords;

    if (!this.log || this.log.conversation !== data.conversation) {
      if (this.unsubscribe) this.unsubscribe();
      this.log = monitor.logFor(data.conversation);
      this.unsubscribe = this.log.onChange(() => this.drawChat());
    }
    const who = data.user_name ? data.user_name.split(" ")[0] : "the user";
    this.label.textContent = `Message to ${who}`;
    if (previous && previous.status !== "on" && data.status === "on" && previous !== data) {
      monitor.alerts.flag(this.key, "New chat", {
        title: "Live chat started", body: `${data.user_name || "A user"} activated chat (${this.title.textContent})`,
      });
    }
    this.drawChat();
    if (data.chat) this.log.flush(); // what this operator typed while it could not go
  }

  drawChat() {
    const data = this.data;
    const show = Boolean(data.chat) || (this.log && this.log.size > 0);
    this.chat.hidden = !show;
    const ended = this.monitor.socket.closedForGood; // the server ended this Monitor
    const open = Boolean(data.chat) && !ended;
    this.input.disabled = !open;
    this.send.disabled = !open;
    this.input.placeholder = open ? ""
      : (ended ? "Not connected." : "The user is not in a chat with operators now.");
    const me = this.monitor.me.id;
    const otherHasIt = open && data.operator_id && data.operator_id !== me;
    this.taken.hidden = !otherHasIt;
    if (otherHasIt) this.takenText.textContent = `Taken by ${data.operator_name || "another operator"}`;
    if (!show) return;
    // Whose a message is comes from the server (`sender`), never from its client_id.
    const sender = this.monitor.sender;
    const shared = data.mode === "peer" || data.mode === "peerhelp";
    const participants = this.log.participants();
    renderChat(this.messages, this.log, {
      isMine: (item) => item.sender === sender,
      label: (item, mine) => senderLabel(item, mine, participants, shared),
      classify: (item) => (item.role === "operator" && item.sender !== sender ? "other-operator" : ""),
    });
  }

  showTyping(name, on) {
    clearTimeout(this.typingTimer);
    this.typing.textContent = on ? `${name || "The user"} is typing…` : "";
    if (on) this.typingTimer = setTimeout(() => { this.typing.textContent = ""; }, TYPING_TIMEOUT_MS);
  }

  remove() {
    if (this.unsubscribe) this.unsubscribe();
    clearTimeout(this.typingTimer);
    this.element.remove();
  }
}
