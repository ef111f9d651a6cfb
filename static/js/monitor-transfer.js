// The transfer dialog (a modal <dialog> in monitor.html): who can take an entry's
// conversation now (the server's answer to `list_operators`, as radio buttons), or back
// to the head of the queue, with a note for the next operator. It closes once the entry
// shows the conversation moved; a refusal stays in it, in words. The keyboard goes back
// to the entry afterwards: to its Transfer button, or to its row when that is gone.

import { make } from "./lh-socket.js";

const QUEUE = ""; // the value of "Back to the queue": `to` null

/** What changes when the conversation moves: who holds it, its note, its place in line. */
function movedSignature(data) {
  return JSON.stringify([data.operator_id, data.transfer, data.queued_since]);
}

export class TransferDialog {
  /** @param {object} monitor  the page controller: send(), announcer */
  constructor(monitor) {
    this.monitor = monitor;
    this.entry = null;
    this.opener = null;
    this.sentFrom = null; // movedSignature() when the transfer was sent
    this.dialog = document.getElementById("transfer-dialog");
    this.heading = document.getElementById("transfer-heading");
    this.asking = document.getElementById("transfer-asking");
    this.choices = document.getElementById("transfer-operators");
    this.queue = document.getElementById("transfer-queue");
    this.note = document.getElementById("transfer-note");
    this.error = document.getElementById("transfer-error");
    this.submit = document.getElementById("transfer-submit");
    document.getElementById("transfer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    // A choice made answers "Choose who takes the chat".
    this.dialog.addEventListener("change", (event) => {
      if (event.target.name === "transfer-to" && this.sentFrom === null) this.showError("");
    });
    document.getElementById("transfer-cancel").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => this.closed());
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Ask who can take `entry`'s conversation and show the choices; `opener` gets the
   * keyboard back after. */
  open(entry, opener) {
    this.entry = entry;
    this.opener = opener;
    this.sentFrom = null;
    this.heading.textContent = `Transfer the chat with ${entry.who}`;
    this.choices.replaceChildren();
    this.queue.checked = false;
    this.note.value = "";
    this.showError("");
    this.asking.textContent = "Asking who is available…";
    this.asking.hidden = false;
    this.submit.disabled = false;
    this.dialog.showModal();
    this.heading.focus(); // the heading says what this is; Tab goes on to the choices
    if (!this.monitor.send({ type: "list_operators", session: entry.key })) {
      this.asking.textContent = "Not connected: only “Back to the queue” can be chosen now.";
    }
  }

  /** The server's `operators`: who can take the conversation now. */
  listed(message) {
    if (!this.isOpen || message.session !== this.entry.key) return;
    const operators = message.operators || [];
    this.asking.hidden = operators.length > 0;
    this.asking.textContent = "No other operator serving these roles has a free place now.";
    this.choices.replaceChildren(...operators.map((operator) => {
      const label = make("label", "inline-check transfer-choice");
      const radio = make("input");
      radio.type = "radio";
      radio.name = "transfer-to";
      radio.value = operator.id;
      const chats = `${operator.conversations} of ${operator.capacity} chats`;
      label.append(radio, ` ${operator.name} — ${chats}`);
      return label;
    }));
  }

  send() {
    const chosen = this.dialog.querySelector('input[name="transfer-to"]:checked');
    if (!chosen) {
      this.showError("Choose who takes the chat, or “Back to the queue”.");
      return;
    }
    const to = chosen.value === QUEUE ? null : chosen.value;
    const sent = this.monitor.send({ type: "transfer", session: this.entry.key, to, note: this.note.value });
    if (!sent) {
      this.showError("Not connected; nothing was transferred. Try again in a moment.");
      return;
    }
    this.sentFrom = movedSignature(this.entry.data);
    this.toName = to ? chosen.parentElement.textContent.split(" — ")[0].trim() : null;
    this.showError("");
    this.submit.disabled = true;
    this.submit.textContent = "Transferring…";
  }

  /** An entry changed: when it is the one being transferred and it moved, done. */
  entryChanged(entry) {
    if (!this.isOpen || entry !== this.entry || this.sentFrom === null) return;
    if (movedSignature(entry.data) === this.sentFrom) return;
    const words = this.toName ? `Transferred to ${this.toName}` : "Back in the queue";
    this.monitor.announcer.say("status", `${entry.who}: ${words}`);
    this.dialog.close();
  }

  /** A refusal of `list_operators` or `transfer`: its words in the dialog. False when
   * the dialog is not waiting for one. */
  refused(message) {
    if (!this.isOpen || !["transfer", "list_operators"].includes(message.ref)) return false;
    this.showError(message.message || "The server refused the transfer.");
    this.sentFrom = null;
    this.submit.disabled = false;
    this.submit.textContent = "Transfer";
    return true;
  }

  showError(words) {
    this.error.textContent = words;
    this.error.hidden = !words;
  }

  /** Closed (transferred, Cancel, Esc): the keyboard goes back to the entry. */
  closed() {
    // The close event comes a task later: the dialog may be open again by then (Escape,
    // then Enter on its button at once), and that opening's state must stay.
    if (this.dialog.open) return;
    this.submit.disabled = false;
    this.submit.textContent = "Transfer";
    const entry = this.entry;
    this.entry = null;
    this.sentFrom = null;
    if (!entry) return;
    if (this.opener && this.opener.isConnected && !this.opener.hidden) this.opener.focus();
    else entry.focusRow();
  }
}
