// The line: users who turned chat on and wait for an operator with a free place
// (docs/protocol.md, "Queue"). Each entry that waits carries `queued_since`; the server
// keeps one line per set of roles asked for and does not send an entry again when it
// moves up, so the page works out each one's place itself: the order of `queued_since`
// among the entries that wait for the same roles.

import { elapsed } from "./monitor-time.js";

/** The line an entry waits in: the sorted set of the roles it asks for. */
function lineOf(data) {
  return [...new Set(data.roles || [])].sort().join("\n");
}

/** 1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st. */
export function ordinal(n) {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${{ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th"}`;
}

/** "In line · 2nd · waiting 3 min" (the place left out until it is known). */
export function lineWords(data, place) {
  const parts = ["In line"];
  if (place) parts.push(ordinal(place));
  parts.push(`waiting ${elapsed(data.queued_since)}`);
  return parts.join(" · ");
}

/**
 * Give every waiting entry its place (`entry.linePlace`; null for the others) and
 * redraw the times of those whose place changed. Returns how many wait.
 */
export function placeInLines(entries) {
  const lines = new Map();
  for (const entry of entries) {
    if (!entry.data.queued_since) {
      entry.setLinePlace(null);
      continue;
    }
    const line = lineOf(entry.data);
    if (!lines.has(line)) lines.set(line, []);
    lines.get(line).push(entry);
  }
  let waiting = 0;
  for (const line of lines.values()) {
    line.sort((a, b) => (a.data.queued_since < b.data.queued_since ? -1
      : a.data.queued_since > b.data.queued_since ? 1 : (a.id < b.id ? -1 : 1)));
    line.forEach((entry, index) => entry.setLinePlace(index + 1));
    waiting += line.length;
  }
  return waiting;
}
