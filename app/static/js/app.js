// Stagegate page behaviour that htmx attributes cannot express. No inline scripts (CSP).

// A 422 is a form coming back with each problem beside its field: swap it in like a 200.
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.xhr.status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
document.addEventListener("htmx:responseError", (event) => {
  const flashes = document.getElementById("flashes");
  if (!flashes) return;
  const xhr = event.detail.xhr;
  const p = document.createElement("p");
  p.className = "flash flash-error";
  p.setAttribute("role", "alert");
  p.textContent = xhr.status === 403 ? "You do not have permission to do that."
    : xhr.status === 429 ? "Too many requests. Wait a moment and try again."
    : "That did not work. Nothing was saved; please try again.";
  flashes.replaceChildren(p);
});

// Top-bar menus (sections on a phone, the account menu) close on a tap elsewhere, on Escape,
// and once a link in them is followed, so an open menu never covers the page.
function closeMenus(except) {
  document.querySelectorAll(".topbar details[open]").forEach((menu) => {
    if (menu !== except) menu.removeAttribute("open");
  });
}
document.addEventListener("click", (event) => {
  const menu = event.target.closest(".topbar details");
  closeMenus(menu);
  if (menu && event.target.closest("a")) menu.removeAttribute("open");
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const open = document.querySelector(".topbar details[open]");
  if (open) {
    open.removeAttribute("open");
    open.querySelector("summary").focus();
  }
});

// "Copy link" beside a shown link (the deal room's invitation): copy the input's text, say so.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy-link");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  source.select();
  const done = () => { button.textContent = "Copied"; };
  if (navigator.clipboard) navigator.clipboard.writeText(source.value).then(done, () => document.execCommand("copy") && done());
  else if (document.execCommand("copy")) done();
});
