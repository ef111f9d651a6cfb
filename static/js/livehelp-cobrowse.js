// The interviewee's side of observe and control (docs/protocol.md): reports the
// screen and each field change over the user socket, shows "an operator is
// viewing / controlling your screen", applies the controlling operator's changes
// and submits the form when the operator presses one of its buttons.
// Inputs marked data-private="true" (passwords, `private: true`) are never read here.

const NOTICE_VIEWING = "An operator is viewing your screen.";
const NOTICE_CONTROLLING = "An operator is controlling your screen. Your buttons are disabled while they do.";
// Every button that submits something from the interview's panel: Continue, "Change"
// on the review, and "Start over" (its own form, outside the interview form). Copy
// (type="button") stays: copying the share link changes nothing.
const SUBMITS = 'button[type="submit"], button:not([type])';
const NOTICE_RELEASED = "You have control of your screen again.";
// The "you have control again" notice stays long enough to read.
const RELEASED_SHOW_MS = 8000;

export class UserCoBrowse {
  /** @param {function(object): boolean} send  sends one frame over the user socket */
  constructor(send) {
    this.send = send;
    this.form = document.getElementById("interview-form");
    this.controlled = false;
    this.observed = false;
    this.releasedUntil = 0;
    this.releasedTimer = null;
    if (!this.form) return;
    this.screenInput = this.form.querySelector('input[name="_screen"]');
    this.panel = document.getElementById("interview-panel") || this.form;
    this.notice = document.createElement("p");
    this.notice.id = "lh-cobrowse-notice";
    this.notice.className = "notice lh-cobrowse-notice";
    this.notice.setAttribute("role", "status");
    this.notice.hidden = true;
    this.form.before(this.notice);
    // Each keystroke and choice goes out as it happens: the operator's view is live.
    const changed = (event) => this.changed(event.target);
    this.form.addEventListener("input", changed);
    this.form.addEventListener("change", changed);
    // While controlled, the operator submits; the user's own Enter key must not.
    for (const form of new Set([this.form, ...this.panel.querySelectorAll("form")])) {
      form.addEventListener("submit", (event) => {
        if (this.controlled && !(this.pressing && form === this.form)) event.preventDefault();
      });
    }
  }

  /** Inputs of this form that carry an answer and may be shared. */
  inputs(name) {
    return [...this.form.elements].filter((el) => el.name && !el.name.startsWith("_")
      && el.dataset.private !== "true" && el.tagName !== "BUTTON" && (!name || el.name === name));
  }

  valueOf(name) {
    const inputs = this.inputs(name);
    if (inputs.length && inputs[0].type === "checkbox") {
      return inputs.filter((el) => el.checked).map((el) => el.value);
    }
    if (inputs.length && inputs[0].type === "radio") {
      const picked = inputs.find((el) => el.checked);
      return picked ? picked.value : "";
    }
    return inputs.length ? inputs[0].value : "";
  }

  /** The socket (re)opened: report the whole screen. */
  opened() {
    if (!this.form || !this.screenInput) return;
    const values = {};
    for (const input of this.inputs()) values[input.name] = this.valueOf(input.name);
    this.send({ type: "screen", screen: this.screenInput.value, values });
  }

  changed(target) {
    if (!target || !target.name || target.name.startsWith("_") || target.dataset.private === "true") return;
    this.send({ type: "field", name: target.name, value: this.valueOf(target.name) });
  }

  /** The operator changed a field: overwrite the user's input. */
  setField(name, value) {
    for (const input of this.inputs(name)) {
      if (input.type === "checkbox") input.checked = Array.isArray(value) && value.includes(input.value);
      else if (input.type === "radio") input.checked = input.value === value;
      else if (typeof value === "string") input.value = value;
    }
  }

  /** The operator pressed a button: submit the form as the user's own submit. */
  press(action) {
    const button = [...this.form.querySelectorAll('button[name="_action"]')]
      .find((el) => el.value === action);
    if (!button) return;
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "_action";
    hidden.value = action;
    this.form.append(hidden);
    this.pressing = true;
    this.form.submit();
  }

  state(state) {
    if (!this.form) return;
    const controlled = Boolean(state.controlled);
    const wasControlled = this.controlled;
    this.controlled = controlled;
    for (const button of this.panel.querySelectorAll(SUBMITS)) button.disabled = controlled;
    if (wasControlled && !controlled) this.releasedUntil = Date.now() + RELEASED_SHOW_MS;
    this.observed = Boolean(state.observed);
    this.showNotice();
    clearTimeout(this.releasedTimer);
    if (this.releasedUntil > Date.now()) {
      this.releasedTimer = setTimeout(() => this.showNotice(), this.releasedUntil - Date.now() + 10);
    }
  }

  showNotice() {
    const parts = [];
    if (!this.controlled && this.releasedUntil > Date.now()) parts.push(NOTICE_RELEASED);
    if (this.controlled) parts.push(NOTICE_CONTROLLING);
    else if (this.observed) parts.push(NOTICE_VIEWING);
    const text = parts.join(" ");
    this.notice.textContent = text;
    this.notice.hidden = !text;
    this.notice.classList.toggle("controlled", this.controlled);
  }

  receive(message) {
    if (!this.form) return;
    if (message.type === "set_field") this.setField(message.name, message.value);
    else if (message.type === "press") this.press(message.action);
  }
}
