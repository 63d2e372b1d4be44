// voxloop playback (AudioWorklet, runs on the audio thread).
//
// Messages in:  {type: "push", pcm: ArrayBuffer of PCM16 mono at sourceRate}
//               {type: "clear"}  drop everything queued, at once (barge-in)
//               {type: "end"}    no more audio for now: play out what is queued without prebuffering
// Messages out: {type: "played", played, buffered, underruns, overflow} every ~50 ms while active,
//               {type: "idle", ...} when the queue runs dry, {type: "cleared", flushed, ...} after a clear
//               (flushed = queued samples dropped unplayed; overflow = samples refused by a full ring).
// `played` counts source samples actually written to the output (the test hook relies on it).

class PlayerProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.sourceRate = opts.sourceRate || 24000;
    this.step = this.sourceRate / sampleRate; // source samples per output frame
    this.ring = new Float32Array(this.sourceRate * (opts.bufferSeconds || 60));
    this.readIdx = 0;
    this.writeIdx = 0;
    this.count = 0;
    this.frac = 0;
    this.prebuffer = Math.round((this.sourceRate * (opts.prebufferMs || 60)) / 1000);
    this.primed = false;
    this.ending = false;
    this.active = false;
    this.played = 0;
    this.underruns = 0;
    this.overflow = 0;
    this.sinceReport = 0;
    this.reportEvery = Math.round(sampleRate / 20);
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(msg) {
    if (!msg) return;
    if (msg.type === "push") {
      this.push(new Int16Array(msg.pcm));
    } else if (msg.type === "clear") {
      const flushed = this.count;
      this.readIdx = this.writeIdx = this.count = 0;
      this.frac = 0;
      this.primed = false;
      this.ending = false;
      this.active = false;
      this.port.postMessage({ type: "cleared", flushed, ...this.snapshot() });
    } else if (msg.type === "end") {
      this.ending = true;
    }
  }

  push(pcm) {
    const cap = this.ring.length;
    let n = pcm.length;
    if (n > cap - this.count) {
      this.overflow += n - (cap - this.count);
      n = cap - this.count;
    }
    for (let i = 0; i < n; i++) {
      this.ring[this.writeIdx] = pcm[i] / 32768;
      this.writeIdx = this.writeIdx + 1 === cap ? 0 : this.writeIdx + 1;
    }
    this.count += n;
    this.ending = false;
  }

  snapshot() {
    return { played: this.played, buffered: this.count, underruns: this.underruns, overflow: this.overflow };
  }

  process(_inputs, outputs) {
    const output = outputs[0];
    const out = output[0];
    const cap = this.ring.length;
    if (!this.primed && (this.count >= this.prebuffer || (this.ending && this.count > 0))) {
      this.primed = true;
      this.active = true;
    }
    let i = 0;
    if (this.primed) {
      for (; i < out.length && this.count > 0; i++) {
        const a = this.ring[this.readIdx];
        const b = this.count > 1 ? this.ring[this.readIdx + 1 === cap ? 0 : this.readIdx + 1] : a;
        out[i] = a + (b - a) * this.frac;
        this.frac += this.step;
        while (this.frac >= 1 && this.count > 0) {
          this.frac -= 1;
          this.readIdx = this.readIdx + 1 === cap ? 0 : this.readIdx + 1;
          this.count--;
          this.played++;
        }
      }
      if (this.count === 0) {
        this.primed = false;
        this.frac = 0;
        if (!this.ending) this.underruns++;
      }
    }
    out.fill(0, i);
    for (let c = 1; c < output.length; c++) output[c].set(out);

    if (this.active) {
      this.sinceReport += out.length;
      if (this.count === 0) {
        this.active = false;
        this.sinceReport = 0;
        this.port.postMessage({ type: "idle", ...this.snapshot() });
      } else if (this.sinceReport >= this.reportEvery) {
        this.sinceReport = 0;
        this.port.postMessage({ type: "played", ...this.snapshot() });
      }
    }
    return true;
  }
}

registerProcessor("voxloop-player", PlayerProcessor);
