// Access to a server that has API keys (docs/security.md): a browser never holds a key for
// long; it opens its socket with a short-lived client secret, sent as the WebSocket subprotocol
// `openai-insecure-api-key.SECRET`.
//
// Where the secret comes from, in order:
//  1. `#client_secret=ek_...` in the page's URL: minted by the operator's own backend
//     (POST /v1/realtime/client_secrets with its key), the usual deployment;
//  2. a server without keys (GET /v1/models answers without one): no secret at all;
//  3. otherwise the user types an API key once (kept in this tab's sessionStorage) and the page
//     mints a secret with it before each connection.

const KEY_ITEM = "voxloop.apiKey";
let handed = fromHash(); // a secret from the URL (taken out of it at once), used until it fails
let open = null; // whether the server asks for no key (cached)

function fromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const secret = params.get("client_secret");
  if (secret) {
    params.delete("client_secret");
    history.replaceState(null, "", `${location.pathname}${location.search}${params.size ? "#" + params : ""}`);
  }
  return secret;
}

async function serverIsOpen() {
  if (open === null) {
    const r = await fetch("/v1/models");
    open = r.status !== 401;
  }
  return open;
}

async function mint(key) {
  const r = await fetch("/v1/realtime/client_secrets", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ expires_after: { anchor: "created_at", seconds: 60 } }),
  });
  if (r.status === 401) {
    sessionStorage.removeItem(KEY_ITEM);
    throw new Error("the API key was refused");
  }
  if (!r.ok) throw new Error(`could not get a client secret (HTTP ${r.status})`);
  return (await r.json()).value;
}

/** The client secret for the next connection, or null when the server needs none. */
export async function clientSecret() {
  if (handed) return handed;
  if (await serverIsOpen()) return null;
  let key = sessionStorage.getItem(KEY_ITEM);
  if (!key) {
    key = window.prompt("This voxloop server needs an API key:") || "";
    if (!key) throw new Error("an API key is needed");
    sessionStorage.setItem(KEY_ITEM, key);
  }
  return mint(key);
}

/** A secret stopped working (expired, refused): forget it so the next connection gets another. */
export function secretFailed() {
  handed = null;
}

/** WebSocket subprotocols for a connection with `secret`. */
export function subprotocols(secret) {
  return secret ? ["realtime", `openai-insecure-api-key.${secret}`] : ["realtime"];
}
