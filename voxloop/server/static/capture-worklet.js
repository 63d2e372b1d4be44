// voxloop microphone capture (AudioWorklet, runs on the audio thread).
//
// Input: the AudioContext's native rate, any channel count. Output to the main thread:
// {type: "chunk", pcm: ArrayBuffer of PCM16 mono at targetRate, rms} every chunkMs.
// Downsampling runs a short windowed-sinc low-pass (anti-aliasing) and then linear
// interpolation; both keep their state across render quanta, so chunk edges are seamless.

const TAPS = 31;

function designLowpass(cutoff) {
  // cutoff in cycles per input sample (0 < cutoff < 0.5); Blackman-windowed sinc, unit DC gain.
  const h = new Float32Array(TAPS);
  const m = (TAPS - 1) / 2;
  let sum = 0;
  for (let k = 0; k < TAPS; k++) {
    const x = k - m;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * k) / (TAPS - 1)) + 0.08 * Math.cos((4 * Math.PI * k) / (TAPS - 1));
    h[k] = sinc * w;
    sum += h[k];
  }
  for (let k = 0; k < TAPS; k++) h[k] /= sum;
  return h;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || 24000;
    this.chunkSize = Math.round((this.targetRate * (opts.chunkMs || 50)) / 1000);
    this.step = sampleRate / this.targetRate; // input samples per output sample
    this.filter = this.step > 1 ? designLowpass(0.45 / this.step) : null;
    this.history = new Float32Array(TAPS - 1); // last input samples, for the FIR
    this.work = new Float32Array(0);
    this.t = 0; // fractional read position; index -1 is `this.last`
    this.last = 0;
    this.out = new Int16Array(this.chunkSize);
    this.fill = 0;
    this.sumSquares = 0;
    this.running = true;
    this.port.onmessage = (e) => {
      if (e.data && e.data.type === "stop") this.running = false;
    };
  }

  mono(input) {
    const n = input[0].length;
    if (this.work.length !== n) this.work = new Float32Array(n);
    const x = this.work;
    if (input.length === 1) {
      x.set(input[0]);
    } else {
      x.fill(0);
      for (const ch of input) for (let i = 0; i < n; i++) x[i] += ch[i] / input.length;
    }
    return x;
  }

  lowpass(x) {
    const h = this.filter;
    const hist = this.history;
    const pad = TAPS - 1;
    const y = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      let acc = 0;
      for (let k = 0; k < TAPS; k++) {
        const j = i + k - pad; // index into x; negative reaches into history
        acc += h[k] * (j < 0 ? hist[pad + j] : x[j]);
      }
      y[i] = acc;
    }
    if (x.length >= pad) {
      hist.set(x.subarray(x.length - pad));
    } else {
      hist.copyWithin(0, x.length);
      hist.set(x, pad - x.length);
    }
    return y;
  }

  emit(v) {
    const s = v < -1 ? -1 : v > 1 ? 1 : v;
    this.out[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    this.sumSquares += s * s;
    if (this.fill === this.chunkSize) {
      const pcm = this.out.buffer;
      const rms = Math.sqrt(this.sumSquares / this.chunkSize);
      this.port.postMessage({ type: "chunk", pcm, rms }, [pcm]);
      this.out = new Int16Array(this.chunkSize);
      this.fill = 0;
      this.sumSquares = 0;
    }
  }

  process(inputs) {
    if (!this.running) return false;
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    let x = this.mono(input);
    if (this.step === 1) {
      for (let i = 0; i < x.length; i++) this.emit(x[i]);
      return true;
    }
    if (this.filter) x = this.lowpass(x);
    const n = x.length;
    // Linear interpolation between x[i] and x[i + 1] (x[-1] is the previous block's last sample).
    while (this.t < n - 1) {
      const i = Math.floor(this.t);
      const f = this.t - i;
      const a = i < 0 ? this.last : x[i];
      this.emit(a + (x[i + 1] - a) * f);
      this.t += this.step;
    }
    this.t -= n;
    this.last = x[n - 1];
    return true;
  }
}

registerProcessor("voxloop-capture", CaptureProcessor);
