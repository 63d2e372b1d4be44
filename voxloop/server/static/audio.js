// Browser audio for voxloop: microphone capture and speaker playback through AudioWorklets.
//
// One AudioContext at the device's native rate; the worklets convert to and from the wire
// format (PCM16 mono 24 kHz), so this works the same in every browser, whatever the hardware rate.

export const WIRE_RATE = 24000;
// A context made outside a click (a page opened from a #resume= link) stays suspended until
// the user interacts: how long start() waits for it before going on with the context held back.
const RESUME_WAIT_MS = 400;

const MIC_CONSTRAINTS = {
  audio: {
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
    channelCount: 1,
  },
};

/** An Error whose message is fit to show a person. `code` says what went wrong. */
export class MicError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "MicError";
    this.code = code;
  }
}

function micError(err) {
  const name = (err && err.name) || "";
  if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") {
    return new MicError(
      "denied",
      "Microphone access was denied. Allow the microphone for this site (the icon at the left of " +
        "the address bar) and press the button again.",
    );
  }
  if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
    return new MicError("missing", "No microphone was found. Connect one and press the button again.");
  }
  if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
    return new MicError(
      "busy",
      "The microphone could not be started — another application may be using it. Close it and try again.",
    );
  }
  return new MicError("unavailable", `The microphone is unavailable (${name || err}).`);
}

function workletUrl(name) {
  return new URL(`./${name}`, import.meta.url).href;
}

export class AudioIO {
  /**
   * @param {object} opts
   * @param {(pcm: ArrayBuffer, rms: number) => void} opts.onChunk  PCM16 24 kHz mic audio
   * @param {boolean} [opts.playback]  also create the speaker player
   * @param {(msg: object) => void} [opts.onPlayer]  progress reports from the player worklet
   * @param {number} [opts.chunkMs]  how much mic audio each chunk holds
   */
  constructor({ onChunk, playback = false, onPlayer = () => {}, chunkMs = 50 }) {
    this.onChunk = onChunk;
    this.playback = playback;
    this.onPlayer = onPlayer;
    this.chunkMs = chunkMs;
    this.ctx = null;
    this.stream = null;
    this.source = null;
    this.capture = null;
    this.player = null;
    this.muted = false;
    this.onEnded = () => {}; // the microphone went away (unplugged, revoked)
    this.onLockChange = () => {}; // the context started (or stopped) running: see `locked`
  }

  /** The browser holds the audio back (no user gesture yet): no capture, no playback. */
  get locked() {
    return this.ctx !== null && this.ctx.state !== "running";
  }

  /** Starts a context the browser held back; call it from a click or a key press. */
  unlock() {
    if (this.ctx && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
  }

  /** Opens the microphone and starts both worklets. Throws MicError with a human message. */
  async start() {
    // The context is created before the first await, inside the click, to satisfy autoplay rules.
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) throw new MicError("unsupported", "This browser cannot process audio (no Web Audio API).");
    const ctx = new Ctx({ latencyHint: "interactive" });
    this.ctx = ctx;
    ctx.onstatechange = () => this.ctx === ctx && this.onLockChange();
    const resumed = ctx.resume();
    resumed.catch(() => {}); // handled below (or never needed: the context closed)
    const stopped = () => this.ctx !== ctx; // stop() was called while we waited

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      await this.stop();
      throw new MicError(
        "insecure",
        "The microphone needs a secure page: open voxloop over https:// or on http://localhost.",
      );
    }
    let stream;
    try {
      try {
        stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
      } catch (err) {
        if (!err || err.name !== "OverconstrainedError") throw err;
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      }
    } catch (err) {
      if (!stopped()) await this.stop();
      throw micError(err);
    }
    if (stopped()) {
      for (const t of stream.getTracks()) t.stop();
      throw new MicError("aborted", "Stopped.");
    }
    this.stream = stream;

    try {
      await ctx.audioWorklet.addModule(workletUrl("capture-worklet.js"));
      if (this.playback) await ctx.audioWorklet.addModule(workletUrl("player-worklet.js"));
      // Without a user gesture the browser may never resume it: go on, held back (`locked`).
      await Promise.race([resumed, new Promise((done) => setTimeout(done, RESUME_WAIT_MS))]);
    } catch (err) {
      if (stopped()) throw new MicError("aborted", "Stopped.");
      await this.stop();
      throw new MicError("unsupported", `Audio processing could not start (${err && err.message ? err.message : err}).`);
    }
    if (stopped()) throw new MicError("aborted", "Stopped.");

    const source = this.ctx.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(this.ctx, "voxloop-capture", {
      numberOfOutputs: 0,
      processorOptions: { targetRate: WIRE_RATE, chunkMs: this.chunkMs },
    });
    this.capture.port.onmessage = (e) => {
      if (e.data.type === "chunk" && !this.muted) this.onChunk(e.data.pcm, e.data.rms);
    };
    source.connect(this.capture);
    this.source = source;

    if (this.playback) {
      this.player = new AudioWorkletNode(this.ctx, "voxloop-player", {
        numberOfInputs: 0,
        outputChannelCount: [1],
        processorOptions: { sourceRate: WIRE_RATE },
      });
      this.player.port.onmessage = (e) => this.onPlayer(e.data);
      this.player.connect(this.ctx.destination);
    }
    const track = this.stream.getAudioTracks()[0];
    if (track) track.addEventListener("ended", () => this.onEnded());
    return { sampleRate: this.ctx.sampleRate, device: track ? track.label : "", locked: this.locked };
  }

  /** Queues PCM16 24 kHz audio (an ArrayBuffer, transferred) for playback. */
  play(pcm) {
    if (this.player) this.player.port.postMessage({ type: "push", pcm }, [pcm]);
  }

  /** Drops all queued playback at once (barge-in, cancel). */
  clearPlayback() {
    if (this.player) this.player.port.postMessage({ type: "clear" });
  }

  /** Tells the player that the current reply has no more audio: play out the tail. */
  endPlayback() {
    if (this.player) this.player.port.postMessage({ type: "end" });
  }

  async stop() {
    if (this.capture) {
      this.capture.port.postMessage({ type: "stop" });
      this.capture.port.onmessage = null;
      this.capture.disconnect();
    }
    if (this.source) this.source.disconnect();
    if (this.player) {
      this.player.port.onmessage = null;
      this.player.disconnect();
    }
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    const ctx = this.ctx;
    this.ctx = this.stream = this.capture = this.player = this.source = null;
    if (ctx) ctx.onstatechange = null;
    if (ctx && ctx.state !== "closed") {
      try {
        await ctx.close();
      } catch {
        /* already closed */
      }
    }
  }
}

// --- base64 <-> PCM16 ------------------------------------------------------------------------

export function bytesToBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

export function base64ToBytes(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}
