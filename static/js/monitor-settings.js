// The Monitor's settings line: availability (words and colour), the roles served, how
// many chats this operator takes at once, and the phone number for call forwarding
// (roles and phone each a compact button opening a small panel), so all of it fits one
// line of a laptop screen.

import { make } from "./lh-socket.js";

/** A button that shows and hides the panel it controls (aria-controls); Esc or a click
 * elsewhere closes it, and focus goes back to the button when it was inside. */
export class Disclosure {
  constructor(button, onOpen = () => {}) {
    this.button = button;
    this.panel = document.getElementById(button.getAttribute("aria-controls"));
    this.onOpen = onOpen;
    button.addEventListener("click", () => this.toggle(!this.isOpen));
    for (const element of [button, this.panel]) {
      element.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && this.isOpen) {
          event.stopPropagation();
          this.toggle(false, true);
        }
      });
    }
    document.addEventListener("click", (event) => {
      if (this.isOpen && !this.panel.contains(event.target) && !button.contains(event.target)) {
        this.toggle(false);
      }
    });
  }

  get isOpen() {
    return this.button.getAttribute("aria-expanded") === "true";
  }

  toggle(open, refocus = false) {
    const hadFocus = this.panel.contains(document.activeElement);
    this.button.setAttribute("aria-expanded", open ? "true" : "false");
    this.panel.hidden = !open;
    if (open) this.onOpen();
    else if (refocus || hadFocus) this.button.focus();
  }
}

/** "+12762410114" → "+1 276…": enough to recognise one's own number in a narrow button. */
function shortNumber(phone) {
  return phone.length > 6 ? `${phone.slice(0, 2)} ${phone.slice(2, 5)}…` : phone;
}

export class Settings {
  /** @param {object} monitor  the page controller: send(), voice, redrawPhones() */
  constructor(monitor) {
    this.monitor = monitor;
    this.operator = { available: false, roles: [], phone: null, capacity: null, maxCapacity: 0 };
    this.requestedRoles = [];
    this.phonePending = false;
    this.statusButton = document.getElementById("status-toggle");
    this.statusButton.addEventListener("click", () => {
      monitor.send({ type: "set_status", available: !this.operator.available });
    });
    this.rolesButton = document.getElementById("roles-button");
    this.roles = new Disclosure(this.rolesButton);
    this.capacity = document.getElementById("capacity");
    this.capacityPending = false;
    this.capacity.addEventListener("change", () => {
      this.capacityPending = true;
      if (!monitor.send({ type: "set_capacity", capacity: Number(this.capacity.value) })) {
        this.capacityRefused("Not connected; the number of chats did not change. Try again in a moment.");
      }
    });
    if (monitor.voice) this.setupPhone();
  }

  /** The operator's settings as the server has them (`monitor` snapshot). */
  setOperator(operator) {
    const previousPhone = this.operator.phone;
    this.operator = { available: Boolean(operator.available), roles: operator.roles || [],
      phone: operator.phone || null, capacity: operator.capacity || null,
      maxCapacity: operator.max_capacity || 0 };
    const on = this.operator.available;
    this.statusButton.disabled = false;
    this.statusButton.textContent = on ? "Available for chat" : "Not available for chat";
    this.statusButton.setAttribute("aria-pressed", on ? "true" : "false");
    this.statusButton.classList.toggle("on", on);
    if (this.monitor.voice) this.drawPhone(previousPhone !== this.operator.phone);
    this.phonePending = false;
    this.drawRoles();
    this.drawCapacity();
  }

  /** "Takes up to [4] chats": a choice from 1 to the ceiling an admin set. */
  drawCapacity() {
    const { capacity, maxCapacity } = this.operator;
    const select = this.capacity;
    if (select.options.length !== maxCapacity) {
      select.replaceChildren(...Array.from({ length: maxCapacity }, (_, n) => make("option", "", String(n + 1))));
    }
    select.disabled = !capacity;
    if (capacity) select.value = String(capacity);
    if (this.capacityPending && capacity) {
      this.monitor.announcer.say("status", `You take up to ${capacity} chats at once`);
    }
    this.capacityPending = false;
  }

  /** The server did not take the new number: say why, and show the number in effect. */
  capacityRefused(words) {
    this.capacityPending = false;
    if (this.operator.capacity) this.capacity.value = String(this.operator.capacity);
    this.monitor.showError(words);
  }

  setRequestedRoles(roles) {
    this.requestedRoles = roles;
    this.drawRoles();
  }

  /** The server ended this Monitor: the button says so instead of a stale status. */
  ended() {
    this.statusButton.textContent = "Not connected";
    this.statusButton.classList.remove("on");
    this.statusButton.setAttribute("aria-pressed", "false");
  }

  drawRoles() {
    const chosen = new Set(this.operator.roles);
    const all = [...new Set([...this.requestedRoles, ...this.operator.roles])].sort();
    const served = all.filter((role) => chosen.has(role));
    this.rolesButton.textContent = `Roles: ${served.length ? served.join(", ") : "none"}`;
    document.getElementById("roles-empty").hidden = all.length > 0;
    const list = document.getElementById("roles-list");
    const drawn = [...list.children].map((label) => label.dataset.role);
    if (drawn.join("\n") !== all.join("\n")) {
      // Only when the roles themselves change: a box being ticked keeps its place and focus.
      list.replaceChildren(...all.map((role) => {
        const label = make("label", "inline-check");
        label.dataset.role = role;
        const box = make("input");
        box.type = "checkbox";
        box.value = role;
        box.addEventListener("change", () => this.sendRoles());
        label.append(box, " ", role, make("span", "muted small role-note"));
        return label;
      }));
    }
    for (const label of list.children) {
      const role = label.dataset.role;
      label.querySelector("input").checked = chosen.has(role);
      label.querySelector(".role-note").textContent = this.requestedRoles.includes(role) ? ""
        : " (no active session asks for it)";
    }
  }

  sendRoles() {
    const roles = [...document.querySelectorAll("#roles-list input:checked")].map((box) => box.value);
    this.operator.roles = roles;
    this.drawRoles();
    this.monitor.send({ type: "set_roles", roles });
  }

  setupPhone() {
    this.phoneButton = document.getElementById("phone-button");
    this.input = document.getElementById("phone-input");
    this.phone = new Disclosure(this.phoneButton, () => this.input.focus());
    document.getElementById("phone-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const phone = this.input.value.trim();
      this.phonePending = true;
      this.phoneMessage("Saving…", false);
      if (!this.monitor.send({ type: "set_phone", phone })) {
        this.phoneMessage("Not connected; try again in a moment.", true);
      } else if (phone === (this.operator.phone || "")) {
        this.phoneMessage("Saved.", false);
      }
    });
  }

  drawPhone(changed) {
    const phone = this.operator.phone;
    this.phoneButton.textContent = `Phone: ${phone ? shortNumber(phone) : "none"} · Change`;
    this.phoneButton.title = phone ? `Your number for call forwarding: ${phone}` : "";
    if (!changed) return;
    if (document.activeElement !== this.input || !this.input.value) this.input.value = phone || "";
    if (this.phonePending) this.phoneMessage(phone ? "Saved." : "Number removed.", false);
    this.monitor.redrawPhones();
  }

  /** The server's words about the number (saved, or what is wrong with it). */
  phoneMessage(text, isError) {
    const box = document.getElementById("phone-message");
    box.textContent = text;
    box.classList.toggle("error", isError);
    this.input.setAttribute("aria-invalid", isError ? "true" : "false");
    if (isError && !this.phone.isOpen) this.phone.toggle(true);
  }
}
