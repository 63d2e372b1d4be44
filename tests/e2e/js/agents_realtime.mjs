// Conformance client: the OpenAI Agents SDK for JavaScript (@openai/agents-realtime) talks to
// voxloop over its WebSocket transport. Usage:
//   node agents_realtime.mjs SCENARIO WS_URL [SPEECH.pcm]
// SCENARIO: text | voice | barge-in | tool. SPEECH.pcm is raw PCM16 mono 24 kHz. Prints one JSON
// object: {errors, history, events, interrupted} (tests/e2e/test_agents_sdk_node.py checks it).
import { readFileSync } from 'node:fs';
import { RealtimeAgent, RealtimeSession, tool } from '@openai/agents-realtime';

const [scenario, url, speechPath] = process.argv.slice(2);
const storyteller = scenario === 'barge-in';
const toolCalls = []; // the arguments each run of the tool got
const getWeather = tool({
  name: 'get_weather',
  description: 'Get the current weather in a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', description: 'The city' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
  execute: async ({ city }) => {
    toolCalls.push(city);
    return `It is 18 degrees and sunny in ${city}.`;
  },
});
const agent = new RealtimeAgent({
  name: 'Assistant',
  instructions: storyteller
    ? 'You are a storyteller. Always tell long, detailed stories.'
    : 'You are a helpful assistant. Answer in one short sentence.',
  tools: scenario === 'tool' ? [getWeather] : [],
});
const session = new RealtimeSession(agent, {
  transport: 'websocket',
  model: 'voxloop',
  config: {
    outputModalities: ['audio'],
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: { model: 'whisper-1' },
        // semantic_vad (the SDK default) needs Smart Turn, an optional extra
        turnDetection: { type: 'server_vad', createResponse: true, interruptResponse: true },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' },
    },
  },
});

const errors = [];
const events = []; // raw server event types, in order
const serverEvents = [];
let audioChunks = 0;
let interrupted = false;
let turnsEnded = 0;
const waiters = [];
const wake = () => waiters.splice(0).forEach((w) => w());
const until = (pred, ms = Number(process.env.VOXLOOP_WAIT_MS ?? 90000)) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; last: ${events.slice(-15)}`)), ms);
    const check = () => (pred() ? (clearTimeout(timer), resolve()) : waiters.push(check));
    check();
  });

session.on('error', (e) => {
  errors.push(String(e?.error?.message ?? e?.error?.error?.message ?? JSON.stringify(e)));
  wake();
});
session.on('audio', () => { audioChunks += 1; wake(); });
session.on('audio_interrupted', () => { interrupted = true; wake(); });
session.on('agent_end', () => { turnsEnded += 1; wake(); });
session.on('transport_event', (ev) => {
  if (ev?.type) events.push(ev.type);
  if (ev?.type === 'response.done' || ev?.type === 'response.created'
      || ev?.type === 'input_audio_buffer.speech_started' || ev?.type === 'response.output_audio.delta') {
    serverEvents.push({ type: ev.type, response_id: ev.response?.id ?? ev.response_id ?? null,
                        status: ev.response?.status ?? null });
  }
  wake();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function sendSpeech(speed) {
  const pcm = readFileSync(speechPath);
  const step = 4800; // 100 ms of PCM16 at 24 kHz
  for (let i = 0; i < pcm.length; i += step) {
    const chunk = pcm.subarray(i, Math.min(i + step, pcm.length));
    session.sendAudio(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.length));
    await sleep(100 / speed);
  }
}

function historyOf() {
  return session.history
    .filter((item) => item.type === 'message')
    .map((item) => ({
      role: item.role,
      status: item.status ?? null,
      text: (item.content ?? []).map((c) => c.text ?? c.transcript ?? '').filter(Boolean).join(' '),
    }));
}

try {
  await session.connect({ apiKey: 'not-needed', url });
  if (scenario === 'text') {
    session.sendMessage('What is the capital of France?');
    await until(() => turnsEnded >= 1);
  } else if (scenario === 'voice') {
    await sendSpeech(2);
    await until(() => turnsEnded >= 1);
  } else if (scenario === 'tool') {
    session.sendMessage('What is the weather like in Paris today?');
    await until(() => toolCalls.length >= 1 && turnsEnded >= 2);
  } else if (scenario === 'barge-in') {
    session.sendMessage('Tell me a long story about a dragon and a knight.');
    await until(() => audioChunks >= 5);
    await sendSpeech(1);
    await until(() => interrupted);
    await until(() => turnsEnded >= 2);
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
  await sleep(1000); // the SDK retrieves items after transcripts: let those answers arrive
} catch (e) {
  errors.push(`client: ${e?.message ?? e}`);
} finally {
  const out = { errors, history: historyOf(), events, serverEvents, interrupted, audioChunks, toolCalls };
  process.stdout.write(JSON.stringify(out) + '\n');
  session.close();
  setTimeout(() => process.exit(0), 200);
}
