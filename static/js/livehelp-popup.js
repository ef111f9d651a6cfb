// "An operator is available to chat": a small bubble under the chat icon, shown once
// each time an operator becomes available (issue 14). Closed by its Close button, by
// Esc, or by opening the chat; shown again only after chat was unavailable in between.
// What was last seen is kept per tab and session (sessionStorage), so moving to the
// next screen, which loads a new page, does not show it again.

const $ = (id) => document.getElementById(id);
// Room kept between the bubble and the edges of a narrow screen.
const EDGE_PX = 8;

export class AvailabilityPopup {
  /**
   * @param {string} sessionId  the interview session (the memory is per session)
   * @param {function(): void} openChat  shows the chat (its Help tab) and focuses it
   */
  constructor(sessionId, openChat) {
    this.box = $("lh-popup");
    this.icon = $("lh-chat-icon");
    this.announce = $("lh-announce");
    this.key = `livehelp-operator-online:${sessionId}`;
    if (!this.box || !this.icon) return;
    $("lh-popup-open").addEventListener("click", () => {
      this.hide(false);
      openChat();
    });
    $("lh-popup-close").addEventListener("click", () => this.hide(true));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.box.hidden) this.hide(this.box.contains(document.activeElement));
    });
    // The chat is open: the bubble has said what it had to say.
    document.addEventListener("livehelp:tab", (event) => {
      if (event.detail && event.detail.tab === "tab-help") this.hide(false);
    });
    window.addEventListener("resize", () => this.place());
  }

  /**
   * The latest word from the server: `online`, an operator could chat now; `chatting`,
   * chat is on already (nothing to point at).
   */
  update(online, chatting) {
    if (!this.box) return;
    const before = sessionStorage.getItem(this.key);
    sessionStorage.setItem(this.key, online ? "on" : "off");
    if (!online) this.hide(false);
    else if (before !== "on" && !chatting) this.show();
  }

  show() {
    this.box.hidden = false;
    this.place();
    // Polite: a status region, not the bubble itself, so focus stays where it was.
    this.announce.textContent = $("lh-popup-text").textContent;
  }

  /** Close it; `refocus` when the focus was inside it (it goes back to the icon). */
  hide(refocus) {
    if (this.box.hidden) return;
    this.box.hidden = true;
    this.announce.textContent = "";
    if (refocus) this.icon.focus();
  }

  /** Under the icon, its arrow at the icon's middle, inside the screen. */
  place() {
    if (this.box.hidden) return;
    const anchor = this.box.offsetParent || document.body;
    const frame = anchor.getBoundingClientRect();
    const icon = this.icon.getBoundingClientRect();
    const width = this.box.offsetWidth;
    const middle = icon.left + icon.width / 2 - frame.left;
    const left = Math.max(EDGE_PX, Math.min(middle - width / 2, frame.width - width - EDGE_PX));
    this.box.style.left = `${left}px`;
    this.box.style.setProperty("--arrow-x", `${middle - left}px`);
  }
}
