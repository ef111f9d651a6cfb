// The interviewee's side of live help (loaded by livehelp-user.js): nav icons, the chat in the Help tab,
// speaking `ws/user/<session id>` (docs/protocol.md). Text goes in with textContent.

import { ChatLog, renderChat, senderLabel } from "./lh-chat-log.js";
import { HistoryAsker, handleRefusal } from "./lh-history.js";
import { LiveSocket, newClientId, pageUrl, typingNotifier } from "./lh-socket.js";
import { UserCoBrowse } from "./livehelp-cobrowse.js";
import { Composer, plainWords } from "./livehelp-composer.js";
import { LeaveForm } from "./livehelp-leave.js";
import { AvailabilityPopup } from "./livehelp-popup.js";
import { RatingForm } from "./livehelp-rating.js";
import { describeState } from "./livehelp-state.js";
import { showTranscriptLinks } from "./transcript.js";

const main = document.querySelector("main[data-session]");
const sessionId = main && main.dataset.session;
const $ = (id) => document.getElementById(id);
// Partner typing indicators vanish by themselves if "stopped typing" never arrives.
const TYPING_TIMEOUT_MS = 6000;
// After a restart, chat is turned back on once an operator is back: their Monitor
// reconnects within the socket's backoff ceiling (10 s). Three times that, and what
// waits is sent anyway, to be refused in words rather than left "sending…".
const RESUME_WAIT_MS = 30000;
// Refusals of frames other than chat that the chat box need not show: screen reports
// are best effort, typing frames are coalesced by the server.
const QUIET_REFS = new Set(["screen", "field", "typing"]);
// `hello` tells the Monitor which question this page shows (docs/protocol.md).
const SCREEN_MAX_CHARS = 200;
// On a phone the page is the chat's one scroll area (chat.css): below this width.
const PAGE_SCROLLS = window.matchMedia("(max-width: 600px)");

/** The question heading this page shows, in one line, at most SCREEN_MAX_CHARS characters. */
function screenText() {
  const question = document.getElementById("question");
  if (!question) return null;
  const text = question.textContent.replace(/\s+/g, " ").trim();
  // By code point, as the server counts: a cut never splits a character.
  return Array.from(text).slice(0, SCREEN_MAX_CHARS).join("");
}

class UserChat {
  constructor() {
    this.activeKey = `livehelp-active:${sessionId}`;
    this.me = null; // this browser's sender id, from the server's `state`
    this.state = null;
    this.statesSinceOpen = 0;
    this.ready = false; // the server has chat on for this socket: chats may go
    this.resuming = false; // chat was on before the socket dropped: turn it back on
    this.activating = false; // we asked to turn it back on; the answer is not in yet
    this.logs = new Map();
    this.log = this.logFor("");
    this.typingTimer = null;
    this.justSent = false;
    this.history = new HistoryAsker((message) => this.send(message));
    this.helloTimer = null;
    // The operator last holding the conversation while chat was on (through a wait in
    // line), and the one it passed to: "You are now chatting with Bob."
    this.lastOperator = null;
    this.transferredTo = null;
    this.leave = new LeaveForm((message) => this.send(message), () => this.state && this.drawState());
    this.rating = new RatingForm((message) => this.send(message), () => this.state && this.drawState());
    this.input = $("lh-input");
    this.list = $("lh-messages");
    this.composer = new Composer(this.input, $("lh-counter"));
    const typing = typingNotifier((on) => this.socket.send({ type: "typing", typing: on }));
    this.typingOut = typing;
    $("lh-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => typing.input());
    $("lh-activate").addEventListener("click", () => {
      this.error("");
      this.resuming = false;
      sessionStorage.setItem(this.activeKey, "1");
      if (!this.socket.send({ type: "activate" })) this.error("Not connected yet; trying again…");
    });
    $("lh-deactivate").addEventListener("click", () => {
      this.resuming = false;
      sessionStorage.removeItem(this.activeKey);
      this.socket.send({ type: "deactivate" });
    });
    for (const id of ["lh-chat-icon", "lh-phone-icon"]) {
      const button = $(id);
      if (button) button.addEventListener("click", () => this.openChat());
    }
    this.popup = new AvailabilityPopup(sessionId, () => this.openChat());
    // Observe and control ride on the same socket (livehelp-cobrowse.js).
    this.cobrowse = new UserCoBrowse((message) => this.send(message));
    this.socket = new LiveSocket(`ws/user/${encodeURIComponent(sessionId)}`, {
      notice: $("lh-connection"),
      signIn: pageUrl(`login?next=${encodeURIComponent(location.pathname)}`),
      onOpen: () => this.hello(),
      onMessage: (message) => this.receive(message),
      onDown: () => this.down(),
      onEnded: ({ words }) => this.ended(words),
    });
    this.socket.connect();
  }

  /** Show the Help tab (the icons do that by themselves too: interview.js) and put the
   * focus where the person acts next. */
  openChat() {
    if (window.livehelpShowHelp) window.livehelpShowHelp();
    const activate = $("lh-activate");
    if (!this.input.disabled) this.input.focus();
    else if (!activate.hidden && !activate.disabled) activate.focus();
    else if (!$("lh-leave-form").hidden) $("lh-leave-text").focus();
  }

  logFor(conversation) {
    let log = this.logs.get(conversation);
    if (!log) {
      log = new ChatLog(conversation);
      log.me = this.me;
      log.transport = (item) => this.ready
        && this.send({ type: "chat", client_id: item.client_id, text: item.text });
      log.onChange(() => this.draw());
      this.logs.set(conversation, log);
    }
    return log;
  }

  hello() {
    this.statesSinceOpen = 0;
    this.ready = false;
    this.activating = false;
    // Messages wait for the answer to hello: it says whether chat is on again.
    this.resuming = sessionStorage.getItem(this.activeKey) === "1";
    clearTimeout(this.resumeTimer);
    if (this.resuming) this.resumeTimer = setTimeout(() => this.stopResuming(), RESUME_WAIT_MS);
    this.cobrowse.opened();
    clearTimeout(this.helloTimer);
    this.history.spend();
    const hello = { type: "hello", last_seq: this.log.contiguous(), active: this.resuming };
    const screen = screenText();
    if (screen) hello.screen = screen;
    this.send(hello);
    this.leave.flush(); // a message left needs no chat on: it goes right behind hello
  }

  down() {
    this.ready = false;
    for (const log of this.logs.values()) log.socketDown();
    this.leave.socketDown();
    this.history.reset();
    clearTimeout(this.helloTimer);
  }

  /** The server closed this socket for good (the account was signed out). */
  ended(words) {
    this.input.disabled = true;
    $("lh-send").disabled = true;
    $("lh-activate").disabled = true;
    for (const log of this.logs.values()) log.failAll(words);
    this.leave.ended(words);
  }

  send(message) {
    return this.socket.send(message);
  }

  submit() {
    const text = this.input.value.trim();
    if (!text || this.input.disabled) return;
    this.justSent = true; // the next drawing shows it, whatever was in view
    this.log.addPending(newClientId(), text);
    this.input.value = "";
    this.composer.cleared();
    this.typingOut.stop();
  }

  receive(message) {
    if (message.type === "state") this.onState(message);
    else if (message.type === "chat") this.onChat(message);
    else if (message.type === "ack") {
      const log = this.logs.get(message.conversation) || this.log;
      if (!this.leave.ack(message)) log.ack(message.client_id, message.seq);
    } else if (message.type === "history_more") this.history.ask(message.conversation, message.after);
    else if (message.type === "typing") this.onTyping(message);
    else if (message.type === "error") this.onError(message);
    else this.cobrowse.receive(message);
  }

  isMine(item) {
    return Boolean(this.me) && item.sender === this.me;
  }

  onChat(message) {
    const log = this.logFor(message.conversation || "");
    log.add(message);
    if (message.role !== "user" || !this.isMine(message)) this.showTyping("", false);
  }

  onTyping(message) {
    this.showTyping(message.name, message.typing);
  }

  showTyping(name, on) {
    clearTimeout(this.typingTimer);
    $("lh-typing").textContent = on ? `${name || "Someone"} is typing…` : "";
    if (on) this.typingTimer = setTimeout(() => { $("lh-typing").textContent = ""; }, TYPING_TIMEOUT_MS);
  }

  onError(refusal) {
    if (QUIET_REFS.has(refusal.ref) || this.leave.refused(refusal) || this.rating.refused(refusal)) return;
    const message = { ...refusal, message: plainWords(refusal) };
    const rehello = (wait) => { this.helloTimer = setTimeout(() => this.hello(), wait); };
    if (handleRefusal(message, this.logs.values(), this.history, rehello)) return;
    if (message.ref === "activate") {
      sessionStorage.removeItem(this.activeKey);
      if (this.activating) this.stopResuming();
    }
    this.error(message.message || "Something went wrong.");
  }

  /** Chat did not come back on: what waits goes now, and the server says why not. */
  stopResuming() {
    clearTimeout(this.resumeTimer);
    if (!this.resuming && !this.activating) return;
    this.resuming = false;
    this.activating = false;
    sessionStorage.removeItem(this.activeKey);
    this.ready = this.socket.isOpen;
    if (this.state) this.drawState();
    this.log.flush();
  }

  error(text) {
    $("lh-error").textContent = text;
  }

  onState(state) {
    this.statesSinceOpen += 1;
    this.state = state;
    if (state.participant) {
      this.me = state.participant;
      for (const log of this.logs.values()) log.me = this.me;
    }
    const conversation = state.conversation || "";
    if (conversation !== this.log.conversation) {
      // The first conversation name replaces the placeholder log; keep its pending messages.
      const old = this.log;
      this.log = this.logFor(conversation);
      if (old.conversation === "") {
        for (const [id, item] of old.pending) this.log.pending.set(id, item);
        this.logs.delete("");
      }
    }
    this.resume(state);
    this.noteTransfer(state);
    if (state.active) this.error("");
    this.cobrowse.state(state);
    this.rating.state(state);
    this.drawState();
    this.draw();
    if (this.ready) this.log.flush();
  }

  /**
   * Whether chat is on, and whether to turn it back on. The state sent as the socket
   * opens predates our hello; later ones say whether chat is really on. After a restart
   * the server may not have an operator back yet when we say hello: then chat stays
   * wanted and is activated again as soon as an operator can take it.
   */
  resume(state) {
    const answered = this.statesSinceOpen >= 2;
    if (state.active) {
      this.resuming = false;
      clearTimeout(this.resumeTimer);
      sessionStorage.setItem(this.activeKey, "1");
    } else if (answered && this.resuming) {
      const waitForOperator = !state.blocked && state.availability === "available"
        && !state.can_activate;
      if (!waitForOperator) {
        this.resuming = false;
        if (state.can_activate) this.activating = this.send({ type: "activate" });
        else sessionStorage.removeItem(this.activeKey);
      }
    } else if (answered && !this.activating) {
      sessionStorage.removeItem(this.activeKey);
    }
    if (state.active) this.activating = false;
    // Chats go once chat is on; if it is off for good, they go anyway so the server
    // says why in words ("Not sent: Activate chat before sending messages.").
    this.ready = Boolean(state.active) || (answered && !this.resuming && !this.activating);
  }

  /** The conversation passed from one operator to another while chat was on. */
  noteTransfer(state) {
    const name = state.active ? state.operator_name : null;
    if (!state.active) this.lastOperator = null;
    if (name && this.lastOperator && name !== this.lastOperator) this.transferredTo = name;
    else if (!name || name !== this.transferredTo) this.transferredTo = null;
    if (name) this.lastOperator = name;
  }

  drawState() {
    const state = this.state;
    const view = describeState(state, { turningOn: this.resuming || this.activating,
      ended: this.socket.closedForGood, transferredTo: this.transferredTo,
      leaveDraft: this.leave.draft, left: this.leave.left, ...this.rating.page });
    const icon = $("lh-chat-icon");
    if (icon) {
      icon.dataset.state = view.icon.on ? "on" : "off";
      icon.setAttribute("aria-label", view.icon.label);
      icon.title = view.icon.label;
      icon.querySelector(".lh-icon-text").textContent = view.icon.text;
    }
    this.popup.update(view.operatorOnline, Boolean(state.active));
    const phone = state.phone;
    const phoneIcon = $("lh-phone-icon");
    if (phoneIcon) phoneIcon.hidden = !phone;
    $("lh-phone").hidden = !phone;
    if (phone) {
      const link = $("lh-phone-number");
      link.href = `tel:${phone.tel || phone.number}`;
      link.textContent = phone.number || phone.tel;
      $("lh-phone-code").textContent = phone.code;
    }
    this.composer.setLimit(view.maxChars);
    this.input.disabled = !view.input;
    $("lh-send").disabled = !view.input;
    this.input.placeholder = view.placeholder;
    $("lh-form").hidden = !view.composerShown;
    const activate = $("lh-activate");
    activate.hidden = !view.activateShown;
    activate.disabled = !view.activateEnabled;
    if (activate.textContent !== view.activateLabel) activate.textContent = view.activateLabel;
    $("lh-deactivate").hidden = !view.deactivateShown;
    // Written only when the words change: each write of a status is announced.
    const status = $("lh-partners");
    if (status.textContent !== view.status) status.textContent = view.status;
    const queue = $("lh-queue");
    if (queue.textContent !== view.queue) queue.textContent = view.queue;
    this.leave.draw(view.leave, view.maxChars);
    this.rating.draw(view.rating);
  }

  draw() {
    // In the peer modes everyone shares one conversation: each other person gets a label
    // of their own ("Participant 2"), the same on every page.
    const mode = this.state && this.state.mode;
    const shared = mode === "peer" || mode === "peerhelp";
    const participants = this.log.participants();
    const following = this.following();
    renderChat(this.list, this.log, {
      isMine: (item) => this.isMine(item),
      label: (item, mine) => senderLabel(item, mine, participants, shared),
      classify: (item) => (item.role === "operator" ? "from-operator" : ""),
    });
    if (following || this.justSent) this.keepLastInView();
    this.justSent = false;
    showTranscriptLinks(this.log.bySeq.size > 0);
  }

  /** On a phone, whether the last message is in view above the message box (the person
   * reads along, so what comes next is scrolled into view too). */
  following() {
    if (!PAGE_SCROLLS.matches || !this.list.lastElementChild) return false;
    const composer = this.input.closest(".lh-composer");
    return this.list.getBoundingClientRect().bottom <= composer.getBoundingClientRect().top + 1;
  }

  /** On a phone the box stays at the bottom of the screen: scroll the page so the last
   * message sits just above it rather than under it. */
  keepLastInView() {
    const panel = $("help-panel");
    if (!PAGE_SCROLLS.matches || !panel || panel.hidden) return;
    const composer = this.input.closest(".lh-composer");
    const under = this.list.getBoundingClientRect().bottom - composer.getBoundingClientRect().top;
    if (under > 0) window.scrollBy(0, under);
  }
}

// Exposed for other scripts on the page and for tests.
if (sessionId) window.livehelpUserChat = new UserChat();
