// The trim bar's logic: where on the bar a time is (and the other way round), the waveform's columns, the
// keyframe markers, snapping marks to keyframes, and which path a clean render takes for the marked frames.
// Pure functions: player.js uses them, and `node --test` checks them (tests/frontend/).
//
// `timeline` is the answer of GET /api/v1/sources/{index}/timeline: {frame_rate, frame_count, keyframes,
// copy_ends (null: a copy may end at any frame), copyable, filmstrip}; frames are counted at the source's rate.

import { frameAt, frameStart, lastFrame } from "./timecode.js";

/** The share (0..1) of the bar at `x` pixels from its left edge, for a bar `width` pixels wide. */
export function shareAt(x, width) {
  if (!(width > 0)) return 0;
  return Math.min(Math.max(x / width, 0), 1);
}

/** The frame shown at a share of the bar: the one whose time covers that point of the source. */
export function frameAtShare(share, duration, rate) {
  return frameAt(Math.min(Math.max(share, 0), 1) * duration, rate, duration);
}

/** Where on the bar (a share, 0..1) frame `frame` starts. */
export function shareOfFrame(frame, duration, rate) {
  if (!(duration > 0)) return 0;
  return Math.min(Math.max(frameStart(frame, rate) / duration, 0), 1);
}

/**
 * The waveform drawn `columns` wide: for each column the loudest peak (0..1) of the part of the source it
 * covers, 0 where there are no peaks (a source without sound).
 */
export function waveformColumns(peaks, rate, duration, columns) {
  const heights = new Array(Math.max(0, columns)).fill(0);
  if (!peaks?.length || !(rate > 0) || !(duration > 0)) return heights;
  for (let column = 0; column < heights.length; column += 1) {
    const from = Math.floor(((column * duration) / heights.length) * rate);
    const to = Math.max(from + 1, Math.ceil((((column + 1) * duration) / heights.length) * rate));
    let loudest = 0;
    for (let at = from; at < Math.min(to, peaks.length); at += 1) loudest = Math.max(loudest, peaks[at]);
    heights[column] = loudest;
  }
  return heights;
}

/**
 * The keyframes to mark on a bar `width` pixels wide, as {frame, share}: all of them, except that a marker
 * closer than `gap` pixels to the previous one is left out (a long source has thousands).
 */
export function keyframeMarkers(keyframes, duration, rate, width, gap = 3) {
  const markers = [];
  let last = -Infinity;
  for (const frame of keyframes ?? []) {
    const share = shareOfFrame(frame, duration, rate);
    if (share * width - last * width < gap) continue;
    markers.push({ frame, share });
    last = share;
  }
  return markers;
}

function nearest(frame, candidates) {
  let best = null;
  for (const candidate of candidates) {
    if (best === null || Math.abs(candidate - frame) < Math.abs(best - frame)) best = candidate;
  }
  return best;
}

/** The frames a copied run may end before: the source's copy ends, or where none are listed its keyframes and
 * its end (any frame may end a copy then; the GOP boundaries are what snapping holds on to). */
function endPoints(timeline, frames) {
  if (timeline.copy_ends) return timeline.copy_ends;
  return [...(timeline.keyframes ?? []), frames];
}

/**
 * A mark snapped to the keyframes: In (`which` "in") to the nearest keyframe, Out ("out", the last frame kept) to
 * the frame before the nearest point a copy may end at. Without keyframes the frame is kept as it is.
 */
export function snapFrame(frame, which, timeline, duration, rate) {
  const frames = timeline?.frame_count ?? lastFrame(duration, rate) + 1;
  if (!timeline?.keyframes?.length) return frame;
  if (which === "in") return Math.min(nearest(frame, timeline.keyframes), frames - 1);
  const stop = nearest(frame + 1, endPoints(timeline, frames).filter((end) => end > 0));
  return stop === null ? frame : Math.min(stop, frames) - 1;
}

/**
 * How a clean render makes the video of the frames `first`..`last` (both kept), as kalinsky_core.plan's
 * split_for_copy decides for a clip coded like the output: {path: "copy" | "smart" | "reencode", copied: [from,
 * stop) or null, note}. An estimate: a clip after another source's clip is also encoded when the two are coded
 * differently.
 */
export function renderPath(first, last, timeline) {
  const stop = last + 1;
  const result = (path, copied, note) => ({ path, copied, note: `Clean render (estimate): ${note}` });
  if (!timeline) return result("reencode", null, "unknown until the source's keyframes are loaded");
  if (!timeline.copyable) return result("reencode", null, "re-encode: this source's frames cannot be copied");
  const start = (timeline.keyframes ?? []).find((frame) => frame >= first && frame < stop);
  let end = stop;
  if (timeline.copy_ends) {
    const ends = timeline.copy_ends.filter((frame) => frame <= stop);
    end = ends.length ? ends[ends.length - 1] : undefined;
  }
  if (start === undefined || end === undefined || end <= start) {
    return result("reencode", null, "re-encode: no keyframe to copy from inside the clip");
  }
  if (start === first && end === stop) {
    return result("copy", [start, end], "copy: starts on a keyframe and ends where a copy may end");
  }
  const encoded = start - first + (stop - end);
  return result(
    "smart",
    [start, end],
    `smart: ${end - start} frames copied, ${encoded} re-encoded at the ends`,
  );
}
