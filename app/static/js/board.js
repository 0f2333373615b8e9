// Board and deal page: drag cards between stages (SortableJS, desktop only), stage tabs on phones,
// the board's one "Move to…" menu, the gated-move dialog, and what the page says after a move.
// The server decides everything; this file only moves elements and focus back and forth.
(function () {
  "use strict";

  const phone = window.matchMedia("(max-width: 759px)");
  let origin = null; // where the card being dragged came from: {from, next}
  let pending = null; // a dropped card whose move the server has not landed yet
  let currentStage = null; // the stage tab shown on a phone
  let pickerCard = null; // the card whose move menu is open

  function filterValues() {
    const form = document.getElementById("board-filters");
    if (!form) return {};
    return Object.fromEntries(new FormData(form).entries());
  }

  function moveUrl(card) {
    const link = card.querySelector("h3 a");
    return link ? `${link.getAttribute("href")}/move` : null;
  }

  // Each card's "Move to…" button opens the board's one move menu. It is added here, not sent with
  // every card: without JavaScript there is no menu to open, and the title leads to the deal page.
  function addMoveButtons(root) {
    if (!document.getElementById("move-picker")) return;
    const cards = root.matches && root.matches(".card") ? [root] : root.querySelectorAll(".card");
    cards.forEach((card) => {
      if (card.querySelector(".move")) return;
      const title = card.querySelector("h3");
      title.id = title.id || `t-${card.id}`;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "move linklike";
      button.textContent = "Move to…";
      button.setAttribute("aria-describedby", title.id);
      button.setAttribute("aria-haspopup", "dialog");
      card.append(button);
    });
  }

  function postMove(card, stageId) {
    const values = Object.assign(filterValues(), {
      stage_id: stageId,
      version: card.dataset.v,
      source: "board",
    });
    htmx.ajax("POST", moveUrl(card), { source: card, target: card, swap: "outerHTML", values });
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

  // A drag may start on the card's title (a link): the click that ends it must not open the deal.
  let dragStarted = false;
  let justDragged = false;
  document.addEventListener("pointerdown", () => { justDragged = false; }, true);
  document.addEventListener("click", (evt) => {
    if (!justDragged) return;
    justDragged = false;
    if (evt.target.closest && evt.target.closest(".card h3 a")) evt.preventDefault();
  }, true);

  function onDrop(evt) {
    justDragged = dragStarted;
    dragStarted = false;
    if (evt.from === evt.to || !origin) return;
    pending = { item: evt.item, from: origin.from, next: origin.next };
    origin = null;
    postMove(evt.item, evt.to.dataset.stageId);
  }

  // On a phone only one stage shows, so there is nowhere to drop: the card does not lift there.
  function initSortables(root) {
    if (typeof Sortable === "undefined") return;
    root.querySelectorAll(".cards").forEach((list) => {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      Sortable.create(list, {
        group: "deals",
        sort: false,
        disabled: phone.matches,
        draggable: ".card",
        // Not "a": a drag that starts on the title moves the card; a click without movement
        // (fallbackTolerance) still opens the deal.
        filter: "select, button, input, label, textarea",
        preventOnFilter: false,
        fallbackTolerance: 4,
        animation: 150,
        forceFallback: true, // pointer events, not native drag: the same on mouse and pen
        fallbackOnBody: true,
        ghostClass: "card-ghost",
        chosenClass: "card-chosen",
        onStart: (evt) => {
          origin = { from: evt.from, next: evt.item.nextElementSibling };
          dragStarted = true;
        },
        onEnd: onDrop,
      });
    });
  }

  phone.addEventListener("change", () => {
    document.querySelectorAll(".cards").forEach((list) => {
      const sortable = typeof Sortable !== "undefined" && Sortable.get(list);
      if (sortable) sortable.option("disabled", phone.matches);
    });
  });

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

  function highlight(card) {
    card.classList.remove("is-moved");
    void card.offsetWidth; // restart the animation
    card.classList.add("is-moved");
  }

  function focusCard(card) {
    const column = card.closest(".column");
    if (column && column.classList.contains("is-collapsed")) toggleColumn(column, true);
    card.tabIndex = -1;
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  // Which stages would ask this deal for facts it lacks: the server's gate answers as the menu
  // opens (deals.move_asks), and each such stage reads "Proposal · asks 2 facts".
  function loadAsks(picker, card) {
    const sink = document.getElementById("move-asks");
    if (!sink) return;
    htmx.ajax("GET", `${moveUrl(card)}-asks`, { source: sink, target: sink, swap: "innerHTML" }).then(() => {
      const list = sink.querySelector("[data-deal]");
      if (pickerCard !== card || !list || card.id !== `card-${list.dataset.deal}`) return;
      list.querySelectorAll("li[data-stage]").forEach((line) => {
        const asks = picker.querySelector(`button[name=stage_id][value="${line.dataset.stage}"] .move-asks`);
        if (asks) asks.textContent = ` · ${line.textContent.trim()}`;
      });
    });
  }

  // The one move menu: which stages it offers and how each reads depends on the card in hand.
  function openPicker(card) {
    const picker = document.getElementById("move-picker");
    if (!picker || !moveUrl(card)) return false;
    pickerCard = card;
    const buttons = Array.from(picker.querySelectorAll("button[name=stage_id]"));
    const column = card.closest(".cards");
    const here = buttons.find((b) => column && b.value === column.dataset.stageId);
    const hereOpen = !here || here.dataset.kind === "open";
    const hereOrder = buttons.indexOf(here);
    let first = null;
    buttons.forEach((b, order) => {
      const back = hereOpen && b.dataset.kind === "open" && order < hereOrder;
      b.closest("li").hidden = b === here;
      let note = "";
      if (back) note = "back";
      else if (b.dataset.kind === "won") note = "close as won";
      else if (b.dataset.kind === "lost") note = "close as lost";
      else if (!hereOpen) note = "reopen";
      let noteEl = b.querySelector(".move-note");
      if (!noteEl) {
        noteEl = document.createElement("span");
        noteEl.className = "move-note";
        b.append(noteEl);
      }
      noteEl.textContent = note;
      b.className = `move-option move-option-${b.dataset.kind}${back ? " is-back" : ""}`;
      if (!first && b !== here && !back) first = b;
    });
    picker.querySelectorAll(".move-asks").forEach((el) => { el.textContent = ""; });
    loadAsks(picker, card);
    const title = card.querySelector("h3");
    picker.querySelector("[data-picker-title]").textContent = title ? `“${title.textContent.trim()}”` : "";
    picker.showModal();
    (first || buttons.find((b) => b !== here)).focus();
    return true;
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

  function toggleColumn(column, expand) {
    const button = column.querySelector(".column-toggle");
    const open = expand === undefined ? column.classList.contains("is-collapsed") : expand;
    column.classList.toggle("is-collapsed", !open);
    if (button) button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  // Scroll shadows: say that more of the board is to the side when the columns do not fit.
  function updateShadows() {
    const columns = document.querySelector("#board .columns");
    if (!columns) return;
    const frame = columns.parentElement;
    const max = columns.scrollWidth - columns.clientWidth;
    frame.classList.toggle("more-left", columns.scrollLeft > 2);
    frame.classList.toggle("more-right", max - columns.scrollLeft > 2);
  }

  document.addEventListener("scroll", (evt) => {
    if (evt.target.classList && evt.target.classList.contains("columns")) updateShadows();
  }, true);
  window.addEventListener("resize", updateShadows);

  document.addEventListener("submit", (evt) => {
    if (evt.target.id !== "move-picker-form") return;
    evt.preventDefault();
    const picker = document.getElementById("move-picker");
    const stageId = evt.submitter && evt.submitter.value;
    const card = pickerCard;
    pickerCard = null;
    picker.close();
    if (card && card.isConnected && stageId) postMove(card, stageId);
  });

  document.addEventListener("click", (evt) => {
    const moveLink = evt.target.closest(".card .move");
    if (moveLink) {
      if (openPicker(moveLink.closest(".card"))) evt.preventDefault();
      return;
    }
    if (evt.target.closest(".js-cancel-picker")) {
      pickerCard = null;
      document.getElementById("move-picker").close();
      return;
    }
    const cancel = evt.target.closest(".js-cancel-move");
    if (cancel) {
      const dialog = cancel.closest("dialog");
      if (dialog) dialog.close();
      return;
    }
    if (evt.target.closest(".js-dismiss-status")) {
      document.getElementById("board-status").replaceChildren();
      return;
    }
    const open = evt.target.closest("[data-open-stage]");
    if (open) {
      evt.preventDefault();
      showStage(open.dataset.openStage);
      const card = document.getElementById(`card-${open.dataset.deal}`);
      if (card) {
        focusCard(card);
        highlight(card);
      }
      return;
    }
    const toggle = evt.target.closest(".column-toggle");
    if (toggle) {
      toggleColumn(toggle.closest(".column"));
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
  document.addEventListener("dealLanded", () => { pending = null; });

  // After the swap: highlight the moved card; focus it (desktop) or the confirmation (phone, where
  // the card has left the stage on screen).
  document.addEventListener("dealMoved", (evt) => {
    pending = null;
    const card = document.getElementById(`card-${evt.detail.id}`);
    if (card) highlight(card);
    const status = document.querySelector("#board-status .move-status");
    if (phone.matches && status) status.focus();
    else if (card) focusCard(card);
    updateShadows();
  });

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
    if (elt.querySelectorAll) addMoveButtons(elt);
    initSortables(elt.querySelectorAll ? elt : document);
    if (elt.classList && elt.classList.contains("cards")) initSortables(elt.parentNode);
    if (elt.id === "board" || (elt.querySelector && elt.querySelector("#board"))) {
      showStage(currentStage || (document.querySelector("[data-stage-tab]") || {}).dataset?.stageTab);
      updateShadows();
    }
    openDialogs(elt);
  });
})();
