// Theo RTC web demo, two ways to reach Theo (plain JS, no build step):
//   WebRTC · direct: one WebRTC call to the server (POST /v1/realtime/calls), events on the "oai-events"
//     data channel (Theo's realtime protocol, the same JSON as WS /v1/realtime).
//   LiveKit room: POST /v1/livekit/sessions creates a room and sends `theo agent` into it; the page joins
//     with livekit-client (served by Theo at /vendor/livekit-client.umd.js), publishes the microphone, reads
//     transcripts from "lk.transcription" text streams and Theo's events from data packets on "theo.events",
//     and plays Theo's audio track.

const $ = (id) => document.getElementById(id);
const ui = {
  call: $("call"), title: $("call-title"), sub: $("call-sub"), ring: $("mic-ring"),
  conn: $("pill-conn"), vad: $("pill-vad"), mute: $("pill-mute"), theo: $("pill-theo"),
  finals: $("finals"), partial: $("partial"), placeholder: $("placeholder"), transcript: $("transcript"),
  form: $("speak-form"), text: $("speak-text"), speak: $("speak"), repeat: $("repeat"), toast: $("toast"),
  language: $("language"), voice: $("voice"), note: $("model-note"), audio: $("theo-audio"),
  latPartial: $("lat-partial"), latFinal: $("lat-final"), latTts: $("lat-tts"), latConnect: $("lat-connect"),
  meterMic: $("meter-mic"), meterTheo: $("meter-theo"),
  modeWebrtc: $("mode-webrtc"), modeLivekit: $("mode-livekit"), modeNote: $("mode-note"),
  latConnectNote: $("lat-connect-note"),
};

// Everything a person sees, also readable by the end-to-end test (window.theoDemo).
const demo = (window.theoDemo = {
  state: "idle", callId: null, sessionId: null, config: null, events: [], finals: [], partials: 0,
  errors: [], remoteMaxRms: 0, latency: { partial: [], final: [], tts: [], connect: [] },
  mode: "webrtc", livekit: null, transcripts: [], lkPartials: 0,
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
let lkRoom = null; // LiveKit mode: the livekit-client Room
let theoJoinTimer = null;
let callStartedAt = null;

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
  if (lkRoom) {
    const payload = new TextEncoder().encode(JSON.stringify(event));
    lkRoom.localParticipant.publishData(payload, { reliable: true, topic: LK_EVENTS }).catch((err) => {
      toast(`Could not send ${event.type} to Theo: ${err.message}`);
    });
  } else if (channel && channel.readyState === "open") {
    channel.send(JSON.stringify(event));
  }
}

// --- the call ----------------------------------------------------------------------------------------------

async function startCall() {
  if (demo.mode === "livekit") return startLiveKit();
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
  clearTimeout(theoJoinTimer);
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
  clearTimeout(theoJoinTimer);
  if (lkRoom) {
    const room = lkRoom;
    lkRoom = null;
    room.disconnect().catch(() => {}); // Theo ends the session when our track goes, and leaves when alone
  }
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
  setModeButtons();
}

// Closing the tab: tell the server right away instead of waiting for the transport to time out.
window.addEventListener("pagehide", () => {
  if (demo.callId && demo.state !== "idle") navigator.sendBeacon(`/v1/realtime/calls/${demo.callId}/hangup`);
});

ui.call.addEventListener("click", () => (demo.state === "idle" ? startCall() : endCall()));

// --- LiveKit room ------------------------------------------------------------------------------------------

const LK_EVENTS = "theo.events";
const LK_TRANSCRIPTION = "lk.transcription";
const LK_CLIENT_URL = "/vendor/livekit-client.umd.js";
const THEO_JOIN_LIMIT_MS = 20000;
let livekitClient = null; // the loaded SDK, or a rejected promise when it is not installed

function loadLiveKitClient() {
  if (!livekitClient) {
    livekitClient = new Promise((resolve, reject) => {
      if (window.LivekitClient) return resolve(window.LivekitClient);
      const script = document.createElement("script");
      script.src = LK_CLIENT_URL;
      script.onload = () => (window.LivekitClient ? resolve(window.LivekitClient) : reject(new Error("no LivekitClient")));
      script.onerror = () => reject(new Error("livekit-client is not installed on this server (scripts/setup installs it with npm)"));
      document.head.appendChild(script);
    });
    livekitClient.catch(() => {});
  }
  return livekitClient;
}

async function startLiveKit() {
  ui.call.disabled = true;
  demo.state = "connecting";
  demo.sessionId = null;
  setModeButtons();
  ui.title.textContent = "Joining a LiveKit room…";
  ui.sub.textContent = "Allow the microphone when your browser asks.";
  setPill(ui.conn, "busy", "Joining");
  callStartedAt = performance.now();
  let LK;
  try {
    LK = await loadLiveKitClient();
  } catch (err) {
    failCall(`LiveKit mode is unavailable: ${err.message}.`);
    return;
  }
  const language = ui.language.value;
  const [ttsModel, voice] = (ui.voice.value || "").split("::");
  const request = {};
  if (language !== "auto") request.language = language;
  const model = modelFor(language);
  if (model) request.model = model;
  if (ttsModel) request.tts_model = ttsModel;
  if (voice) request.voice = voice;
  const roomName = new URLSearchParams(location.search).get("room");
  if (roomName) request.room = roomName;
  let session;
  try {
    const response = await fetch("/v1/livekit/sessions", {
      method: "POST", body: JSON.stringify(request), headers: { "Content-Type": "application/json" },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
    session = body;
  } catch (err) {
    failCall(`Could not start a LiveKit session: ${err.message}`);
    return;
  }
  if (demo.state !== "connecting") return; // hung up meanwhile
  demo.livekit = { url: session.url, room: session.room, identity: session.identity };
  ui.modeNote.textContent = `room ${session.room} · you are ${session.identity}`;
  LK.setLogLevel("warn"); // livekit-client logs every connection step at info
  const room = new LK.Room({
    adaptiveStream: false,
    dynacast: false,
    // the same microphone processing as the WebRTC mode (livekit-client adds voiceIsolation by default)
    audioCaptureDefaults: {
      echoCancellation: true, noiseSuppression: true, autoGainControl: true, voiceIsolation: false, channelCount: 1,
    },
    // no Opus DTX: it stops sending in what the encoder takes for silence, which clips soft word onsets
    // and stretches pauses, and Theo's VAD and decoder want every frame
    publishDefaults: { dtx: false },
  });
  lkRoom = room;
  window.__theoRoom = room; // for the end-to-end test (getStats on Theo's track)
  room.on(LK.RoomEvent.DataReceived, (payload, participant, kind, topic) => {
    if (topic !== LK_EVENTS) return;
    try {
      onEvent(JSON.parse(new TextDecoder().decode(payload)));
    } catch (err) {
      console.warn("bad theo.events packet", err);
    }
  });
  room.registerTextStreamHandler(LK_TRANSCRIPTION, async (reader, who) => {
    const text = await reader.readAll();
    onTranscription(who.identity, reader.info.attributes || {}, text);
  });
  room.on(LK.RoomEvent.TrackSubscribed, (track, publication, participant) => {
    if (track.kind !== LK.Track.Kind.Audio) return;
    track.attach(ui.audio); // Chrome only runs WebAudio on a remote stream attached to an element
    ui.audio.play().catch(() => {});
    const stream = new MediaStream([track.mediaStreamTrack]);
    meters.push(meter(stream, ui.meterTheo, (rms) => {
      demo.remoteMaxRms = Math.max(demo.remoteMaxRms, rms);
      theoSpeaking(rms);
    }));
  });
  room.on(LK.RoomEvent.ParticipantConnected, (participant) => {
    if (participant.isAgent && demo.state === "connecting") setPill(ui.conn, "busy", "Theo joining");
  });
  room.on(LK.RoomEvent.ParticipantDisconnected, (participant) => {
    if (participant.isAgent && lkRoom === room) endCall("Theo left the room.");
  });
  room.on(LK.RoomEvent.Disconnected, () => {
    if (lkRoom === room) endCall("Disconnected from the LiveKit room.");
  });
  try {
    await room.connect(session.url, session.token);
    if (lkRoom !== room) return;
    demo.livekit.joined_ms = performance.now() - callStartedAt;
    await room.localParticipant.setMicrophoneEnabled(true);
    demo.livekit.mic_ms = performance.now() - callStartedAt;
    const mic = room.localParticipant.getTrackPublication(LK.Track.Source.Microphone);
    if (mic && mic.track) {
      micStream = new MediaStream([mic.track.mediaStreamTrack]);
      meters.push(meter(micStream, ui.meterMic, (rms) => ui.ring.style.setProperty("--level", 1 + Math.min(rms * 4, 0.35))));
    }
  } catch (err) {
    failCall(`Could not join the LiveKit room at ${session.url}: ${err.message}`);
    return;
  }
  ui.call.disabled = false; // hang up is possible while Theo joins
  ui.call.dataset.state = "live";
  setPill(ui.conn, "busy", "Waiting for Theo");
  ui.title.textContent = "Waiting for Theo…";
  ui.sub.textContent = `In room ${session.room}; Theo (agent "${session.agent_name}") is on its way.`;
  theoJoinTimer = setTimeout(() => {
    if (demo.state === "connecting" && lkRoom === room) {
      failCall(`Theo did not join room ${session.room} within ${THEO_JOIN_LIMIT_MS / 1000} s: is \`theo agent\` running against ${session.url}?`);
    }
  }, THEO_JOIN_LIMIT_MS);
}

// lk.transcription: one text stream per partial or final, sent on behalf of the participant who spoke.
const lkLines = new Map(); // segment id -> its line in the transcript
function onTranscription(sender, attributes, text) {
  const segment = attributes["lk.segment_id"] || `${sender}-${lkLines.size}`;
  const final = attributes["lk.transcription_final"] === "true";
  let line = lkLines.get(segment);
  if (line && line.dataset.final === "true") return; // a late partial after its final
  demo.transcripts.push({ sender, segment, final, text, track: attributes["lk.transcribed_track_id"] || "" });
  const mine = demo.livekit && sender === demo.livekit.identity;
  if (!line) {
    line = document.createElement("p");
    line.className = "final lk-line";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = mine ? "You" : sender;
    const body = document.createElement("span");
    body.className = "text";
    line.append(who, body);
    ui.finals.appendChild(line);
    lkLines.set(segment, line);
  }
  line.querySelector(".text").textContent = text;
  line.classList.toggle("lk-partial", !final);
  line.dataset.final = String(final);
  ui.placeholder.hidden = true;
  if (!final) {
    demo.lkPartials += 1;
    if (mine && !firstPartialSeen && speechStartedAt != null) {
      firstPartialSeen = true;
      record("partial", performance.now() - speechStartedAt, ui.latPartial);
    }
  } else {
    if (mine) demo.finals.push(text);
    const meta = document.createElement("span");
    meta.className = "meta";
    if (mine && speechEndedAt != null) {
      const delay = performance.now() - speechEndedAt;
      record("final", delay, ui.latFinal);
      meta.textContent = `final ${Math.round(delay)} ms after you stopped · lk.transcription`;
      speechEndedAt = null;
    } else {
      meta.textContent = "lk.transcription";
    }
    line.appendChild(meta);
    ui.repeat.disabled = demo.state !== "live" || demo.finals.length === 0;
  }
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

// --- mode: WebRTC direct or LiveKit room ---------------------------------------------------------------------

function setMode(mode) {
  if (demo.state !== "idle" || mode === demo.mode) return;
  demo.mode = mode;
  setModeButtons();
  const url = new URL(location.href);
  if (mode === "livekit") url.searchParams.set("mode", "livekit");
  else url.searchParams.delete("mode");
  history.replaceState(null, "", url);
  if (mode === "livekit") {
    ui.latConnectNote.textContent = "join to Theo listening";
    ui.modeNote.textContent = "Theo joins the room as an agent";
    ui.sub.textContent = "Joins a LiveKit room; your browser will ask for the microphone.";
    loadLiveKitClient().catch((err) => {
      ui.modeNote.textContent = "unavailable on this server";
      ui.modeLivekit.title = `LiveKit mode is unavailable: ${err.message}`;
      toast(`LiveKit mode is unavailable: ${err.message}.`);
    });
  } else {
    ui.latConnectNote.textContent = "offer to audio flowing";
    ui.modeNote.textContent = "";
    ui.sub.textContent = "Your browser will ask for the microphone.";
  }
}

function setModeButtons() {
  const idle = demo.state === "idle";
  for (const [button, mode] of [[ui.modeWebrtc, "webrtc"], [ui.modeLivekit, "livekit"]]) {
    button.setAttribute("aria-selected", String(demo.mode === mode));
    button.disabled = !idle && demo.mode !== mode;
  }
}

ui.modeWebrtc.addEventListener("click", () => setMode("webrtc"));
ui.modeLivekit.addEventListener("click", () => setMode("livekit"));

// --- events from Theo --------------------------------------------------------------------------------------

function onEvent(event) {
  // In a LiveKit room every participant's session publishes on theo.events: errors about someone else
  // (they name the participant) and other sessions' events are not ours.
  if (event.participant_identity && demo.livekit && event.participant_identity !== demo.livekit.identity) return;
  const lk = demo.mode === "livekit";
  if (lk && demo.sessionId && event.session_id && event.session_id !== demo.sessionId) return;
  demo.events.push(event.type);
  switch (event.type) {
    case "session.created":
    case "session.configured":
      demo.sessionId = event.session_id;
      demo.config = event.config;
      describeModel();
      if (lk && demo.state === "connecting") {
        demo.livekit.theo_ms = performance.now() - callStartedAt;
        record("connect", demo.livekit.theo_ms, ui.latConnect);
        setPill(ui.conn, "on", "Theo in the room");
        onChannelOpen();
      }
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
      if (lk) break; // shown from the lk.transcription text streams
      if (!firstPartialSeen && speechStartedAt != null) {
        firstPartialSeen = true;
        record("partial", performance.now() - speechStartedAt, ui.latPartial);
      }
      showPartial(event.text, event.unconfirmed);
      break;
    case "transcript.final":
      if (!lk) addFinal(event);
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
      toast(`Theo: ${event.message || event.code}${event.code ? ` (${event.code})` : ""}`);
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
if (query.get("mode") === "livekit") setMode("livekit");
loadModels();
loadVoices();
