// Observe and control on the Monitor (docs/protocol.md): a live, disabled copy of
// the user's screen inside the entry's panel, built with createElement and
// textContent from the server's description; "Take control" makes it editable
// and its buttons press the user's. Private fields show a fixed mask, always.
// After Observe the keyboard goes to the view's heading; after Stop observing, back
// to Observe.

import { buildScreen } from "./monitor-screen.js";

const monitor = window.livehelpMonitor;
const views = new Map(); // entry id -> ObserveView

function button(text, className, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  element.addEventListener("click", onClick);
  return element;
}

class ObserveView {
  constructor(entry) {
    this.entry = entry;
    this.panel = entry.panel;
    this.screen = null;
    this.controlling = false;
    this.fields = new Map(); // name -> {setValue, inputs, private}
    const box = this.panel.observeView;
    const bar = document.createElement("div");
    bar.className = "observe-bar";
    this.heading = document.createElement("h4");
    this.heading.className = "observe-heading";
    this.heading.tabIndex = -1;
    this.status = document.createElement("span");
    this.status.className = "observe-status muted small";
    this.takeButton = button("Take control", "secondary small-button observe-control",
      () => monitor.send({ type: "control", session: this.key }));
    this.releaseButton = button("Stop controlling", "small-button observe-release",
      () => monitor.send({ type: "stop_control", session: this.key }));
    this.stopButton = button("Stop observing", "secondary small-button observe-stop",
      () => this.stop());
    bar.append(this.heading, this.status, this.takeButton, this.releaseButton, this.stopButton);
    this.body = document.createElement("div");
    this.body.className = "observe-screen";
    box.replaceChildren(bar, this.body);
    box.hidden = false;
    const hadFocus = document.activeElement === this.panel.observe;
    this.panel.observe.hidden = true;
    this.drawControl(entry.data);
    if (this.panel.focusObserveView || hadFocus) this.heading.focus();
    this.panel.focusObserveView = false;
  }

  /** The entry's key now: commands go through it (a shared entry's may change). */
  get key() {
    return this.entry.key;
  }

  stop() {
    monitor.send({ type: "stop_observe", session: this.key });
    this.close();
  }

  close() {
    views.delete(this.entry.id);
    const hadFocus = this.panel.observeView.contains(document.activeElement);
    this.panel.observeView.hidden = true;
    this.panel.observeView.replaceChildren();
    this.panel.observe.hidden = false;
    if (hadFocus) this.panel.observe.focus();
  }

  /** The full screen and values (on observe, on each screen change, page gone). */
  show(message) {
    if (!message.screen) {
      this.body.classList.add("stale");
      this.stale = true;
      this.drawControl(this.entry.data);
      return;
    }
    this.stale = false;
    this.body.classList.remove("stale");
    this.screen = message.screen;
    const built = buildScreen(message.screen, this.key, {
      changed: (name, value) => monitor.send({ type: "set_field", session: this.key, name, value }),
      press: (action) => monitor.send({ type: "press", session: this.key, action }),
    });
    this.fields = built.fields;
    this.buttons = built.buttons;
    this.body.replaceChildren(built.element);
    for (const [name, value] of Object.entries(message.values || {})) this.setValue(name, value);
    this.drawControl(this.entry.data);
  }

  setValue(name, value) {
    const field = this.fields.get(name);
    if (!field || field.private) return;
    // The controlling operator's own typing comes back as an echo; do not fight the cursor.
    if (this.controlling && field.inputs.includes(document.activeElement)) return;
    field.setValue(value);
  }

  /** Entry changed: who controls decides what this view lets the operator do. */
  drawControl(data) {
    const controllerId = data.controller_id;
    this.controlling = controllerId === monitor.me.id;
    const otherName = controllerId && !this.controlling ? (data.controller_name || "another operator") : "";
    this.heading.textContent = this.controlling ? "You are controlling the user's screen"
      : "Viewing the user's screen (read-only)";
    let status = "";
    if (this.stale) status = "The user's page is loading a new screen or was closed.";
    else if (!this.screen) status = "Waiting for the user's page…";
    else if (otherName) status = `Controlled by ${otherName}.`;
    // Said through the Monitor's one live region, once per change.
    if (status && status !== this.status.textContent) monitor.announce(status);
    this.status.textContent = status;
    this.takeButton.hidden = this.controlling;
    this.takeButton.disabled = Boolean(otherName);
    this.releaseButton.hidden = !this.controlling;
    this.panel.observeView.classList.toggle("controlling", this.controlling);
    for (const field of this.fields.values()) {
      for (const input of field.inputs) input.disabled = !this.controlling || field.private;
    }
    for (const pressButton of this.buttons || []) pressButton.disabled = !this.controlling;
  }
}

/** The view of the entry reached by `key`, if it still stands for that entry. */
function viewOf(key) {
  const entry = monitor.entry(key);
  return entry ? views.get(entry.id) : null;
}

function onMessage(message) {
  if (message.type === "observe_screen") {
    const entry = monitor.entry(message.session);
    if (!entry || !entry.panel) return;
    let view = views.get(entry.id);
    if (!view || view.entry !== entry) view = new ObserveView(entry);
    views.set(entry.id, view);
    view.show(message);
  } else if (message.type === "observe_field") {
    const view = viewOf(message.session);
    if (view) view.setValue(message.name, message.value);
  } else if (message.type === "observe_end") {
    const view = viewOf(message.session);
    if (view) view.close();
  } else if (message.type === "session") {
    const id = message.session.id || message.session.key;
    const view = views.get(id);
    if (view && view.entry === monitor.entryById(id)) view.drawControl(message.session);
    else if (view) views.delete(id);
  } else if (message.type === "session_gone") {
    views.delete(message.id || message.key);
  } else if (message.type === "monitor") {
    // A new socket after a reconnect: the server forgot what this page watched.
    for (const [id, view] of views) {
      if (monitor.entryById(id) === view.entry) monitor.send({ type: "observe", session: view.key });
      else views.delete(id);
    }
  }
}

if (monitor) {
  document.addEventListener("livehelp:monitor", (event) => onMessage(event.detail));
}
