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

/** The cookie that carries the token for what <video>/<img> load (they cannot send headers); see guard.py. */
export const TOKEN_COOKIE = "kalinsky_token";
const TOKEN_KEY = "kalinsky-token";
const TOKEN_QUESTION =
  "This Kalinsky server needs its API token (KALINSKY_API_TOKEN). Enter it once; this browser keeps it.";

/** The cookie that hands `token` to media requests of this site only (never sent by other sites' pages). */
export const tokenCookie = (token) =>
  token
    ? `${TOKEN_COOKIE}=${encodeURIComponent(token)}; path=/; SameSite=Strict`
    : `${TOKEN_COOKIE}=; path=/; SameSite=Strict; max-age=0`;

/** The browser's keeper of the API token: localStorage, the media cookie, and one question when one is needed. */
export function browserAuth(storage = globalThis.localStorage, ask = (text) => globalThis.prompt(text)) {
  const keep = (token) => {
    if (token) storage?.setItem(TOKEN_KEY, token);
    else storage?.removeItem(TOKEN_KEY);
    if (globalThis.document) globalThis.document.cookie = tokenCookie(token);
  };
  const kept = storage?.getItem(TOKEN_KEY) ?? null;
  if (kept) keep(kept);
  return {
    token: () => storage?.getItem(TOKEN_KEY) ?? null,
    /** Ask for the token; a cancelled question forgets the kept one (it was refused). */
    ask: async () => {
      const answer = ask(TOKEN_QUESTION)?.trim() || null;
      keep(answer);
      return answer;
    },
  };
}

/**
 * A client whose calls go through `fetcher` (the browser's fetch unless told). `auth` keeps the API token: an
 * answer 401 asks for it once (a question shared by the calls waiting for it), and the call is made again.
 */
export function createClient(fetcher = (...args) => globalThis.fetch(...args), auth = null) {
  let question = null; // the pending question for a token, shared by every call that met a 401
  let declined = false; // the question was cancelled: not asked again until the page is loaded again

  function askToken() {
    if (declined) return Promise.resolve(null);
    question ??= auth.ask().then((answer) => {
      question = null;
      declined = !answer;
      return answer;
    });
    return question;
  }

  async function send(method, path, body) {
    const options = { method, headers: { Accept: "application/json" } };
    const token = auth?.token();
    if (token) options.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return { token, response: await fetcher(`${API}${path}`, options) };
  }

  async function call(method, path, body) {
    let response;
    try {
      let token;
      ({ token, response } = await send(method, path, body));
      if (response.status === 401 && auth) {
        // a token kept by another call's question while this one was on its way: no need to ask again
        const fresh = auth.token();
        const again = (fresh && fresh !== token) || (await askToken());
        if (again) ({ response } = await send(method, path, body));
      }
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
    /** Assemblies newest first; `{limit, offset, status}` ask for a page of them (all by default). */
    listAssemblies: (query = {}) => call("GET", `/assemblies${queryString(query)}`),
    createAssembly: (request) => call("POST", "/assemblies", request),
    cancelAssembly: (id) => call("POST", `/assemblies/${encodeURIComponent(id)}/cancel`),
    deleteAssembly: (id) => call("DELETE", `/assemblies/${encodeURIComponent(id)}`),
    getReport: (id) => call("GET", `/assemblies/${encodeURIComponent(id)}/report`),
  };
}

/** `?a=1&b=x` of the parameters that are set; "" when none is. */
export function queryString(query) {
  const pairs = Object.entries(query).filter(([, value]) => value !== undefined && value !== null && value !== "");
  return pairs.length ? `?${new URLSearchParams(pairs.map(([key, value]) => [key, String(value)]))}` : "";
}

export const api = createClient(undefined, globalThis.window ? browserAuth() : null);

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
