// Loader for the interviewee's live help (the code is in livehelp-chat.js).
// Works whether the page includes it as a classic or a module script, and
// starts the chat once even when included twice.
if (!window.livehelpUserLoaded) {
  window.livehelpUserLoaded = true;
  import("./livehelp-chat.js").catch((error) => {
    const box = document.getElementById("lh-partners");
    if (box) box.textContent = "Live chat could not start in this browser.";
    console.error(error);
  });
}
