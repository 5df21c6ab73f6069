import assert from "node:assert/strict";
import { test } from "node:test";

import { markRange, openedState, placeClip, shortcut, typedFrame, withIn, withOut } from "../../frontend/marks.js";

const RATE = { num: 30, den: 1 };
const a = { index: 1, filename: "a.mp4", duration: 4 };
const b = { index: 2, filename: "b.mov", duration: 2 };
const open = (inFrame = null, outFrame = null) => ({ source: a, rate: RATE, duration: 4, inFrame, outFrame });

test("without marks the clip is the whole source", () => {
  assert.deepEqual(markRange(open()), { first: 0, last: 119, start: 0, end: 4 });
  assert.deepEqual(markRange(open(30, 59)), { first: 30, last: 59, start: 1, end: 2 });
});

test("In after Out drops Out, Out before In drops In", () => {
  assert.deepEqual([withIn(open(null, 20), 30).inFrame, withIn(open(null, 20), 30).outFrame], [30, null]);
  assert.equal(withIn(open(null, 40), 30).outFrame, 40);
  assert.deepEqual([withOut(open(50), 40).inFrame, withOut(open(50), 40).outFrame], [null, 40]);
  assert.equal(withOut(open(10), 40).inFrame, 10);
  const before = open(10, 40);
  withIn(before, 50);
  assert.deepEqual([before.inFrame, before.outFrame], [10, 40], "the open state is not changed in place");
});

test("opening the open file again keeps its marks and the clip being edited", () => {
  const again = openedState(open(10, 20), 1, { ...a }, RATE);
  assert.deepEqual([again.open.inFrame, again.open.outFrame, again.editing, again.same], [10, 20, 1, true]);
  const other = openedState(open(10, 20), 1, b, RATE);
  assert.deepEqual([other.open.inFrame, other.open.outFrame, other.editing, other.same], [null, null, null, false]);
  assert.equal(other.open.duration, 2);
  const first = openedState(null, null, a, RATE);
  assert.equal(first.same, false);
});

test("reopening a draft clip takes its marks and its position", () => {
  const marks = { inFrame: 5, outFrame: 9, editing: 2 };
  const edited = openedState(open(10, 20), null, a, RATE, marks);
  assert.deepEqual([edited.open.inFrame, edited.open.outFrame, edited.editing, edited.same], [5, 9, 2, true]);
});

test("a typed mark is a frame inside the source, or null", () => {
  assert.equal(typedFrame("00:00:01:00", open()), 30);
  assert.equal(typedFrame("0.5", open()), 15);
  assert.equal(typedFrame("99", open()), 119, "kept inside the source");
  assert.equal(typedFrame("soon", open()), null);
});

test("a marked clip is added at the end, or updates the clip being edited", () => {
  const clips = [{ filename: "a.mp4", start: 0, end: 1 }, { filename: "b.mov", start: 0, end: 1 }];
  const clip = { filename: "a.mp4", start: 1, end: 2 };
  const added = placeClip(clips, null, clip);
  assert.deepEqual([added.clips.length, added.position, added.updated, added.editing], [3, 3, false, null]);
  assert.equal(added.clips[2], clip);
  const updated = placeClip(clips, 1, clip);
  assert.deepEqual([updated.clips.length, updated.position, updated.updated, updated.editing], [2, 2, true, null]);
  assert.equal(updated.clips[1], clip);
  assert.equal(clips[1].filename, "b.mov", "the draft is not changed in place");
  assert.equal(placeClip(clips, 5, clip).updated, false, "an edited clip that is gone is not updated");
});

test("keys: I and O mark, Shift goes to the mark, arrows step frames or seconds, Space and K play", () => {
  assert.deepEqual(shortcut("i", false, false, RATE), { mark: "in" });
  assert.deepEqual(shortcut("I", true, false, RATE), { go: "first" });
  assert.deepEqual(shortcut("o", false, true, RATE), { mark: "out" });
  assert.deepEqual(shortcut("O", true, false, RATE), { go: "last" });
  assert.deepEqual(shortcut("ArrowLeft", false, false, RATE), { step: -1 });
  assert.deepEqual(shortcut("ArrowRight", true, false, { num: 30000, den: 1001 }), { step: 30 });
  assert.deepEqual(shortcut("ArrowLeft", true, false, { num: 25, den: 1 }), { step: -25 });
  assert.deepEqual(shortcut(" ", false, false, RATE), { toggle: true });
  assert.equal(shortcut(" ", false, true, RATE), null, "Space on a button presses the button");
  assert.deepEqual(shortcut("K", false, true, RATE), { toggle: true });
  assert.equal(shortcut("x", false, false, RATE), null);
  assert.equal(shortcut("Enter", false, false, RATE), null);
});
