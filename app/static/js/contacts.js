// Contacts, timeline and import pages. No inline scripts (CSP).
// A 422 from these partials is the form again with each problem beside its field: swap it in.
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.xhr.status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
