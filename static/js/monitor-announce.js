// The Monitor's one polite live region. Changes that arrive together (one socket frame
// can carry hundreds) are said once, in one sentence, after the page has drawn them:
// a screen reader hears "New session: Ann Lee. Visitor K7QX: 2 unread." and not a
// stream of half-updates.

// More status changes than this in one go (an operator toggling availability flips
// every entry between waiting and standby) are summed up instead of listed one by one.
const MAX_LISTED_CHANGES = 3;

export class Announcer {
  constructor(region) {
    this.region = region;
    this.news = []; // [{kind, text}]
    this.queued = false;
  }

  /** One change to say; `kind` groups changes ("session", "status", "unread"). */
  say(kind, text) {
    this.news.push({ kind, text });
    if (this.queued) return;
    this.queued = true;
    // After this task: every message of the frame is in by then.
    setTimeout(() => this.flush(), 0);
  }

  flush() {
    this.queued = false;
    if (!this.news.length) return;
    const parts = [];
    for (const kind of ["session", "status", "unread"]) {
      const texts = this.news.filter((item) => item.kind === kind).map((item) => item.text);
      if (!texts.length) continue;
      if (texts.length > MAX_LISTED_CHANGES) parts.push(summary(kind, texts.length));
      else parts.push(...texts);
    }
    this.news = [];
    // The same words twice in a row must be heard twice: the region changes every time.
    this.region.textContent = parts.join("; ") + ".";
  }
}

function summary(kind, count) {
  if (kind === "session") return `${count} new sessions`;
  if (kind === "status") return `${count} sessions changed status`;
  return `${count} sessions have new unread messages`;
}
