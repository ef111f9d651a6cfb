// The list of sessions: order, search, filters, counts, the offline group and paging.
//
// Order: what needs this operator first. Groups, in this order: unread for me; in line
// for an operator (monitor-line.js); waiting (a message the team has not answered, or
// nobody available to chat); then by status: on, standby, off; offline last, folded
// into "Offline (N)". Within unread and waiting the one waiting longest comes first
// (oldest unanswered message; a new message in an entry already waiting does not move
// it), in line the one in line longest; within the others the session started first
// comes first, so the list holds still while nothing changes.
//
// Only the first PAGE_SIZE entries of that order are drawn ("Show 100 more" draws more),
// and re-sorting never moves the entry that holds the keyboard: it keeps its place
// (and its place on the screen) until focus leaves it.

import { GROUP_LINE, GROUP_OFFLINE, GROUP_UNREAD, GROUP_WAITING, STATUSES } from "./monitor-entry.js";
import { placeInLines } from "./monitor-line.js";
import { make } from "./lh-socket.js";

export const PAGE_SIZE = 100;
// "waiting 3 min" moves on by itself.
const CLOCK_REDRAW_MS = 30000;
const FILTERS = {
  mine: (entry) => entry.mine,
  unread: (entry) => entry.unread > 0,
  waiting: (entry) => entry.waiting,
  line: (entry) => entry.queued,
};

function sortKey(entry) {
  const group = entry.group;
  const data = entry.data;
  let since = data.started;
  if (group === GROUP_LINE) since = data.queued_since;
  else if (group === GROUP_UNREAD || group === GROUP_WAITING) since = data.waiting_since || data.started;
  return { entry, group, since: since || "" };
}

function compare(a, b) {
  if (a.group !== b.group) return a.group - b.group;
  if (a.since !== b.since) return a.since < b.since ? -1 : 1;
  return a.entry.id < b.entry.id ? -1 : (a.entry.id > b.entry.id ? 1 : 0);
}

export class SessionList {
  constructor(monitor) {
    this.monitor = monitor;
    this.ul = document.getElementById("sessions");
    this.empty = document.getElementById("sessions-empty");
    this.unmatched = document.getElementById("sessions-unmatched");
    this.more = document.getElementById("show-more");
    this.counts = document.getElementById("counts");
    this.lineCount = document.getElementById("line-count");
    this.search = document.getElementById("search");
    this.filterButtons = [...document.querySelectorAll(".filters .filter")];
    this.filters = new Set();
    this.query = "";
    this.limit = PAGE_SIZE;
    this.offlineOpen = false;
    this.queued = false;
    this.drawn = []; // the entries drawn, in order

    this.groupItem = make("li", "offline-group");
    this.groupButton = make("button", "secondary compact offline-toggle");
    this.groupButton.type = "button";
    this.groupButton.setAttribute("aria-expanded", "false");
    this.groupButton.addEventListener("click", () => {
      this.offlineOpen = !this.offlineOpen;
      this.render();
    });
    this.groupItem.append(this.groupButton);

    this.search.addEventListener("input", () => {
      this.query = this.search.value.trim().toLowerCase();
      this.limit = PAGE_SIZE;
      this.render();
    });
    for (const button of this.filterButtons) {
      button.addEventListener("click", () => {
        const name = button.dataset.filter;
        if (this.filters.has(name)) this.filters.delete(name);
        else this.filters.add(name);
        this.limit = PAGE_SIZE;
        this.render();
      });
    }
    this.more.addEventListener("click", () => {
      const next = this.drawn.length; // the first of the new ones gets the keyboard
      this.limit += PAGE_SIZE;
      this.render();
      const entry = this.drawn[next];
      if (entry) entry.focusRow();
    });
    // The entry that held the keyboard may move now.
    this.ul.addEventListener("focusout", (event) => {
      if (!event.relatedTarget || !this.ul.contains(event.relatedTarget)) this.changed();
    });
    setInterval(() => {
      for (const entry of this.drawn) entry.drawTime();
    }, CLOCK_REDRAW_MS);
  }

  /** Something changed: draw once after this task, however many changes it brings. */
  changed() {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      this.render();
    });
  }

  matches(entry) {
    if (this.query && !entry.searchText.includes(this.query)) return false;
    for (const name of this.filters) if (!FILTERS[name](entry)) return false;
    return true;
  }

  /** Every entry that passes the search and filters, in order (drawn or not). */
  ordered() {
    return [...this.monitor.entries.values()].filter((entry) => this.matches(entry))
      .map(sortKey).sort(compare);
  }

  render() {
    this.queued = false;
    const all = [...this.monitor.entries.values()];
    this.drawCounts(all);
    const inLine = placeInLines(all);
    this.lineCount.textContent = `Waiting for an operator (${inLine})`;
    this.lineCount.hidden = !inLine;
    for (const button of this.filterButtons) {
      button.setAttribute("aria-pressed", this.filters.has(button.dataset.filter) ? "true" : "false");
    }
    const keyed = this.ordered();
    const active = keyed.filter((item) => item.group !== GROUP_OFFLINE).map((item) => item.entry);
    const offline = keyed.filter((item) => item.group === GROUP_OFFLINE).map((item) => item.entry);
    const shown = active.slice(0, this.limit);
    const nodes = shown.map((entry) => entry.row());
    let hidden = active.length - shown.length;
    if (!hidden && offline.length) {
      this.groupButton.textContent = `Offline (${offline.length})`;
      this.groupButton.setAttribute("aria-expanded", this.offlineOpen ? "true" : "false");
      nodes.push(this.groupItem);
      if (this.offlineOpen) {
        const room = Math.max(0, this.limit - shown.length);
        const rest = offline.slice(0, room);
        shown.push(...rest);
        nodes.push(...rest.map((entry) => entry.row()));
        hidden = offline.length - rest.length;
      }
    }
    this.place(nodes, shown);
    this.more.hidden = hidden === 0;
    this.more.textContent = `Show ${Math.min(PAGE_SIZE, hidden)} more (${hidden} not shown)`;
    this.empty.hidden = all.length > 0;
    this.unmatched.hidden = all.length === 0 || keyed.length > 0;
    this.monitor.listDrawn();
  }

  drawCounts(all) {
    const byStatus = new Map(STATUSES.map((status) => [status, 0]));
    for (const entry of all) {
      const status = byStatus.has(entry.data.status) ? entry.data.status : "offline";
      byStatus.set(status, byStatus.get(status) + 1);
    }
    const parts = ["waiting", "on", "standby", "off", "offline"]
      .filter((status) => byStatus.get(status)).map((status) => `${byStatus.get(status)} ${status}`);
    const total = all.length === 1 ? "1 session" : `${all.length} sessions`;
    this.counts.textContent = all.length ? `${total}: ${parts.join(" · ")}` : "No sessions";
  }

  /**
   * Put `nodes` in the list in this order, moving as few as possible. The entry holding
   * the keyboard is never moved (that would drop focus) and keeps its index, even if it
   * no longer matches the filters; its place on the screen is kept by scrolling.
   */
  place(nodes, shown) {
    const ul = this.ul;
    const focused = document.activeElement;
    const pinned = focused && focused !== ul && ul.contains(focused)
      ? [...ul.children].find((li) => li.contains(focused)) : null;
    let wanted = nodes;
    let pinnedTop = 0;
    if (pinned) {
      pinnedTop = pinned.getBoundingClientRect().top;
      const index = [...ul.children].indexOf(pinned);
      wanted = nodes.filter((node) => node !== pinned);
      wanted.splice(Math.min(index, wanted.length), 0, pinned);
      const pinnedEntry = this.monitor.entries.get(pinned.dataset.id);
      if (pinnedEntry && !shown.includes(pinnedEntry)) shown.splice(Math.min(index, shown.length), 0, pinnedEntry);
    }
    // Moving a node resets the scroll of what it holds: open chats keep theirs.
    const scrolls = [...ul.querySelectorAll(".entry.open .chat-messages")].map((log) => [log, log.scrollTop]);
    const keep = new Set(wanted);
    let at = ul.firstChild;
    for (const node of wanted) {
      if (node === at) {
        at = at.nextSibling;
        continue;
      }
      if (node === pinned) {
        // Rather than move it, move what stands before it to after it.
        const before = [];
        for (let n = at; n && n !== pinned; n = n.nextSibling) before.push(n);
        pinned.after(...before);
        at = pinned.nextSibling;
        continue;
      }
      ul.insertBefore(node, at);
    }
    while (at) {
      const next = at.nextSibling;
      if (!keep.has(at)) at.remove();
      at = next;
    }
    for (const [log, top] of scrolls) if (log.scrollTop !== top) log.scrollTop = top;
    if (pinned) {
      const moved = pinned.getBoundingClientRect().top - pinnedTop;
      if (moved) window.scrollBy(0, moved);
    }
    this.drawn = shown;
  }

  /** Make sure `entry` is drawn: lift the search and filters that hide it, unfold the
   * offline group, draw further. */
  reveal(entry) {
    if (!this.matches(entry)) {
      this.query = "";
      this.search.value = "";
      this.filters.clear();
    }
    if (entry.group === GROUP_OFFLINE) this.offlineOpen = true;
    const index = this.ordered().findIndex((item) => item.entry === entry);
    if (index >= this.limit) this.limit = Math.ceil((index + 1) / PAGE_SIZE) * PAGE_SIZE;
    this.render();
  }

  /** The drawn entry after `from` (or the first) that needs an answer: unread for me,
   * or a message nobody on the team answered. */
  nextNeedingAnswer(from) {
    const candidates = this.drawn.filter((entry) => entry.unread || (entry.data.unanswered || 0) > 0);
    if (!candidates.length) return null;
    const start = from ? this.drawn.indexOf(from) : -1;
    return candidates.find((entry) => this.drawn.indexOf(entry) > start) || candidates[0];
  }
}
