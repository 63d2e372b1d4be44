// The tab's resume token: it continues this tab's conversation after a drop or a reload, and a
// link with it (#resume=TOKEN, a fragment: never sent in HTTP requests) continues it elsewhere.

const KEY = "voxloop.resume";
let fallback = null; // sessionStorage can be unavailable (privacy settings): keep it in memory

/** Per tab (sessionStorage): get(), set(token), clear(). */
export const resumeStore = {
  get() {
    try {
      return sessionStorage.getItem(KEY) || fallback;
    } catch {
      return fallback;
    }
  },
  set(token) {
    fallback = token;
    try {
      sessionStorage.setItem(KEY, token);
    } catch {
      /* memory only */
    }
  },
  clear() {
    fallback = null;
    try {
      sessionStorage.removeItem(KEY);
    } catch {
      /* memory only */
    }
  },
};

/** The token of a #resume=TOKEN address, taken out of the address bar (and history); or null. */
export function takeResumeFragment() {
  const match = /^#resume=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", `${location.pathname}${location.search}#conversation`);
  try {
    return decodeURIComponent(match[1]) || null;
  } catch {
    return null;
  }
}

/** The address that continues the conversation of `token` in another tab or on another device. */
export function resumeLink(token) {
  return `${location.origin}${location.pathname}#resume=${encodeURIComponent(token)}`;
}
