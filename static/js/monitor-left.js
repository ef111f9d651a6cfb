// "Messages left (N)": what users wrote while nobody could chat with them (docs/protocol.md,
// "Messages left"), oldest first, between the header band and the sessions. Each one
// says where it came from and how to reach its writer, takes a reply (an operator
// message in its conversation: the user sees it when they come back) and goes from
// every Monitor once any operator marks it handled. Everything from a person goes in
// as text; a contact becomes a mailto: or tel: link only in a shape the server checked.

import { make, newClientId } from "./lh-socket.js";
import { clockTime } from "./monitor-time.js";

// What the server takes as a way to reach someone: an E.164 number or an email address.
const PHONE = /^\+[1-9]\d{1,14}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

function contactLink(contact) {
  const link = make("a", "left-contact", contact);
  if (PHONE.test(contact)) link.href = `tel:${contact}`;
  else if (EMAIL.test(contact)) link.href = `mailto:${encodeURIComponent(contact)}`;
  else return make("span", "left-contact", contact);
  return link;
}

class LeftItem {
  constructor(list, message) {
    this.list = list;
    this.message = message;
    const monitor = list.monitor;
    const li = make("li", "left-item");
    li.dataset.id = message.id;
    const domId = `left-${list.nextId()}`;
    const head = make("div", "left-head");
    this.title = make("h3", "left-title");
    const who = message.label || message.name || "Anonymous";
    const name = make("span", `left-who${message.name ? "" : " anonymous"}`, who);
    const time = make("span", "left-time muted", clockTime(message.created));
    head.append(this.title, name);
    if (message.contact) head.append(contactLink(message.contact));
    this.open = make("button", "link-button left-open", "Open session");
    this.open.type = "button";
    this.open.setAttribute("aria-label", `Open the session of ${who}`);
    this.open.addEventListener("click", () => {
      const entry = list.entryOf(message);
      if (entry) monitor.goTo(entry);
    });
    head.append(time, this.open);
    const text = make("p", "left-text", message.text);

    const form = make("form", "left-reply");
    const label = make("label", "visually-hidden", `Reply to ${who}`);
    label.htmlFor = `${domId}-reply`;
    this.input = make("textarea", "left-input");
    this.input.id = `${domId}-reply`;
    this.input.rows = 1;
    this.input.placeholder = "Your reply";
    const send = make("button", "compact", "Send reply");
    send.type = "submit";
    this.handled = make("button", "secondary compact left-handled", "Mark handled");
    this.handled.type = "button";
    this.handled.setAttribute("aria-label", `Mark the message of ${who} handled`);
    this.handled.addEventListener("click", () => {
      if (!monitor.send({ type: "handle_left", id: message.id })) {
        monitor.showError("Not connected; the message was not marked handled. Try again in a moment.");
      }
    });
    form.append(label, this.input, send, this.handled);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.reply();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.reply();
      }
    });
    this.replied = make("p", "left-replied small");
    this.replied.hidden = true;
    li.append(head, text, form, this.replied);
    this.element = li;
    this.refresh();
  }

  reply() {
    const text = this.input.value.trim();
    if (!text) return;
    const clientId = newClientId();
    if (!this.list.monitor.send({ type: "reply_left", id: this.message.id, client_id: clientId, text })) {
      this.list.monitor.showError("Not connected; the reply was not sent. Try again in a moment.");
      return;
    }
    this.list.pending.set(clientId, { item: this, text });
  }

  /** The server stored the reply. */
  sent(text) {
    if (this.input.value.trim() === text) this.input.value = "";
    this.replied.textContent = `You replied: ${text}`;
    this.replied.hidden = false;
  }

  /** What depends on the sessions listed now: the title and "Open session". */
  refresh() {
    const entry = this.list.entryOf(this.message);
    const title = (entry && (entry.data.title || entry.data.interview)) || this.message.interview;
    this.title.textContent = `${title} · session ${this.message.session.slice(0, 8)}`;
    this.open.hidden = !entry;
  }
}

export class LeftMessages {
  /** @param {object} monitor  the page controller: send(), entries, goTo(), showError(), announcer */
  constructor(monitor) {
    this.monitor = monitor;
    this.items = new Map(); // id -> LeftItem
    this.pending = new Map(); // client_id -> {item, text}: replies not acknowledged yet
    this.counter = 0;
    this.closedByHand = false;
    this.toggle = document.getElementById("left-toggle");
    this.box = document.getElementById("left-box");
    this.ul = document.getElementById("left-list");
    this.empty = document.getElementById("left-empty");
    this.note = document.getElementById("left-note");
    this.toggle.addEventListener("click", () => {
      const open = this.toggle.getAttribute("aria-expanded") !== "true";
      this.closedByHand = !open;
      this.setOpen(open);
    });
  }

  nextId() {
    this.counter += 1;
    return this.counter;
  }

  /** The Monitor entry of a message's conversation (or session), if it is listed. */
  entryOf(message) {
    let bySession = null;
    for (const entry of this.monitor.entries.values()) {
      if (entry.data.conversation === message.conversation) return entry;
      if (!bySession && entry.data.session === message.session) bySession = entry;
    }
    return bySession;
  }

  /** Every message left not handled yet (after each snapshot): the list becomes this. */
  setAll(messages) {
    const ids = new Set(messages.map((message) => message.id));
    for (const id of [...this.items.keys()]) if (!ids.has(id)) this.remove(id);
    for (const message of messages) this.add(message, false);
  }

  add(message, live = true) {
    if (this.items.has(message.id)) return;
    const item = new LeftItem(this, message);
    this.items.set(message.id, item);
    this.ul.append(item.element);
    if (live) this.monitor.announcer.say("session", `Message left by ${message.name || "an anonymous user"}`);
    this.draw();
  }

  /** Handled by someone: gone, and the keyboard stays in the list. */
  remove(id) {
    const item = this.items.get(id);
    if (!item) return;
    const li = item.element;
    const hadFocus = li.contains(document.activeElement);
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    this.items.delete(id);
    for (const [clientId, reply] of this.pending) if (reply.item === item) this.pending.delete(clientId);
    if (hadFocus) (next ? next.querySelector(".left-handled") : this.toggle).focus();
    this.draw();
  }

  /** The server's `ack` of a reply; false when it is none of these. */
  acked(message) {
    const reply = this.pending.get(message.client_id);
    if (!reply) return false;
    this.pending.delete(message.client_id);
    reply.item.sent(reply.text);
    this.monitor.announcer.say("status", "Reply sent");
    return true;
  }

  /** A refusal of a reply this list sent: its words; false when it is not one. */
  refused(message) {
    if (!this.pending.delete(message.ref)) return false;
    this.monitor.showError(message.message || "The reply was not sent.");
    return true;
  }

  /** The sessions listed changed: titles and "Open session" links follow. */
  refresh() {
    for (const item of this.items.values()) item.refresh();
  }

  setOpen(open) {
    this.toggle.setAttribute("aria-expanded", open ? "true" : "false");
    this.box.hidden = !open;
  }

  draw() {
    const count = this.items.size;
    this.toggle.textContent = `Messages left (${count})`;
    this.empty.hidden = count > 0;
    this.note.hidden = count === 0;
    // Collapsed when empty; open when there are some, unless the operator folded it.
    this.setOpen(count > 0 && !this.closedByHand);
  }
}
