// The assembly being put together (the draft) and what the server says about it. Pure functions: the
// browser's modules import them, and `node --test` checks them (tests/frontend/).
//
// A draft clip is {filename, start, end}: the source is sent by filename, which still names the same file
// after a reindex, when index numbers may have moved.

import { formatDuration } from "./timecode.js";

/** The list with the item at `from` moved to position `to` (both 0-based); unchanged if either is out of range. */
export function moveItem(items, from, to) {
  if (from === to || from < 0 || to < 0 || from >= items.length || to >= items.length) return items.slice();
  const moved = items.slice();
  const [item] = moved.splice(from, 1);
  moved.splice(to, 0, item);
  return moved;
}

/** The position (0-based) an item dragged from `from` lands at when dropped before (or after) item `target`. */
export function dropPosition(from, target, after) {
  const insertAt = after ? target + 1 : target;
  return from < insertAt ? insertAt - 1 : insertAt;
}

/** The body of POST /api/v1/assemblies. */
export function assemblyRequest(name, preview, clips) {
  const trimmed = String(name ?? "").trim();
  return {
    name: trimmed || null,
    preview: Boolean(preview),
    clips: clips.map((clip) => ({ source: clip.filename, start: clip.start, end: clip.end })),
  };
}

/** The length of the output: the sum of the clips' lengths. */
export function totalDuration(clips) {
  return clips.reduce((total, clip) => total + (clip.end - clip.start), 0);
}

/**
 * Which clips (1-based positions) a validation message is about. The server names the clip as data when
 * it can (`clip`, from the error body's "clip"); older servers only say "... for clip 2" in the message.
 * "Source X not found" concerns every clip taken from X (a filename or an index number). An empty list
 * means the message is about the assembly as a whole.
 */
export function clipsConcerned(detail, clips, sources = [], clip = null) {
  const inRange = (pos) => (pos >= 1 && pos <= clips.length ? [pos] : []);
  if (Number.isInteger(clip)) return inRange(clip);
  const text = String(detail ?? "");
  const numbered = /\bfor clip (\d+)\b/.exec(text);
  if (numbered) return inRange(Number(numbered[1]));
  const missing = /^Source (.+) not found$/.exec(text.trim());
  if (missing) {
    const ref = missing[1];
    const byIndex = sources.find((source) => String(source.index) === ref);
    return clips
      .map((item, i) => ({ item, pos: i + 1 }))
      .filter(({ item }) => item.filename === ref || (byIndex && item.filename === byIndex.filename))
      .map(({ pos }) => pos);
  }
  return [];
}

/** The message of a refused render: which clips to fix, when the error is about some. */
export function refusalMessage(detail, concerned) {
  if (!concerned.length) return `Not rendered: ${detail}`;
  const which = concerned.length === 1 ? `clip ${concerned[0]}` : `clips ${concerned.join(", ")}`;
  return `Not rendered: fix ${which} (${detail}).`;
}

/** A clip count and length for people: "2 clips · 1.80 s", or "" for none. */
export function draftTotal(clips) {
  const count = clips.length;
  return count ? `${count} clip${count === 1 ? "" : "s"} · ${formatDuration(totalDuration(clips))}` : "";
}

/** The draft without the clip at `index`, and which clip (0-based, or null) the player now edits. */
export function removeClipAt(clips, editing, index) {
  const rest = clips.filter((_, i) => i !== index);
  const now = editing === index ? null : editing !== null && editing > index ? editing - 1 : editing;
  return { clips: rest, editing: now, removed: clips[index] };
}

/** The clips of a draft: {filename, start, end} each, without anything else an assembly's clips carry. */
export function draftClips(clips) {
  return clips.map(({ filename, start, end }) => ({ filename, start, end }));
}

// -- keeping the draft across visits -----------------------------------------------------------------

/** Where the browser keeps the draft ({name, preview, clips} as JSON). */
export const DRAFT_KEY = "kalinsky.draft.v1";

const browserStorage = () => globalThis.localStorage;

/** The draft read back from its JSON; null when there is none or it is not a draft. */
export function parseDraft(text) {
  let draft;
  try {
    draft = JSON.parse(text || "null");
  } catch {
    return null;
  }
  if (!draft || !Array.isArray(draft.clips)) return null;
  return {
    name: typeof draft.name === "string" ? draft.name : "",
    preview: draft.preview !== false,
    clips: draftClips(
      draft.clips.filter(
        (clip) => typeof clip?.filename === "string" && Number.isFinite(clip.start) && Number.isFinite(clip.end),
      ),
    ),
  };
}

/** Keep the draft; false if the storage refuses (private windows may: the draft then lives with the page). */
export function saveDraft({ name, preview, clips }, storage = browserStorage) {
  try {
    storage().setItem(DRAFT_KEY, JSON.stringify({ name, preview, clips }));
    return true;
  } catch {
    return false;
  }
}

/** The kept draft, or null. */
export function loadDraft(storage = browserStorage) {
  try {
    return parseDraft(storage().getItem(DRAFT_KEY));
  } catch {
    return null;
  }
}
