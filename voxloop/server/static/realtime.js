// A small OpenAI Realtime (GA) WebSocket client with automatic reconnection.
//
// Every JSON event from the server goes to onEvent(event). onStatus(status, detail) reports
// the connection: "connecting", "open", "retrying" ({delayMs, attempt, reason}), "closed",
// "taken-over" (a newer connection continued the conversation: no more retries) and
// "resume-failed" (the token was refused: the stored one is dropped, a fresh session follows).
//
// With a `resume` store (resume.js) the conversation outlives the socket: the token of every
// `session.created` is kept, and each (re)connect asks for `?resume=TOKEN`, so the server
// continues the same conversation. On every (re)connect the session configuration is sent
// first, as a `session.update`: the server has it already when resuming (the same settings
// merge into themselves), and a fresh session after a refused token needs it.

import { clientSecret, secretFailed, subprotocols } from "./auth.js";

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const MAX_BUFFERED_BYTES = 2 << 20; // stop queueing mic audio behind a stalled socket

export function realtimeUrl(query) {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  return `${scheme}${location.host}/v1/realtime?${new URLSearchParams(query)}`;
}

function closeReason(e) {
  if (e.reason) return e.reason;
  if (e.code === 1013) return "server busy";
  if (e.code === 1012 || e.code === 1001) return "server restarting";
  return e.code === 1006 || e.code === 1005 ? "" : `code ${e.code}`;
}

export class RealtimeClient {
  /**
   * @param {object} opts
   * @param {object} opts.query  URL query of /v1/realtime
   * @param {object} opts.session  the `session` object of the session.update sent on open
   * @param {(event: object) => void} opts.onEvent
   * @param {(status: string, detail?: object) => void} opts.onStatus
   * @param {{get(): string|null, set(token: string): void, clear(): void} | null} [opts.resume]
   */
  constructor({ query, session, onEvent, onStatus, resume = null }) {
    this.query = query;
    this.session = session;
    this.resume = resume;
    this.ending = null; // why the server is about to close this socket: "taken-over" | "resume-failed"
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.ws = null;
    this.wanted = false;
    this.attempt = 0;
    this.timer = null;
    this.eventSeq = 0;
    this.sentAudioChunks = 0;
    this.droppedAudioChunks = 0;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    this.wanted = true;
    this.clearTimer();
    if (this.ws) return;
    const token = this.resume ? this.resume.get() : null;
    this.onStatus("connecting", { attempt: this.attempt, resuming: Boolean(token) });
    this.ending = null;
    this.ws = "pending"; // (a client secret may have to be fetched first: auth.js)
    clientSecret().then(
      (secret) => this.openSocket(token, secret),
      (err) => {
        this.ws = null;
        this.scheduleRetry(String(err && err.message ? err.message : err));
      },
    );
  }

  openSocket(token, secret) {
    let ws;
    try {
      ws = new WebSocket(realtimeUrl(token ? { ...this.query, resume: token } : this.query), subprotocols(secret));
    } catch (err) {
      this.ws = null;
      this.scheduleRetry(String(err && err.message ? err.message : err));
      return;
    }
    if (!this.wanted || this.ws !== "pending") {
      if (this.ws === "pending") this.ws = null;
      ws.close(); // closed (or replaced) while the secret was on its way
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      opened = true;
      this.attempt = 0;
      this.send({ type: "session.update", session: this.session });
      this.onStatus("open");
    });
    ws.onmessage = (msg) => {
      if (typeof msg.data !== "string") return;
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      this.watch(event);
      this.onEvent(event);
    };
    // `error` is always followed by `close`; the close handler does the work.
    ws.onerror = () => {};
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (secret !== null && !opened) secretFailed(); // refused: get another
      const ending = this.ending || (e.code === 4001 ? "taken-over" : e.code === 4004 ? "resume-failed" : null);
      this.ending = null;
      if (!this.wanted) {
        this.onStatus("closed", { code: e.code, reason: e.reason });
        return;
      }
      if (ending === "taken-over") {
        this.wanted = false; // the conversation goes on elsewhere: reconnecting would take it back
        this.onStatus("taken-over", { code: e.code });
        return;
      }
      if (ending === "resume-failed") {
        if (this.resume) this.resume.clear();
        this.onStatus("resume-failed", { code: e.code });
        this.connect(); // at once, without a token: a new conversation
        return;
      }
      this.scheduleRetry(closeReason(e));
    };
  }

  /** What the connection itself needs from the server's events: the token, and why it ends. */
  watch(event) {
    if (event.type === "session.created") {
      const ext = (event.session && event.session.voxloop) || {};
      if (this.resume && ext.resume_token) this.resume.set(ext.resume_token);
    } else if (event.type === "error") {
      const code = event.error && event.error.code;
      if (code === "session_taken_over") this.ending = "taken-over";
      else if (code === "invalid_resume_token") {
        this.ending = "resume-failed";
        if (this.resume) this.resume.clear();
      }
    }
  }

  scheduleRetry(reason) {
    const delayMs = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt++;
    this.onStatus("retrying", { delayMs, attempt: this.attempt, reason });
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.wanted) this.connect();
    }, delayMs);
  }

  /** Reconnects now instead of waiting for the backoff timer. */
  retryNow() {
    if (this.ws) return;
    this.clearTimer();
    this.connect();
  }

  clearTimer() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  send(event) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify({ event_id: `evt_c${++this.eventSeq}`, ...event }));
    return true;
  }

  /** Sends one `input_audio_buffer.append`; drops it while disconnected or congested. */
  sendAudio(base64) {
    if (!this.isOpen || this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.droppedAudioChunks++;
      return false;
    }
    this.ws.send(JSON.stringify({ type: "input_audio_buffer.append", audio: base64 }));
    this.sentAudioChunks++;
    return true;
  }

  close() {
    this.wanted = false;
    this.clearTimer();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws !== "pending") {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(1000, "client closed");
      } catch {
        /* not open yet */
      }
    }
    this.onStatus("closed", {});
  }
}
