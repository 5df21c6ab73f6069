import assert from "node:assert/strict";
import { test } from "node:test";

import {
  assemblyRequest,
  clipsConcerned,
  dropPosition,
  moveItem,
  totalDuration,
} from "../../frontend/assembly.js";
import { errorText } from "../../frontend/api.js";

const clips = [
  { filename: "a.mp4", start: 1, end: 2 },
  { filename: "b.mov", start: 0.4, end: 1.2 },
  { filename: "a.mp4", start: 0, end: 0.5 },
];
const sources = [
  { index: 1, filename: "a.mp4" },
  { index: 2, filename: "b.mov" },
];

test("moving a clip keeps every other clip in order", () => {
  assert.deepEqual(moveItem([1, 2, 3, 4], 0, 2), [2, 3, 1, 4]);
  assert.deepEqual(moveItem([1, 2, 3, 4], 3, 0), [4, 1, 2, 3]);
  assert.deepEqual(moveItem([1, 2, 3], 1, 1), [1, 2, 3]);
  assert.deepEqual(moveItem([1, 2, 3], 0, 5), [1, 2, 3]);
  const original = [1, 2, 3];
  moveItem(original, 0, 1);
  assert.deepEqual(original, [1, 2, 3], "the input list is not changed");
});

test("dropping before or after an item lands where the indicator showed", () => {
  // [A B C D]: drag A after C -> [B C A D]
  assert.deepEqual(moveItem(["A", "B", "C", "D"], 0, dropPosition(0, 2, true)), ["B", "C", "A", "D"]);
  // drag D before B -> [A D B C]
  assert.deepEqual(moveItem(["A", "B", "C", "D"], 3, dropPosition(3, 1, false)), ["A", "D", "B", "C"]);
  // drag B before C: already there
  assert.deepEqual(moveItem(["A", "B", "C", "D"], 1, dropPosition(1, 2, false)), ["A", "B", "C", "D"]);
  // drag C after A -> [A C B D]
  assert.deepEqual(moveItem(["A", "B", "C", "D"], 2, dropPosition(2, 0, true)), ["A", "C", "B", "D"]);
});

test("the request names sources by filename and sends a blank name as null", () => {
  assert.deepEqual(assemblyRequest("  ", true, clips.slice(0, 1)), {
    name: null,
    preview: true,
    clips: [{ source: "a.mp4", start: 1, end: 2 }],
  });
  assert.equal(assemblyRequest(" Cut 1 ", false, clips).name, "Cut 1");
  assert.equal(assemblyRequest("x", 0, clips).preview, false);
});

test("the total duration adds the clips", () => {
  assert.ok(Math.abs(totalDuration(clips) - 2.3) < 1e-9);
  assert.equal(totalDuration([]), 0);
});

test("a validation message names the clip it is about", () => {
  assert.deepEqual(clipsConcerned("start >= end for clip 2", clips, sources), [2]);
  assert.deepEqual(clipsConcerned("end 9 exceeds duration 4 of a.mp4 for clip 3", clips, sources), [3]);
  assert.deepEqual(clipsConcerned("no frame between start and end for clip 1 (the source has 30 fps)", clips), [1]);
  assert.deepEqual(clipsConcerned("start >= end for clip 12", clips, sources), [], "no such clip: about the whole");
  assert.deepEqual(clipsConcerned("clips must not be empty", clips, sources), []);
});

test("a missing source concerns every clip taken from it, by filename or by index", () => {
  assert.deepEqual(clipsConcerned("Source a.mp4 not found", clips, sources), [1, 3]);
  assert.deepEqual(clipsConcerned("Source 2 not found", clips, sources), [2]);
  assert.deepEqual(clipsConcerned("Source 99 not found", clips, sources), []);
  assert.deepEqual(clipsConcerned("Source my clip.mp4 not found", [{ filename: "my clip.mp4" }], []), [1]);
});

test("error texts come from detail, whatever its shape", () => {
  assert.equal(errorText(422, { status_code: 422, detail: "Source 99 not found" }), "Source 99 not found");
  assert.equal(errorText(400, { detail: ["a", { message: "b" }] }), "a; b");
  assert.equal(errorText(500, null), "The server answered 500");
  assert.equal(errorText(502, "<html>"), "The server answered 502");
});
