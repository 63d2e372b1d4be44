// A small OpenAI Realtime (GA) WebSocket client with automatic reconnection.
//
// Every JSON event from the server goes to onEvent(event). onStatus(status, detail) reports
// the connection: "connecting", "open", "retrying" ({delayMs, attempt, reason}), "closed".
// On every (re)connect the session configuration is sent first, as a `session.update`.

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
   * @param {string} opts.url
   * @param {object} opts.session  the `session` object of the session.update sent on open
   * @param {(event: object) => void} opts.onEvent
   * @param {(status: string, detail?: object) => void} opts.onStatus
   */
  constructor({ url, session, onEvent, onStatus }) {
    this.url = url;
    this.session = session;
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
    this.onStatus("connecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url, ["realtime"]);
    } catch (err) {
      this.scheduleRetry(String(err && err.message ? err.message : err));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.send({ type: "session.update", session: this.session });
      this.onStatus("open");
    };
    ws.onmessage = (msg) => {
      if (typeof msg.data !== "string") return;
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      this.onEvent(event);
    };
    // `error` is always followed by `close`; the close handler does the work.
    ws.onerror = () => {};
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.wanted) {
        this.onStatus("closed", { code: e.code, reason: e.reason });
        return;
      }
      this.scheduleRetry(closeReason(e));
    };
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
    if (ws) {
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
