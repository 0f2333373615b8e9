// The deals list: "select all on this page" and the count of selected deals. Without this script
// the header box still works: the server reads it as every deal of the page the viewer may change.
function boxes() {
  return Array.from(document.querySelectorAll('#bulk-form input[name="ids"]'));
}

function showSelected() {
  const all = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  if (!all || !count) return;
  const picked = boxes().filter((box) => box.checked).length;
  all.checked = picked > 0 && picked === boxes().length;
  all.indeterminate = picked > 0 && picked < boxes().length;
  count.textContent = picked ? `(${picked} selected)` : "";
}

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.id === "select-all") {
    boxes().forEach((box) => { box.checked = target.checked; });
    showSelected();
  } else if (target.name === "ids" && target.closest("#bulk-form")) {
    showSelected();
  }
});
document.addEventListener("htmx:afterSettle", showSelected);
document.addEventListener("DOMContentLoaded", showSelected);

// After a bulk action the list says what happened above the table: bring that into view, so a
// phone user who picked rows far down the page sees it (screen readers hear it: aria-live).
document.addEventListener("htmx:afterSettle", (event) => {
  if (event.detail.requestConfig?.elt?.id !== "bulk-form") return;
  const said = document.getElementById("list-message");
  if (said && said.textContent.trim()) said.scrollIntoView({ block: "nearest" });
});
