// Talking to the server: JSON requests with the token, and the event stream read with fetch
// (so it can carry the Authorization header), resumed from the last event id.

const TOKEN_KEY = "jobhub-token";

export class NeedsToken extends Error {}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function answer(response) {
  if (response.status === 401) throw new NeedsToken("this server needs a token");
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message || `HTTP ${response.status}`);
  return body;
}

export async function getJSON(path, params) {
  const url = params ? `${path}?${params}` : path;
  return answer(await fetch(url, { headers: headers({ Accept: "application/json" }) }));
}

export async function postJSON(path) {
  return answer(await fetch(path, { method: "POST", headers: headers() }));
}

export function jobPath(ref) {
  // A ref's id may hold "/" (Pixxel): keep it, escape the rest.
  return `/api/v1/jobs/${ref.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * Follow /api/v1/events with `params` from event id `since`, for ever: on a dropped
 * connection wait a little and resume from the last id seen. `on.job(event, id)`,
 * `on.backends(list)`, `on.status("live" | "reconnecting", why)`. Returns a stop function.
 */
export function follow(params, since, on) {
  const control = new AbortController();
  let last = since;
  let pause = 500;

  async function once() {
    const query = new URLSearchParams(params);
    if (last !== null && last !== undefined) query.set("since", String(last));
    const response = await fetch(`/api/v1/events?${query}`, {
      headers: headers({ Accept: "text/event-stream" }),
      signal: control.signal,
    });
    if (response.status === 401) throw new NeedsToken("this server needs a token");
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    on.status("live");
    pause = 500;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        dispatch(block);
      }
    }
  }

  function dispatch(block) {
    const fields = { data: [] };
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const name = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (name === "data") fields.data.push(value);
      else fields[name] = value;
    }
    if (!fields.data.length) return;
    const data = JSON.parse(fields.data.join("\n"));
    if (fields.event === "job") {
      last = Number(fields.id);
      on.job(data, last);
    } else if (fields.event === "backends") {
      on.backends(data);
    }
  }

  (async () => {
    while (!control.signal.aborted) {
      try {
        await once();
        on.status("reconnecting", "the stream ended");
      } catch (error) {
        if (control.signal.aborted) return;
        if (error instanceof NeedsToken) { on.needsToken(); return; }
        on.status("reconnecting", error.message);
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 15000);
    }
  })();
  return () => control.abort();
}
