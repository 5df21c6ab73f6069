// Kalinsky's web UI: browse the sources, mark clips in a player, assemble them, follow the renders.
// No framework, no build step: the DOM is built with the small `h()` helper below.

import { assemblyRequest, clipsConcerned, dropPosition, errorText, moveItem, totalDuration } from "./assembly.js";
import { downloadName, formatSize, progressLabel, skipReason } from "./format.js";
import {
  clipFrames,
  clipTimes,
  formatDuration,
  formatRate,
  formatTimecode,
  fps,
  frameAt,
  frameStart,
  lastFrame,
  parseRate,
  parseTimecode,
  seekTime,
  stepFrame,
} from "./timecode.js";

const API = "/api/v1";
const DRAFT_KEY = "kalinsky.draft.v1";
const POLL_BUSY_MS = 1000;
const POLL_IDLE_MS = 10000;
/** Done renders whose player loads its metadata up front; older ones load when played. */
const PRELOADED_RENDERS = 3;
const FALLBACK_RATE = { num: 30, den: 1 };

const $ = (id) => document.getElementById(id);

/** An element: h("li", {class: "x", onclick: f}, child, "text", ...). Null/false children are skipped. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function announce(message) {
  const announcer = $("announcer");
  announcer.textContent = "";
  // A fresh text node after a tick is read out even when the message repeats.
  setTimeout(() => (announcer.textContent = message), 30);
}

function show(element, visible) {
  element.hidden = !visible;
}

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`${API}${path}`, options);
  } catch {
    return { ok: false, status: 0, data: { detail: "Cannot reach the Kalinsky server. Is `kalinsky serve` running?" } };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { ok: response.ok, status: response.status, data };
}

// -- state -------------------------------------------------------------------------------------------

const state = {
  sources: [], // the index, as GET /sources returns it
  indexed: null, // false before the first reindex
  open: null, // {source, rate, duration, inFrame, outFrame} of the source in the player
  editing: null, // 0-based position of the draft clip the player is editing, or null
  clips: [], // the draft: [{filename, start, end}]
  clipErrors: new Map(), // 1-based position -> message from the server
  renders: new Map(), // assembly id -> {assembly, card}
  submitted: null, // id of the render started from this page last, while its message shows
  pollTimer: null,
};

const sourceByName = (filename) => state.sources.find((source) => source.filename === filename) ?? null;

function rateOf(source) {
  try {
    return parseRate(source.frame_rate);
  } catch {
    return FALLBACK_RATE;
  }
}

const thumbnailUrl = (source) =>
  `${API}/sources/${source.index}/thumbnail?v=${encodeURIComponent(`${source.file_size}-${source.filename}`)}`;
const mediaUrl = (source) => `${API}/sources/${source.index}/media`;

function orientation(source) {
  if (!source.width || !source.height) return "";
  if (source.height > source.width) return "vertical";
  return source.height === source.width ? "square" : "";
}

// -- draft persistence -----------------------------------------------------------------------------

function saveDraft() {
  const draft = { name: $("assembly-name").value, preview: $("mode-preview").checked, clips: state.clips };
  try {
    localStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  } catch {
    // Private windows may refuse storage: the draft then lives as long as the page.
  }
}

function loadDraft() {
  try {
    const draft = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null");
    if (!draft || !Array.isArray(draft.clips)) return;
    $("assembly-name").value = typeof draft.name === "string" ? draft.name : "";
    $(draft.preview === false ? "mode-clean" : "mode-preview").checked = true;
    state.clips = draft.clips
      .filter((clip) => typeof clip?.filename === "string" && Number.isFinite(clip.start) && Number.isFinite(clip.end))
      .map(({ filename, start, end }) => ({ filename, start, end }));
  } catch {
    state.clips = [];
  }
}

// -- library -----------------------------------------------------------------------------------------

function libraryMessage(...content) {
  const box = $("library-state");
  box.replaceChildren(...content);
  show(box, content.length > 0);
}

async function loadSources() {
  const { ok, status, data } = await api("GET", "/sources");
  if (status === 409) {
    state.indexed = false;
    state.sources = [];
    renderLibrary();
    libraryMessage(
      h("h3", {}, "No index yet"),
      h("p", {}, "Kalinsky lists the videos of its sources folder once it has scanned them. Scan now to see them here."),
      h("button", { type: "button", class: "button primary", onclick: reindex }, "Scan the sources folder"),
    );
    return;
  }
  if (!ok) {
    libraryMessage(
      h("p", { class: "notice notice-error" }, `Could not load the sources: ${errorText(status, data)}`),
      h("button", { type: "button", class: "button", onclick: loadSources }, "Try again"),
    );
    return;
  }
  state.indexed = true;
  state.sources = Array.isArray(data) ? data : [];
  renderLibrary();
  renderClips();
}

function renderLibrary() {
  const list = $("source-list");
  const filter = $("source-filter").value.trim().toLowerCase();
  const shown = state.sources.filter((source) => source.filename.toLowerCase().includes(filter));
  $("source-count").textContent = state.indexed ? String(state.sources.length) : "";
  show($("filter-row"), state.sources.length > 5);
  list.replaceChildren(...shown.map(sourceCard));
  if (state.indexed && state.sources.length === 0) {
    libraryMessage(
      h("h3", {}, "No videos found"),
      h("p", {}, "Put .mp4, .mov, .mkv or .webm files in the sources folder, then reindex."),
    );
  } else if (state.indexed && shown.length === 0) {
    libraryMessage(h("p", { class: "muted" }, `No source name contains “${filter}”.`));
  } else if (state.indexed) {
    libraryMessage();
  }
}

function sourceCard(source) {
  const rate = rateOf(source);
  const selected = state.open?.source.index === source.index;
  const thumb = h("img", {
    src: thumbnailUrl(source),
    alt: "",
    loading: "lazy",
    decoding: "async",
    onerror: (event) => event.target.closest(".thumb").classList.add("thumb-missing"),
  });
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: `source-card${selected ? " selected" : ""}`,
        "aria-pressed": selected ? "true" : "false",
        dataset: { index: String(source.index) },
        title: `Open ${source.filename} in the player`,
        onclick: () => openSource(source, { reveal: true }),
      },
      h(
        "span",
        { class: `thumb ${orientation(source)}` },
        thumb,
        h("span", { class: "thumb-fallback", "aria-hidden": "true" }, "No preview"),
        h("span", { class: "badge duration" }, formatDuration(source.duration)),
      ),
      h("span", { class: "source-name" }, source.filename),
      h(
        "span",
        { class: "source-meta" },
        h("span", {}, source.resolution.replace("x", "×")),
        h("span", {}, source.codec),
        h("span", {}, formatRate(rate)),
        h("span", {}, formatSize(source.file_size)),
        source.has_audio === false ? h("span", { class: "muted" }, "no audio") : null,
      ),
    ),
  );
}

function reindexReport(data) {
  const skipped = Array.isArray(data.skipped) ? data.skipped : [];
  const found = `Found ${data.count} video${data.count === 1 ? "" : "s"}`;
  const report = $("reindex-report");
  report.className = `report${skipped.length ? " report-warn" : ""}`;
  report.replaceChildren(
    h(
      "div",
      { class: "report-head" },
      h("p", {}, h("strong", {}, found), skipped.length ? `, skipped ${skipped.length}:` : "."),
      h("button", { type: "button", class: "button subtle small", onclick: () => show(report, false) }, "Dismiss"),
    ),
    skipped.length
      ? h(
          "ul",
          { class: "skipped" },
          skipped.map((item) =>
            h(
              "li",
              {},
              h("span", { class: "skipped-name" }, item.filename),
              h("span", {}, skipReason(item.filename, item.reason)),
            ),
          ),
        )
      : null,
  );
  show(report, true);
  announce(`${found}${skipped.length ? `, skipped ${skipped.length}` : ""}.`);
}

async function reindex() {
  const button = $("reindex");
  button.disabled = true;
  button.textContent = "Scanning…";
  try {
    const { ok, status, data } = await api("POST", "/sources/reindex");
    if (!ok) {
      const report = $("reindex-report");
      report.className = "report report-error";
      report.replaceChildren(h("p", {}, `Reindex failed: ${errorText(status, data)}`));
      show(report, true);
      return;
    }
    reindexReport(data);
    await loadSources();
    if (state.open) {
      // Numbers may have moved: follow the open file by its name, or close it if it is gone.
      const again = sourceByName(state.open.source.filename);
      if (!again) closeSource();
      else if (again.index !== state.open.source.index) {
        const at = player().currentTime;
        state.open.source = again;
        player().src = mediaUrl(again);
        player().currentTime = at;
      } else state.open.source = again;
    }
  } finally {
    button.disabled = false;
    button.textContent = "Reindex";
  }
}

// -- player ------------------------------------------------------------------------------------------

const player = () => $("player");

function closeSource() {
  state.open = null;
  state.editing = null;
  player().removeAttribute("src");
  player().load();
  show($("viewer-body"), false);
  show($("viewer-empty"), true);
  $("viewer-source").textContent = "No source open";
  renderLibrary();
}

/** Open a source in the player; `marks` {inFrame, outFrame, editing} reopen a draft clip for editing. */
function openSource(source, { reveal = false, marks = null } = {}) {
  const rate = rateOf(source);
  const previous = state.open?.source.filename === source.filename ? state.open : null;
  const same = previous !== null;
  // Opening the file already open keeps its marks (and the clip being edited).
  state.open = {
    source,
    rate,
    duration: source.duration,
    inFrame: marks ? marks.inFrame : (previous?.inFrame ?? null),
    outFrame: marks ? marks.outFrame : (previous?.outFrame ?? null),
  };
  state.editing = marks ? marks.editing : same ? state.editing : null;
  const video = player();
  const stage = video.closest(".stage");
  stage.style.setProperty("--aw", String(source.width || 16));
  stage.style.setProperty("--ah", String(source.height || 9));
  stage.classList.toggle("vertical", orientation(source) === "vertical");
  show($("player-error"), false);
  if (!same || !video.getAttribute("src")) {
    video.src = mediaUrl(source);
  }
  if (marks) video.currentTime = seekTime(marks.inFrame, rate);
  $("viewer-source").textContent = `${source.filename} · ${source.resolution.replace("x", "×")} · ${formatRate(rate)}`;
  show($("viewer-empty"), false);
  show($("viewer-body"), true);
  renderLibrary();
  renderMarks();
  renderTime();
  if (reveal && window.matchMedia("(max-width: 899px)").matches) {
    $("viewer").scrollIntoView({ behavior: "smooth", block: "start" });
  }
}

function currentFrame() {
  const { rate, duration } = state.open;
  return frameAt(player().currentTime || 0, rate, duration);
}

function marks() {
  const { rate, duration, inFrame, outFrame } = state.open;
  const first = inFrame ?? 0;
  const last = outFrame ?? lastFrame(duration, rate);
  return { first, last, ...clipTimes(first, last, rate, duration) };
}

function renderTime() {
  if (!state.open) return;
  const { rate, duration } = state.open;
  const frame = currentFrame();
  $("timecode").textContent = formatTimecode(frame, rate);
  $("frame-info").textContent = `frame ${frame + 1} of ${lastFrame(duration, rate) + 1}`;
  const head = $("scrub-head");
  head.style.left = `${Math.min(100, (frameStart(frame, rate) / duration) * 100)}%`;
  const playing = !player().paused && !player().ended;
  $("play").textContent = playing ? "❚❚" : "▶\uFE0E";
  $("play").setAttribute("aria-label", playing ? "Pause" : "Play");
}

function renderMarks() {
  if (!state.open) return;
  const { rate, duration } = state.open;
  const { first, last, start, end } = marks();
  for (const [id, frame] of [["in-point", first], ["out-point", last]]) {
    const input = $(id);
    if (document.activeElement !== input) input.value = formatTimecode(frame, rate);
    input.removeAttribute("aria-invalid");
  }
  $("clip-duration").textContent = formatDuration(end - start);
  $("clip-frames").textContent = `${last - first + 1} frame${last === first ? "" : "s"}`;
  const range = $("scrub-range");
  range.style.left = `${(start / duration) * 100}%`;
  range.style.width = `${((end - start) / duration) * 100}%`;
  const editing = state.editing !== null;
  $("add-clip").textContent = editing ? `Update clip ${state.editing + 1}` : "Add to assembly";
  show($("cancel-edit"), editing);
}

function seekToFrame(frame) {
  const video = player();
  video.pause();
  video.currentTime = seekTime(frame, state.open.rate);
  renderTime();
}

function step(delta) {
  if (!state.open) return;
  const { rate, duration } = state.open;
  seekToFrame(stepFrame(player().currentTime || 0, delta, rate, duration));
}

function setIn(frame = currentFrame()) {
  const open = state.open;
  open.inFrame = frame;
  if (open.outFrame !== null && open.outFrame < frame) open.outFrame = null;
  renderMarks();
  announce(`In at ${formatTimecode(frame, open.rate)}`);
}

function setOut(frame = currentFrame()) {
  const open = state.open;
  open.outFrame = frame;
  if (open.inFrame !== null && open.inFrame > frame) open.inFrame = null;
  renderMarks();
  announce(`Out at ${formatTimecode(frame, open.rate)}`);
}

function togglePlay() {
  const video = player();
  if (video.paused || video.ended) video.play().catch(() => {});
  else video.pause();
}

/** A mark typed into the In or Out field (`which`: "first" or "last"), applied and shown as a timecode. */
function typedMark(input, which, apply) {
  if (!state.open) return;
  const { rate, duration } = state.open;
  const frame = parseTimecode(input.value, rate);
  if (frame === null) {
    input.setAttribute("aria-invalid", "true");
    announce("Not a timecode. Use HH:MM:SS:FF or seconds.");
    return;
  }
  const clamped = Math.min(frame, lastFrame(duration, rate));
  if (clamped !== marks()[which]) apply(clamped);
  input.removeAttribute("aria-invalid");
  input.value = formatTimecode(marks()[which], rate);
}

function addClip() {
  if (!state.open) return;
  const { source, rate } = state.open;
  const { first, last, start, end } = marks();
  const clip = { filename: source.filename, start, end };
  const label = `${source.filename} ${formatTimecode(first, rate)}–${formatTimecode(last, rate)}`;
  if (state.editing !== null && state.editing < state.clips.length) {
    state.clips = state.clips.map((item, i) => (i === state.editing ? clip : item));
    announce(`Clip ${state.editing + 1} updated: ${label}`);
    state.editing = null;
  } else {
    state.clips = [...state.clips, clip];
    announce(`Clip ${state.clips.length} added: ${label}`);
  }
  state.clipErrors.clear();
  draftChanged();
  renderMarks();
}

function bindPlayer() {
  const video = player();
  for (const event of ["timeupdate", "seeked", "play", "pause", "loadedmetadata", "ended"]) {
    video.addEventListener(event, renderTime);
  }
  const follow = () => {
    renderTime();
    if (!video.paused) requestAnimationFrame(follow);
  };
  video.addEventListener("play", () => requestAnimationFrame(follow));
  video.addEventListener("error", () => {
    if (!state.open) return;
    const error = $("player-error");
    error.textContent =
      `This browser cannot play ${state.open.source.filename} (${state.open.source.codec}). ` +
      "You can still type In and Out as timecodes and add the clip.";
    show(error, true);
  });

  $("play").addEventListener("click", togglePlay);
  $("frame-back").addEventListener("click", () => step(-1));
  $("frame-forward").addEventListener("click", () => step(1));
  $("set-in").addEventListener("click", () => setIn());
  $("set-out").addEventListener("click", () => setOut());
  $("go-in").addEventListener("click", () => seekToFrame(marks().first));
  $("go-out").addEventListener("click", () => seekToFrame(marks().last));
  $("add-clip").addEventListener("click", addClip);
  $("cancel-edit").addEventListener("click", () => {
    state.editing = null;
    renderMarks();
    renderClips();
  });
  for (const [id, which, apply] of [["in-point", "first", setIn], ["out-point", "last", setOut]]) {
    const input = $(id);
    input.addEventListener("change", () => typedMark(input, which, apply));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        typedMark(input, which, apply);
      } else if (event.key === "Escape") {
        input.blur();
        renderMarks();
      }
    });
    input.addEventListener("blur", () => input.getAttribute("aria-invalid") || renderMarks());
  }

  const scrub = $("scrub");
  const scrubTo = (event) => {
    if (!state.open) return;
    const box = scrub.getBoundingClientRect();
    const share = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    seekToFrame(frameAt(share * state.open.duration, state.open.rate, state.open.duration));
  };
  scrub.addEventListener("pointerdown", (event) => {
    scrub.setPointerCapture(event.pointerId);
    scrubTo(event);
  });
  scrub.addEventListener("pointermove", (event) => {
    if (scrub.hasPointerCapture(event.pointerId)) scrubTo(event);
  });

  // Player shortcuts work anywhere except while typing; capture so the video element's own arrow-key
  // seeking (five seconds) does not run as well.
  window.addEventListener(
    "keydown",
    (event) => {
      if (!state.open || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (target.closest?.("input, textarea, select, [contenteditable='true']")) return;
      const onControl = target.closest?.("button, a, summary");
      const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
      const second = Math.round(fps(state.open.rate));
      if (key === "i") event.shiftKey ? seekToFrame(marks().first) : setIn();
      else if (key === "o") event.shiftKey ? seekToFrame(marks().last) : setOut();
      else if (key === "ArrowLeft") step(event.shiftKey ? -second : -1);
      else if (key === "ArrowRight") step(event.shiftKey ? second : 1);
      else if ((key === " " && !onControl) || key === "k") togglePlay();
      else return;
      event.preventDefault();
      event.stopPropagation();
    },
    { capture: true },
  );
}

// -- assembly draft ----------------------------------------------------------------------------------

function draftChanged() {
  saveDraft();
  renderClips();
  if (state.clipErrors.size === 0) {
    state.submitted = null;
    assemblyMessage(null);
  }
}

function clipTimesLabel(clip) {
  const source = sourceByName(clip.filename);
  if (!source) return `${clip.start.toFixed(3)} s → ${clip.end.toFixed(3)} s`;
  const rate = rateOf(source);
  const { first, last } = clipFrames(clip.start, clip.end, rate, source.duration);
  return `${formatTimecode(first, rate)} → ${formatTimecode(last, rate)}`;
}

function moveClip(from, to, focusSelector) {
  if (to < 0 || to >= state.clips.length || from === to) return;
  state.clips = moveItem(state.clips, from, to);
  state.clipErrors.clear();
  if (state.editing === from) state.editing = to;
  draftChanged();
  announce(`Clip moved to position ${to + 1} of ${state.clips.length}`);
  if (focusSelector) {
    const button = $("clip-list").children[to]?.querySelector(focusSelector);
    (button && !button.disabled ? button : $("clip-list").children[to]?.querySelector(".clip-actions button"))?.focus();
  }
}

function removeClip(index) {
  const [removed] = state.clips.splice(index, 1);
  if (state.editing === index) state.editing = null;
  else if (state.editing !== null && state.editing > index) state.editing -= 1;
  state.clipErrors.clear();
  draftChanged();
  renderMarks();
  announce(`Removed clip ${index + 1} (${removed.filename})`);
  const items = $("clip-list").children;
  (items[Math.min(index, items.length - 1)]?.querySelector(".remove") ?? $("assembly-name")).focus();
}

function editClip(index) {
  const clip = state.clips[index];
  const source = sourceByName(clip.filename);
  if (!source) return;
  const { first, last } = clipFrames(clip.start, clip.end, rateOf(source), source.duration);
  openSource(source, { reveal: true, marks: { inFrame: first, outFrame: last, editing: index } });
  renderClips();
}

let dragFrom = null;

function clipItem(clip, index) {
  const pos = index + 1;
  const source = sourceByName(clip.filename);
  const error = state.clipErrors.get(pos) ?? (state.indexed && !source ? "This file is not in the index." : null);
  const errorId = `clip-error-${pos}`;
  const item = h(
    "li",
    {
      class: `clip${error ? " invalid" : ""}${state.editing === index ? " editing" : ""}`,
      draggable: "true",
      dataset: { pos: String(pos) },
      "aria-describedby": error ? errorId : null,
    },
    h("span", { class: "grip", "aria-hidden": "true", title: "Drag to reorder" }, "⋮⋮"),
    h(
      "span",
      { class: `clip-thumb ${source ? orientation(source) : ""}` },
      source ? h("img", { src: thumbnailUrl(source), alt: "", loading: "lazy", draggable: "false" }) : null,
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
          h("button", {
            type: "button", class: "button icon small move-up", "aria-label": `Move clip ${pos} up`,
            title: "Move up", disabled: index === 0, onclick: () => moveClip(index, index - 1, ".move-up"),
          }, "↑"),
          h("button", {
            type: "button", class: "button icon small move-down", "aria-label": `Move clip ${pos} down`,
            title: "Move down", disabled: index === state.clips.length - 1,
            onclick: () => moveClip(index, index + 1, ".move-down"),
          }, "↓"),
          h("button", {
            type: "button", class: "button icon small edit", "aria-label": `Edit clip ${pos} in the player`,
            title: "Edit In and Out", disabled: !source, onclick: () => editClip(index),
          }, "✎"),
          h("button", {
            type: "button", class: "button icon small remove", "aria-label": `Remove clip ${pos}`,
            title: "Remove", onclick: () => removeClip(index),
          }, "✕"),
        ),
      ),
      error ? h("p", { class: "clip-error", id: errorId }, error) : null,
    ),
  );
  item.addEventListener("dragstart", (event) => {
    dragFrom = index;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", String(pos));
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
  return item;
}

function renderClips() {
  $("clip-list").replaceChildren(...state.clips.map(clipItem));
  const count = state.clips.length;
  show($("clips-empty"), count === 0);
  $("assembly-total").textContent = count
    ? `${count} clip${count === 1 ? "" : "s"} · ${formatDuration(totalDuration(state.clips))}`
    : "";
  const pill = $("nav-clip-count");
  pill.textContent = String(count);
  show(pill, count > 0);
  $("submit").disabled = count === 0;
  $("clear-clips").disabled = count === 0;
}

function assemblyMessage(kind, content) {
  const error = $("assembly-error");
  const status = $("assembly-status");
  show(error, kind === "error");
  show(status, kind === "ok");
  if (kind === "error") error.replaceChildren(content);
  if (kind === "ok") status.replaceChildren(content);
}

async function submitAssembly(event) {
  event.preventDefault();
  if (!state.clips.length) return;
  const submit = $("submit");
  submit.disabled = true;
  submit.textContent = "Starting…";
  assemblyMessage(null);
  const body = assemblyRequest($("assembly-name").value, $("mode-preview").checked, state.clips);
  try {
    const { ok, status, data } = await api("POST", "/assemblies", body);
    if (ok) {
      state.clipErrors.clear();
      renderClips();
      upsertRender(data, { prepend: true });
      const link = h("a", { href: `#render-${data.id}` }, "Follow it under Renders");
      state.submitted = data.id;
      assemblyMessage("ok", h("span", {}, `Rendering ${data.name || data.id}. `, link, "."));
      announce(`Render ${data.id} started`);
      schedulePoll(POLL_BUSY_MS);
      return;
    }
    const detail = errorText(status, data);
    const concerned = status === 422 ? clipsConcerned(detail, state.clips, state.sources) : [];
    state.clipErrors = new Map(concerned.map((pos) => [pos, detail]));
    renderClips();
    if (concerned.length) {
      const which = concerned.length === 1 ? `clip ${concerned[0]}` : `clips ${concerned.join(", ")}`;
      assemblyMessage("error", `Not rendered: fix ${which} (${detail}).`);
      $("clip-list").children[concerned[0] - 1]?.querySelector(".edit:not([disabled]), .remove")?.focus();
    } else {
      assemblyMessage("error", `Not rendered: ${detail}`);
    }
  } finally {
    submit.textContent = "Render";
    submit.disabled = state.clips.length === 0;
  }
}

function useClipsOf(assembly) {
  if (state.clips.length && !window.confirm("Replace the clips of the current assembly?")) return;
  state.clips = assembly.clips.map(({ filename, start, end }) => ({ filename, start, end }));
  state.clipErrors.clear();
  state.editing = null;
  $("assembly-name").value = assembly.name ?? "";
  draftChanged();
  if (state.open) renderMarks();
  announce(`Assembly now holds the ${assembly.clips.length} clips of ${assembly.name || assembly.id}`);
  $("assembly").scrollIntoView({ behavior: "smooth", block: "start" });
}

function bindAssembly() {
  $("assembly-form").addEventListener("submit", submitAssembly);
  $("assembly-name").addEventListener("input", saveDraft);
  for (const id of ["mode-preview", "mode-clean"]) $(id).addEventListener("change", saveDraft);
  $("clear-clips").addEventListener("click", () => {
    if (!state.clips.length || !window.confirm(`Remove all ${state.clips.length} clips from the assembly?`)) return;
    state.clips = [];
    state.editing = null;
    state.clipErrors.clear();
    assemblyMessage(null);
    draftChanged();
    if (state.open) renderMarks();
  });
}

// -- renders -----------------------------------------------------------------------------------------

const STATUS_LABEL = { processing: "Rendering", done: "Done", failed: "Failed", cancelled: "Cancelled" };
const OUTCOME = { done: "is done", failed: "failed", cancelled: "was cancelled" };

async function cancelRender(assembly) {
  const { ok, status, data } = await api("POST", `/assemblies/${encodeURIComponent(assembly.id)}/cancel`);
  if (ok) {
    upsertRender(data);
    renderActivity();
  }
  else announce(`Could not cancel ${assembly.name || assembly.id}: ${errorText(status, data)}`);
}

function relativeTime(iso) {
  const then = new Date(iso);
  const seconds = (Date.now() - then.getTime()) / 1000;
  if (!Number.isFinite(seconds)) return "";
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (seconds < 45) return "just now";
  if (seconds < 3600) return format.format(-Math.round(seconds / 60), "minute");
  if (seconds < 86400) return format.format(-Math.round(seconds / 3600), "hour");
  return then.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
}

function renderCard(assembly) {
  const card = h("li", { class: "render", id: `render-${assembly.id}`, dataset: { id: assembly.id } });
  card.append(
    h(
      "div",
      { class: "render-head" },
      h("h3", { class: "render-name ellipsis" }, assembly.name || "Untitled"),
      h("span", { class: "render-id" }, assembly.id),
      h("span", { class: "status" }),
    ),
    h("p", { class: "render-meta muted small" }),
    h("div", { class: "render-body" }),
    h(
      "details",
      { class: "render-clips" },
      h("summary", {}, `${assembly.clips.length} clip${assembly.clips.length === 1 ? "" : "s"}`),
      h(
        "ol",
        {},
        assembly.clips.map((clip) =>
          h(
            "li",
            {},
            h("span", { class: "ellipsis" }, clip.filename),
            h("span", { class: "muted tabular" }, `${clip.start.toFixed(3)}–${clip.end.toFixed(3)} s`),
          ),
        ),
      ),
      h(
        "button",
        { type: "button", class: "button subtle small", onclick: () => useClipsOf(assembly) },
        "Use these clips in the assembly",
      ),
    ),
  );
  return card;
}

function progressBody(assembly) {
  const percent = Math.round((assembly.progress ?? 0) * 100);
  return h(
    "div",
    { class: "render-progress" },
    h(
      "div",
      {
        class: "bar",
        role: "progressbar",
        "aria-label": `Progress of ${assembly.name || assembly.id}`,
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": String(percent),
      },
      h("span", { class: "bar-fill", style: `width: ${percent}%` }),
    ),
    h("span", { class: "progress-label tabular" }, progressLabel(assembly.progress, assembly.eta_seconds)),
    h(
      "button",
      {
        type: "button",
        class: "button subtle small",
        "aria-label": `Cancel the render of ${assembly.name || assembly.id}`,
        onclick: () => cancelRender(assembly),
      },
      "Cancel",
    ),
  );
}

function cancelledBody() {
  return h("p", { class: "muted small" }, "Cancelled: the render was stopped and its files removed.");
}

function doneBody(assembly, preload) {
  return h(
    "div",
    { class: "render-output" },
    h("video", {
      class: "render-player",
      controls: true,
      playsinline: true,
      preload: preload ? "metadata" : "none",
      src: assembly.output_url,
      "aria-label": `Result of ${assembly.name || assembly.id}`,
    }),
    h(
      "div",
      { class: "render-links" },
      h("a", { class: "button small", href: assembly.output_url, download: downloadName(assembly) }, "Download"),
      h("a", { class: "button subtle small", href: assembly.output_url, target: "_blank", rel: "noopener" }, "Open"),
    ),
  );
}

function failedBody(assembly) {
  const error = String(assembly.error || "The render failed.");
  const [first, ...rest] = error.split("\n");
  return h(
    "div",
    { class: "render-failed" },
    h("p", { class: "notice notice-error" }, first.length > 240 ? `${first.slice(0, 240)}…` : first),
    rest.length || first.length > 240
      ? h("details", {}, h("summary", {}, "Full error"), h("pre", { class: "error-log" }, error))
      : null,
  );
}

function updateCard(entry, assembly, position) {
  const { card } = entry;
  const previous = entry.assembly;
  entry.assembly = assembly;
  card.dataset.status = assembly.status;
  const status = card.querySelector(".status");
  status.textContent = STATUS_LABEL[assembly.status] ?? assembly.status;
  status.className = `status status-${assembly.status}`;
  const parts = [assembly.preview ? "Preview" : "Clean"];
  if (assembly.duration !== null && assembly.duration !== undefined) parts.push(formatDuration(assembly.duration));
  const created = h("time", { datetime: assembly.created, title: new Date(assembly.created).toLocaleString() });
  created.textContent = relativeTime(assembly.created);
  card.querySelector(".render-meta").replaceChildren(parts.join(" · "), " · ", created);

  const body = card.querySelector(".render-body");
  if (assembly.status === "processing") {
    const bar = body.querySelector(".bar");
    if (!bar) body.replaceChildren(progressBody(assembly));
    else {
      const percent = Math.round((assembly.progress ?? 0) * 100);
      bar.setAttribute("aria-valuenow", String(percent));
      bar.querySelector(".bar-fill").style.width = `${percent}%`;
      body.querySelector(".progress-label").textContent = progressLabel(assembly.progress, assembly.eta_seconds);
    }
  } else if (!previous || previous.status !== assembly.status || !body.firstChild) {
    const finished = {
      done: () => doneBody(assembly, position < PRELOADED_RENDERS),
      cancelled: cancelledBody,
    }[assembly.status] ?? (() => failedBody(assembly));
    body.replaceChildren(finished());
    if (previous && previous.status === "processing") {
      const outcome = OUTCOME[assembly.status] ?? assembly.status;
      announce(`Render ${assembly.name || assembly.id} ${outcome}`);
      if (state.submitted === assembly.id) {
        const link = h("a", { href: `#render-${assembly.id}` }, assembly.status === "done" ? "Play it" : "See why");
        assemblyMessage(assembly.status === "done" ? "ok" : "error",
          h("span", {}, `${assembly.name || assembly.id} ${outcome}. `, link, "."));
      }
    }
  }
}

function upsertRender(assembly, { prepend = false } = {}) {
  let entry = state.renders.get(assembly.id);
  if (!entry) {
    entry = { assembly: null, card: renderCard(assembly) };
    state.renders.set(assembly.id, entry);
    if (prepend) $("render-list").prepend(entry.card);
  }
  updateCard(entry, assembly, 0);
  show($("renders-empty"), false);
  return entry;
}

function renderActivity() {
  const running = [...state.renders.values()].filter((entry) => entry.assembly.status === "processing").length;
  const pill = $("nav-render-activity");
  pill.textContent = running ? `${running} running` : "";
  show(pill, running > 0);
  document.title = running ? `(${running}) Kalinsky` : "Kalinsky";
  return running;
}

async function refreshRenders() {
  const { ok, status, data } = await api("GET", "/assemblies");
  const error = $("renders-error");
  if (!ok || !Array.isArray(data)) {
    error.textContent = `Could not load the renders: ${errorText(status, data)}`;
    show(error, true);
    return false;
  }
  show(error, false);
  const list = $("render-list");
  data.forEach((assembly, position) => {
    let entry = state.renders.get(assembly.id);
    if (!entry) {
      entry = { assembly: null, card: renderCard(assembly) };
      state.renders.set(assembly.id, entry);
    }
    // Insert only where needed: moving a card that holds a playing video would stop it.
    if (list.children[position] !== entry.card) list.insertBefore(entry.card, list.children[position] ?? null);
    updateCard(entry, assembly, position);
  });
  const known = new Set(data.map((assembly) => assembly.id));
  for (const [id, entry] of state.renders) {
    if (!known.has(id)) {
      entry.card.remove();
      state.renders.delete(id);
    }
  }
  show($("renders-empty"), data.length === 0);
  return true;
}

function schedulePoll(delay) {
  clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(poll, delay);
}

async function poll() {
  if (document.hidden) return; // resumed by visibilitychange
  const ok = await refreshRenders();
  const running = renderActivity();
  schedulePoll(ok && running ? POLL_BUSY_MS : POLL_IDLE_MS);
}

// -- start -------------------------------------------------------------------------------------------

function start() {
  bindPlayer();
  bindAssembly();
  $("reindex").addEventListener("click", reindex);
  $("source-filter").addEventListener("input", renderLibrary);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
  loadDraft();
  renderClips();
  loadSources();
  poll();
}

start();
