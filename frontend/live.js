// Live updates of the renders from the server's event stream (GET /api/v1/events, Server-Sent Events). While the
// stream is up the page does not poll; when it is down the renders fall back to polling until it is back.

import { API } from "./api.js";

export const EVENTS_URL = `${API}/events`;

/**
 * What a stream event asks of the renders list: "show" an assembly (new or changed), "forget" one, "reload" the
 * list (events were dropped), "ready" (the stream follows the changes from now on), or nothing.
 */
export function eventAction(kind) {
  if (kind === "created" || kind === "progress" || kind === "finished") return "show";
  if (kind === "deleted") return "forget";
  if (kind === "overflow") return "reload";
  if (kind === "ready") return "ready";
  return null;
}

const KINDS = ["ready", "created", "progress", "finished", "deleted", "overflow"];

/**
 * Follow the stream: `onReady()` each time it is (again) following, `onEvent(action, assembly)` for each change,
 * `onDown()` when it drops (the browser reconnects by itself). Returns a function that stops following.
 */
export function followEvents({ onReady, onEvent, onDown }, EventSourceClass = globalThis.EventSource) {
  if (!EventSourceClass) {
    onDown();
    return () => {};
  }
  const source = new EventSourceClass(EVENTS_URL, { withCredentials: true });
  for (const kind of KINDS) {
    source.addEventListener(kind, (message) => {
      const action = eventAction(kind);
      if (action === "ready") onReady();
      else if (action) onEvent(action, action === "reload" ? null : JSON.parse(message.data));
    });
  }
  source.addEventListener("error", () => onDown());
  return () => source.close();
}
