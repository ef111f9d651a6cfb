// Canned replies on the Monitor: the list the server sends (the shared replies and this
// operator's own, docs/protocol.md "Canned replies and notes"), and the `/` picker of
// every entry's message box. Typing "/" at the start of the box or after a space, then
// letters, lists the replies whose title or text has them; ArrowUp/ArrowDown move,
// Enter (or a click) puts the chosen reply in place of the "/word", filled in for this
// entry, Esc closes the list and keeps what was typed. Nothing is sent: the text stays
// in the box to edit, and Enter sends it as before once the list is closed.
//
// The box keeps its textbox role (a textarea may have no other), so the combobox is the
// ARIA 1.1 shape: a wrapper with role="combobox" and aria-expanded around the box, which
// points at the listbox (aria-controls) and at the highlighted option
// (aria-activedescendant). What the list holds is also said in the live region.

import { make } from "./lh-socket.js";

// The list under a message box shows this many matches: enough to choose from, few
// enough not to push the entry's actions off a laptop screen; more letters narrow it.
const MAX_SHOWN = 8;
// "/" at the start or after white space, then the letters typed so far, up to the caret.
const TRIGGER = /(^|\s)\/([\p{L}\p{N}_-]*)$/u;
// What {first_name} becomes when the person gave no name (anonymous, an email only), and
// in a shared entry, where the message reaches several people: "Hello there".
export const NO_FIRST_NAME = "there";
const CARET_KEYS = ["ArrowLeft", "ArrowRight", "Home", "End"];

/** The entry's interviewee's first name, for {first_name}. */
export function firstName(data, shared) {
  const name = (data.user_name || "").trim();
  if (shared || !name || name.includes("@")) return NO_FIRST_NAME;
  return name.split(/\s+/)[0];
}

/** A reply's text as it goes into this entry's box. Functions as replacements: a name
 * with "$&" in it stays as typed. */
export function fillIn(text, data, shared) {
  const first = firstName(data, shared);
  const interview = data.title || data.interview || "the interview";
  return text.replace(/\{first_name\}/g, () => first).replace(/\{interview\}/g, () => interview);
}

/** Replies matching `query` (lower case): titles starting with it first, then titles
 * containing it, then texts; each group by title, as the server sorted them. */
export function matching(replies, query) {
  const ranked = [];
  for (const reply of replies) {
    const title = reply.title.toLowerCase();
    let rank = -1;
    if (title.startsWith(query)) rank = 0;
    else if (title.includes(query)) rank = 1;
    else if (reply.text.toLowerCase().includes(query)) rank = 2;
    if (rank >= 0) ranked.push({ reply, rank });
  }
  return ranked.sort((a, b) => a.rank - b.rank).map((item) => item.reply);
}

/** The replies this Monitor knows, kept in step with the server's events. */
export class CannedReplies {
  constructor() {
    this.replies = []; // by title, as the server sends them
    this.listeners = new Set();
  }

  setAll(replies) {
    this.replies = [...replies];
    this.changed();
  }

  upsert(reply) {
    const others = this.replies.filter((item) => item.id !== reply.id);
    this.replies = [...others, reply].sort((a, b) => a.title.toLowerCase().localeCompare(b.title.toLowerCase()));
    this.changed();
  }

  remove(id) {
    this.replies = this.replies.filter((item) => item.id !== id);
    this.changed();
  }

  get own() {
    return this.replies.filter((reply) => !reply.shared);
  }

  get sharedCount() {
    return this.replies.length - this.own.length;
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed() {
    for (const listener of this.listeners) listener();
  }
}

let pickerCounter = 0;

export class ReplyPicker {
  /**
   * @param {object} panel  the entry's panel: input (the textarea), entry, monitor
   * @param {HTMLElement} combo  the wrapper around the textarea (role="combobox")
   */
  constructor(panel, combo) {
    this.panel = panel;
    this.input = panel.input;
    this.combo = combo;
    this.monitor = panel.monitor;
    pickerCounter += 1;
    this.listId = `reply-picker-${pickerCounter}`;
    this.list = make("ul", "reply-picker");
    this.list.id = this.listId;
    this.list.setAttribute("role", "listbox");
    this.list.hidden = true;
    this.shown = []; // the replies listed now
    this.active = -1; // the highlighted option, -1 when none
    this.slash = -1; // where the "/" of the word being looked up is
    this.dismissed = -1; // the "/" Esc closed the list for: it stays closed for that one
    combo.setAttribute("role", "combobox");
    combo.setAttribute("aria-haspopup", "listbox");
    combo.setAttribute("aria-controls", this.listId);
    combo.setAttribute("aria-expanded", "false");
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-controls", this.listId);
    this.input.addEventListener("input", () => this.update());
    this.input.addEventListener("click", () => this.update());
    this.input.addEventListener("keyup", (event) => {
      if (CARET_KEYS.includes(event.key)) this.update(); // the caret left the word, or came back
    });
    this.input.addEventListener("blur", () => this.close());
    // A click on an option must not take the focus out of the box first (blur closes).
    this.list.addEventListener("mousedown", (event) => event.preventDefault());
    this.list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.choose(Number(option.dataset.index));
    });
    this.unsubscribe = this.monitor.canned.onChange(() => {
      if (document.activeElement === this.input) this.update();
    });
  }

  get isOpen() {
    return !this.list.hidden;
  }

  /** Named after the box it belongs to ("Message to Ann", the panel's label). */
  label(words) {
    this.list.setAttribute("aria-label", `Saved replies for ${words}`);
    this.combo.setAttribute("aria-label", `${words}, with saved replies`);
  }

  /** Look at the word before the caret: open, narrow or close the list. */
  update() {
    const input = this.input;
    const before = input.value.slice(0, input.selectionStart);
    const found = input.selectionStart === input.selectionEnd ? TRIGGER.exec(before) : null;
    if (!found) {
      this.dismissed = -1;
      this.close();
      return;
    }
    this.slash = found.index + found[1].length;
    if (this.slash === this.dismissed) return;
    const query = found[2].toLowerCase();
    const replies = matching(this.monitor.canned.replies, query).slice(0, MAX_SHOWN);
    if (!replies.length) {
      this.close();
      return;
    }
    const same = replies.length === this.shown.length && replies.every((r, i) => r === this.shown[i]);
    const activeId = this.active >= 0 ? this.shown[this.active].id : null;
    this.shown = replies;
    if (!same) {
      this.active = replies.findIndex((reply) => reply.id === activeId);
      this.draw();
    }
    if (!this.isOpen) {
      this.list.hidden = false;
      this.combo.setAttribute("aria-expanded", "true");
      const count = replies.length === 1 ? "1 saved reply matches" : `${replies.length} saved replies match`;
      this.monitor.announcer.say("status", `${count}: Down arrow to choose, Enter to insert`);
    }
  }

  draw() {
    const data = this.panel.entry.data;
    const shared = this.panel.entry.shared;
    this.list.replaceChildren(...this.shown.map((reply, index) => {
      const option = make("li", "reply-option");
      option.id = `${this.listId}-${index}`;
      option.dataset.index = String(index);
      option.setAttribute("role", "option");
      const title = make("span", "reply-option-title", reply.title);
      const kind = make("span", "reply-option-kind", reply.shared ? "shared" : "mine");
      const text = make("span", "reply-option-text", fillIn(reply.text, data, shared));
      option.append(title, " ", kind, " ", text);
      return option;
    }));
    this.highlight();
  }

  highlight() {
    this.list.querySelectorAll("[role=option]").forEach((option, index) => {
      option.setAttribute("aria-selected", index === this.active ? "true" : "false");
    });
    const option = this.active >= 0 ? this.list.children[this.active] : null;
    if (option) {
      this.input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  close() {
    if (!this.isOpen) return;
    this.list.hidden = true;
    this.combo.setAttribute("aria-expanded", "false");
    this.active = -1;
    this.shown = [];
    this.input.removeAttribute("aria-activedescendant");
  }

  /** The box's keydown, before its own: true when the list took the key. */
  keydown(event) {
    if (!this.isOpen || event.isComposing) return false;
    const count = this.shown.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = this.active < 0 ? (step > 0 ? 0 : count - 1) : (this.active + step + count) % count;
      this.highlight();
    } else if (event.key === "Enter" && !event.shiftKey) {
      // None highlighted yet: the first match, as the list shows it on top.
      this.choose(Math.max(this.active, 0));
    } else if (event.key === "Escape") {
      this.dismissed = this.slash;
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  /** Put the reply in place of the "/word", filled in; the caret after it. */
  choose(index) {
    const reply = this.shown[index];
    if (!reply) return;
    const input = this.input;
    const text = fillIn(reply.text, this.panel.entry.data, this.panel.entry.shared);
    const end = input.selectionStart;
    input.setRangeText(text, this.slash, end, "end");
    this.close();
    input.focus();
    input.dispatchEvent(new Event("input", { bubbles: true })); // grows the box, says "typing"
    this.monitor.announcer.say("status", `Inserted “${reply.title}”; edit it, then Enter sends`);
  }

  remove() {
    this.unsubscribe();
  }
}
