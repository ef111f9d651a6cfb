// Times on the Monitor in words ("waiting 3 min", "started 10:02"), measured on the
// server's clock: the snapshot says the server's `now`, so a browser whose clock is off
// by minutes still shows how long someone has really waited.

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;

let offsetMs = 0; // server time minus this browser's time

/** The snapshot's `now` (ISO): from here on, times are the server's. */
export function setServerNow(iso) {
  const server = Date.parse(iso || "");
  if (!Number.isNaN(server)) offsetMs = server - Date.now();
}

export function serverNow() {
  return Date.now() + offsetMs;
}

/** "< 1 min", "3 min", "2 h 5 min" since `iso`; "" when it is no time. */
export function elapsed(iso) {
  const then = Date.parse(iso || "");
  if (Number.isNaN(then)) return "";
  const ms = Math.max(0, serverNow() - then);
  if (ms < MINUTE_MS) return "< 1 min";
  if (ms < HOUR_MS) return `${Math.floor(ms / MINUTE_MS)} min`;
  const hours = Math.floor(ms / HOUR_MS);
  const minutes = Math.floor((ms % HOUR_MS) / MINUTE_MS);
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

/** "10:02" today, "3 Mar 10:02" on another day, in the operator's own time zone. */
export function clockTime(iso) {
  const date = new Date(iso || "");
  if (Number.isNaN(date.getTime())) return "";
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === new Date(serverNow()).toDateString()) return time;
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

/** What an entry says of time: how long the oldest unanswered message waits, else
 * when the session started. */
export function entryTime(data) {
  if (data.waiting_since) return `waiting ${elapsed(data.waiting_since)}`;
  if (data.started) return `started ${clockTime(data.started)}`;
  return "";
}
