// "Rate this chat" in the Help tab (docs/protocol.md, "Satisfaction"): after a help chat
// ends, 1 to 5 with an optional comment, or "No thanks", sent as `rate`. Whether the form
// shows and what the page says after come from describeState (livehelp-state.js), like
// every other word about the state; its words are that file's RATING. The form is built
// here (textContent only) and placed after the leave-a-message part of the chat.

import { RATING } from "./livehelp-state.js";

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, text = "") {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value);
  if (text) made.textContent = text;
  return made;
}

/** The form, hidden until the state asks; and the notice that stays in the page (empty
 * until there is something to say), so that its words are announced. */
function buildForm() {
  const form = element("form", { id: "lh-rate-form", class: "lh-leave lh-rate",
    "aria-labelledby": "lh-rate-heading", novalidate: "" });
  form.hidden = true;
  form.append(element("h3", { id: "lh-rate-heading", tabindex: "-1" }, RATING.heading));
  const group = element("fieldset", { class: "lh-rate-scores" });
  group.append(element("legend", {}, RATING.question));
  RATING.scores.forEach((words, index) => {
    const choice = element("div", { class: "choice" });
    const id = `lh-rate-${index + 1}`;
    choice.append(element("input", { type: "radio", name: "lh-rate-score", id, value: String(index + 1) }),
      element("label", { for: id }, words));
    group.append(choice);
  });
  form.append(group, element("p", { id: "lh-rate-score-error", class: "field-error" }),
    element("label", { for: "lh-rate-comment" }, RATING.comment),
    element("textarea", { id: "lh-rate-comment", rows: "2", maxlength: "1000" }),
    element("p", { id: "lh-rate-comment-error", class: "field-error" }));
  const row = element("div", { class: "lh-leave-row" });
  row.append(element("button", { type: "submit", id: "lh-rate-send" }, RATING.send),
    element("button", { type: "button", id: "lh-rate-skip", class: "secondary" }, RATING.skip),
    element("span", { id: "lh-rate-sending", class: "lh-leave-sending", role: "status" }));
  form.append(row);
  const done = element("p", { id: "lh-rated", class: "notice live-notice lh-left", role: "status",
    tabindex: "-1" });
  return { form, done };
}

export class RatingForm {
  /**
   * @param {function(object): boolean} send  sends one frame; false while the socket is down
   * @param {function(): void} changed  what describeState is told changed: the page draws
   *   its state again
   */
  constructor(send, changed) {
    const { form, done } = buildForm();
    const anchor = $("lh-leave-again");
    anchor.after(form, done);
    this.form = form;
    this.notice = done;
    this.comment = $("lh-rate-comment");
    this.status = $("lh-rate-sending");
    this.send = send;
    this.changed = changed;
    this.scoreSent = false; // a score is on its way (not "No thanks")
    this.ratingSent = false; // this page's rating was stored
    this.ratedElsewhere = false; // rated by another page of this person while this one asked
    this.wasShown = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    $("lh-rate-skip").addEventListener("click", () => this.answer(null));
    form.addEventListener("change", () => this.fieldError("score", ""));
    this.comment.addEventListener("input", () => this.fieldError("comment", ""));
  }

  /** What this page knows for describeState (`ratingSent`, `ratedElsewhere`). */
  get page() {
    return { ratingSent: this.ratingSent, ratedElsewhere: this.ratedElsewhere };
  }

  /** A new `state` came: the answer to what this page sent, or news from another page. */
  state(state) {
    if (state.rating === "rated" && this.scoreSent) this.ratingSent = true;
    else if (state.rating === "rated" && this.wasShown && !this.ratingSent) this.ratedElsewhere = true;
    if (state.rating !== "ask") this.scoreSent = false;
  }

  /** Draw the part of describeState's view that is this form's (`view.rating`). */
  draw(rating) {
    const focusWasHere = this.form.contains(document.activeElement);
    const appearing = rating.shown && this.form.hidden;
    this.form.hidden = !rating.shown;
    this.wasShown = rating.shown;
    if (this.notice.textContent !== rating.done) this.notice.textContent = rating.done;
    if (appearing) {
      this.reset();
      // The button just pressed ("Turn off chat") went away: the focus goes to the question.
      if (document.activeElement === document.body || document.activeElement.hidden) {
        $("lh-rate-heading").focus();
      }
    }
    if (!rating.shown && focusWasHere) {
      const activate = $("lh-activate");
      if (rating.done) this.notice.focus();
      else if (!activate.hidden && !activate.disabled) activate.focus();
    }
  }

  reset() {
    this.form.reset();
    this.fieldError("score", "");
    this.fieldError("comment", "");
    this.say("");
  }

  submit() {
    const chosen = this.form.querySelector('input[name="lh-rate-score"]:checked');
    this.fieldError("comment", "");
    if (!chosen) {
      this.fieldError("score", RATING.noScore, true);
      return;
    }
    this.answer(Number(chosen.value));
  }

  /** Send a score, or null for "No thanks". */
  answer(score) {
    if (this.scoreSent) return; // one answer at a time: a second press waits for the first
    this.say("");
    const frame = { type: "rate", score, comment: score === null ? "" : this.comment.value.trim() };
    if (!this.send(frame)) {
      this.say(RATING.notConnected, true);
      return;
    }
    this.scoreSent = score !== null;
    if (this.scoreSent) this.say(RATING.sending);
  }

  /** A refusal of `rate` (true), in words where it belongs; false when not ours. */
  refused(error) {
    if (error.ref !== "rate") return false;
    this.scoreSent = false;
    if (error.code === "already_rated") {
      this.ratedElsewhere = true;
      this.changed();
    } else if (error.code === "bad_field") {
      // The server names what it refuses: the comment's length, or the score.
      this.say("");
      this.fieldError(/comment/i.test(error.message) ? "comment" : "score", error.message, true);
    } else {
      this.say(error.message, true);
    }
    return true;
  }

  say(words, refusal = false) {
    this.status.classList.toggle("error", refusal);
    if (this.status.textContent !== words) this.status.textContent = words;
  }

  /** Words under the score group or the comment ("" clears them); `focus` moves there. */
  fieldError(field, words, focus = false) {
    const box = $(`lh-rate-${field}-error`);
    const target = field === "comment" ? this.comment : this.form.querySelector(".lh-rate-scores");
    if (box.textContent !== words) box.textContent = words;
    if (words) {
      target.setAttribute("aria-describedby", box.id);
      if (field === "comment") target.setAttribute("aria-invalid", "true");
      if (focus) (field === "comment" ? this.comment : this.form.querySelector('input[name="lh-rate-score"]')).focus();
    } else {
      target.removeAttribute("aria-describedby");
      target.removeAttribute("aria-invalid");
    }
  }
}
