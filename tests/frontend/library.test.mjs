import assert from "node:assert/strict";
import { test } from "node:test";

import { filterSources, reindexSummary } from "../../frontend/library.js";

const sources = [{ filename: "Beach.mp4" }, { filename: "city.mov" }, { filename: "beach-2.mkv" }];

test("the filter keeps the sources whose name contains it, whatever the case", () => {
  assert.deepEqual(filterSources(sources, " BEACH ").map((source) => source.filename), ["Beach.mp4", "beach-2.mkv"]);
  assert.equal(filterSources(sources, "").length, 3);
  assert.equal(filterSources(sources, "forest").length, 0);
});

test("a reindex report counts the videos found and lists the skipped files", () => {
  assert.deepEqual(reindexSummary({ count: 1 }), { found: "Found 1 video", skipped: [] });
  const skipped = [{ filename: "broken.mp4", reason: "x" }];
  assert.deepEqual(reindexSummary({ count: 3, skipped }), { found: "Found 3 videos", skipped });
});
