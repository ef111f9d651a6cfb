// Private notes: what operators write about a session for each other (never sent to the
// interviewee: docs/protocol.md, "Canned replies and notes"). `Notes` keeps them by
// session id for the whole page (the server pushes each new one to every Monitor) and
// asks for a session's notes when one of its entries first opens, and again after the
// socket reopens; `NotesSection` is the "Notes for operators" part of an entry's panel:
// the list (author, time, text, all as text) and a box to add one. It folds behind a
// "Notes (N)" button among the entry's actions, so three open chats still fit a laptop
// screen; it unfolds by itself when the session has notes (the next operator sees them).

import { make, newClientId } from "./lh-socket.js";
import { clockTime } from "./monitor-time.js";

export class Notes {
  /** @param {object} monitor  the page controller: send(), announcer, showError() */
  constructor(monitor) {
    this.monitor = monitor;
    this.bySession = new Map(); // session id -> [note], oldest first, once asked for
    this.asked = new Set(); // session ids asked for since the socket opened
    this.sections = new Set();
    this.pending = new Map(); // client_id -> the section that sent it
  }

  /** A section shows the notes of its entry's session: asked for once per socket. */
  want(section) {
    this.sections.add(section);
    const { session, key } = section.entry.data;
    if (this.asked.has(session)) return;
    if (this.monitor.send({ type: "notes", session: key })) this.asked.add(session);
  }

  /** The socket (re)opened: notes added meanwhile come with each list asked for again. */
  reconnected() {
    this.asked.clear();
    for (const section of this.sections) if (section.entry.isOpen) this.want(section);
  }

  of(session) {
    return this.bySession.get(session) || null;
  }

  /** The server's `notes`: every note of one session. */
  listed(message) {
    this.bySession.set(message.session, message.notes || []);
    this.redraw(message.session);
  }

  /** The server's `note`: one more, for a session this page shows or will. */
  added(message) {
    const notes = this.bySession.get(message.session);
    if (!notes) return; // asked for when its entry opens, this one with the rest
    if (notes.some((note) => note.id === message.note.id)) return;
    notes.push(message.note);
    this.redraw(message.session);
    if (message.note.author_id !== this.monitor.me.id) {
      for (const section of this.sections) {
        if (section.entry.data.session === message.session && section.entry.isOpen) {
          this.monitor.announcer.say("status", `New note from ${message.note.author} on ${section.entry.who}`);
          break;
        }
      }
    }
  }

  redraw(session) {
    for (const section of this.sections) if (section.entry.data.session === session) section.draw();
  }

  add(section, text) {
    const clientId = newClientId();
    const sent = this.monitor.send({ type: "add_note", session: section.entry.key, client_id: clientId, text });
    if (sent) this.pending.set(clientId, section);
    return sent;
  }

  /** The `ack` of a note this page added; false when it is not one. */
  acked(message) {
    const section = this.pending.get(message.client_id);
    if (!section) return false;
    this.pending.delete(message.client_id);
    section.added();
    return true;
  }

  /** A refusal of a note this page sent (too long, too fast, ...): false when not one. */
  refused(message) {
    // The entry went away as its notes were asked for: its panel goes with it.
    if (message.ref === "notes") return true;
    const section = this.pending.get(message.ref);
    if (!section) return false;
    this.pending.delete(message.ref);
    section.refused(message.message || "The note was not added.");
    return true;
  }

  forget(section) {
    this.sections.delete(section);
  }
}

export class NotesSection {
  constructor(panel) {
    this.entry = panel.entry;
    this.notes = panel.monitor.notes;
    const id = `${panel.entry.domId}-notes`;
    this.element = make("section", "notes");
    this.element.id = id;
    this.element.setAttribute("aria-labelledby", `${id}-heading`);
    this.element.hidden = true;
    this.byHand = false; // opened or closed by the operator: it stays so
    this.toggle = make("button", "secondary compact notes-toggle", "Notes");
    this.toggle.type = "button";
    this.toggle.setAttribute("aria-expanded", "false");
    this.toggle.setAttribute("aria-controls", id);
    this.toggle.addEventListener("click", () => {
      this.byHand = true;
      this.setOpen(this.element.hidden);
      if (!this.element.hidden) this.input.focus();
    });
    const heading = make("h4", "notes-heading");
    heading.id = `${id}-heading`;
    this.headingText = make("span", "", "Notes for operators");
    heading.append(this.headingText, " ", make("span", "muted small notes-private", "(the user never sees these)"));
    this.list = make("ol", "notes-list");
    this.empty = make("p", "muted small notes-empty", "Loading notes…");
    const form = make("form", "note-form");
    const label = make("label", "visually-hidden", "Add a note for operators");
    label.htmlFor = `${id}-text`;
    this.input = make("textarea", "note-input");
    this.input.id = `${id}-text`;
    this.input.rows = 1;
    this.input.placeholder = "Add a note for operators";
    this.button = make("button", "secondary compact", "Add note");
    this.button.type = "submit";
    this.error = make("p", "notice warn note-error");
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    const row = make("div", "note-row");
    row.append(this.input, this.button);
    form.append(label, row);
    this.element.append(heading, this.empty, this.list, form, this.error);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    // Enter adds, as in the message box; Shift+Enter for a new line.
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.draw();
  }

  /** The panel opened: the notes, asked for once per socket. */
  shown() {
    this.notes.want(this);
  }

  setOpen(open) {
    this.element.hidden = !open;
    this.toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  draw() {
    const notes = this.notes.of(this.entry.data.session);
    const count = notes ? notes.length : 0;
    this.empty.hidden = count > 0;
    this.empty.textContent = notes ? "No notes yet." : "Loading notes…";
    this.headingText.textContent = count ? `Notes for operators (${count})` : "Notes for operators";
    // Seen: "Notes (2)"; heard: "Notes for operators on Ann Lee (2)".
    this.toggle.replaceChildren("Notes", make("span", "visually-hidden", ` for operators on ${this.entry.who}`),
      count ? ` (${count})` : "");
    if (count && !this.byHand) this.setOpen(true);
    this.list.replaceChildren(...(notes || []).map((note) => {
      const li = make("li", "note");
      const meta = make("p", "note-meta small");
      const when = make("time", "", clockTime(note.time));
      when.dateTime = note.time;
      meta.append(make("span", "note-author", note.author), " · ", when);
      li.append(meta, make("p", "note-text", note.text));
      return li;
    }));
  }

  send() {
    const text = this.input.value.trim();
    if (!text || this.button.disabled) return;
    if (!this.notes.add(this, text)) {
      this.refused("Not connected; the note was not added. Try again in a moment.");
      return;
    }
    this.button.disabled = true;
    this.showError("");
  }

  /** Stored: the box empties (the note itself comes as `note`, like everyone's). */
  added() {
    this.input.value = "";
    this.button.disabled = false;
    this.notes.monitor.announcer.say("status", "Note added");
  }

  refused(words) {
    this.button.disabled = false;
    this.showError(words);
  }

  showError(words) {
    this.error.textContent = words;
    this.error.hidden = !words;
  }

  remove() {
    this.notes.forget(this);
  }
}
