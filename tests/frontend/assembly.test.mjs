import assert from "node:assert/strict";
import { test } from "node:test";

import {
  assemblyRequest,
  clipsConcerned,
  DRAFT_KEY,
  draftClips,
  draftTotal,
  dropPosition,
  loadDraft,
  moveItem,
  parseDraft,
  refusalMessage,
  removeClipAt,
  saveDraft,
  totalDuration,
} from "../../frontend/assembly.js";

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

test("the clip named as data wins over the message, and is checked like the message's", () => {
  assert.deepEqual(clipsConcerned("start >= end for clip 2", clips, sources, 3), [3]);
  assert.deepEqual(clipsConcerned("some new wording", clips, sources, 1), [1]);
  assert.deepEqual(clipsConcerned("start >= end for clip 2", clips, sources, 9), [], "no such clip");
  assert.deepEqual(clipsConcerned("start >= end for clip 2", clips, sources, null), [2], "older servers");
  assert.deepEqual(clipsConcerned("Source a.mp4 not found", clips, sources, undefined), [1, 3]);
});

test("a refused render says which clips to fix", () => {
  assert.equal(refusalMessage("start >= end for clip 2", [2]), "Not rendered: fix clip 2 (start >= end for clip 2).");
  assert.equal(
    refusalMessage("Source a.mp4 not found", [1, 3]),
    "Not rendered: fix clips 1, 3 (Source a.mp4 not found).",
  );
  assert.equal(refusalMessage("clips must not be empty", []), "Not rendered: clips must not be empty");
});

test("the draft's total counts and adds its clips", () => {
  assert.equal(draftTotal(clips), "3 clips · 2.30 s");
  assert.equal(draftTotal(clips.slice(0, 1)), "1 clip · 1.00 s");
  assert.equal(draftTotal([]), "");
});

test("removing a clip keeps the player on the clip it edits", () => {
  const names = (result) => result.clips.map((clip) => clip.filename);
  const before = removeClipAt(clips, 2, 0);
  assert.deepEqual(names(before), ["b.mov", "a.mp4"]);
  assert.equal(before.editing, 1, "the edited clip moved up");
  assert.equal(before.removed, clips[0]);
  assert.equal(removeClipAt(clips, 1, 1).editing, null, "the edited clip itself went");
  assert.equal(removeClipAt(clips, 0, 2).editing, 0);
  assert.equal(removeClipAt(clips, null, 2).editing, null);
  assert.equal(clips.length, 3, "the input list is not changed");
});

/** A stand-in for localStorage; `refuse` makes it throw as private windows may. */
function fakeStorage(items = {}, refuse = false) {
  return {
    items,
    getItem: (key) => (key in items ? items[key] : null),
    setItem(key, value) {
      if (refuse) throw new Error("QuotaExceededError");
      items[key] = String(value);
    },
  };
}

test("the draft is kept under kalinsky.draft.v1 as {name, preview, clips}", () => {
  assert.equal(DRAFT_KEY, "kalinsky.draft.v1");
  const storage = fakeStorage();
  assert.equal(saveDraft({ name: "Cut", preview: false, clips: clips.slice(0, 1) }, () => storage), true);
  assert.deepEqual(JSON.parse(storage.items["kalinsky.draft.v1"]), {
    name: "Cut",
    preview: false,
    clips: [{ filename: "a.mp4", start: 1, end: 2 }],
  });
  assert.deepEqual(loadDraft(() => storage), { name: "Cut", preview: false, clips: [clips[0]] });
});

test("a storage that refuses or is missing loses the draft quietly", () => {
  assert.equal(saveDraft({ name: "", preview: true, clips }, () => fakeStorage({}, true)), false);
  const missing = () => {
    throw new Error("SecurityError");
  };
  assert.equal(saveDraft({ name: "", preview: true, clips }, missing), false);
  assert.equal(loadDraft(missing), null);
  assert.equal(loadDraft(() => fakeStorage()), null, "nothing kept yet");
});

test("a kept draft is read back leniently: bad clips dropped, odd names blank, preview unless false", () => {
  const text = JSON.stringify({
    name: 7,
    clips: [
      { filename: "a.mp4", start: 0, end: 1, extra: "x" },
      { filename: "b.mov", start: "0", end: 1 },
      { filename: 3, start: 0, end: 1 },
      null,
    ],
  });
  assert.deepEqual(parseDraft(text), { name: "", preview: true, clips: [{ filename: "a.mp4", start: 0, end: 1 }] });
  assert.equal(parseDraft(JSON.stringify({ name: "x", preview: 0, clips: [] })).preview, true);
  assert.equal(parseDraft("{not json"), null);
  assert.equal(parseDraft(JSON.stringify({ name: "x" })), null);
  assert.equal(parseDraft("42"), null);
  assert.equal(parseDraft(null), null);
});

test("a render's clips become draft clips of three fields", () => {
  const taken = draftClips([{ filename: "a.mp4", start: 1, end: 2, video: "copy", source_index: 1 }]);
  assert.deepEqual(taken, [{ filename: "a.mp4", start: 1, end: 2 }]);
});
