// "My replies" (a modal <dialog> in monitor.html, opened from the settings line): this
// operator's own canned replies, to add, edit and delete. The list is the Monitor's
// (monitor-canned.js) and follows the server's events, so a change made in another tab
// shows here too; the shared replies are kept by admins on /admin/replies. A save or
// delete waits for the server's `ack`; a refusal stays in the dialog, in its words.

import { make, newClientId } from "./lh-socket.js";

export class MyReplies {
  /** @param {object} monitor  the page controller: send(), canned, announcer */
  constructor(monitor) {
    this.monitor = monitor;
    this.pending = new Map(); // client_id -> what it was: {action, title}
    this.editing = null; // the reply being edited, null when adding
    this.dialog = document.getElementById("replies-dialog");
    this.heading = document.getElementById("replies-heading");
    this.list = document.getElementById("replies-own");
    this.none = document.getElementById("replies-none");
    this.sharedLine = document.getElementById("replies-shared");
    this.formHeading = document.getElementById("reply-form-heading");
    this.title = document.getElementById("reply-title");
    this.text = document.getElementById("reply-text");
    this.error = document.getElementById("reply-error");
    this.status = document.getElementById("reply-status");
    this.save = document.getElementById("reply-save");
    this.cancel = document.getElementById("reply-cancel");
    this.opener = document.getElementById("replies-button");
    this.opener.addEventListener("click", () => this.open());
    document.getElementById("replies-close").addEventListener("click", () => this.dialog.close());
    this.cancel.addEventListener("click", () => {
      this.edit(null);
      this.title.focus();
    });
    document.getElementById("reply-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.dialog.addEventListener("close", () => this.opener.focus());
    monitor.canned.onChange(() => this.draw());
    this.draw();
  }

  open() {
    this.showError("");
    this.status.textContent = "";
    this.draw();
    this.dialog.showModal();
    this.heading.focus(); // the heading says what this is; Tab goes on to the list
  }

  draw() {
    const own = this.monitor.canned.own;
    this.none.hidden = own.length > 0;
    this.list.replaceChildren(...own.map((reply) => this.item(reply)));
    const shared = this.monitor.canned.sharedCount;
    this.sharedLine.textContent = shared ? `Shared replies kept by administrators: ${shared}.`
      : "There are no shared replies yet.";
    // Edited elsewhere or deleted meanwhile: the form follows.
    if (this.editing && !own.some((reply) => reply.id === this.editing.id)) this.edit(null);
  }

  item(reply) {
    const li = make("li", "reply-item");
    const head = make("div", "reply-item-head");
    head.append(make("span", "reply-item-title", reply.title));
    const edit = make("button", "secondary compact", "Edit");
    edit.type = "button";
    edit.setAttribute("aria-label", `Edit “${reply.title}”`);
    edit.addEventListener("click", () => {
      this.edit(reply);
      this.title.focus();
    });
    const remove = make("button", "secondary compact reply-delete", "Delete");
    remove.type = "button";
    remove.setAttribute("aria-label", `Delete “${reply.title}”`);
    remove.addEventListener("click", () => this.delete(reply));
    head.append(edit, remove);
    li.append(head, make("p", "reply-item-text", reply.text));
    return li;
  }

  /** Fill the form with `reply` to change it, or empty it to add one (null). */
  edit(reply) {
    this.editing = reply;
    this.formHeading.textContent = reply ? `Edit “${reply.title}”` : "Add a reply";
    this.title.value = reply ? reply.title : "";
    this.text.value = reply ? reply.text : "";
    this.save.textContent = reply ? "Save changes" : "Save reply";
    this.cancel.hidden = !reply;
    this.showError("");
  }

  send() {
    const title = this.title.value.trim();
    const text = this.text.value.trim();
    if (!title || !text) {
      this.showError(!title ? "A reply needs a title." : "A reply cannot be empty.");
      (!title ? this.title : this.text).focus();
      return;
    }
    const message = { type: "save_reply", client_id: newClientId(), title, text };
    if (this.editing) message.id = this.editing.id;
    if (!this.request(message, { action: "saved", title })) return;
    this.save.disabled = true;
  }

  delete(reply) {
    this.request({ type: "delete_reply", client_id: newClientId(), id: reply.id },
      { action: "deleted", title: reply.title });
  }

  request(message, what) {
    if (!this.monitor.send(message)) {
      this.showError("Not connected; nothing was saved. Try again in a moment.");
      return false;
    }
    this.pending.set(message.client_id, what);
    this.showError("");
    return true;
  }

  /** The server's `ack` of a save or delete this dialog sent; false when not one. */
  acked(message) {
    const what = this.pending.get(message.client_id);
    if (!what) return false;
    this.pending.delete(message.client_id);
    const words = `${what.action === "saved" ? "Saved" : "Deleted"} “${what.title}”.`;
    this.status.textContent = words;
    if (what.action === "saved") {
      this.save.disabled = false;
      this.edit(null);
    }
    // The page's live region is inert behind this modal: the words are read as the focus
    // comes to them (a Delete button goes with its reply anyway); Tab goes on from there.
    if (this.dialog.open) this.status.focus();
    else this.monitor.announcer.say("status", words);
    return true;
  }

  /** A refusal of a request this dialog sent: its words here; false when not one. */
  refused(message) {
    if (!this.pending.delete(message.ref)) return false;
    this.save.disabled = false;
    if (this.dialog.open) this.showError(message.message || "The server refused that.");
    else this.monitor.showError(message.message || "The server refused that.");
    return true;
  }

  showError(words) {
    this.error.textContent = words;
    this.error.hidden = !words;
  }
}
