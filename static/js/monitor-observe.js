// Observe and control on the Monitor (docs/protocol.md): a live, disabled copy of
// the user's screen inside the session entry, built with createElement and
// textContent from the server's description; "Take control" makes it editable
// and its buttons press the user's. Private fields show a fixed mask, always.

import { buildScreen } from "./monitor-screen.js";

const monitor = window.livehelpMonitor;
const views = new Map(); // entry key -> ObserveView

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
    this.key = entry.key;
    this.screen = null;
    this.controlling = false;
    this.fields = new Map(); // name -> {setValue, inputs, private}
    const box = entry.observeView;
    const bar = document.createElement("div");
    bar.className = "observe-bar";
    this.heading = document.createElement("strong");
    this.heading.className = "observe-heading";
    this.status = document.createElement("span");
    this.status.className = "observe-status muted small";
    this.status.setAttribute("role", "status");
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
    entry.observe.hidden = true;
    this.drawControl(entry.data);
  }

  stop() {
    monitor.send({ type: "stop_observe", session: this.key });
    this.close();
  }

  close() {
    views.delete(this.key);
    this.entry.observeView.hidden = true;
    this.entry.observeView.replaceChildren();
    this.entry.observe.hidden = false;
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
    this.status.textContent = status;
    this.takeButton.hidden = this.controlling;
    this.takeButton.disabled = Boolean(otherName);
    this.releaseButton.hidden = !this.controlling;
    this.entry.observeView.classList.toggle("controlling", this.controlling);
    for (const field of this.fields.values()) {
      for (const input of field.inputs) input.disabled = !this.controlling || field.private;
    }
    for (const pressButton of this.buttons || []) pressButton.disabled = !this.controlling;
  }
}

function onMessage(message) {
  if (message.type === "observe_screen") {
    const entry = monitor.entry(message.session);
    if (!entry) return;
    let view = views.get(message.session);
    if (!view || view.entry !== entry) view = new ObserveView(entry);
    views.set(message.session, view);
    view.show(message);
  } else if (message.type === "observe_field") {
    const view = views.get(message.session);
    if (view) view.setValue(message.name, message.value);
  } else if (message.type === "observe_end") {
    const view = views.get(message.session);
    if (view) view.close();
  } else if (message.type === "session") {
    const view = views.get(message.session.key);
    if (view && view.entry === monitor.entry(message.session.key)) view.drawControl(message.session);
    else if (view) views.delete(message.session.key);
  } else if (message.type === "session_gone") {
    views.delete(message.key);
  } else if (message.type === "monitor") {
    // A new socket after a reconnect: the server forgot what this page watched.
    for (const [key, view] of views) {
      if (monitor.entry(key) === view.entry) monitor.send({ type: "observe", session: key });
      else views.delete(key);
    }
  }
}

if (monitor) {
  document.addEventListener("livehelp:monitor", (event) => onMessage(event.detail));
}
