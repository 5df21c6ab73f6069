// The player's marks: which source is open, its In and Out frames, the clip they make, the keyboard
// shortcuts. Pure functions: player.js uses them, and `node --test` checks them (tests/frontend/).
//
// The open source is {source, rate, duration, inFrame, outFrame}: a mark left null means the first (In) or
// the last (Out) frame of the source.

import { clipTimes, fps, lastFrame, parseTimecode } from "./timecode.js";

/**
 * The player's state once `source` is opened. Opening the file already open keeps its marks and the clip
 * being edited; `marks` {inFrame, outFrame, editing} reopen a draft clip instead. `same`: the file was open.
 */
export function openedState(current, editing, source, rate, marks = null) {
  const previous = current?.source.filename === source.filename ? current : null;
  return {
    open: {
      source,
      rate,
      duration: source.duration,
      inFrame: marks ? marks.inFrame : (previous?.inFrame ?? null),
      outFrame: marks ? marks.outFrame : (previous?.outFrame ?? null),
    },
    editing: marks ? marks.editing : previous ? editing : null,
    same: previous !== null,
  };
}

/** The marked part: its first and last frame (both kept) and its request times {start, end}. */
export function markRange(open) {
  const { rate, duration, inFrame, outFrame } = open;
  const first = inFrame ?? 0;
  const last = outFrame ?? lastFrame(duration, rate);
  return { first, last, ...clipTimes(first, last, rate, duration) };
}

/** In set at `frame`; an Out before it is dropped. */
export function withIn(open, frame) {
  return { ...open, inFrame: frame, outFrame: open.outFrame !== null && open.outFrame < frame ? null : open.outFrame };
}

/** Out set at `frame`; an In after it is dropped. */
export function withOut(open, frame) {
  return { ...open, outFrame: frame, inFrame: open.inFrame !== null && open.inFrame > frame ? null : open.inFrame };
}

/** The frame a mark typed as text stands for, kept inside the source; null if it is not a timecode. */
export function typedFrame(text, open) {
  const frame = parseTimecode(text, open.rate);
  return frame === null ? null : Math.min(frame, lastFrame(open.duration, open.rate));
}

/**
 * The draft with `clip` added at the end, or put in place of the clip being edited (`editing`, 0-based).
 * Answers {clips, editing, position (1-based), updated}; editing is over once the clip is updated.
 */
export function placeClip(clips, editing, clip) {
  if (editing !== null && editing < clips.length) {
    const updated = clips.map((item, i) => (i === editing ? clip : item));
    return { clips: updated, editing: null, position: editing + 1, updated: true };
  }
  return { clips: [...clips, clip], editing, position: clips.length + 1, updated: false };
}

/**
 * What a key pressed over the page does in the player, or null: {mark: "in"|"out"}, {go: "first"|"last"},
 * {step: frames} or {toggle: true}. Shift+arrow steps a second; Space on a button or link is that control's.
 */
export function shortcut(key, shiftKey, onControl, rate) {
  const name = key.length === 1 ? key.toLowerCase() : key;
  const second = Math.round(fps(rate));
  if (name === "i") return shiftKey ? { go: "first" } : { mark: "in" };
  if (name === "o") return shiftKey ? { go: "last" } : { mark: "out" };
  if (name === "ArrowLeft") return { step: shiftKey ? -second : -1 };
  if (name === "ArrowRight") return { step: shiftKey ? second : 1 };
  if ((name === " " && !onControl) || name === "k") return { toggle: true };
  return null;
}
