// LiveKit room: POST /v1/livekit/sessions creates a room and sends `theo agent` into it; the page joins with
// livekit-client (served by Theo at /vendor/livekit-client.umd.js), publishes the microphone, reads
// transcripts from "lk.transcription" text streams and Theo's events from data packets on "theo.events",
// and plays Theo's audio track.

import { meterMic, meterTheo } from "./audio.js";
import { endCall, failCall, onEvent } from "./session.js";
import { addLine, meta } from "./transcript.js";
import { LK_EVENTS, conn, demo, record, setModeButtons, setPill, timing, ui } from "./ui.js";
import { modelFor } from "./voices.js";

const LK_TRANSCRIPTION = "lk.transcription";
const LK_CLIENT_URL = "/vendor/livekit-client.umd.js";
const THEO_JOIN_LIMIT_MS = 20000;
let livekitClient = null; // the loaded SDK, or a rejected promise when it is not installed

export function loadLiveKitClient() {
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

export async function startLiveKit() {
  ui.call.disabled = true;
  demo.state = "connecting";
  demo.sessionId = null;
  setModeButtons();
  ui.title.textContent = "Joining a LiveKit room…";
  ui.sub.textContent = "Allow the microphone when your browser asks.";
  setPill(ui.conn, "busy", "Joining");
  conn.callStartedAt = performance.now();
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
  conn.lkRoom = room;
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
    conn.meters.push(meterTheo(new MediaStream([track.mediaStreamTrack])));
  });
  room.on(LK.RoomEvent.ParticipantConnected, (participant) => {
    if (participant.isAgent && demo.state === "connecting") setPill(ui.conn, "busy", "Theo joining");
  });
  room.on(LK.RoomEvent.ParticipantDisconnected, (participant) => {
    if (participant.isAgent && conn.lkRoom === room) endCall("Theo left the room.");
  });
  room.on(LK.RoomEvent.Disconnected, () => {
    if (conn.lkRoom === room) endCall("Disconnected from the LiveKit room.");
  });
  try {
    await room.connect(session.url, session.token);
    if (conn.lkRoom !== room) return;
    demo.livekit.joined_ms = performance.now() - conn.callStartedAt;
    await room.localParticipant.setMicrophoneEnabled(true);
    demo.livekit.mic_ms = performance.now() - conn.callStartedAt;
    const mic = room.localParticipant.getTrackPublication(LK.Track.Source.Microphone);
    if (mic && mic.track) {
      conn.micStream = new MediaStream([mic.track.mediaStreamTrack]);
      conn.meters.push(meterMic(conn.micStream));
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
  conn.theoJoinTimer = setTimeout(() => {
    if (demo.state === "connecting" && conn.lkRoom === room) {
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
    addLine(line);
    lkLines.set(segment, line);
  }
  line.querySelector(".text").textContent = text;
  line.classList.toggle("lk-partial", !final);
  line.dataset.final = String(final);
  ui.placeholder.hidden = true;
  if (!final) {
    demo.lkPartials += 1;
    if (mine && !timing.firstPartialSeen && timing.speechStartedAt != null) {
      timing.firstPartialSeen = true;
      record("partial", performance.now() - timing.speechStartedAt, ui.latPartial);
    }
  } else {
    if (mine) demo.finals.push(text);
    let note = "lk.transcription";
    if (mine && timing.speechEndedAt != null) {
      const delay = performance.now() - timing.speechEndedAt;
      record("final", delay, ui.latFinal);
      note = `final ${Math.round(delay)} ms after you stopped · lk.transcription`;
      timing.speechEndedAt = null;
    }
    line.appendChild(meta(note));
    ui.repeat.disabled = demo.state !== "live" || demo.finals.length === 0;
  }
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}
