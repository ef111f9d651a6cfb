// Keyboard shortcuts of the Monitor, as the page's "Keyboard shortcuts" panel lists them:
// Alt+N the next entry that needs an answer (focus on its row, opened), Alt+C into the
// message box of the entry the keyboard is on, Esc from a message box back to its row
// (monitor-panel.js), Enter on an open row into its box (monitor-entry.js), "/" to search.

/** The entry whose row or panel holds `element`, if any. */
function entryOf(monitor, element) {
  const li = element && element.closest ? element.closest("#sessions > li.entry") : null;
  return li ? monitor.entries.get(li.dataset.id) : null;
}

function typingInAField(element) {
  if (!element) return false;
  const tag = element.tagName;
  return tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable
    || (tag === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(element.type));
}

export function setupKeys(monitor) {
  let current = null; // the entry Alt+N went to last
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey) return;
    if (document.querySelector("dialog[open]")) return; // a modal dialog has the keyboard
    // event.code: the key itself, whatever the layout makes of Alt+letter.
    if (event.altKey && event.code === "KeyN") {
      event.preventDefault();
      const from = entryOf(monitor, document.activeElement) || current;
      const next = monitor.list.nextNeedingAnswer(from);
      if (!next) {
        monitor.announcer.say("status", "No session needs an answer");
        return;
      }
      current = next;
      next.setOpen(true, { byHand: true });
      next.focusRow();
      next.element.scrollIntoView({ block: "nearest" });
    } else if (event.altKey && event.code === "KeyC") {
      const entry = entryOf(monitor, document.activeElement) || current;
      if (!entry) return;
      event.preventDefault();
      if (!entry.isOpen) entry.setOpen(true, { byHand: true });
      if (!entry.panel || !entry.panel.focusComposer()) {
        monitor.announcer.say("status", "This session has no chat to write in now");
      }
    } else if (event.key === "/" && !event.altKey && !typingInAField(document.activeElement)) {
      event.preventDefault();
      document.getElementById("search").focus();
    }
  });
}
