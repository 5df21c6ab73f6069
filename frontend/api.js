// The client of Kalinsky's HTTP API: every /api/v1 call and address of the UI is made here. No DOM: the
// browser imports it, and `node --test` checks it with a fake fetch (tests/frontend/).
//
// A call answers {ok, status, data, error}: `data` is the decoded JSON body (null if there is none), and
// `error` is null on success, else {status, detail, clip} (see apiError).

export const API = "/api/v1";

const UNREACHABLE = "Cannot reach the Kalinsky server. Is `kalinsky serve` running?";

/** The text of an error answer: `detail` when the body has one (a string, or a list of messages). */
export function errorText(status, body) {
  const detail = body && typeof body === "object" ? body.detail : null;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail.map((item) => (typeof item === "string" ? item : item?.message ?? JSON.stringify(item))).join("; ");
  }
  return `The server answered ${status}`;
}

/**
 * An error answer as the UI uses it: its text, and the position (1-based) of the clip it is about when the
 * body says so as data ({"clip": 2}); null when it does not.
 */
export function apiError(status, body) {
  const clip = body && typeof body === "object" ? body.clip : undefined;
  return { status, detail: errorText(status, body), clip: Number.isInteger(clip) ? clip : null };
}

/** A client whose calls go through `fetcher` (the browser's fetch unless told). */
export function createClient(fetcher = (...args) => globalThis.fetch(...args)) {
  async function call(method, path, body) {
    const options = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetcher(`${API}${path}`, options);
    } catch {
      const data = { detail: UNREACHABLE };
      return { ok: false, status: 0, data, error: apiError(0, data) };
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    const ok = Boolean(response.ok);
    return { ok, status: response.status, data, error: ok ? null : apiError(response.status, data) };
  }

  return {
    call,
    listSources: () => call("GET", "/sources"),
    reindex: () => call("POST", "/sources/reindex"),
    listAssemblies: () => call("GET", "/assemblies"),
    createAssembly: (request) => call("POST", "/assemblies", request),
    cancelAssembly: (id) => call("POST", `/assemblies/${encodeURIComponent(id)}/cancel`),
    deleteAssembly: (id) => call("DELETE", `/assemblies/${encodeURIComponent(id)}`),
  };
}

export const api = createClient();

/** The thumbnail of a source; the query changes with the file, so a replaced file is not shown from cache. */
export const thumbnailUrl = (source) =>
  `${API}/sources/${source.index}/thumbnail?v=${encodeURIComponent(`${source.file_size}-${source.filename}`)}`;

export const mediaUrl = (source) => `${API}/sources/${source.index}/media`;

// What the player's trim bar shows of a source; the query changes with the file, as for the thumbnail.
const fileVersion = (source) => `v=${encodeURIComponent(`${source.file_size}-${source.filename}`)}`;

/** The filmstrip sprite of a source (its layout is in the source's timeline). */
export const filmstripUrl = (source) => `${API}/sources/${source.index}/filmstrip?${fileVersion(source)}`;

/** The keyframes, copy ends and filmstrip layout of a source: {ok, data, error} as every call. */
export const getSourceTimeline = (source, client = api) =>
  client.call("GET", `/sources/${source.index}/timeline?${fileVersion(source)}`);

/** The peaks of a source's sound, {rate, peaks}. */
export const getWaveform = (source, client = api) =>
  client.call("GET", `/sources/${source.index}/waveform?${fileVersion(source)}`);
