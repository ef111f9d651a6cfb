// Transcripts and the history page show times in the reader's time zone, which only
// the browser knows: this module adds it (`tz`, an IANA name) to their addresses and
// forms, and wires the Print button. The Help tab imports `showTranscriptLinks` for
// its "Print conversation" and "Download" links (livehelp-chat.js).

/** The browser's IANA time zone ("Europe/Paris"), or "" when it does not say. */
export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

/** `href` with the browser's zone as `tz` (and `extra` parameters) added. */
export function withZone(href, extra = {}) {
  const url = new URL(href, location.href);
  const zone = browserZone();
  if (zone) url.searchParams.set("tz", zone);
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  return url.pathname + url.search + url.hash;
}

/**
 * The Help tab's transcript links: shown once the conversation has a stored message,
 * their addresses carrying this browser's zone (and "print" for the printable page).
 */
export function showTranscriptLinks(hasMessages) {
  const box = document.getElementById("lh-transcript");
  if (!box) return;
  if (!box.dataset.zoned) {
    box.dataset.zoned = "1";
    const print = document.getElementById("lh-print");
    print.href = withZone(print.getAttribute("href"), { print: "1" });
    const download = document.getElementById("lh-download");
    download.href = withZone(download.getAttribute("href"));
  }
  box.hidden = !hasMessages;
}

/** On a transcript or the history page: make sure the address names a zone, fill the
 * forms' zone fields, and print by the button (or at once when asked: `?print=1`). */
function zonePage(main) {
  const zone = browserZone();
  const here = new URL(location.href);
  if (zone && !here.searchParams.has("tz")) {
    // Once: the server then shows this zone (or says why not), and links keep it.
    here.searchParams.set("tz", zone);
    location.replace(here.href);
    return;
  }
  for (const field of document.querySelectorAll("input[type=hidden][name=tz]")) {
    if (!field.value) field.value = zone;
  }
  const button = document.getElementById("print-button");
  if (button) button.addEventListener("click", () => window.print());
  if (main.hasAttribute("data-auto-print")) window.print();
}

const page = document.querySelector("main[data-zone-page]");
if (page) zonePage(page);
