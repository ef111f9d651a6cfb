// Where live chat stands for the interviewee, in words and in control states, from the
// server's `state` (docs/protocol.md). Written once, so that no two sentences on the
// page can contradict each other and the controls agree with what the server accepts
// (state/livehelp/chat.py: in help mode a message needs an operator assigned or one
// available; in the peer modes it needs nothing but chat being on).

// What the server accepts when its `state` does not say (`max_chars` missing).
export const DEFAULT_MAX_CHARS = 4000;

const PLACEHOLDER_TYPE = "Type a message and press Enter";
const PLACEHOLDER_ACTIVATE = "Press “Activate chat” to start chatting";
const PLACEHOLDER_UNAVAILABLE = "Chat is not available right now";

function count(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/** The one sentence about operators, or "" where operators take no part (peer mode). */
function operatorSentence(state, active) {
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
    return here ? `You are chatting with ${name}.`
      : `${name} is away for the moment. You can still write; ${name} or another operator will answer.`;
  }
  if (active && state.mode === "help") {
    return n > 0 ? "An operator will answer your first message."
      : "No operator is available right now. You can write again as soon as one is.";
  }
  return n > 0 ? `${count(n, "operator", "operators")} standing by.` : "No operators are available right now.";
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
 * @param {{turningOn?: boolean, ended?: boolean}} page  what only the page knows: it is
 *   turning chat back on after a reconnect (what is typed meanwhile waits as "sending…"),
 *   or the server closed its socket for good
 * @returns {{status: string, input: boolean, placeholder: string, activateShown: boolean,
 *   activateEnabled: boolean, deactivateShown: boolean, icon: {on: boolean, label: string,
 *   text: string}, operatorOnline: boolean, maxChars: number}}
 *   `operatorOnline`: an operator could chat with this person now (the popup's cue).
 */
export function describeState(state, page = {}) {
  const ended = Boolean(page.ended);
  if (!state) {
    return { status: "Connecting…", input: false, placeholder: PLACEHOLDER_ACTIVATE,
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
    return { status: "Live chat is not offered in this interview.", input: false,
      placeholder: PLACEHOLDER_UNAVAILABLE, activateShown: false, activateEnabled: false,
      deactivateShown: false, icon, operatorOnline, maxChars };
  }
  const active = Boolean(state.active || page.turningOn) && !ended;
  let input = active;
  if (active && state.mode === "help" && !page.turningOn) {
    // The server refuses a message with no operator assigned and none to assign.
    input = !state.blocked && Boolean(state.operator_name || state.operators > 0);
  }
  const status = [operatorSentence(state, active), peerSentence(state)].filter(Boolean).join(" ");
  return {
    status,
    input,
    placeholder: input ? PLACEHOLDER_TYPE
      : (!active && state.can_activate ? PLACEHOLDER_ACTIVATE : PLACEHOLDER_UNAVAILABLE),
    activateShown: !active,
    activateEnabled: Boolean(state.can_activate) && !ended,
    deactivateShown: active,
    icon,
    operatorOnline,
    maxChars,
  };
}
