// An open entry's panel: who is in the session, the note of a transfer, the actions
// (Transfer, Close chat, Observe, Join, Block/Unblock, Forward calls, Take over), the
// observe view, the conversation (a role="log" around the keyed list that renderChat
// appends to), a composer that grows from one line with its `/` picker of saved replies
// (monitor-canned.js), and the notes for operators (monitor-notes.js). Built the first
// time the entry opens.

import { renderChat, senderLabel } from "./lh-chat-log.js";
import { make, pageUrl, typingNotifier } from "./lh-socket.js";
import { ReplyPicker } from "./monitor-canned.js";
import { NotesSection } from "./monitor-notes.js";

// Typing indicators vanish on their own if the "stopped" frame never comes.
const TYPING_TIMEOUT_MS = 6000;
// The composer grows with what is typed up to this many lines, then scrolls.
const COMPOSER_MAX_LINES = 6;

function button(text, className, onClick) {
  const element = make("button", className, text);
  element.type = "button";
  element.addEventListener("click", onClick);
  return element;
}

export class EntryPanel {
  constructor(entry) {
    this.entry = entry;
    const monitor = entry.monitor;
    this.monitor = monitor;
    this.typingTimer = null;
    this.log = null;
    this.unsubscribe = null;
    const id = entry.domId;
    const panel = make("div", "entry-panel");
    panel.id = `${id}-panel`;
    this.element = panel;

    this.participants = make("p", "participants small");
    // How the conversation came here: "From Olga: <her note>" (monitor-transfer.js).
    this.transferNote = make("p", "transfer-note small");
    this.observeView = make("div", "observe-view");
    this.observeView.hidden = true;

    this.logBox = make("div", "chat-log");
    this.logBox.setAttribute("role", "log");
    this.messages = make("ol", "chat-messages");
    this.logBox.append(this.messages);

    const form = make("form", "chat-form");
    this.label = make("label", "chat-label visually-hidden");
    this.label.htmlFor = `${id}-text`;
    this.input = make("textarea", "chat-input");
    this.input.id = `${id}-text`;
    this.input.rows = 1;
    this.send = make("button", "chat-send compact", "Send");
    this.send.type = "submit";
    this.typing = make("span", "chat-typing");

    this.observe = button("Observe", "secondary compact observe", () => {
      this.focusObserveView = true; // once the screen comes, the keyboard goes into it
      monitor.send({ type: "observe", session: entry.key });
    });
    // Joining is audited, so it is a POST with the page's XSRF token, into a new tab.
    this.joinForm = make("form", "join-form");
    this.joinForm.method = "post";
    this.joinForm.target = "_blank";
    this.joinForm.rel = "noopener";
    const xsrf = document.querySelector('#monitor-xsrf input[name="_xsrf"]').cloneNode();
    this.join = make("button", "secondary compact join", "Join");
    this.join.type = "submit";
    this.joinForm.append(xsrf, this.join);
    this.block = button("Block", "secondary compact block", () => {
      monitor.send({ type: entry.data.blocked ? "unblock" : "block", session: entry.key });
    });
    this.phone = button("Forward calls", "secondary compact phone-toggle", () => {
      monitor.send({ type: "phone", session: entry.key, on: !this.forwardingMine() });
    });
    this.taken = make("span", "taken");
    this.takenText = make("span");
    this.takeButton = button("Take over", "secondary compact take", () => {
      monitor.send({ type: "take", session: entry.key });
      this.input.focus(); // the button goes once the chat is ours: stay in this chat
    });
    this.taken.append(this.takenText, " ", this.takeButton);
    // Only the operator holding the chat, or an admin, may pass it on or end it (the
    // server refuses others, in words).
    this.transferButton = button("Transfer", "secondary compact transfer", () => {
      monitor.transfer.open(entry, this.transferButton);
    });
    this.closeButton = button("Close chat", "secondary compact close-chat", () => {
      this.closing = true;
      monitor.send({ type: "close_chat", session: entry.key });
    });
    this.notes = new NotesSection(this);
    // The whole conversation so far (handlers/transcript.py), in a tab of its own so the
    // Monitor stays open.
    const transcript = make("a", "entry-transcript", "Transcript");
    transcript.href = pageUrl(`history/${encodeURIComponent(entry.data.conversation || entry.data.session)}`);
    transcript.target = "_blank";
    transcript.rel = "noopener";
    transcript.append(make("span", "visually-hidden", " (opens in a new tab)"));
    const actions = make("div", "entry-actions");
    actions.append(this.taken, this.transferButton, this.closeButton, this.observe, this.joinForm,
      this.block, this.phone, this.notes.toggle, transcript);

    // The box inside the combobox of saved replies; their list goes under the row.
    const combo = make("div", "chat-combo");
    combo.append(this.input);
    this.picker = new ReplyPicker(this, combo);
    const row = make("div", "chat-row");
    row.append(combo, this.send, this.typing);
    form.append(this.label, row, this.picker.list);
    const bottom = make("div", "panel-bottom");
    bottom.append(form, actions);
    panel.append(this.participants, this.transferNote, this.observeView, this.logBox, bottom,
      this.notes.element);

    const typing = typingNotifier((on) => monitor.send({ type: "typing", session: entry.key, typing: on }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit(typing);
    });
    this.input.addEventListener("keydown", (event) => {
      if (this.picker.keydown(event)) return; // the open list of saved replies has the keys
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit(typing);
      } else if (event.key === "Escape") {
        event.preventDefault();
        entry.focusRow();
      }
    });
    this.input.addEventListener("input", () => {
      typing.input();
      this.grow();
    });
    // Going into the message box means "I have seen this conversation".
    this.input.addEventListener("focus", () => monitor.markRead(entry));
    // A log read to its end stays at its end when its width or height changes (the
    // window is resized, the entry moves); the composer fits its text again.
    this.atEnd = true;
    this.messages.addEventListener("scroll", () => {
      const list = this.messages;
      this.atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    }, { passive: true });
    this.resizes = new ResizeObserver(() => {
      if (this.atEnd) this.messages.scrollTop = this.messages.scrollHeight;
      this.grow();
    });
    this.resizes.observe(this.messages);
    this.resizes.observe(this.input);
    this.update();
  }

  submit(typing) {
    const text = this.input.value.trim();
    if (!text || this.input.disabled) return;
    this.monitor.sendChat(this.entry, text);
    this.input.value = "";
    this.grow();
    typing.stop();
  }

  /** One line when empty, as many as the text needs up to COMPOSER_MAX_LINES. */
  grow() {
    const input = this.input;
    if (!input.value) {
      // One line, whatever the placeholder would need.
      input.style.height = "";
      input.style.overflowY = "hidden";
      return;
    }
    input.style.height = "auto";
    const style = getComputedStyle(input);
    const line = parseFloat(style.lineHeight) || 20;
    const chrome = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom)
      + parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
    const max = line * COMPOSER_MAX_LINES + chrome;
    const wanted = input.scrollHeight + parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
    input.style.height = `${Math.min(wanted, max)}px`;
    input.style.overflowY = wanted > max ? "auto" : "hidden";
  }

  forwardingMine() {
    const phone = this.entry.data.phone;
    return Boolean(phone && phone.forwarding && phone.operator_id === this.monitor.me.id);
  }

  /** The entry changed: actions, who has the chat, the conversation. */
  update() {
    const entry = this.entry;
    const data = entry.data;
    const monitor = this.monitor;
    const who = data.user_name ? data.user_name.split(" ")[0] : (data.user_label || "the user");
    this.label.textContent = `Message to ${who}`;
    this.picker.label(this.label.textContent);
    this.logBox.setAttribute("aria-label", `Conversation with ${entry.who}`);
    const people = data.participants || [];
    this.participants.hidden = !entry.shared;
    this.participants.textContent = `In this session: ${people.map((p) => `${p.label} (${p.status})`).join(", ") || "nobody now"}`;
    this.joinForm.action = pageUrl(`share/${encodeURIComponent(data.session)}`);
    this.join.setAttribute("aria-label", `Join ${entry.who}'s session`);
    // The same button, relabelled: the keyboard stays on it.
    this.block.textContent = data.blocked ? "Unblock" : "Block";
    this.block.setAttribute("aria-pressed", data.blocked ? "true" : "false");
    this.phone.hidden = !(monitor.voice && monitor.settings.operator.phone && !data.blocked);
    const mine = this.forwardingMine();
    this.phone.textContent = mine ? "Call forwarding on" : "Forward calls";
    this.phone.setAttribute("aria-pressed", mine ? "true" : "false");
    this.phone.classList.toggle("on", mine);
    this.updateHandover();

    if (!this.log || this.log.conversation !== data.conversation) {
      if (this.unsubscribe) this.unsubscribe();
      this.log = monitor.logFor(data.conversation);
      this.unsubscribe = this.log.onChange(() => this.drawChat());
    }
    this.drawChat();
    if (data.chat) this.log.flush(); // what this operator typed while it could not go
  }

  /** Transfer and Close chat for the one who holds the chat (or an admin); the note. */
  updateHandover() {
    const entry = this.entry;
    const data = entry.data;
    const holds = Boolean(data.chat) && (entry.mine || this.monitor.me.admin);
    if (!holds && [this.transferButton, this.closeButton].includes(document.activeElement)) {
      entry.focusRow(); // the button goes: the keyboard stays on the entry
    }
    this.transferButton.hidden = !holds;
    this.closeButton.hidden = !holds;
    this.transferButton.setAttribute("aria-label", `Transfer the chat with ${entry.who}`);
    this.closeButton.setAttribute("aria-label", `Close chat with ${entry.who}`);
    if (this.closing && !data.chat) {
      this.closing = false;
      this.monitor.announcer.say("status", `${entry.who}: chat closed`);
    }
    // The note is for whoever has the conversation now, or takes it from the line.
    const transfer = data.transfer;
    const shown = Boolean(transfer) && (entry.mine || !data.operator_id);
    this.transferNote.hidden = !shown;
    if (shown) {
      this.transferNote.textContent = transfer.note ? `From ${transfer.from}: ${transfer.note}`
        : `From ${transfer.from} (no note).`;
    }
  }

  drawChat() {
    const data = this.entry.data;
    const ended = this.monitor.socket.closedForGood; // the server ended this Monitor
    const open = Boolean(data.chat) && !ended;
    this.input.disabled = !open;
    this.send.disabled = !open;
    let placeholder = `Message to ${this.label.textContent.slice("Message to ".length)} (Enter sends, / for saved replies)`;
    if (ended) placeholder = "Not connected.";
    else if (!open) placeholder = data.mode === "peer" ? "Operators do not chat in this session."
      : "The user is not in a chat with operators now.";
    this.input.placeholder = placeholder;
    const me = this.monitor.me.id;
    const otherHasIt = open && data.operator_id && data.operator_id !== me;
    this.taken.hidden = !otherHasIt;
    if (otherHasIt) this.takenText.textContent = `Taken by ${data.operator_name || "another operator"}`;
    // Whose a message is comes from the server (`sender`), never from its client_id.
    const sender = this.monitor.sender;
    const shared = this.entry.shared;
    const participants = this.log.participants();
    renderChat(this.messages, this.log, {
      isMine: (item) => item.sender === sender,
      label: (item, mine) => senderLabel(item, mine, participants, shared, this.entry.who),
      classify: (item) => (item.role === "operator" && item.sender !== sender ? "other-operator" : ""),
    });
  }

  /** The panel became visible: show the latest messages; the notes, once per socket. */
  shown() {
    this.messages.scrollTop = this.messages.scrollHeight;
    this.grow();
    this.notes.shown();
  }

  /** Into the message box, when the chat allows; false when it does not. */
  focusComposer() {
    if (this.input.disabled) return false;
    this.input.focus();
    return true;
  }

  showTyping(name, on) {
    clearTimeout(this.typingTimer);
    this.typing.textContent = on ? `${name || "The user"} is typing…` : "";
    if (on) this.typingTimer = setTimeout(() => { this.typing.textContent = ""; }, TYPING_TIMEOUT_MS);
  }

  remove() {
    this.resizes.disconnect();
    this.picker.remove();
    this.notes.remove();
    if (this.unsubscribe) this.unsubscribe();
    clearTimeout(this.typingTimer);
  }
}
