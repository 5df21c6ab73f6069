import assert from "node:assert/strict";
import { test } from "node:test";

import {
  apiError,
  browserAuth,
  createClient,
  errorText,
  mediaUrl,
  queryString,
  thumbnailUrl,
  TOKEN_COOKIE,
  tokenCookie,
} from "../../frontend/api.js";

/** A fetch that answers `status` with `body` (JSON unless a string) and records the requests. */
function fakeFetch(status, body) {
  const calls = [];
  const fetcher = async (url, options) => {
    calls.push({ url, ...options });
    return {
      ok: status >= 200 && status < 300,
      status,
      json: async () => (typeof body === "string" ? JSON.parse(body) : body),
    };
  };
  return { fetcher, calls };
}

test("error texts come from detail, whatever its shape", () => {
  assert.equal(errorText(422, { status_code: 422, detail: "Source 99 not found" }), "Source 99 not found");
  assert.equal(errorText(400, { detail: ["a", { message: "b" }] }), "a; b");
  assert.equal(errorText(400, { detail: [{ key: "clips" }] }), '{"key":"clips"}');
  assert.equal(errorText(500, null), "The server answered 500");
  assert.equal(errorText(502, "<html>"), "The server answered 502");
  assert.equal(errorText(400, { detail: "" }), "The server answered 400");
});

test("an error names its clip only when the body carries a whole number", () => {
  const body = { status_code: 422, detail: "start >= end for clip 2", clip: 2 };
  assert.deepEqual(apiError(422, body), { status: 422, detail: "start >= end for clip 2", clip: 2 });
  assert.equal(apiError(422, { detail: "start >= end for clip 2" }).clip, null, "older servers");
  assert.equal(apiError(422, { detail: "x", clip: "2" }).clip, null);
  assert.equal(apiError(422, { detail: "x", clip: 1.5 }).clip, null);
  assert.equal(apiError(500, null).clip, null);
});

test("a successful call answers its JSON and no error", async () => {
  const { fetcher, calls } = fakeFetch(200, [{ index: 1, filename: "a.mp4" }]);
  const answer = await createClient(fetcher).listSources();
  assert.deepEqual(answer, { ok: true, status: 200, data: [{ index: 1, filename: "a.mp4" }], error: null });
  assert.equal(calls[0].url, "/api/v1/sources");
  assert.equal(calls[0].method, "GET");
  assert.equal(calls[0].headers.Accept, "application/json");
  assert.equal(calls[0].body, undefined);
});

test("a body is sent as JSON", async () => {
  const { fetcher, calls } = fakeFetch(201, { id: "abc" });
  const request = { name: null, preview: true, clips: [{ source: "a.mp4", start: 0, end: 1 }] };
  const answer = await createClient(fetcher).createAssembly(request);
  assert.equal(answer.ok, true);
  assert.equal(calls[0].url, "/api/v1/assemblies");
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(calls[0].body), request);
});

test("each endpoint has its address", async () => {
  const { fetcher, calls } = fakeFetch(200, {});
  const client = createClient(fetcher);
  await client.reindex();
  await client.listAssemblies();
  await client.cancelAssembly("a b/c");
  await client.deleteAssembly("asm_001");
  assert.deepEqual(
    calls.map(({ method, url }) => `${method} ${url}`),
    [
      "POST /api/v1/sources/reindex",
      "GET /api/v1/assemblies",
      "POST /api/v1/assemblies/a%20b%2Fc/cancel",
      "DELETE /api/v1/assemblies/asm_001",
    ],
  );
});

test("an error body becomes the answer's error, with the clip it is about", async () => {
  const body = { status_code: 422, detail: "start >= end for clip 2", clip: 2 };
  const answer = await createClient(fakeFetch(422, body).fetcher).createAssembly({});
  assert.equal(answer.ok, false);
  assert.equal(answer.status, 422);
  assert.deepEqual(answer.data, body);
  assert.deepEqual(answer.error, { status: 422, detail: "start >= end for clip 2", clip: 2 });
});

test("a body that is not JSON reads as none", async () => {
  const answer = await createClient(fakeFetch(502, "<html>bad gateway").fetcher).listAssemblies();
  assert.equal(answer.data, null);
  assert.equal(answer.error.detail, "The server answered 502");
});

test("an unreachable server is an error of status 0 that says what to do", async () => {
  const failing = async () => {
    throw new TypeError("Failed to fetch");
  };
  const answer = await createClient(failing).listSources();
  assert.equal(answer.ok, false);
  assert.equal(answer.status, 0);
  assert.match(answer.data.detail, /Cannot reach the Kalinsky server/);
  assert.equal(answer.error.detail, answer.data.detail);
});

test("media and thumbnail addresses follow the source", () => {
  const source = { index: 4, filename: "my clip.mp4", file_size: 1234 };
  assert.equal(mediaUrl(source), "/api/v1/sources/4/media");
  assert.equal(thumbnailUrl(source), "/api/v1/sources/4/thumbnail?v=1234-my%20clip.mp4");
});

/** A fetch that answers 401 unless the request carries `Bearer ${token}`; records the requests. */
function guardedFetch(token) {
  const calls = [];
  const fetcher = async (url, options) => {
    calls.push({ url, ...options });
    const allowed = options.headers.Authorization === `Bearer ${token}`;
    return { ok: allowed, status: allowed ? 200 : 401, json: async () => (allowed ? [] : { detail: "token" }) };
  };
  return { fetcher, calls };
}

/** An auth whose questions are answered from `answers`, in order; counts the questions. */
function fakeAuth(answers, kept = null) {
  const auth = { kept, asked: 0 };
  auth.token = () => auth.kept;
  auth.ask = async () => {
    auth.asked += 1;
    await new Promise((resolve) => setTimeout(resolve, 5));
    auth.kept = answers.shift() ?? null;
    return auth.kept;
  };
  return auth;
}

test("a 401 asks for the token once, even for calls at once, and each call is made again with it", async () => {
  const { fetcher, calls } = guardedFetch("right");
  const auth = fakeAuth(["right"]);
  const client = createClient(fetcher, auth);
  const answers = await Promise.all([client.listSources(), client.listAssemblies(), client.reindex()]);
  assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200]);
  assert.equal(auth.asked, 1);
  assert.equal(calls.filter((call) => call.headers.Authorization === "Bearer right").length, 3);
  await client.listSources();
  assert.equal(auth.asked, 1, "a kept token is sent without asking");
  assert.equal(calls.at(-1).headers.Authorization, "Bearer right");
});

test("a refused token is asked for again; a cancelled question is not asked again", async () => {
  const { fetcher } = guardedFetch("right");
  const auth = fakeAuth(["wrong", "right"], "stale");
  const client = createClient(fetcher, auth);
  assert.equal((await client.listSources()).status, 401); // stale, then wrong
  assert.equal((await client.listSources()).status, 200); // wrong refused: asked, right
  assert.equal(auth.asked, 2);

  const cancelling = fakeAuth([]);
  const other = createClient(fetcher, cancelling);
  const refused = await other.listSources();
  assert.equal(refused.status, 401);
  assert.equal(refused.error.detail, "token");
  await other.listSources();
  assert.equal(cancelling.asked, 1);
});

test("without an auth nothing is asked and no token is sent", async () => {
  const { fetcher, calls } = guardedFetch("right");
  assert.equal((await createClient(fetcher).listSources()).status, 401);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].headers.Authorization, undefined);
});

test("the browser's auth keeps the token in storage and in a same-site cookie for media", async () => {
  const store = new Map();
  const storage = {
    getItem: (key) => store.get(key) ?? null,
    setItem: (key, value) => store.set(key, value),
    removeItem: (key) => store.delete(key),
  };
  const auth = browserAuth(storage, () => "  tok en ");
  assert.equal(auth.token(), null);
  assert.equal(await auth.ask(), "tok en");
  assert.equal(auth.token(), "tok en");
  assert.equal(tokenCookie("tok en"), `${TOKEN_COOKIE}=tok%20en; path=/; SameSite=Strict`);
  assert.match(tokenCookie(null), /max-age=0/);
  const cancelled = browserAuth(storage, () => null);
  assert.equal(await cancelled.ask(), null);
  assert.equal(cancelled.token(), null, "a cancelled question forgets the refused token");
});

test("list parameters become a query string; unset ones are left out", async () => {
  assert.equal(queryString({}), "");
  assert.equal(queryString({ limit: 20, offset: 0, status: null }), "?limit=20&offset=0");
  const { fetcher, calls } = fakeFetch(200, []);
  await createClient(fetcher).listAssemblies({ status: "processing" });
  assert.equal(calls[0].url, "/api/v1/assemblies?status=processing");
});
