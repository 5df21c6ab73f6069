import assert from "node:assert/strict";
import { test } from "node:test";

import { EVENTS_URL, eventAction, followEvents } from "../../frontend/live.js";

test("stream events map to what the renders list does", () => {
  assert.equal(eventAction("created"), "show");
  assert.equal(eventAction("progress"), "show");
  assert.equal(eventAction("finished"), "show");
  assert.equal(eventAction("deleted"), "forget");
  assert.equal(eventAction("overflow"), "reload");
  assert.equal(eventAction("ready"), "ready");
  assert.equal(eventAction("index"), null);
});

class FakeEventSource {
  static last = null;
  constructor(url, options) {
    this.url = url;
    this.options = options;
    this.listeners = {};
    this.closed = false;
    FakeEventSource.last = this;
  }
  addEventListener(kind, listener) {
    this.listeners[kind] = listener;
  }
  emit(kind, data) {
    this.listeners[kind]({ data: JSON.stringify(data) });
  }
  close() {
    this.closed = true;
  }
}

test("following the stream reports readiness, changes and drops, and stops on demand", () => {
  const seen = [];
  const stop = followEvents(
    {
      onReady: () => seen.push("ready"),
      onEvent: (action, assembly) => seen.push([action, assembly?.id ?? null]),
      onDown: () => seen.push("down"),
    },
    FakeEventSource,
  );
  const source = FakeEventSource.last;
  assert.equal(source.url, EVENTS_URL);
  assert.equal(source.options.withCredentials, true);
  source.emit("ready", {});
  source.emit("created", { id: "asm_001" });
  source.emit("progress", { id: "asm_001" });
  source.emit("deleted", { id: "asm_001" });
  source.emit("overflow", {});
  source.listeners.error({});
  assert.deepEqual(seen, ["ready", ["show", "asm_001"], ["show", "asm_001"], ["forget", "asm_001"], ["reload", null],
                          "down"]);
  stop();
  assert.equal(source.closed, true);
});

test("without EventSource the page polls", () => {
  const seen = [];
  followEvents({ onReady: () => {}, onEvent: () => {}, onDown: () => seen.push("down") }, null);
  assert.deepEqual(seen, ["down"]);
});
