// The assembly being put together (the draft) and what the server says about it. Pure functions: the
// browser imports them from app.js, and `node --test` checks them (tests/frontend/).
//
// A draft clip is {filename, start, end}: the source is sent by filename, which still names the same file
// after a reindex, when index numbers may have moved.

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

/** The text of an error answer: `detail` when the body has one (a string, or a list of messages). */
export function errorText(status, body) {
  const detail = body && typeof body === "object" ? body.detail : null;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail.map((item) => (typeof item === "string" ? item : item?.message ?? JSON.stringify(item))).join("; ");
  }
  return `The server answered ${status}`;
}

/**
 * Which clips (1-based positions) a validation message is about. "... for clip 2" names its clip;
 * "Source X not found" concerns every clip taken from X (a filename or an index number). An empty list
 * means the message is about the assembly as a whole.
 */
export function clipsConcerned(detail, clips, sources = []) {
  const text = String(detail ?? "");
  const numbered = /\bfor clip (\d+)\b/.exec(text);
  if (numbered) {
    const pos = Number(numbered[1]);
    return pos >= 1 && pos <= clips.length ? [pos] : [];
  }
  const missing = /^Source (.+) not found$/.exec(text.trim());
  if (missing) {
    const ref = missing[1];
    const byIndex = sources.find((source) => String(source.index) === ref);
    return clips
      .map((clip, i) => ({ clip, pos: i + 1 }))
      .filter(({ clip }) => clip.filename === ref || (byIndex && clip.filename === byIndex.filename))
      .map(({ pos }) => pos);
  }
  return [];
}
