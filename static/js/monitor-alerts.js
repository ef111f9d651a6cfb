// Monitor attention: the unread total in the tab title, the "New message above/below"
// notice in the sticky header (it goes to the newest unread entry), desktop
// notifications (asked for only from a click) and an optional beep. Only a message
// that is new and unread for this operator notifies or beeps.

const BASE_TITLE = document.title;
const SOUND_KEY = "livehelp-monitor-sound";

export class Alerts {
  /**
   * @param {{newestUnread: function(): object|null, goTo: function(object): void}} monitor
   *   newestUnread(): the entry with unread messages whose last one came last;
   *   goTo(entry): show it, open it and put the cursor in its message box.
   */
  constructor(monitor) {
    this.monitor = monitor;
    this.notice = document.getElementById("new-unread");
    this.head = document.getElementById("console-head");
    this.audio = null;
    this.sound = document.getElementById("sound-toggle");
    this.sound.checked = localStorage.getItem(SOUND_KEY) === "on";
    this.sound.addEventListener("change", () => {
      localStorage.setItem(SOUND_KEY, this.sound.checked ? "on" : "off");
      if (this.sound.checked) this.beep(); // also unlocks audio from this click
    });
    this.notice.addEventListener("click", () => {
      const entry = this.monitor.newestUnread();
      if (entry) this.monitor.goTo(entry);
      this.updateNotice();
    });
    let queued = false;
    const later = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        this.updateNotice();
      });
    };
    window.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", later);
    this.setupNotifications();
  }

  /** The operator's unread total changed (or may have). */
  setTotal(total) {
    document.title = total ? `(${total}) ${BASE_TITLE}` : BASE_TITLE;
    this.updateNotice();
  }

  /** Where the newest unread entry is, seen from the list: in view (no notice), above
   * the header band, below the window, or not drawn (filtered out, further down). */
  updateNotice() {
    const entry = this.monitor.newestUnread();
    let where = "";
    if (entry) {
      const row = entry.element && entry.element.isConnected ? entry.element : null;
      if (!row) {
        where = "below";
      } else {
        const box = row.getBoundingClientRect();
        const top = this.head.getBoundingClientRect().bottom;
        if (box.top < top) where = "above";
        else if (box.top > window.innerHeight - 20) where = "below";
      }
    }
    this.notice.hidden = !where;
    if (where) this.notice.textContent = where === "above" ? "New message above ↑" : "New message below ↓";
  }

  /** A message that is unread for this operator just came. */
  newUnread(key, title, body) {
    if (this.sound.checked) this.beep();
    this.notify(key, title, body);
  }

  setupNotifications() {
    const button = document.getElementById("notify-enable");
    const state = document.getElementById("notify-state");
    const show = () => {
      if (!("Notification" in window)) {
        button.hidden = true;
        state.textContent = "No desktop notifications in this browser";
      } else if (Notification.permission === "granted") {
        button.hidden = true;
        state.textContent = "Notifications on";
      } else if (Notification.permission === "denied") {
        button.hidden = true;
        state.textContent = "Notifications blocked in the browser";
      } else {
        button.hidden = false;
        state.textContent = "";
      }
    };
    button.addEventListener("click", async () => {
      try {
        await Notification.requestPermission();
      } catch {
        // older browsers take a callback instead; nothing to do then
      }
      show();
    });
    show();
  }

  notify(key, title, body) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (!document.hidden && document.hasFocus()) return; // the list says it already
    try {
      const note = new Notification(title, { body, tag: `livehelp-${key}` });
      note.onclick = () => {
        window.focus();
        const entry = this.monitor.entryById(key);
        if (entry) this.monitor.goTo(entry);
        note.close();
      };
    } catch {
      // some platforms allow notifications only from a service worker
    }
  }

  beep() {
    try {
      this.audio = this.audio || new AudioContext();
      const oscillator = this.audio.createOscillator();
      const gain = this.audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, this.audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, this.audio.currentTime + 0.25);
      oscillator.connect(gain).connect(this.audio.destination);
      oscillator.start();
      oscillator.stop(this.audio.currentTime + 0.25);
    } catch {
      // no audio output: the list and the title still tell
    }
  }
}
