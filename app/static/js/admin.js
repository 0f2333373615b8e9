// Admin screens: confirm destructive forms, show type-specific field options,
// mark unsaved criteria cards, copy a new API key or an embed code. No inline scripts (CSP).
(function () {
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  function showTypeOptions(root) {
    root.querySelectorAll(".field-form").forEach((form) => {
      const select = form.querySelector("select[name='type']");
      if (!select) return;
      form.querySelectorAll(".type-opt").forEach((el) => {
        el.hidden = !el.dataset.types.split(" ").includes(select.value);
      });
    });
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches(".field-form select[name='type']")) showTypeOptions(document);
    const card = event.target.closest(".crit-card");
    if (card && event.target.matches("input[type='checkbox']")) {
      card.classList.add("is-dirty");
      const row = event.target.closest(".crit-row");
      if (row) row.classList.toggle("is-required", !!row.querySelector("input:checked"));
      const status = card.querySelector(".crit-status");
      if (status) {
        status.className = "crit-status is-dirty";
        status.textContent = "Unsaved changes";
      }
    }
  });

  // Copy buttons (a new API key, a lead form's embed code): the clipboard API where the browser
  // allows it, else the selected text and the old copy command; when both fail the text stays
  // selected for Ctrl+C. The page says which, in the button's status (data-copy-status) or the button.
  function copied(button, text) {
    const status = button.dataset.copyStatus && document.querySelector(button.dataset.copyStatus);
    if (status) status.textContent = text;
    else button.textContent = text;
  }
  function copyBySelection(button, input) {
    input.focus();
    input.select();
    let done = false;
    try {
      done = document.execCommand("copy");
    } catch (err) {
      done = false;
    }
    copied(button, done ? "Copied" : "Selected: press Ctrl+C (⌘C on a Mac) to copy");
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const input = document.querySelector(button.dataset.copy);
    if (!input) return;
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(() => copied(button, "Copied"),
        () => copyBySelection(button, input));
    } else {
      copyBySelection(button, input);
    }
  });
  document.addEventListener("focusin", (event) => {
    if (event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // On a phone the criteria editor is an accordion: one stage open at a time.
  const phone = window.matchMedia("(max-width: 599px)");
  function openStage(id) {
    const card = id && document.getElementById(id);
    if (!card || !card.classList.contains("crit-card")) return false;
    if (phone.matches) {
      document.querySelectorAll(".crit-card > details[open]").forEach((d) => {
        if (!card.contains(d)) d.open = false;
      });
    }
    card.querySelector(":scope > details").open = true;
    return true;
  }
  document.addEventListener("click", (event) => {
    const link = event.target.closest(".stage-jump a");
    if (link) openStage(link.getAttribute("href").slice(1));
  });
  window.addEventListener("hashchange", () => openStage(location.hash.slice(1)));

  // Unsaved ticks are not lost by leaving the page: the browser asks first.
  window.addEventListener("beforeunload", (event) => {
    if (!document.querySelector(".crit-card.is-dirty")) return;
    event.preventDefault();
    event.returnValue = "";
  });

  // After Save the card is swapped: keep focus in it, on its "Saved" (or error) status, not on the page.
  if (window.htmx) {
    htmx.onLoad((elt) => {
      if (!elt.classList || !elt.classList.contains("crit-card")) return;
      const status = elt.querySelector(".crit-status.is-saved, .crit-status.is-error");
      if (status) status.focus();
    });
  }
  document.addEventListener("DOMContentLoaded", () => {
    showTypeOptions(document);
    const cards = document.querySelectorAll(".crit-card");
    if (cards.length && phone.matches && !openStage(location.hash.slice(1))) openStage(cards[0].id);
  });
})();
