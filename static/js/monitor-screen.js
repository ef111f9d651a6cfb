// Builds the operator's copy of a user's interview screen from the server's
// description (state/cobrowse/screen_view.py). All text goes in with textContent; inputs
// start disabled and are enabled only while this operator controls the screen.

import { make } from "./lh-socket.js";

// What a private field shows in place of its value; the value itself never arrives.
export const PRIVATE_MASK = "••••••";

let viewCounter = 0;

function choiceField(field, prefix, changed) {
  const set = make("fieldset");
  set.append(make("legend", "", field.label + (field.required ? "" : " (optional)")));
  const multiple = field.datatype === "checkboxes";
  const inputs = [];
  field.choices.forEach((choice, index) => {
    const row = make("div", "choice");
    const input = make("input");
    input.type = multiple ? "checkbox" : "radio";
    input.id = `${prefix}-${index + 1}`;
    input.name = prefix; // one radio group per entry's copy, apart from the user's names
    input.value = choice.value;
    input.disabled = true;
    const label = make("label", "", choice.label);
    label.htmlFor = input.id;
    row.append(input, label);
    set.append(row);
    inputs.push(input);
  });
  const read = () => (multiple ? inputs.filter((i) => i.checked).map((i) => i.value)
    : (inputs.find((i) => i.checked) || { value: "" }).value);
  for (const input of inputs) input.addEventListener("change", () => changed(field.name, read()));
  return {
    element: set,
    inputs,
    setValue(value) {
      for (const input of inputs) {
        input.checked = multiple ? Array.isArray(value) && value.includes(input.value) : input.value === value;
      }
    },
  };
}

function textField(field, prefix, changed) {
  const wrap = make("div");
  const label = make("label", "", field.label + (field.required ? "" : " (optional)"));
  label.htmlFor = prefix;
  let input;
  if (field.private) {
    // Always a plain, disabled box showing the mask: nothing to type, nothing to reveal.
    input = make("input");
    input.type = "text";
    input.value = PRIVATE_MASK;
    input.setAttribute("aria-describedby", `${prefix}-note`);
  } else if (field.datatype === "textarea") {
    input = make("textarea");
    input.rows = 4;
  } else {
    input = make("input");
    input.type = { email: "email", date: "date" }[field.datatype] || "text";
  }
  input.id = prefix;
  input.disabled = true;
  input.dataset.field = field.name;
  wrap.append(label, input);
  if (field.private) {
    const note = make("p", "muted small private-note", "Private: the user's answer stays in their browser.");
    note.id = `${prefix}-note`;
    wrap.append(note);
  } else {
    input.addEventListener("input", () => changed(field.name, input.value));
  }
  return {
    element: wrap,
    inputs: [input],
    setValue(value) {
      if (typeof value === "string" && input.value !== value) input.value = value;
    },
  };
}

/**
 * @param {object} screen  the server's screen description
 * @param {string} key     the entry key (only to make element ids unique)
 * @param {{changed: function(string, *), press: function(string)}} actions
 * @returns {{element: HTMLElement, fields: Map, buttons: HTMLButtonElement[]}}
 */
export function buildScreen(screen, key, actions) {
  viewCounter += 1;
  const base = `observe-${viewCounter}`;
  const form = make("form", "observe-form");
  form.setAttribute("aria-label", "The user's screen");
  form.addEventListener("submit", (event) => event.preventDefault());
  form.append(make("h5", "observe-question", screen.question));
  for (const paragraph of screen.subquestion || []) form.append(make("p", "observe-subquestion", paragraph));
  const fields = new Map();
  screen.fields.forEach((field, index) => {
    const prefix = `${base}-f${index}`;
    const built = ["radio", "checkboxes", "yesno"].includes(field.datatype)
      ? choiceField(field, prefix, actions.changed) : textField(field, prefix, actions.changed);
    const box = make("div", "field");
    box.dataset.field = field.name;
    box.append(built.element);
    form.append(box);
    fields.set(field.name, { ...built, private: Boolean(field.private) });
  });
  const buttons = [];
  const press = (action, text, className) => {
    const element = make("button", className, text);
    element.type = "button";
    element.disabled = true;
    element.dataset.action = action;
    element.addEventListener("click", () => actions.press(action));
    buttons.push(element);
    return element;
  };
  if (screen.review && screen.review.length) {
    const list = make("dl", "review");
    for (const row of screen.review) {
      const item = make("div", "review-row");
      const answer = make("dd");
      answer.append(make("span", "review-answer", row.text));
      if (row.action) answer.append(" ", press(row.action, "Change", "secondary small-button"));
      item.append(make("dt", "", row.label), answer);
      list.append(item);
    }
    form.append(list);
  }
  if (screen.buttons.length) {
    const row = make("div", "actions");
    for (const item of screen.buttons) row.append(press(item.action, item.label, "observe-press"));
    form.append(row);
  }
  return { element: form, fields, buttons };
}
