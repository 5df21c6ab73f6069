// The renders section: the newest assemblies the server knows (and every one still rendering), newest first,
// with their progress or result, kept up to date by the server's event stream (live.js). While the stream is
// down it is kept up to date by polling: while something renders, only the assemblies that are processing are
// asked for each second; the whole page of cards is fetched again rarely, and when a render ends. The pure parts
// (what a card shows, how often and what to poll) are exported for tests.

import { api, errorText } from "./api.js";
import { announce, h, $, show } from "./dom.js";
import {
  downloadName,
  notPlayedText,
  OTHER_PLAYERS,
  progressLabel,
  relativeTime,
  renderPlaysInBrowser,
} from "./format.js";
import { followEvents } from "./live.js";
import { store } from "./state.js";
import { formatDuration } from "./timecode.js";

export const POLL_BUSY_MS = 1000;
export const POLL_IDLE_MS = 10000;
/** How many of the newest renders the section shows (besides those still rendering). */
export const RENDERS_SHOWN = 20;
/** While something renders, the whole page of cards is fetched again this often (else only what renders). */
export const FULL_REFRESH_MS = 30000;
/** Done renders whose player loads its metadata up front; older ones load when played. */
export const PRELOADED_RENDERS = 3;
const FAILURE_SHOWN = 240;

const STATUS_LABEL = { processing: "Rendering", done: "Done", failed: "Failed", cancelled: "Cancelled" };
const OUTCOME = { done: "is done", failed: "failed", cancelled: "was cancelled" };

/** How long to wait before the next look: soon while something renders, else rarely (and after an error). */
export const pollDelay = (ok, running) => (ok && running ? POLL_BUSY_MS : POLL_IDLE_MS);

export const statusLabel = (status) => STATUS_LABEL[status] ?? status;
export const outcomeText = (status) => OUTCOME[status] ?? status;
export const percentDone = (progress) => Math.round((progress ?? 0) * 100);
export const runningCount = (assemblies) => assemblies.filter((assembly) => assembly.status === "processing").length;
export const displayName = (assembly) => assembly.name || assembly.id;

/** The first line of a card's meta: "Preview · 1.00 s" (the length once known). */
export function metaText(assembly) {
  const parts = [assembly.preview ? "Preview" : "Clean"];
  if (assembly.duration !== null && assembly.duration !== undefined) parts.push(formatDuration(assembly.duration));
  return parts.join(" · ");
}

const PHASE_LABEL = { queued: "Waiting for a worker", rendering: "Cutting", joining: "Joining" };

/** Where a render in progress is: "Waiting for a worker", "Cutting on host:42 · attempt 2"; "" once finished. */
export function phaseText(assembly) {
  if (assembly.status !== "processing" || !assembly.phase) return "";
  const parts = [PHASE_LABEL[assembly.phase] ?? assembly.phase];
  if (assembly.worker && assembly.phase !== "queued") parts[0] += ` on ${assembly.worker}`;
  if ((assembly.attempts ?? 0) > 1) parts.push(`attempt ${assembly.attempts}`);
  return parts.join(" · ");
}

const sequence = (assembly) => Number(/(\d+)$/.exec(assembly.id)?.[1] ?? 0);

/** The newest page and the renders in progress as one list, newest first, each assembly once. */
export function mergeNewestFirst(page, processing) {
  const byId = new Map([...processing, ...page].map((assembly) => [assembly.id, assembly]));
  return [...byId.values()].sort((a, b) => sequence(b) - sequence(a) || String(b.created).localeCompare(a.created));
}

/**
 * What the next poll fetches: "full" (the page of cards) when nothing renders, when that page is older than
 * FULL_REFRESH_MS, or after the set of renders in progress changed; else "processing" (only those).
 */
export function pollKind(runningIds, sinceFullMs) {
  return runningIds.length === 0 || sinceFullMs >= FULL_REFRESH_MS ? "full" : "processing";
}

/** Whether the renders in progress are still the ones the page shows as such (else the page is fetched again). */
export const sameRunning = (runningIds, processing) =>
  processing.length === runningIds.length && processing.every((assembly) => runningIds.includes(assembly.id));

/** A failure for its card: the first line (cut at 240 characters) and whether the full text is worth a fold. */
export function failureSummary(error) {
  const text = String(error || "The render failed.");
  const [first, ...rest] = text.split("\n");
  const long = first.length > FAILURE_SHOWN;
  return { text, first: long ? `${first.slice(0, FAILURE_SHOWN)}…` : first, folded: rest.length > 0 || long };
}

/**
 * What a card's body needs when `assembly` comes after `previous` (null for a new card; `filled`: the body
 * shows something): "progress" while rendering, "result" when the outcome is new, else null.
 */
export function bodyChange(previous, assembly, filled) {
  if (assembly.status === "processing") return "progress";
  return !previous || previous.status !== assembly.status || !filled ? "result" : null;
}

/** Finished renders (done, failed, cancelled) can be deleted; one still rendering is cancelled first. */
export const canDelete = (assembly) => assembly.status !== "processing";

const PATH_WORDS = { copy: "copied", smart: "smart-cut", reencode: "re-encoded" };

/** One line on what a finished render did: how its clips were made, the frames written, the A/V at its joins
 *  and whether the frames around them decode cleanly. */
export function reportSummary(report) {
  const counts = {};
  for (const clip of report.clips) counts[clip.video] = (counts[clip.video] ?? 0) + 1;
  const paths = Object.keys(PATH_WORDS)
    .filter((path) => counts[path])
    .map((path) => `${counts[path]} ${PATH_WORDS[path]}`);
  const planned = report.clips.reduce((sum, clip) => sum + clip.frames_planned, 0);
  const written = report.clips.reduce((sum, clip) => sum + clip.frames_written, 0);
  const clips = `${report.clips.length} clip${report.clips.length === 1 ? "" : "s"}`;
  const frames = written === planned ? `all ${planned} frames written` : `${written} of ${planned} frames written`;
  const joins = report.joins.length
    ? `A/V within ${Math.abs(report.largest_offset_ms).toFixed(1)} ms at ${report.joins.length} join${report.joins.length === 1 ? "" : "s"} · ${decodeSummary(report.joins)}`
    : "no joins";
  return `${clips} (${paths.join(", ")}) · ${frames} · ${joins}`;
}

const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;
const seconds = (value) => `${value < 100 ? value.toFixed(1) : Math.round(value)} s`;

/**
 * One line on the segment cache and the render's time: "3 of 8 clips from the cache, 1 in part · cut 1.2 s,
 * join 0.4 s, 1.8 s in all"; "the result from the cache" for an identical render before; the cache part is left
 * out when no cache was asked, the times for renders reported before they were timed ("" if neither is known).
 */
export function cacheSummary(report) {
  const parts = [];
  const clips = report.clips ?? [];
  if (report.result_cached) parts.push("the result from the cache");
  else if (clips.some((clip) => (clip.cache ?? "none") !== "none")) {
    const hits = clips.filter((clip) => clip.cache === "hit").length;
    const partial = clips.filter((clip) => clip.cache === "partial").length;
    parts.push(`${hits} of ${plural(clips.length, "clip")} from the cache${partial ? `, ${partial} in part` : ""}`);
  }
  const timings = report.timings;
  if (timings) {
    parts.push(`cut ${seconds(timings.cut_s)}, join ${seconds(timings.join_s)}, ${seconds(timings.total_s)} in all`);
  }
  return parts.join(" · ");
}

/** What the cache served of one clip: "cached", "2 of 3 pieces cached (and the sound)", "made now"; "–" if no
 * cache was asked. */
export function clipCacheText(clip) {
  if (clip.cache === "hit") return "cached";
  if (clip.cache === "miss") return "made now";
  if (clip.cache !== "partial") return "–";
  const sound = clip.sound_cached ? " and the sound" : "";
  return `${clip.pieces_cached} of ${plural(clip.pieces, "piece")}${sound} cached`;
}

const decodeErrors = (join) => join.decode_errors ?? [];

function decodeSummary(joins) {
  const broken = joins.filter((join) => decodeErrors(join).length).length;
  if (!broken) return "all joins decode cleanly";
  return `${broken} join${broken === 1 ? "" : "s"} with decode errors`;
}

/** A row of the report's join table, as text cells: the clip it starts, where, the A/V offset, the decoding. */
export function joinRow(join) {
  const errors = decodeErrors(join);
  return [
    String(join.pos),
    `${join.at.toFixed(3)} s`,
    `${join.av_offset_ms.toFixed(1)} ms`,
    errors.length ? errors.join("; ") : "clean",
  ];
}

/** A row of the report's clip table, as text cells. */
export function reportRow(clip) {
  return [
    String(clip.pos),
    clip.filename,
    PATH_WORDS[clip.video] ?? clip.video,
    `${clip.frames_written} / ${clip.frames_planned}`,
    `${clip.encoded_at_start} + ${clip.encoded_at_end}`,
    clipCacheText(clip),
  ];
}

/** The question asked before a render is deleted. */
export function deleteQuestion(assembly) {
  const what = assembly.name ? `"${assembly.name}" (${assembly.id})` : assembly.id;
  const file = assembly.status === "done" ? " and its video file" : "";
  return `Delete the render ${what}${file}? This cannot be undone.`;
}

/** Whether this update is the end of a render the page saw running. */
export const justFinished = (previous, assembly) =>
  previous !== null && previous.status === "processing" && assembly.status !== "processing";

const cards = new Map(); // assembly id -> {assembly, card}
let pollTimer = null;
let hooks = { useClips: () => {}, onFinished: () => {} };

async function cancelRender(assembly) {
  const { ok, data, error } = await api.cancelAssembly(assembly.id);
  if (ok) {
    upsertRender(data);
    renderActivity();
  } else announce(`Could not cancel ${displayName(assembly)}: ${error.detail}`);
}

function forgetCard(id) {
  const entry = cards.get(id);
  if (entry) entry.card.remove();
  cards.delete(id);
  show($("renders-empty"), cards.size === 0);
}

async function deleteRender(assembly) {
  if (!window.confirm(deleteQuestion(assembly))) return;
  const { ok, status, error } = await api.deleteAssembly(assembly.id);
  if (ok || status === 404) {
    forgetCard(assembly.id);
    renderActivity();
    announce(`Render ${displayName(assembly)} deleted`);
  } else announce(`Could not delete ${displayName(assembly)}: ${error.detail}`);
}

function deleteButton(assembly) {
  return h(
    "button",
    {
      type: "button",
      class: "button subtle small render-delete",
      "aria-label": `Delete ${displayName(assembly)}`,
      onclick: () => deleteRender(assembly),
    },
    "Delete",
  );
}

function renderCard(assembly) {
  const count = assembly.clips.length;
  return h(
    "li",
    { class: "render", id: `render-${assembly.id}`, dataset: { id: assembly.id } },
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
      h("summary", {}, `${count} clip${count === 1 ? "" : "s"}`),
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
        { type: "button", class: "button subtle small", onclick: () => hooks.useClips(assembly) },
        "Use these clips in the assembly",
      ),
    ),
  );
}

function progressBody(assembly) {
  const percent = percentDone(assembly.progress);
  return h(
    "div",
    { class: "render-progress" },
    h(
      "div",
      {
        class: "bar",
        role: "progressbar",
        "aria-label": `Progress of ${displayName(assembly)}`,
        "aria-valuemin": "0",
        "aria-valuemax": "100",
        "aria-valuenow": String(percent),
      },
      h("span", { class: "bar-fill", style: `width: ${percent}%` }),
    ),
    h("span", { class: "progress-label tabular" }, progressLabel(assembly.progress, assembly.eta_seconds)),
    h("span", { class: "progress-phase muted small" }, phaseText(assembly)),
    h(
      "button",
      {
        type: "button",
        class: "button subtle small",
        "aria-label": `Cancel the render of ${displayName(assembly)}`,
        onclick: () => cancelRender(assembly),
      },
      "Cancel",
    ),
  );
}

/** A render's player. A load that fails is tried once more a moment later (a busy server or network drops
 *  requests now and then); a second failure says so, never a black box. */
function renderPlayer(assembly, preload) {
  return h("video", {
    class: "render-player",
    controls: true,
    playsinline: true,
    preload: preload ? "metadata" : "none",
    src: assembly.output_url,
    "aria-label": `Result of ${displayName(assembly)}`,
    onerror: (event) => {
      const video = event.target;
      if (!video.dataset.retried) {
        video.dataset.retried = "yes";
        setTimeout(() => video.isConnected && video.load(), RETRY_PLAYER_MS);
        return;
      }
      video.replaceWith(h("p", { class: "notice render-not-played" }, notPlayedText(video.error)));
    },
  });
}

/** How long a render's player waits before it loads again after an error. */
const RETRY_PLAYER_MS = 1000;

function doneBody(assembly, preload) {
  const playable = renderPlaysInBrowser(assembly, store.get("sources"));
  return h(
    "div",
    { class: "render-output" },
    playable ? renderPlayer(assembly, preload) : h("p", { class: "notice render-elsewhere" }, OTHER_PLAYERS),
    h(
      "div",
      { class: "render-links" },
      h("a", { class: "button small", href: assembly.output_url, download: downloadName(assembly) }, "Download"),
      h("a", { class: "button subtle small", href: assembly.output_url, target: "_blank", rel: "noopener" }, "Open"),
    ),
    reportDetails(assembly),
  );
}

/** The render's report, fetched when it is first opened. */
function reportDetails(assembly) {
  const body = h("div", { class: "render-report-body" }, h("p", { class: "muted small" }, "Loading…"));
  const details = h("details", { class: "render-report" }, h("summary", {}, "What happened at each clip"), body);
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "yes";
    const { ok, data, error } = await api.getReport(assembly.id);
    if (!ok) {
      body.replaceChildren(h("p", { class: "muted small" }, `No report: ${error.detail}`));
      return;
    }
    const head = ["#", "source", "video", "frames written / planned", "encoded at start + end", "cache"];
    const cache = cacheSummary(data);
    body.replaceChildren(
      h("p", { class: "render-report-summary small" }, reportSummary(data)),
      ...(cache ? [h("p", { class: "render-report-cache small muted" }, cache)] : []),
      h(
        "table",
        { class: "render-report-clips small" },
        h("thead", {}, h("tr", {}, head.map((cell) => h("th", { scope: "col" }, cell)))),
        h("tbody", {}, data.clips.map((clip) => h("tr", {}, reportRow(clip).map((cell) => h("td", {}, cell))))),
      ),
      data.joins.length ? joinTable(data.joins) : null,
    );
  });
  return details;
}

function joinTable(joins) {
  const head = ["before #", "at", "A/V", "decoding around it"];
  return h(
    "table",
    { class: "render-report-joins small" },
    h("thead", {}, h("tr", {}, head.map((cell) => h("th", { scope: "col" }, cell)))),
    h(
      "tbody",
      {},
      joins.map((join) =>
        h(
          "tr",
          { class: decodeErrors(join).length ? "render-report-broken" : null },
          joinRow(join).map((cell) => h("td", {}, cell)),
        ),
      ),
    ),
  );
}

function resultBody(assembly, position) {
  return h("div", { class: "render-result" }, outcomeBody(assembly, position), deleteButton(assembly));
}

function outcomeBody(assembly, position) {
  if (assembly.status === "done") return doneBody(assembly, position < PRELOADED_RENDERS);
  if (assembly.status === "cancelled") {
    return h("p", { class: "muted small" }, "Cancelled: the render was stopped and its files removed.");
  }
  const { text, first, folded } = failureSummary(assembly.error);
  return h(
    "div",
    { class: "render-failed" },
    h("p", { class: "notice notice-error" }, first),
    folded ? h("details", {}, h("summary", {}, "Full error"), h("pre", { class: "error-log" }, text)) : null,
  );
}

function updateCard(entry, assembly, position) {
  const { card } = entry;
  const previous = entry.assembly;
  entry.assembly = assembly;
  card.dataset.status = assembly.status;
  const status = card.querySelector(".status");
  status.textContent = statusLabel(assembly.status);
  status.className = `status status-${assembly.status}`;
  const created = h("time", { datetime: assembly.created, title: new Date(assembly.created).toLocaleString() });
  created.textContent = relativeTime(assembly.created);
  card.querySelector(".render-meta").replaceChildren(metaText(assembly), " · ", created);

  const body = card.querySelector(".render-body");
  const change = bodyChange(previous, assembly, Boolean(body.firstChild));
  if (change === "progress") {
    const bar = body.querySelector(".bar");
    if (!bar) body.replaceChildren(progressBody(assembly));
    else {
      const percent = percentDone(assembly.progress);
      bar.setAttribute("aria-valuenow", String(percent));
      bar.querySelector(".bar-fill").style.width = `${percent}%`;
      body.querySelector(".progress-label").textContent = progressLabel(assembly.progress, assembly.eta_seconds);
      body.querySelector(".progress-phase").textContent = phaseText(assembly);
    }
  } else if (change === "result") {
    body.replaceChildren(resultBody(assembly, position));
    if (justFinished(previous, assembly)) {
      const outcome = outcomeText(assembly.status);
      announce(`Render ${displayName(assembly)} ${outcome}`);
      hooks.onFinished(assembly, outcome);
    }
  }
}

function entryFor(assembly) {
  let entry = cards.get(assembly.id);
  if (!entry) {
    entry = { assembly: null, card: renderCard(assembly) };
    cards.set(assembly.id, entry);
  }
  return entry;
}

function upsertRender(assembly, { prepend = false } = {}) {
  const known = cards.has(assembly.id);
  const entry = entryFor(assembly);
  if (!known && prepend) $("render-list").prepend(entry.card);
  updateCard(entry, assembly, 0);
  show($("renders-empty"), false);
  return entry;
}

function renderActivity() {
  const running = runningCount([...cards.values()].map((entry) => entry.assembly));
  const pill = $("nav-render-activity");
  pill.textContent = running ? `${running} running` : "";
  show(pill, running > 0);
  document.title = running ? `(${running}) Kalinsky` : "Kalinsky";
  return running;
}

/** Show that the renders could not be loaded; false if `answers` hold a failure, else true. */
function loaded(...answers) {
  const problem = $("renders-error");
  const failed = answers.find((answer) => !answer.ok || !Array.isArray(answer.data));
  if (failed) {
    const { status, data, error } = failed;
    problem.textContent = `Could not load the renders: ${error ? error.detail : errorText(status, data)}`;
  }
  show(problem, Boolean(failed));
  return !failed;
}

let lastFull = 0; // when the page of cards was last fetched whole (ms)
const runningIds = () =>
  [...cards.values()].filter((entry) => entry.assembly?.status === "processing").map((entry) => entry.assembly.id);

/** Fetch the newest RENDERS_SHOWN renders and every one in progress, and lay the cards out as they come. */
async function refreshRenders() {
  const [page, processing] = await Promise.all([
    api.listAssemblies({ limit: RENDERS_SHOWN }),
    api.listAssemblies({ status: "processing", limit: 1000 }),
  ]);
  if (!loaded(page, processing)) return false;
  lastFull = Date.now();
  const data = mergeNewestFirst(page.data, processing.data);
  const list = $("render-list");
  data.forEach((assembly, position) => {
    const entry = entryFor(assembly);
    // Insert only where needed: moving a card that holds a playing video would stop it.
    if (list.children[position] !== entry.card) list.insertBefore(entry.card, list.children[position] ?? null);
    updateCard(entry, assembly, position);
  });
  const known = new Set(data.map((assembly) => assembly.id));
  for (const [id, entry] of cards) {
    if (!known.has(id)) {
      entry.card.remove();
      cards.delete(id);
    }
  }
  show($("renders-empty"), data.length === 0);
  return true;
}

function schedulePoll(delay) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, delay);
}

/** Update the cards of the renders in progress; the whole page when one has ended or another has started. */
async function refreshRunning(running) {
  const processing = await api.listAssemblies({ status: "processing", limit: 1000 });
  if (!loaded(processing)) return false;
  if (!sameRunning(running, processing.data)) return refreshRenders();
  for (const assembly of processing.data) updateCard(entryFor(assembly), assembly, 0);
  return true;
}

let streaming = false; // the event stream is up: no polling

/** A change the event stream reports. */
function onEvent(action, assembly) {
  if (action === "reload") refreshRenders();
  else if (action === "forget") forgetCard(assembly.id);
  else if (cards.has(assembly.id)) updateCard(cards.get(assembly.id), assembly, cardPosition(assembly.id));
  else upsertRender(assembly, { prepend: true });
  renderActivity();
}

const cardPosition = (id) => [...$("render-list").children].indexOf(cards.get(id)?.card);

async function poll() {
  if (streaming || document.hidden) return; // resumed by the stream's end or visibilitychange
  const running = runningIds();
  const ok =
    pollKind(running, Date.now() - lastFull) === "full" ? await refreshRenders() : await refreshRunning(running);
  schedulePoll(pollDelay(ok, renderActivity()));
}

/** A render started from this page: its card goes first, and polling speeds up. */
export function renderStarted(assembly) {
  // The event stream may have told of this render (even of its end) before the answer that created it arrived:
  // what the card shows then is newer than that answer.
  const known = cards.get(assembly.id)?.assembly;
  if (!known) upsertRender(assembly, { prepend: true });
  else if (known.status !== "processing") hooks.onFinished(known, outcomeText(known.status)); // it is over already
  if (!streaming) schedulePoll(POLL_BUSY_MS);
}

/** Start following the renders; `useClips(assembly)` and `onFinished(assembly, outcome)` reach the draft. */
export function startRenders({ useClips, onFinished } = {}) {
  hooks = { useClips: useClips ?? hooks.useClips, onFinished: onFinished ?? hooks.onFinished };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
  followEvents({
    onReady: () => {
      streaming = true;
      clearTimeout(pollTimer);
      refreshRenders().then(renderActivity); // what changed before the stream followed
    },
    onEvent,
    onDown: () => {
      if (!streaming && pollTimer !== null) return; // polling already
      streaming = false;
      poll();
    },
  });
  poll();
}
