// Board and deal page: drag cards between stages (SortableJS), stage tabs on phones, and the
// gated-move dialog. The server decides everything; this file only moves elements back and forth.
(function () {
  "use strict";

  let origin = null; // where the card being dragged came from: {item, from, next}
  let pending = null; // a dropped card whose move the server has not landed yet
  let currentStage = null; // the stage tab shown on a phone

  function filterValues() {
    const form = document.getElementById("board-filters");
    if (!form) return {};
    return Object.fromEntries(new FormData(form).entries());
  }

  function revert() {
    if (!pending) return;
    const { item, from, next } = pending;
    pending = null;
    if (!item.isConnected || !from.isConnected) return; // the server already replaced the card
    const before = next && next.parentNode === from ? next : from.querySelector(".load-more");
    from.insertBefore(item, before);
    item.classList.add("card-returned");
    window.setTimeout(() => item.classList.remove("card-returned"), 1200);
  }

  function onDrop(evt) {
    if (evt.from === evt.to || !origin) return;
    const item = evt.item;
    pending = { item, from: origin.from, next: origin.next };
    origin = null;
    const values = Object.assign(filterValues(), {
      stage_id: evt.to.dataset.stageId,
      version: item.dataset.version,
      source: "board",
    });
    htmx.ajax("POST", item.dataset.moveUrl, { source: item, target: item, swap: "outerHTML", values });
  }

  function initSortables(root) {
    if (typeof Sortable === "undefined") return;
    root.querySelectorAll(".cards").forEach((list) => {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: "deals",
        sort: false,
        draggable: ".card",
        filter: "select, button, input, label, textarea",
        preventOnFilter: false,
        animation: 150,
        forceFallback: true, // pointer events, not native drag: the same on mouse, pen and touch
        fallbackOnBody: true,
        delay: 180,
        delayOnTouchOnly: true,
        ghostClass: "card-ghost",
        chosenClass: "card-chosen",
        onStart: (evt) => { origin = { from: evt.from, next: evt.item.nextElementSibling }; },
        onEnd: onDrop,
      });
    });
  }

  function showStage(stageId) {
    const board = document.getElementById("board");
    if (!board || !stageId) return;
    const tab = board.querySelector(`[data-stage-tab="${stageId}"]`);
    if (!tab) return;
    currentStage = stageId;
    board.querySelectorAll("[data-stage-tab]").forEach((t) => {
      t.setAttribute("aria-selected", t === tab ? "true" : "false");
      t.tabIndex = t === tab ? 0 : -1;
    });
    board.querySelectorAll(".column").forEach((col) => {
      col.classList.toggle("is-current", col.id === `col-${stageId}`);
    });
    tab.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  function openDialogs(root) {
    const dialogs = root.matches && root.matches("dialog.move-dialog")
      ? [root] : Array.from(root.querySelectorAll ? root.querySelectorAll("dialog.move-dialog") : []);
    dialogs.forEach((dialog) => {
      if (dialog.open) return;
      dialog.addEventListener("close", () => {
        dialog.remove();
        revert();
      });
      dialog.showModal();
      const first = dialog.querySelector("[aria-invalid='true'], .gate-form input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    });
  }

  document.addEventListener("click", (evt) => {
    const cancel = evt.target.closest(".js-cancel-move");
    if (cancel) {
      const dialog = cancel.closest("dialog");
      if (dialog) dialog.close();
      return;
    }
    const tab = evt.target.closest("[data-stage-tab]");
    if (tab) showStage(tab.dataset.stageTab);
  });

  document.addEventListener("keydown", (evt) => {
    const tab = evt.target.closest && evt.target.closest("[data-stage-tab]");
    if (!tab || (evt.key !== "ArrowRight" && evt.key !== "ArrowLeft")) return;
    const sibling = evt.key === "ArrowRight" ? tab.nextElementSibling : tab.previousElementSibling;
    if (sibling && sibling.dataset.stageTab) {
      showStage(sibling.dataset.stageTab);
      sibling.focus();
      evt.preventDefault();
    }
  });

  // A landed move: nothing to put back.
  document.addEventListener("dealMoved", () => { pending = null; });

  document.addEventListener("htmx:afterRequest", (evt) => {
    if (evt.detail.successful) return;
    if (pending && evt.detail.elt === pending.item) revert();
    const xhr = evt.detail.xhr;
    if (!xhr || !xhr.responseText) return;
    const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    const message = doc.querySelector("[data-message]");
    const flashes = document.getElementById("flashes");
    if (message && flashes) flashes.replaceChildren(message);
  });

  // The network failed before any answer: put a dropped card back where it was.
  document.addEventListener("htmx:sendError", (evt) => {
    if (pending && evt.detail.elt === pending.item) revert();
  });

  htmx.onLoad((elt) => {
    initSortables(elt.querySelectorAll ? elt : document);
    if (elt.classList && elt.classList.contains("cards")) initSortables(elt.parentNode);
    if (elt.id === "board" || (elt.querySelector && elt.querySelector("#board"))) {
      showStage(currentStage || (document.querySelector("[data-stage-tab]") || {}).dataset?.stageTab);
    }
    openDialogs(elt);
  });
})();
