// Where live chat stands for the interviewee, in words and in control states, from the
// server's `state` (docs/protocol.md). Written once, so that no two sentences on the
// page can contradict each other and the controls agree with what the server accepts
// (state/livehelp/chat.py: in help mode a message needs an operator assigned or one
// available, or a place in line; in the peer modes it needs nothing but chat being on).

// What the server accepts when its `state` does not say (`max_chars` missing).
export const DEFAULT_MAX_CHARS = 4000;

const PLACEHOLDER_TYPE = "Type a message and press Enter";
const PLACEHOLDER_IN_LINE = "Write while you wait: operators will see it";
const PLACEHOLDER_UNAVAILABLE = "Chat is not available right now";
const ACTIVATE = "Activate chat";
// After an operator closed the chat, the same button starts a new conversation.
const START_NEW = "Start a new chat";
// Also the words for the server's `not_now` refusal (livehelp-leave.js).
export const NOT_NOW = "An operator can chat with you now: start a chat instead.";
const LEFT = "Your message was left. An operator will answer here; come back to this page to read the answer.";
// Rating a help chat that ended (livehelp-rating.js; docs/protocol.md, "Satisfaction").
export const RATING = {
  heading: "Rate this chat",
  question: "How was this chat?",
  scores: ["1 - Very poor", "2 - Poor", "3 - Fair", "4 - Good", "5 - Very good"],
  comment: "Anything you would like to add? (optional)",
  send: "Send",
  skip: "No thanks",
  sending: "Sending your rating…",
  noScore: "Choose a rating from 1 to 5, or press “No thanks”.",
  thanks: "Thank you for rating this chat.",
  already: "You rated this chat already.",
  notConnected: "Not connected just now; try again in a moment.",
};

function count(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/** "about 4 minutes": the server's estimate in whole minutes, or "" when it has none. */
function waitWords(seconds) {
  if (!Number.isFinite(seconds)) return "";
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return "less than a minute";
  return minutes === 1 ? "about 1 minute" : `about ${minutes} minutes`;
}

/** "You are number 3 in line; about 4 minutes.", or "" when not in line. */
function queueSentence(queue) {
  if (!queue || !Number.isInteger(queue.position)) return "";
  const wait = waitWords(queue.estimate_seconds);
  // No history yet (`estimate_seconds` null): no number is better than a made-up one.
  return `You are number ${queue.position} in line; ${wait || "it may take a few minutes"}.`;
}

/**
 * The one sentence about operators, or "" where operators take no part (peer mode).
 * `transferredTo`: the page saw the conversation pass to this operator while chat was on.
 */
function operatorSentence(state, active, inLine, transferredTo) {
  const n = state.operators || 0;
  const name = state.operator_name;
  if (state.mode === "peer") return "";
  if (state.blocked) {
    return state.mode === "help" ? "Chat with operators is blocked for this session."
      : "Chat with operators is blocked for this session; you can still talk with others here.";
  }
  if (active && name) {
    // Older servers do not say whether the assigned operator is there: then any
    // operator standing by counts.
    const here = state.operator_available ?? n > 0;
    if (!here) {
      return `${name} is away for the moment. You can still write; ${name} or another operator will answer.`;
    }
    return name === transferredTo ? `You are now chatting with ${name}.` : `You are chatting with ${name}.`;
  }
  if (active && inLine) {
    return n > 0 ? "While you wait, operators can read what you write here."
      : "No operator is available right now; you keep your place in line and can write meanwhile.";
  }
  if (active && state.mode === "help") {
    return n > 0 ? "An operator will answer your first message."
      : "No operator is available right now. You can write again as soon as one is.";
  }
  if (state.closed_by) {
    // Only say a new chat can start when the Activate button can start one.
    return state.can_activate ? `${state.closed_by} closed this chat. You can start a new one.`
      : `${state.closed_by} closed this chat. No operators are available right now.`;
  }
  return n > 0 ? `${count(n, "operator", "operators")} standing by.` : "No operators are available right now.";
}

/** The rating part: the form while a chat that ended waits for its rating, and what the
 * page says once it has one (this page sent it, or another page of this person did). */
function ratingView(state, active, page) {
  let done = "";
  if (state.rating === "rated" && !active) {
    // After a reload the page has sent nothing: the form simply stays away.
    if (page.ratedElsewhere) done = RATING.already;
    else if (page.ratingSent) done = RATING.thanks;
  }
  return { shown: state.rating === "ask" && !active, done };
}

/** The "leave a message" part: shown, and the sentence that leads into it. */
function leaveView(state, active, inLine, page) {
  const draft = Boolean(page.leaveDraft) && !active;
  // An operator holds the conversation (even one away for the moment): what is written
  // in the chat reaches them, so a message left would say nothing new.
  const held = active && Boolean(state.operator_name);
  const shown = !page.left && !held && (Boolean(state.can_leave_message) || draft);
  let lead = "";
  if (shown && !state.can_leave_message) lead = NOT_NOW; // kept only for what is typed in it
  else if (shown && inLine && state.operators > 0) lead = "The line is long. You can leave a message instead, with how to reach you.";
  else if (shown) lead = "Nobody can chat right now. Leave a message and an operator will answer it here.";
  return { shown, lead, done: page.left ? LEFT : "", again: Boolean(page.left && state.can_leave_message) };
}

function peerSentence(state) {
  if (state.mode !== "peer" && state.mode !== "peerhelp") return "";
  const p = state.peers || 0;
  return p === 0 ? "No one else is in this session right now; your messages stay here for them."
    : `${count(p, "other person", "other people")} in this session.`;
}

function iconOf(state, offered, operatorOnline) {
  const peerMode = state.mode === "peer" || state.mode === "peerhelp";
  const on = offered && !(state.blocked && state.mode === "help") && (operatorOnline || peerMode);
  const label = !on ? "Live chat: no one available"
    : (operatorOnline ? "Live chat: operator available" : "Live chat: chat with others in this session");
  return { on, label, text: on ? "Chat now" : "Chat" };
}

/**
 * @param {object|null} state  the server's latest `state`; null before the first one
 * @param {{turningOn?: boolean, ended?: boolean, transferredTo?: string, leaveDraft?: boolean,
 *   left?: boolean, ratingSent?: boolean, ratedElsewhere?: boolean}} page  what only the page knows: it is turning chat back on after a
 *   reconnect (what is typed meanwhile waits as "sending…"); the server closed its socket
 *   for good; the conversation passed to the operator `transferredTo` while chat was on;
 *   something is typed in the leave-a-message form; a message was left from this page;
 *   this page sent the rating that was stored; the conversation was rated by another
 *   page of this person (or before a restart) while this one offered the form
 * @returns {{status: string, queue: string, input: boolean, composerShown: boolean,
 *   placeholder: string, activateShown: boolean, activateEnabled: boolean,
 *   activateLabel: string, deactivateShown: boolean, leave: {shown: boolean, lead: string,
 *   done: string, again: boolean}, rating: {shown: boolean, done: string},
 *   icon: {on: boolean, label: string, text: string},
 *   operatorOnline: boolean, maxChars: number}}
 *   `operatorOnline`: an operator could chat with this person now (the popup's cue).
 *   `queue`: the place in line in words ("" when not in line): its own status line,
 *   apart from `status`, so that only a change of place is announced.
 */
export function describeState(state, page = {}) {
  const ended = Boolean(page.ended);
  const base = { queue: "", composerShown: true, activateLabel: ACTIVATE,
    leave: { shown: false, lead: "", done: "", again: false }, rating: { shown: false, done: "" } };
  if (!state) {
    return { ...base, status: "Connecting…", input: false, placeholder: placeholderFor(ACTIVATE),
      activateShown: true, activateEnabled: false, deactivateShown: false,
      icon: iconOf({}, false, false), operatorOnline: false, maxChars: DEFAULT_MAX_CHARS };
  }
  const offered = state.availability === "available";
  const operatorsChat = state.mode === "help" || state.mode === "peerhelp";
  const operatorOnline = offered && operatorsChat && !state.blocked && (state.operators || 0) > 0;
  const maxChars = Number.isInteger(state.max_chars) && state.max_chars > 0
    ? state.max_chars : DEFAULT_MAX_CHARS;
  const icon = iconOf(state, offered, operatorOnline);
  if (!offered) {
    return { ...base, status: "Live chat is not offered in this interview.", input: false,
      placeholder: PLACEHOLDER_UNAVAILABLE, activateShown: false, activateEnabled: false,
      deactivateShown: false, icon, operatorOnline, maxChars };
  }
  const active = Boolean(state.active || page.turningOn) && !ended;
  const queue = active ? queueSentence(state.queue) : "";
  const inLine = Boolean(queue);
  let input = active;
  if (active && state.mode === "help" && !page.turningOn) {
    // The server refuses a message with no operator assigned, none to assign and no
    // place in line.
    input = !state.blocked && Boolean(state.operator_name || state.operators > 0 || inLine);
  }
  const status = [operatorSentence(state, active, inLine, page.transferredTo), peerSentence(state)]
    .filter(Boolean).join(" ");
  const leave = leaveView(state, active, inLine, page);
  const rating = ratingView(state, active, page);
  const activateLabel = state.closed_by ? START_NEW : ACTIVATE;
  let placeholder = PLACEHOLDER_UNAVAILABLE;
  if (input) placeholder = inLine && !state.operator_name ? PLACEHOLDER_IN_LINE : PLACEHOLDER_TYPE;
  else if (!active && state.can_activate) placeholder = placeholderFor(activateLabel);
  return {
    status,
    queue,
    input,
    // A dead message box beside the leave form would only confuse: while leaving a
    // message is the one way to write, the chat box goes; so it does under the rating
    // form, which it would cover at the bottom of a phone's screen.
    composerShown: input || !(leave.shown || state.can_leave_message || rating.shown),
    placeholder,
    activateShown: !active,
    activateEnabled: Boolean(state.can_activate) && !ended,
    activateLabel,
    deactivateShown: active,
    leave,
    rating,
    icon,
    operatorOnline,
    maxChars,
  };
}

function placeholderFor(button) {
  return `Press “${button}” to start chatting`;
}
