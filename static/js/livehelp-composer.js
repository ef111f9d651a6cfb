// The interviewee's message box: its length limit (the server's `max_chars`), a counter
// that appears near the limit, and refusals in the server's plain sentences.

import { DEFAULT_MAX_CHARS } from "./livehelp-state.js";

// The counter shows once this share of the limit is left: early enough to plan the
// rest of the message, late enough to stay out of the way of ordinary messages.
const COUNTER_FROM = 0.1;

function number(n) {
  return n.toLocaleString("en-US");
}

/** The server's words: the rules refuse what a person typed in plain sentences. Only a
 * malformed frame (this page's fault, never the person's) names a field: say so plainly. */
export function plainWords(error) {
  const words = error.message || "";
  if (/'\w+'/.test(words)) return "This message could not be sent. Please try again.";
  return words || "Something went wrong. Please try again.";
}

export class Composer {
  /**
   * @param {HTMLTextAreaElement} input  the message box
   * @param {HTMLElement} counter  not a live region: the box is described by it, so it is
   *   read when the box is focused, not on every keystroke
   */
  constructor(input, counter) {
    this.input = input;
    this.counter = counter;
    this.maxChars = DEFAULT_MAX_CHARS;
    input.addEventListener("input", () => this.count());
    this.count();
  }

  /** The longest message the server accepts, from its `state`. */
  setLimit(maxChars) {
    if (maxChars === this.maxChars && Number(this.input.maxLength) === maxChars) return;
    this.maxChars = maxChars;
    this.input.maxLength = maxChars;
    this.count();
  }

  count() {
    const left = this.maxChars - this.input.value.length;
    let words = "";
    const most = `a message holds at most ${number(this.maxChars)} characters.`;
    if (left < 0) words = `${number(-left)} character${left === -1 ? "" : "s"} too many: ${most}`;
    else if (left === 0) words = `No characters left: ${most}`;
    else if (left <= this.maxChars * COUNTER_FROM) words = `${number(left)} character${left === 1 ? "" : "s"} left`;
    if (this.counter.textContent !== words) this.counter.textContent = words;
  }

  /** The box was emptied by sending. */
  cleared() {
    this.count();
  }
}
