// Monitor attention helpers: yellow highlight + "New message" badge per entry,
// unread count in the tab title, "New message above/below" jump buttons,
// desktop notifications (asked for only from a click) and an optional beep.

const BASE_TITLE = document.title;
const SOUND_KEY = "livehelp-monitor-sound";

export class Alerts {
  constructor() {
    this.unread = new Map(); // entry key -> count
    this.entries = new Map(); // entry key -> <li>
    this.above = document.getElementById("new-above");
    this.below = document.getElementById("new-below");
    this.audio = null;
    this.sound = document.getElementById("sound-toggle");
    this.sound.checked = localStorage.getItem(SOUND_KEY) === "on";
    this.sound.addEventListener("change", () => {
      localStorage.setItem(SOUND_KEY, this.sound.checked ? "on" : "off");
      if (this.sound.checked) this.beep(); // also unlocks audio from this click
    });
    this.above.addEventListener("click", () => this.jump("above"));
    this.below.addEventListener("click", () => this.jump("below"));
    let queued = false;
    const later = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        this.updateJumps();
      });
    };
    window.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", later);
    this.setupNotifications();
  }

  register(key, element) {
    this.entries.set(key, element);
  }

  forget(key) {
    this.entries.delete(key);
    this.unread.delete(key);
    this.refresh();
  }

  /** Something new in entry `key`: highlight it until its message box is clicked/focused. */
  flag(key, label, notification) {
    const element = this.entries.get(key);
    if (!element) return;
    this.unread.set(key, (this.unread.get(key) || 0) + 1);
    element.classList.add("highlight");
    const badge = element.querySelector(".badge-new");
    badge.textContent = label;
    badge.hidden = false;
    this.refresh();
    if (this.sound.checked) this.beep();
    if (notification) this.notify(key, notification.title, notification.body);
  }

  clear(key) {
    const element = this.entries.get(key);
    if (!this.unread.has(key) && !(element && element.classList.contains("highlight"))) return;
    this.unread.delete(key);
    if (element) {
      element.classList.remove("highlight");
      element.querySelector(".badge-new").hidden = true;
    }
    this.refresh();
  }

  refresh() {
    let total = 0;
    for (const count of this.unread.values()) total += count;
    document.title = total ? `(${total}) ${BASE_TITLE}` : BASE_TITLE;
    this.updateJumps();
  }

  offscreen() {
    const result = { above: [], below: [] };
    for (const key of this.unread.keys()) {
      const element = this.entries.get(key);
      if (!element) continue;
      const box = element.getBoundingClientRect();
      if (box.bottom < 0) result.above.push(element);
      else if (box.top > window.innerHeight) result.below.push(element);
    }
    return result;
  }

  updateJumps() {
    const { above, below } = this.offscreen();
    this.above.hidden = above.length === 0;
    this.below.hidden = below.length === 0;
  }

  jump(where) {
    const list = this.offscreen()[where];
    if (!list.length) return;
    // The nearest one: last of those above, first of those below.
    const target = where === "above"
      ? list.reduce((a, b) => (a.getBoundingClientRect().top > b.getBoundingClientRect().top ? a : b))
      : list.reduce((a, b) => (a.getBoundingClientRect().top < b.getBoundingClientRect().top ? a : b));
    target.scrollIntoView({ behavior: "smooth", block: "center" });
    const box = target.querySelector("textarea");
    if (box && !box.disabled) box.focus({ preventScroll: true });
    setTimeout(() => this.updateJumps(), 600);
  }

  setupNotifications() {
    const button = document.getElementById("notify-enable");
    const state = document.getElementById("notify-state");
    const show = () => {
      if (!("Notification" in window)) {
        button.hidden = true;
        state.textContent = "This browser cannot show desktop notifications.";
      } else if (Notification.permission === "granted") {
        button.hidden = true;
        state.textContent = "Desktop notifications are on.";
      } else if (Notification.permission === "denied") {
        button.hidden = true;
        state.textContent = "Desktop notifications are blocked in this browser's settings.";
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
    if (!document.hidden && document.hasFocus()) return; // the highlight is enough
    try {
      const note = new Notification(title, { body, tag: `livehelp-${key}` });
      note.onclick = () => {
        window.focus();
        const element = this.entries.get(key);
        if (element) element.scrollIntoView({ block: "center" });
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
      // no audio output: the highlight and title still tell
    }
  }
}
