// Theo RTC web demo: one WebRTC call to the server (POST /v1/realtime/calls), events on the "oai-events"
// data channel (Theo's realtime protocol, the same JSON as WS /v1/realtime). Plain JS, no build step.

const $ = (id) => document.getElementById(id);
const ui = {
  call: $("call"), title: $("call-title"), sub: $("call-sub"), ring: $("mic-ring"),
  conn: $("pill-conn"), vad: $("pill-vad"), mute: $("pill-mute"), theo: $("pill-theo"),
  finals: $("finals"), partial: $("partial"), placeholder: $("placeholder"), transcript: $("transcript"),
  form: $("speak-form"), text: $("speak-text"), speak: $("speak"), repeat: $("repeat"), toast: $("toast"),
  language: $("language"), voice: $("voice"), note: $("model-note"), audio: $("theo-audio"),
  latPartial: $("lat-partial"), latFinal: $("lat-final"), latTts: $("lat-tts"), latConnect: $("lat-connect"),
  meterMic: $("meter-mic"), meterTheo: $("meter-theo"),
};

// Everything a person sees, also readable by the end-to-end test (window.theoDemo).
const demo = (window.theoDemo = {
  state: "idle", callId: null, sessionId: null, config: null, events: [], finals: [], partials: 0,
  errors: [], remoteMaxRms: 0, latency: { partial: [], final: [], tts: [], connect: [] },
});

let pc = null;
let channel = null;
let micStream = null;
let audioContext = null;
let meters = [];
let speechStartedAt = null;
let speechEndedAt = null;
let firstPartialSeen = false;
let ttsRequestedAt = null;
let sttModels = [];

// --- helpers ------------------------------------------------------------------------------------------------

function setPill(pill, state, label) {
  pill.dataset.state = state;
  pill.querySelector("b").textContent = label;
}

function ms(value) {
  return value == null ? "–" : `${Math.round(value)} ms`;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
}

function record(kind, value, element) {
  demo.latency[kind].push(value);
  const values = demo.latency[kind];
  element.textContent = ms(value);
  element.title = values.length > 1 ? `median of ${values.length}: ${ms(median(values))}` : "";
}

let toastTimer = null;
function toast(message, kind = "error") {
  ui.toast.textContent = message;
  ui.toast.className = `toast ${kind === "info" ? "info" : ""}`;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (ui.toast.hidden = true), 6000);
}

function send(event) {
  if (channel && channel.readyState === "open") channel.send(JSON.stringify(event));
}

// --- the call ----------------------------------------------------------------------------------------------

async function startCall() {
  ui.call.disabled = true;
  demo.state = "connecting";
  ui.title.textContent = "Connecting…";
  ui.sub.textContent = "Allow the microphone when your browser asks.";
  setPill(ui.conn, "busy", "Connecting");
  const started = performance.now();
  try {
    micStream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
  } catch (err) {
    failCall(`The microphone is not available (${err.name}). Allow it in the address bar and try again.`);
    return;
  }
  pc = new RTCPeerConnection({ iceServers: [] });
  micStream.getTracks().forEach((track) => pc.addTrack(track, micStream));
  pc.ontrack = (event) => {
    const stream = event.streams[0] || new MediaStream([event.track]);
    ui.audio.srcObject = stream; // Chrome only runs WebAudio on a remote stream attached to an element
    ui.audio.play().catch(() => {});
    meters.push(meter(stream, ui.meterTheo, (rms) => {
      demo.remoteMaxRms = Math.max(demo.remoteMaxRms, rms);
      theoSpeaking(rms);
    }));
  };
  pc.onconnectionstatechange = () => {
    const state = pc && pc.connectionState;
    if (state === "connected") {
      record("connect", performance.now() - started, ui.latConnect);
      setPill(ui.conn, "on", "Connected");
    } else if (state === "failed" || state === "disconnected") {
      setPill(ui.conn, "bad", state === "failed" ? "Connection failed" : "Reconnecting…");
      if (state === "failed") endCall("The connection to Theo failed.");
    }
  };
  channel = pc.createDataChannel("oai-events");
  channel.onopen = () => onChannelOpen();
  channel.onmessage = (message) => {
    try {
      onEvent(JSON.parse(message.data));
    } catch (err) {
      console.error("bad event", message.data, err);
    }
  };
  channel.onclose = () => { if (demo.state === "live") endCall("Theo ended the session."); };
  meters.push(meter(micStream, ui.meterMic, (rms) => ui.ring.style.setProperty("--level", 1 + Math.min(rms * 4, 0.35))));

  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringDone(pc, 2000); // send our candidates in the offer: one round trip, no trickle
    const params = new URLSearchParams();
    const language = ui.language.value;
    if (language !== "auto") params.set("language", language);
    const model = modelFor(language);
    if (model) params.set("model", model);
    const response = await fetch(`/v1/realtime/calls?${params}`, {
      method: "POST", body: pc.localDescription.sdp, headers: { "Content-Type": "application/sdp" },
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
    }
    demo.callId = (response.headers.get("Location") || "").split("/").pop();
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  } catch (err) {
    failCall(`Could not start the call: ${err.message}`);
  }
}

function iceGatheringDone(peer, limitMs) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (peer.iceGatheringState === "complete") { peer.removeEventListener("icegatheringstatechange", done); resolve(); } };
    peer.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, limitMs);
  });
}

function onChannelOpen() {
  demo.state = "live";
  ui.call.disabled = false;
  ui.call.dataset.state = "live";
  ui.call.setAttribute("aria-label", "Hang up");
  ui.title.textContent = "Listening";
  ui.sub.textContent = "Speak naturally. Pause to finish a sentence.";
  ui.speak.disabled = false;
  ui.repeat.disabled = demo.finals.length === 0;
  setPill(ui.vad, "off", "Waiting for speech");
  applyVoice();
}

function failCall(message) {
  toast(message);
  endCall();
}

function endCall(message) {
  if (message) toast(message, "info");
  if (channel && channel.readyState === "open") send({ type: "session.close" });
  const peer = pc;
  pc = null;
  channel = null;
  // Let session.close leave before the transport goes away; the server also notices the closed peer.
  setTimeout(() => peer && peer.close(), 300);
  if (micStream) micStream.getTracks().forEach((t) => t.stop());
  micStream = null;
  meters.forEach((stop) => stop());
  meters = [];
  demo.state = "idle";
  ui.call.disabled = false;
  ui.call.dataset.state = "idle";
  ui.call.setAttribute("aria-label", "Start talking");
  ui.title.textContent = "Start talking";
  ui.sub.textContent = "Your browser will ask for the microphone.";
  ui.speak.disabled = true;
  ui.repeat.disabled = true;
  setPill(ui.conn, "off", "Disconnected");
  setPill(ui.vad, "off", "VAD idle");
  setPill(ui.mute, "off", "Mic live");
  setPill(ui.theo, "off", "Theo quiet");
  showPartial("", "");
}

// Closing the tab: tell the server right away instead of waiting for the transport to time out.
window.addEventListener("pagehide", () => {
  if (demo.callId && demo.state !== "idle") navigator.sendBeacon(`/v1/realtime/calls/${demo.callId}/hangup`);
});

ui.call.addEventListener("click", () => (demo.state === "idle" ? startCall() : endCall()));

// --- events from Theo --------------------------------------------------------------------------------------

function onEvent(event) {
  demo.events.push(event.type);
  switch (event.type) {
    case "session.created":
    case "session.configured":
      demo.sessionId = event.session_id;
      demo.config = event.config;
      describeModel();
      break;
    case "vad.speech_start":
      speechStartedAt = performance.now();
      firstPartialSeen = false;
      setPill(ui.vad, "on", "Hearing you");
      break;
    case "vad.speech_end":
      speechEndedAt = performance.now();
      setPill(ui.vad, "off", "Waiting for speech");
      break;
    case "transcript.partial":
      demo.partials += 1;
      if (!firstPartialSeen && speechStartedAt != null) {
        firstPartialSeen = true;
        record("partial", performance.now() - speechStartedAt, ui.latPartial);
      }
      showPartial(event.text, event.unconfirmed);
      break;
    case "transcript.final":
      addFinal(event);
      break;
    case "transcript.discarded":
      showPartial("", "");
      break;
    case "tts.speaking_start":
      setPill(ui.mute, "busy", "Mic muted while Theo speaks");
      break;
    case "tts.speaking_end":
      setPill(ui.mute, "off", "Mic live");
      break;
    case "error":
      demo.errors.push(event);
      toast(event.message || event.code);
      break;
    case "session.closed":
      if (demo.state === "live") endCall(`Session ended (${event.reason}).`);
      break;
    default:
      break;
  }
}

function showPartial(confirmed, unconfirmed) {
  ui.partial.querySelector(".confirmed").textContent = confirmed || "";
  ui.partial.querySelector(".unconfirmed").textContent = unconfirmed || "";
  ui.partial.dataset.empty = confirmed || unconfirmed ? "false" : "true";
  if (confirmed || unconfirmed) ui.placeholder.hidden = true;
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

function addFinal(event) {
  showPartial("", "");
  ui.placeholder.hidden = true;
  demo.finals.push(event.text);
  const line = document.createElement("p");
  line.className = "final";
  line.textContent = event.text;
  const meta = document.createElement("span");
  meta.className = "meta";
  const parts = [];
  if (speechEndedAt != null) {
    const delay = performance.now() - speechEndedAt;
    record("final", delay, ui.latFinal);
    parts.push(`final ${Math.round(delay)} ms after you stopped`);
    speechEndedAt = null;
  }
  if (event.language) parts.push(event.language);
  if (event.confidence != null) parts.push(`confidence ${Math.round(event.confidence * 100)}%`);
  meta.textContent = parts.join(" · ");
  line.appendChild(meta);
  ui.finals.appendChild(line);
  ui.repeat.disabled = demo.state !== "live";
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

// --- Theo speaks -------------------------------------------------------------------------------------------

function speak(text) {
  text = text.trim();
  if (!text || demo.state !== "live") return;
  ttsRequestedAt = performance.now();
  send({ type: "tts.speak", text });
  const line = document.createElement("p");
  line.className = "final theo-line";
  line.textContent = text;
  ui.finals.appendChild(line);
  ui.placeholder.hidden = true;
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  speak(ui.text.value);
  ui.text.value = "";
});
ui.repeat.addEventListener("click", () => speak(demo.finals[demo.finals.length - 1] || ""));

let quietSince = 0;
function theoSpeaking(rms) {
  const now = performance.now();
  if (rms > 0.01) {
    if (ttsRequestedAt != null) {
      record("tts", now - ttsRequestedAt, ui.latTts);
      ttsRequestedAt = null;
    }
    quietSince = now;
    setPill(ui.theo, "on", "Theo speaking");
  } else if (now - quietSince > 400 && ui.theo.dataset.state === "on") {
    setPill(ui.theo, "off", "Theo quiet");
  }
}

// --- audio meters (WebAudio) -------------------------------------------------------------------------------

function meter(stream, bar, onLevel) {
  audioContext = audioContext || new AudioContext();
  audioContext.resume().catch(() => {});
  const source = audioContext.createMediaStreamSource(stream);
  const analyser = audioContext.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  let running = true;
  const tick = () => {
    if (!running) return;
    analyser.getFloatTimeDomainData(buffer);
    let sum = 0;
    for (const v of buffer) sum += v * v;
    const rms = Math.sqrt(sum / buffer.length);
    bar.style.width = `${Math.min(100, rms * 400)}%`;
    onLevel(rms);
    setTimeout(tick, 30); // timers, not rAF: keeps measuring in background tabs
  };
  tick();
  return () => {
    running = false;
    source.disconnect();
    bar.style.width = "0";
  };
}

// --- language, model and voice -----------------------------------------------------------------------------

function modelFor(language) {
  // English can use the small English-only Whisper; anything else needs a multilingual model.
  const current = (demo.config && demo.config.model) || null;
  if (language === "en") return null; // the server's default model
  if (current && !current.endsWith(".en")) return current;
  const preference = ["whisper-large-v3-turbo", "whisper-small", "whisper-base", "whisper-tiny"];
  const multilingual = sttModels.filter((m) => !m.endsWith(".en"));
  return preference.find((m) => multilingual.includes(m)) || multilingual[0] || null;
}

function describeModel() {
  if (!demo.config) return;
  const language = ui.language.value;
  const english = demo.config.model.endsWith(".en");
  ui.note.textContent = `Speech model: ${demo.config.model}.`;
  if (language !== "en" && english) {
    ui.note.textContent += " It only knows English: run `theo pull whisper-base` for other languages.";
  }
}

ui.language.addEventListener("change", () => {
  const language = ui.language.value;
  const model = modelFor(language);
  selectVoiceFor(language);
  if (demo.state !== "live") return;
  const change = { type: "session.configure", language: language === "auto" ? null : language };
  if (model && demo.config && model !== demo.config.model) change.model = model;
  if (language === "en" && demo.config && !demo.config.model.endsWith(".en")) {
    const english = sttModels.find((m) => m.endsWith(".en"));
    if (english) change.model = english;
  }
  send(change);
  applyVoice();
});

ui.voice.addEventListener("change", applyVoice);

function applyVoice() {
  const [model, voice] = (ui.voice.value || "").split("::");
  if (model && demo.state === "live") send({ type: "session.configure", tts_model: model, tts_voice: voice || null });
}

const FAVOURITE_VOICES = { en: ["af_heart", "joe"], pt: ["pf_dora", "pm_alex"] };
const MODEL_ORDER = ["kokoro", "piper", "espeak"]; // most natural first

function selectVoiceFor(language) {
  const prefix = language === "auto" ? "en" : language;
  const options = [...ui.voice.options];
  const favourite = (FAVOURITE_VOICES[prefix] || [])
    .map((id) => options.find((o) => o.value.endsWith(`::${id}`)))
    .find(Boolean);
  const option = favourite || options.find((o) => (o.dataset.language || "").toLowerCase().startsWith(prefix));
  if (option) ui.voice.value = option.value;
}

function modelRank(name) {
  const rank = MODEL_ORDER.findIndex((prefix) => name.startsWith(prefix));
  return rank < 0 ? MODEL_ORDER.length : rank;
}

async function loadModels() {
  try {
    const response = await fetch("/v1/models");
    const body = await response.json();
    sttModels = body.data.filter((m) => m.type === "stt").map((m) => m.id);
  } catch (err) {
    sttModels = [];
  }
}

async function loadVoices() {
  try {
    const response = await fetch("/v1/audio/voices");
    const body = await response.json();
    ui.voice.innerHTML = "";
    const models = (body.data || []).slice().sort((a, b) => modelRank(a.model) - modelRank(b.model));
    for (const model of models) {
      if (!model.voices || !model.voices.length) continue;
      const group = document.createElement("optgroup");
      group.label = `${model.model} (${model.engine})`;
      for (const voice of model.voices) {
        const option = document.createElement("option");
        option.value = `${model.model}::${voice.id}`;
        option.dataset.language = voice.language || "";
        option.textContent = `${voice.name || voice.id}${voice.language ? ` · ${voice.language}` : ""}`;
        group.appendChild(option);
      }
      ui.voice.appendChild(group);
    }
    if (!ui.voice.options.length) ui.voice.innerHTML = '<option value="">No voices installed</option>';
    selectVoiceFor(ui.language.value);
  } catch (err) {
    ui.voice.innerHTML = '<option value="">Voices unavailable</option>';
  }
}

const query = new URLSearchParams(location.search);
if (query.get("language")) ui.language.value = query.get("language");
loadModels();
loadVoices();
