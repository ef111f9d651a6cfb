// "Leave a message" in the Help tab, for when nobody can chat (docs/protocol.md,
// "Messages left"): the form, its refusals in plain words under the field they concern,
// and its sending. Whether the form shows, and its lead sentence, come from
// describeState (livehelp-state.js) like every other word about the state.
//
// The message goes through a ChatLog of its own, used as an outbox only: it resends
// after a reconnect with the same client_id (the server stores it once), waits out
// rate limits and store outages, and says when a refusal is final. The message shows
// in the chat itself when the server's `chat` event for it comes, as any message does.

import { ChatLog } from "./lh-chat-log.js";
import { newClientId } from "./lh-socket.js";
import { plainWords } from "./livehelp-composer.js";
import { NOT_NOW } from "./livehelp-state.js";

const $ = (id) => document.getElementById(id);

const SENDING = "Sending your message…";
const EMPTY = "Write your message first.";

/** A refusal in words, and the field it concerns ("text", "contact" or "" for the form). */
function refusalWords(error) {
  if (error.code === "not_now") return { field: "", words: NOT_NOW };
  // The server's words for a bad contact are plain already ("How to reach you: …").
  if (error.code === "bad_contact") return { field: "contact", words: error.message };
  // The rules' refusals of the text: empty, too long, the conversation full.
  const words = plainWords(error);
  return { field: ["bad_field", "conversation_full"].includes(error.code) ? "text" : "", words };
}

export class LeaveForm {
  /**
   * @param {function(object): boolean} send  sends one frame; false while the socket is down
   * @param {function(): void} changed  what describeState is told changed (a draft began or
   *   ended, a message was left): the page draws its state again
   */
  constructor(send, changed) {
    this.form = $("lh-leave-form");
    this.text = $("lh-leave-text");
    this.contact = $("lh-leave-contact");
    this.status = $("lh-leave-sending");
    this.button = $("lh-leave-send");
    this.changed = changed;
    this.left = false; // a message was left from this page
    this.maxChars = Number(this.text.maxLength);
    this.outbox = new ChatLog("");
    this.outbox.transport = (item) => send({ type: "leave_message", client_id: item.client_id,
      text: item.text, contact: item.contact });
    this.outbox.onChange(() => this.settle());
    this.refusal = null; // the last refusal of the message on its way (its code picks the field)
    this.wasDraft = false;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.text.addEventListener("input", () => {
      this.fieldError("text", "");
      if (this.draft !== this.wasDraft) this.changed();
    });
    this.contact.addEventListener("input", () => this.fieldError("contact", ""));
    $("lh-leave-again").addEventListener("click", () => {
      this.left = false;
      this.changed();
      this.text.focus();
    });
  }

  /** Something is typed that was not sent yet: the form stays while it is there. */
  get draft() {
    return this.text.value.trim() !== "";
  }

  /** Draw the part of describeState's view that is this form's (`view.leave`). */
  draw(leave, maxChars) {
    this.wasDraft = this.draft;
    this.form.hidden = !leave.shown;
    if (maxChars !== this.maxChars) {
      this.maxChars = maxChars;
      this.text.maxLength = maxChars;
    }
    const lead = $("lh-leave-lead");
    if (lead.textContent !== leave.lead) lead.textContent = leave.lead;
    // The lead says it already: once is enough.
    if (leave.lead === NOT_NOW && this.status.textContent === NOT_NOW) this.say("");
    const done = $("lh-left");
    if (done.textContent !== leave.done) done.textContent = leave.done;
    $("lh-leave-again").hidden = !leave.again;
  }

  submit() {
    if (this.busy) return;
    const text = this.text.value.trim();
    this.fieldError("text", "");
    this.fieldError("contact", "");
    this.say("");
    if (!text) {
      this.fieldError("text", EMPTY, true);
      return;
    }
    this.refusal = null;
    // Not `disabled`: a disabled button drops the focus, and the answer moves it on.
    this.button.setAttribute("aria-disabled", "true");
    this.say(SENDING);
    this.outbox.addPending(newClientId(), text, { contact: this.contact.value.trim() });
  }

  /** A message is on its way (one at a time: a second press waits for the answer). */
  get busy() {
    return this.outbox.pending.size > 0;
  }

  /** The socket reopened and said hello: what waits goes (again, with its client_id). */
  flush() {
    this.outbox.flush();
  }

  socketDown() {
    this.outbox.socketDown();
  }

  /** The server closed the socket for good: nothing can go now. */
  ended(words) {
    this.refusal = null;
    this.outbox.failAll(words);
  }

  /** The server stored it: true when the ack was for this form's message. */
  ack(message) {
    if (!this.outbox.pending.has(message.client_id)) return false;
    this.outbox.ack(message.client_id, message.seq);
    return true;
  }

  /** A refusal of this form's message (true), retried or shown; false when not ours. */
  refused(error) {
    if (!this.outbox.pending.has(error.ref)) return false;
    this.refusal = error;
    this.outbox.refused(error);
    return true;
  }

  /** The outbox changed: the message was stored, or refused for good. */
  settle() {
    for (const [clientId, item] of this.outbox.pending) {
      if (item.acked) {
        this.outbox.pending.delete(clientId);
        this.succeeded();
      } else if (item.failed) {
        this.outbox.pending.delete(clientId);
        this.failed(this.refusal || { message: item.failed });
      }
    }
  }

  succeeded() {
    const focusWasHere = this.form.contains(document.activeElement);
    this.text.value = "";
    this.contact.value = "";
    this.button.removeAttribute("aria-disabled");
    this.say("");
    this.left = true;
    this.changed();
    // The form is gone: the focus goes to the words that say what happened.
    if (focusWasHere) $("lh-left").focus();
  }

  failed(error) {
    this.button.removeAttribute("aria-disabled");
    this.say("");
    const { field, words } = refusalWords(error);
    const activate = $("lh-activate");
    if (field) this.fieldError(field, words, true);
    else if (words !== NOT_NOW || $("lh-leave-lead").textContent !== NOT_NOW) this.say(words, true);
    // The lead says "start a chat instead" already: the press takes the person there.
    else if (!activate.hidden && !activate.disabled) activate.focus();
  }

  /** The form's own status beside its button: "Sending…", or a refusal of the whole form. */
  say(words, refusal = false) {
    this.status.classList.toggle("error", refusal);
    if (this.status.textContent !== words) this.status.textContent = words;
  }

  /** Words under a field ("" clears them); `focus` moves there so they are read. */
  fieldError(field, words, focus = false) {
    const input = field === "text" ? this.text : this.contact;
    const box = $(`lh-leave-${field}-error`);
    if (box.textContent !== words) box.textContent = words;
    if (words) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", box.id);
      if (focus) input.focus();
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }
}
