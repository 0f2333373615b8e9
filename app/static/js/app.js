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
