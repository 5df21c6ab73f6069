import assert from "node:assert/strict";
import { test } from "node:test";

import {
  frameAtShare,
  keyframeMarkers,
  renderPath,
  shareAt,
  shareOfFrame,
  snapFrame,
  waveformColumns,
} from "../../frontend/timeline.js";

const RATE = { num: 30, den: 1 };
// 4 s at 30 fps, a keyframe every second; with B-frames a copy may end before these frames
const timeline = { frame_rate: "30", frame_count: 120, keyframes: [0, 30, 60, 90], copy_ends: [27, 57, 87, 117, 120],
  copyable: true };

test("a point on the bar is the frame at that share of the source, and back", () => {
  assert.equal(shareAt(-5, 400), 0);
  assert.equal(shareAt(100, 400), 0.25);
  assert.equal(shareAt(500, 400), 1);
  assert.equal(shareAt(10, 0), 0);
  assert.equal(frameAtShare(0, 4, RATE), 0);
  assert.equal(frameAtShare(0.25, 4, RATE), 30);
  assert.equal(frameAtShare(0.2499, 4, RATE), 29);
  assert.equal(frameAtShare(1, 4, RATE), 119, "the end of the bar is the last frame");
  assert.equal(shareOfFrame(30, 4, RATE), 0.25);
  for (const frame of [0, 1, 29, 59, 119]) {
    assert.equal(frameAtShare(shareOfFrame(frame, 4, RATE), 4, RATE), frame, `frame ${frame} round trips`);
  }
  const ntsc = { num: 30000, den: 1001 };
  for (const frame of [0, 1, 1000, 2997]) {
    assert.equal(frameAtShare(shareOfFrame(frame, 100.1, ntsc), 100.1, ntsc), frame);
  }
});

test("the waveform's columns hold the loudest peak of the time they cover", () => {
  const peaks = [0.1, 0.9, 0.2, 0.0, 0.0, 0.0, 0.5, 0.4]; // 2 s at 4 peaks a second
  assert.deepEqual(waveformColumns(peaks, 4, 2, 2), [0.9, 0.5]);
  assert.deepEqual(waveformColumns(peaks, 4, 2, 4), [0.9, 0.2, 0, 0.5]);
  assert.equal(waveformColumns(peaks, 4, 2, 16).length, 16, "more columns than peaks repeat them");
  assert.deepEqual(waveformColumns([], 100, 2, 3), [0, 0, 0], "no sound: a flat line");
});

test("keyframe markers sit where their frames start, thinned out when too close", () => {
  assert.deepEqual(keyframeMarkers([0, 30, 60, 90], 4, RATE, 400), [
    { frame: 0, share: 0 }, { frame: 30, share: 0.25 }, { frame: 60, share: 0.5 }, { frame: 90, share: 0.75 },
  ]);
  const many = Array.from({ length: 1000 }, (_, i) => i * 3);
  const shown = keyframeMarkers(many, 100, RATE, 300);
  assert.ok(shown.length <= 100 && shown.length >= 90, `${shown.length} markers on 300 px`);
  assert.deepEqual(keyframeMarkers(undefined, 4, RATE, 400), []);
});

test("snapping puts In on the nearest keyframe and Out before the nearest copy end", () => {
  assert.equal(snapFrame(40, "in", timeline, 4, RATE), 30);
  assert.equal(snapFrame(50, "in", timeline, 4, RATE), 60);
  assert.equal(snapFrame(70, "out", timeline, 4, RATE), 56, "copy end 57: the last frame kept is 56");
  assert.equal(snapFrame(119, "out", timeline, 4, RATE), 119, "the end of the file");
  const noBFrames = { ...timeline, copy_ends: null };
  assert.equal(snapFrame(70, "out", noBFrames, 4, RATE), 59, "before the nearest keyframe");
  assert.equal(snapFrame(40, "in", { ...timeline, keyframes: [] }, 4, RATE), 40, "nothing to snap to");
});

test("the path note matches split_for_copy: copy, smart or re-encode", () => {
  assert.equal(renderPath(30, 56, timeline).path, "copy");
  assert.deepEqual(renderPath(30, 56, timeline).copied, [30, 57]);
  assert.equal(renderPath(0, 119, timeline).path, "copy");
  const smart = renderPath(20, 70, timeline);
  assert.equal(smart.path, "smart");
  assert.deepEqual(smart.copied, [30, 57]);
  assert.match(smart.note, /estimate/);
  assert.match(smart.note, /27 frames copied, 24 re-encoded/);
  assert.equal(renderPath(31, 59, timeline).path, "reencode", "no keyframe inside");
  assert.equal(renderPath(30, 40, timeline).path, "reencode", "no copy end after the keyframe");
  assert.equal(renderPath(30, 56, { ...timeline, copyable: false }).path, "reencode");
  assert.match(renderPath(30, 56, { ...timeline, copyable: false }).note, /cannot be copied/);
  const noBFrames = { ...timeline, copy_ends: null };
  assert.equal(renderPath(30, 44, noBFrames).path, "copy", "without B-frames a copy ends anywhere");
  assert.equal(renderPath(29, 44, noBFrames).path, "smart");
  assert.equal(renderPath(0, 10, null).path, "reencode");
});
