import assert from "node:assert/strict";
import { test } from "node:test";

import { createStore, initialState, sourceByName, store } from "../../frontend/state.js";

test("the page's store starts empty", () => {
  assert.deepEqual(store.get("sources"), []);
  assert.equal(store.get("indexed"), null);
  assert.equal(store.get("open"), null);
  assert.equal(store.get("editing"), null);
  assert.deepEqual(store.get("clips"), []);
  assert.equal(store.get("clipErrors").size, 0);
});

test("set changes values and tells the listeners of those keys once, after every key is set", () => {
  const s = createStore(initialState());
  const seen = [];
  s.subscribe(["clips", "editing"], (now, before) => seen.push([now.clips.length, now.editing, Object.keys(before)]));
  s.subscribe("sources", () => seen.push("sources"));
  s.set({ clips: [{ filename: "a.mp4", start: 0, end: 1 }], editing: 0 });
  assert.deepEqual(seen, [[1, 0, ["clips", "editing"]]]);
  assert.equal(s.get("editing"), 0);
});

test("a set that changes nothing tells nobody", () => {
  const s = createStore(initialState());
  const clips = s.get("clips");
  let calls = 0;
  s.subscribe(["clips", "editing"], () => (calls += 1));
  s.set({ clips, editing: null });
  s.set({});
  assert.equal(calls, 0);
});

test("listeners can be removed, and unknown keys are refused", () => {
  const s = createStore(initialState());
  let calls = 0;
  const stop = s.subscribe("indexed", () => (calls += 1));
  s.set({ indexed: true });
  stop();
  s.set({ indexed: false });
  assert.equal(calls, 1);
  assert.throws(() => s.get("nope"), RangeError);
  assert.throws(() => s.set({ nope: 1 }), RangeError);
  assert.throws(() => s.subscribe("nope", () => {}), RangeError);
});

test("listeners see the previous values", () => {
  const s = createStore({ ...initialState(), editing: 2 });
  let previous = null;
  s.subscribe("editing", (_, before) => (previous = before.editing));
  s.set({ editing: null });
  assert.equal(previous, 2);
});

test("sources are found by file name", () => {
  const sources = [{ index: 1, filename: "a.mp4" }, { index: 2, filename: "b.mov" }];
  assert.equal(sourceByName(sources, "b.mov").index, 2);
  assert.equal(sourceByName(sources, "c.mkv"), null);
});
