// The assembly section: the draft's clips (reorder, edit, remove), its name and mode, starting a render.

import { api, thumbnailUrl } from "./api.js";
import {
  assemblyRequest,
  clipsConcerned,
  draftClips,
  draftTotal,
  dropPosition,
  loadDraft,
  moveItem,
  refusalMessage,
  removeClipAt,
  saveDraft,
} from "./assembly.js";
import { announce, h, $, show } from "./dom.js";
import { orientation } from "./format.js";
import { openSource } from "./player.js";
import { sourceByName, store } from "./state.js";
import { clipFrames, formatDuration, formatTimecode, sourceRate } from "./timecode.js";

let submitted = null; // id of the render started from this page last, while its message shows
let dragFrom = null; // 0-based position of the clip being dragged
let renderStarted = () => {}; // told of each render started here (see startDraft)

const source = (clip) => sourceByName(store.get("sources"), clip.filename);

function keepDraft() {
  saveDraft({ name: $("assembly-name").value, preview: $("mode-preview").checked, clips: store.get("clips") });
}

export function assemblyMessage(kind, content) {
  const error = $("assembly-error");
  const status = $("assembly-status");
  show(error, kind === "error");
  show(status, kind === "ok");
  if (kind === "error") error.replaceChildren(content);
  if (kind === "ok") status.replaceChildren(content);
}

/** A render has ended: the message under the form says how, if the render was started from here. */
export function renderFinished(assembly, outcome) {
  if (submitted !== assembly.id) return;
  const link = h("a", { href: `#render-${assembly.id}` }, assembly.status === "done" ? "Play it" : "See why");
  assemblyMessage(assembly.status === "done" ? "ok" : "error",
    h("span", {}, `${assembly.name || assembly.id} ${outcome}. `, link, "."));
}

function clipTimesLabel(clip) {
  const from = source(clip);
  if (!from) return `${clip.start.toFixed(3)} s → ${clip.end.toFixed(3)} s`;
  const rate = sourceRate(from);
  const { first, last } = clipFrames(clip.start, clip.end, rate, from.duration);
  return `${formatTimecode(first, rate)} → ${formatTimecode(last, rate)}`;
}

function moveClip(from, to, focusSelector) {
  const clips = store.get("clips");
  if (to < 0 || to >= clips.length || from === to) return;
  const editing = store.get("editing");
  store.set({ clips: moveItem(clips, from, to), clipErrors: new Map(), editing: editing === from ? to : editing });
  announce(`Clip moved to position ${to + 1} of ${clips.length}`);
  if (focusSelector) {
    const button = $("clip-list").children[to]?.querySelector(focusSelector);
    (button && !button.disabled ? button : $("clip-list").children[to]?.querySelector(".clip-actions button"))?.focus();
  }
}

function removeClip(index) {
  const { clips, editing, removed } = removeClipAt(store.get("clips"), store.get("editing"), index);
  store.set({ clips, editing, clipErrors: new Map() });
  announce(`Removed clip ${index + 1} (${removed.filename})`);
  const items = $("clip-list").children;
  (items[Math.min(index, items.length - 1)]?.querySelector(".remove") ?? $("assembly-name")).focus();
}

function editClip(index) {
  const clip = store.get("clips")[index];
  const from = source(clip);
  if (!from) return;
  const { first, last } = clipFrames(clip.start, clip.end, sourceRate(from), from.duration);
  openSource(from, { reveal: true, marks: { inFrame: first, outFrame: last, editing: index } });
  renderClips();
}

function actionButton(name, label, title, disabled, onclick, text) {
  return h("button", {
    type: "button", class: `button icon small ${name}`, "aria-label": label, title, disabled, onclick,
  }, text);
}

function clipItem(clip, index, clips) {
  const pos = index + 1;
  const from = source(clip);
  const error = store.get("clipErrors").get(pos)
    ?? (store.get("indexed") && !from ? "This file is not in the index." : null);
  const errorId = `clip-error-${pos}`;
  const item = h(
    "li",
    {
      class: `clip${error ? " invalid" : ""}${store.get("editing") === index ? " editing" : ""}`,
      draggable: "true",
      dataset: { pos: String(pos) },
      "aria-describedby": error ? errorId : null,
    },
    h("span", { class: "grip", "aria-hidden": "true", title: "Drag to reorder" }, "⋮⋮"),
    h(
      "span",
      { class: `clip-thumb ${from ? orientation(from) : ""}` },
      from ? h("img", { src: thumbnailUrl(from), alt: "", loading: "lazy", draggable: "false" }) : null,
      h("span", { class: "clip-pos", "aria-hidden": "true" }, String(pos)),
    ),
    h(
      "div",
      { class: "clip-body" },
      h("span", { class: "clip-name" }, h("span", { class: "visually-hidden" }, `Clip ${pos}: `), clip.filename),
      h("span", { class: "clip-times tabular" }, clipTimesLabel(clip)),
      h(
        "div",
        { class: "clip-foot" },
        h("span", { class: "clip-length tabular" }, formatDuration(clip.end - clip.start)),
        h(
          "span",
          { class: "clip-actions" },
          actionButton("move-up", `Move clip ${pos} up`, "Move up", index === 0,
            () => moveClip(index, index - 1, ".move-up"), "↑"),
          actionButton("move-down", `Move clip ${pos} down`, "Move down", index === clips.length - 1,
            () => moveClip(index, index + 1, ".move-down"), "↓"),
          actionButton("edit", `Edit clip ${pos} in the player`, "Edit In and Out", !from,
            () => editClip(index), "✎"),
          actionButton("remove", `Remove clip ${pos}`, "Remove", false, () => removeClip(index), "✕"),
        ),
      ),
      error ? h("p", { class: "clip-error", id: errorId }, error) : null,
    ),
  );
  bindDrag(item, index);
  return item;
}

function bindDrag(item, index) {
  item.addEventListener("dragstart", (event) => {
    dragFrom = index;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", String(index + 1));
    item.classList.add("dragging");
  });
  item.addEventListener("dragend", () => {
    dragFrom = null;
    item.classList.remove("dragging");
    for (const other of $("clip-list").children) other.classList.remove("drop-before", "drop-after");
  });
  item.addEventListener("dragover", (event) => {
    if (dragFrom === null) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    const box = item.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    item.classList.toggle("drop-after", after);
    item.classList.toggle("drop-before", !after);
  });
  item.addEventListener("dragleave", () => item.classList.remove("drop-before", "drop-after"));
  item.addEventListener("drop", (event) => {
    if (dragFrom === null) return;
    event.preventDefault();
    const after = item.classList.contains("drop-after");
    item.classList.remove("drop-before", "drop-after");
    moveClip(dragFrom, dropPosition(dragFrom, index, after));
  });
}

function renderClips() {
  const clips = store.get("clips");
  $("clip-list").replaceChildren(...clips.map((clip, index) => clipItem(clip, index, clips)));
  const count = clips.length;
  show($("clips-empty"), count === 0);
  $("assembly-total").textContent = draftTotal(clips);
  const pill = $("nav-clip-count");
  pill.textContent = String(count);
  show(pill, count > 0);
  $("submit").disabled = count === 0;
  $("clear-clips").disabled = count === 0;
}

async function submitAssembly(event) {
  event.preventDefault();
  const clips = store.get("clips");
  if (!clips.length) return;
  const submit = $("submit");
  submit.disabled = true;
  submit.textContent = "Starting…";
  assemblyMessage(null);
  const body = assemblyRequest($("assembly-name").value, $("mode-preview").checked, clips);
  try {
    const { ok, status, data, error } = await api.createAssembly(body);
    if (ok) {
      store.set({ clipErrors: new Map() });
      const link = h("a", { href: `#render-${data.id}` }, "Follow it under Renders");
      submitted = data.id;
      assemblyMessage("ok", h("span", {}, `Rendering ${data.name || data.id}. `, link, "."));
      announce(`Render ${data.id} started`);
      renderStarted(data); // last: a render the page already saw end replaces the message above
      return;
    }
    const now = store.get("clips");
    const concerned = status === 422 ? clipsConcerned(error.detail, now, store.get("sources"), error.clip) : [];
    store.set({ clipErrors: new Map(concerned.map((pos) => [pos, error.detail])) });
    assemblyMessage("error", refusalMessage(error.detail, concerned));
    if (concerned.length) {
      $("clip-list").children[concerned[0] - 1]?.querySelector(".edit:not([disabled]), .remove")?.focus();
    }
  } finally {
    submit.textContent = "Render";
    submit.disabled = store.get("clips").length === 0;
  }
}

/** Replace the draft's clips (and name) with those of a render, once the user agrees. */
export function useClipsOf(assembly) {
  const clips = store.get("clips");
  if (clips.length && !window.confirm("Replace the clips of the current assembly?")) return;
  $("assembly-name").value = assembly.name ?? "";
  store.set({ clips: draftClips(assembly.clips), clipErrors: new Map(), editing: null });
  announce(`Assembly now holds the ${assembly.clips.length} clips of ${assembly.name || assembly.id}`);
  $("assembly").scrollIntoView({ behavior: "smooth", block: "start" });
}

function clearClips() {
  const clips = store.get("clips");
  if (!clips.length || !window.confirm(`Remove all ${clips.length} clips from the assembly?`)) return;
  assemblyMessage(null);
  store.set({ clips: [], editing: null, clipErrors: new Map() });
}

/** Start the section with the draft kept from the last visit; `onRenderStarted(assembly)` follows renders. */
export function startDraft({ onRenderStarted = () => {} } = {}) {
  renderStarted = onRenderStarted;
  $("assembly-form").addEventListener("submit", submitAssembly);
  $("assembly-name").addEventListener("input", keepDraft);
  for (const id of ["mode-preview", "mode-clean"]) $(id).addEventListener("change", keepDraft);
  $("clear-clips").addEventListener("click", clearClips);

  const kept = loadDraft();
  if (kept) {
    $("assembly-name").value = kept.name;
    $(kept.preview ? "mode-preview" : "mode-clean").checked = true;
    store.set({ clips: kept.clips });
  }
  store.subscribe(["sources", "clips", "editing", "clipErrors"], renderClips);
  // A changed draft is kept, and the message about the last render attempt goes.
  store.subscribe("clips", () => {
    keepDraft();
    if (store.get("clipErrors").size === 0) {
      submitted = null;
      assemblyMessage(null);
    }
  });
  renderClips();
}
