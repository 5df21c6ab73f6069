// The player section: the open source, frame stepping, the In and Out marks, adding the marked clip.

import { api, filmstripUrl, getSourceTimeline, getWaveform, mediaUrl } from "./api.js";
import { announce, h, $, show } from "./dom.js";
import { orientation, playback, qcBadges } from "./format.js";
import { markRange, openedState, placeClip, shortcut, typedFrame, withIn, withOut } from "./marks.js";
import { store } from "./state.js";
import { frameAtShare, keyframeMarkers, renderPath, shareAt, shareOfFrame, snapFrame, waveformColumns } from "./timeline.js";
import {
  formatDuration,
  formatRate,
  formatTimecode,
  frameAt,
  lastFrame,
  seekTime,
  sourceRate,
  stepFrame,
} from "./timecode.js";

const player = () => $("player");

// What the trim bar shows of the open source, once loaded: {filename, timeline, waveform} (either may be null).
let trim = { filename: null, timeline: null, waveform: null };

/** How often the player asks whether a playable copy is ready, in ms. */
const PROXY_POLL_MS = 1000;
let proxyPoll = null;

/** A QC badge: a short label, explained by its title. */
export function badgeElement(badge) {
  return h("span", { class: `qc-badge${badge.warn ? " warn" : ""}`, title: badge.title }, badge.label);
}

/**
 * Play what the browser can show of `source`: the file, its playable copy, or a word on why not yet (asking
 * again until the copy is ready). The copy holds the same frames at the same times, so the player's time names
 * the source's own frames either way. Keeps the position when the address changes.
 */
function load(source, at = player().currentTime || 0) {
  clearTimeout(proxyPoll);
  const video = player();
  const how = playback(source, mediaUrl(source));
  const status = $("player-status");
  if (!how.play) {
    if (video.getAttribute("src")) {
      video.removeAttribute("src");
      video.load();
    }
    status.textContent = how.message;
    show(status, true);
    if (how.waiting) proxyPoll = setTimeout(() => refreshSource(source.filename), PROXY_POLL_MS);
    return;
  }
  show(status, false);
  if (video.getAttribute("src") !== how.url) {
    video.src = how.url;
    if (at) video.currentTime = at;
  }
}

async function refreshSource(filename) {
  const open = store.get("open");
  if (!open || open.source.filename !== filename) return;
  const { ok, data } = await api.listSources();
  const again = ok && Array.isArray(data) ? data.find((source) => source.filename === filename) : null;
  const still = store.get("open");
  if (!still || still.source.filename !== filename) return;
  if (!again) {
    proxyPoll = setTimeout(() => refreshSource(filename), PROXY_POLL_MS);
    return;
  }
  store.set({ open: { ...still, source: again } });
  load(again);
}

function renderQc(source) {
  const line = $("player-qc");
  const badges = qcBadges(source);
  line.replaceChildren(...badges.map(badgeElement));
  show(line, badges.length > 0);
}

export function closeSource() {
  clearTimeout(proxyPoll);
  show($("player-status"), false);
  store.set({ open: null, editing: null });
  player().removeAttribute("src");
  player().load();
  show($("viewer-body"), false);
  show($("viewer-empty"), true);
  $("viewer-source").textContent = "No source open";
}

/** Open a source in the player; `marks` {inFrame, outFrame, editing} reopen a draft clip for editing. */
export function openSource(source, { reveal = false, marks = null } = {}) {
  const rate = sourceRate(source);
  const { open, editing, same } = openedState(store.get("open"), store.get("editing"), source, rate, marks);
  store.set({ open, editing });
  const video = player();
  const stage = video.closest(".stage");
  stage.style.setProperty("--aw", String(source.width || 16));
  stage.style.setProperty("--ah", String(source.height || 9));
  stage.classList.toggle("vertical", orientation(source) === "vertical");
  show($("player-error"), false);
  load(source, same ? video.currentTime || 0 : 0);
  renderQc(source);
  if (marks) video.currentTime = seekTime(marks.inFrame, rate);
  $("viewer-source").textContent = `${source.filename} · ${source.resolution.replace("x", "×")} · ${formatRate(rate)}`;
  show($("viewer-empty"), false);
  show($("viewer-body"), true);
  if (!same || trim.filename !== source.filename) loadTrimBar(source);
  renderMarks();
  renderTime();
  if (reveal && window.matchMedia("(max-width: 899px)").matches) {
    $("viewer").scrollIntoView({ behavior: "smooth", block: "start" });
  }
}

/** After a reindex: the open file, under its (maybe new) index number, keeps playing where it was. */
export function followSource(again) {
  const open = store.get("open");
  const moved = again.index !== open.source.index;
  const at = player().currentTime;
  store.set({ open: { ...open, source: again } });
  if (moved) player().removeAttribute("src");
  load(again, at);
  renderQc(again);
  if (moved || again.file_size !== open.source.file_size) loadTrimBar(again);
}

/** Fetch and show the open source's filmstrip, waveform and keyframes; a late answer for another file is dropped. */
async function loadTrimBar(source) {
  trim = { filename: source.filename, timeline: null, waveform: null };
  const film = $("scrub-film");
  film.hidden = true;
  film.onload = () => {
    if (trim.filename === source.filename) film.hidden = false;
  };
  film.src = filmstripUrl(source);
  drawTrimBar();
  const current = () => store.get("open")?.source.filename === source.filename && trim.filename === source.filename;
  const [timeline, waveform] = await Promise.all([getSourceTimeline(source), getWaveform(source)]);
  if (!current()) return;
  trim = { ...trim, timeline: timeline.ok ? timeline.data : null, waveform: waveform.ok ? waveform.data : null };
  drawTrimBar();
  renderMarks();
}

/** The waveform and the keyframe markers, drawn at the bar's current size. */
function drawTrimBar() {
  const open = store.get("open");
  const scrub = $("scrub");
  const canvas = $("scrub-wave");
  const keys = $("scrub-keys");
  const width = scrub.clientWidth;
  const scale = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(canvas.clientHeight * scale));
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  keys.replaceChildren();
  if (!open || trim.filename !== open.source.filename) return;
  const { rate, duration } = open;
  if (trim.waveform) {
    const heights = waveformColumns(trim.waveform.peaks, trim.waveform.rate, duration, canvas.width);
    // Scaled to the source's loudest moment (at most 16 times), so quiet recordings still show their shape.
    const gain = 1 / Math.max(1 / 16, ...heights);
    context.fillStyle = "rgb(140 220 160 / 0.9)";
    const middle = canvas.height / 2;
    heights.forEach((height, x) => {
      const half = Math.max(0.5, Math.min(1, height * gain) * middle);
      context.fillRect(x, middle - half, 1, half * 2);
    });
  }
  if (trim.timeline) {
    for (const { frame, share } of keyframeMarkers(trim.timeline.keyframes, duration, rate, width)) {
      const mark = document.createElement("div");
      mark.className = "keyframe-mark";
      mark.dataset.frame = String(frame);
      mark.style.left = `${share * 100}%`;
      keys.append(mark);
    }
  }
}

function currentFrame() {
  const { rate, duration } = store.get("open");
  return frameAt(player().currentTime || 0, rate, duration);
}

function renderTime() {
  const open = store.get("open");
  if (!open) return;
  const { rate, duration } = open;
  const frame = currentFrame();
  $("timecode").textContent = formatTimecode(frame, rate);
  $("frame-info").textContent = `frame ${frame + 1} of ${lastFrame(duration, rate) + 1}`;
  $("scrub-head").style.left = `${shareOfFrame(frame, duration, rate) * 100}%`;
  const playing = !player().paused && !player().ended;
  $("play").textContent = playing ? "❚❚" : "▶\uFE0E";
  $("play").setAttribute("aria-label", playing ? "Pause" : "Play");
}

function renderMarks() {
  const open = store.get("open");
  if (!open) return;
  const { rate, duration } = open;
  const { first, last, start, end } = markRange(open);
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
  const note = renderPath(first, last, trim.filename === open.source.filename ? trim.timeline : null);
  $("path-note").textContent = note.note;
  $("path-note").dataset.path = note.path;
  const editing = store.get("editing");
  $("add-clip").textContent = editing !== null ? `Update clip ${editing + 1}` : "Add to assembly";
  show($("cancel-edit"), editing !== null);
}

function seekToFrame(frame) {
  const video = player();
  video.pause();
  video.currentTime = seekTime(frame, store.get("open").rate);
  renderTime();
}

function step(delta) {
  const open = store.get("open");
  if (!open) return;
  seekToFrame(stepFrame(player().currentTime || 0, delta, open.rate, open.duration));
}

function setMark(change, label, frame) {
  const open = change(store.get("open"), frame);
  store.set({ open });
  renderMarks();
  announce(`${label} at ${formatTimecode(frame, open.rate)}`);
}

/** A mark's frame, snapped to the keyframes when "Snap marks to keyframes" is on. */
function snapped(frame, which) {
  const open = store.get("open");
  if (!$("snap-keyframes").checked || trim.filename !== open.source.filename) return frame;
  return snapFrame(frame, which, trim.timeline, open.duration, open.rate);
}

const setIn = (frame = currentFrame()) => setMark(withIn, "In", snapped(frame, "in"));
const setOut = (frame = currentFrame()) => setMark(withOut, "Out", snapped(frame, "out"));

function togglePlay() {
  const video = player();
  if (video.paused || video.ended) video.play().catch(() => {});
  else video.pause();
}

/** A mark typed into the In or Out field (`which`: "first" or "last"), applied and shown as a timecode. */
function typedMark(input, which, apply) {
  const open = store.get("open");
  if (!open) return;
  const frame = typedFrame(input.value, open);
  if (frame === null) {
    input.setAttribute("aria-invalid", "true");
    announce("Not a timecode. Use HH:MM:SS:FF or seconds.");
    return;
  }
  if (frame !== markRange(open)[which]) apply(frame);
  input.removeAttribute("aria-invalid");
  input.value = formatTimecode(markRange(store.get("open"))[which], open.rate);
}

function addClip() {
  const open = store.get("open");
  if (!open) return;
  const { source, rate } = open;
  const { first, last, start, end } = markRange(open);
  const placed = placeClip(store.get("clips"), store.get("editing"), { filename: source.filename, start, end });
  const label = `${source.filename} ${formatTimecode(first, rate)}–${formatTimecode(last, rate)}`;
  announce(`Clip ${placed.position} ${placed.updated ? "updated" : "added"}: ${label}`);
  store.set({ clips: placed.clips, editing: placed.editing, clipErrors: new Map() });
}

function bindVideo(video) {
  for (const event of ["timeupdate", "seeked", "play", "pause", "loadedmetadata", "ended"]) {
    video.addEventListener(event, renderTime);
  }
  const follow = () => {
    renderTime();
    if (!video.paused) requestAnimationFrame(follow);
  };
  video.addEventListener("play", () => requestAnimationFrame(follow));
  video.addEventListener("error", () => {
    const open = store.get("open");
    if (!open) return;
    const error = $("player-error");
    error.textContent =
      `This browser cannot play ${open.source.filename} (${open.source.codec}). ` +
      "You can still type In and Out as timecodes and add the clip.";
    show(error, true);
  });
}

function bindMarkInputs() {
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
}

function bindScrub(scrub) {
  const scrubTo = (event) => {
    const open = store.get("open");
    if (!open) return;
    const box = scrub.getBoundingClientRect();
    seekToFrame(frameAtShare(shareAt(event.clientX - box.left, box.width), open.duration, open.rate));
  };
  scrub.addEventListener("pointerdown", (event) => {
    scrub.setPointerCapture(event.pointerId);
    scrubTo(event);
  });
  scrub.addEventListener("pointermove", (event) => {
    if (scrub.hasPointerCapture(event.pointerId)) scrubTo(event);
  });
}

function onShortcut(event) {
  const open = store.get("open");
  if (!open || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest?.("input, textarea, select, [contenteditable='true']")) return;
  const onControl = Boolean(target.closest?.("button, a, summary"));
  const action = shortcut(event.key, event.shiftKey, onControl, open.rate);
  if (!action) return;
  if (action.go) seekToFrame(markRange(open)[action.go]);
  else if (action.mark === "in") setIn();
  else if (action.mark === "out") setOut();
  else if (action.step) step(action.step);
  else if (action.toggle) togglePlay();
  event.preventDefault();
  event.stopPropagation();
}

export function startPlayer() {
  bindVideo(player());
  $("play").addEventListener("click", togglePlay);
  $("frame-back").addEventListener("click", () => step(-1));
  $("frame-forward").addEventListener("click", () => step(1));
  $("set-in").addEventListener("click", () => setIn());
  $("set-out").addEventListener("click", () => setOut());
  $("go-in").addEventListener("click", () => seekToFrame(markRange(store.get("open")).first));
  $("go-out").addEventListener("click", () => seekToFrame(markRange(store.get("open")).last));
  $("add-clip").addEventListener("click", addClip);
  $("cancel-edit").addEventListener("click", () => store.set({ editing: null }));
  bindMarkInputs();
  bindScrub($("scrub"));
  new ResizeObserver(() => drawTrimBar()).observe($("scrub"));
  // Player shortcuts work anywhere except while typing; capture so the video element's own arrow-key
  // seeking (five seconds) does not run as well.
  window.addEventListener("keydown", onShortcut, { capture: true });
  // The Add button names the clip being edited, and the marks show again when the draft changes.
  store.subscribe(["clips", "editing"], renderMarks);
}
