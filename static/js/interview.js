// Interview page: the Interview/Help tabs (WAI-ARIA tabs pattern) and the share link.
(function () {
  "use strict";

  const tabs = Array.from(document.querySelectorAll('.tabs [role="tab"]'));

  function select(tab, focus) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      // Roving tabindex: only the selected tab is in the Tab order; arrows move between tabs.
      other.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !selected;
    }
    if (focus) tab.focus();
    document.dispatchEvent(new CustomEvent("livehelp:tab", { detail: { tab: tab.id } }));
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      let next = null;
      if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
      else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
      else if (event.key === "Home") next = tabs[0];
      else if (event.key === "End") next = tabs[tabs.length - 1];
      if (next) {
        event.preventDefault();
        select(next, true);
      }
    });
  }

  // Used by the chat icon in the navigation bar (livehelp_nav.html).
  window.livehelpShowHelp = function () {
    const help = document.getElementById("tab-help");
    if (help) select(help, true);
  };
  // The icons open the Help tab even before the chat's module has loaded (it then
  // also moves the focus into the chat).
  for (const id of ["lh-chat-icon", "lh-phone-icon"]) {
    const icon = document.getElementById(id);
    if (icon) icon.addEventListener("click", window.livehelpShowHelp);
  }

  const copy = document.getElementById("share-copy");
  const link = document.getElementById("share-link");
  if (copy && link) {
    copy.addEventListener("click", async () => {
      link.select();
      try {
        await navigator.clipboard.writeText(link.value);
        copy.textContent = "Copied";
      } catch (error) {
        copy.textContent = "Press Ctrl+C";  // clipboard API refused (http, permissions)
      }
    });
  }

  // The help texts under the chat (details.help-more) start folded on a phone, where
  // the chat comes first; a wider screen has room to show them open.
  if (window.matchMedia("(min-width: 601px)").matches) {
    for (const details of document.querySelectorAll("details.help-more")) details.open = true;
  }

  // Put the cursor where the user has to act: the first field with an error.
  const invalid = document.querySelector('#interview-form [aria-invalid="true"]');
  if (invalid) invalid.focus();
})();
