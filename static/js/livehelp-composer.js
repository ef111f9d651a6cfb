// The interviewee's message box: its length limit (the server's `max_chars`), a counter
// that appears near the limit, and refusals turned into plain sentences (a person never
// reads "'text' must be ...": field names mean nothing to them).

import { DEFAULT_MAX_CHARS } from "./livehelp-state.js";

// The counter shows once this share of the limit is left: early enough to plan the
// rest of the message, late enough to stay out of the way of ordinary messages.
const COUNTER_FROM = 0.1;

function number(n) {
  return n.toLocaleString("en-US");
}

/** The server's own words when they are plain; a plain sentence when they name a field. */
export function plainWords(error, maxChars = DEFAULT_MAX_CHARS) {
  const words = error.message || "";
  if (!/'\w+'/.test(words)) return words || "Something went wrong. Please try again.";
  if (/'text'/.test(words)) {
    const most = /at most (\d+)/.exec(words);
    if (most) return `This message is too long: at most ${number(Number(most[1]))} characters.`;
    if (/empty|required/.test(words)) return "A message cannot be empty.";
    return `This message could not be sent. Messages are plain text of at most ${number(maxChars)} characters.`;
  }
  if (error.code === "bad_field" && error.ref && error.ref !== error.code) {
    return "This message could not be sent. Please try again.";
  }
  return "Something went wrong. Please try again.";
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
