// Tasks: keep keyboard focus on the row a task action just replaced (no inline scripts: CSP).
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (!target || !target.classList || !target.classList.contains("task-row")) return;
  const row = document.getElementById(target.id) || target;
  const button = row.querySelector(".task-check, summary");
  if (button) button.focus({ preventScroll: true });
});
