// WebRTC · direct: one WebRTC call to the server (POST /v1/realtime/calls), events on the "oai-events" data
// channel (Theo's realtime protocol, the same JSON as WS /v1/realtime), Theo's voice on the audio track.

import { meterMic, meterTheo } from "./audio.js";
import { clientSecret } from "./auth.js";
import { endCall, failCall, onChannelOpen, onEvent } from "./session.js";
import { conn, demo, record, setPill, ui } from "./ui.js";
import { modelFor } from "./voices.js";

export async function startWebRTC() {
  ui.call.disabled = true;
  demo.state = "connecting";
  ui.title.textContent = "Connecting…";
  ui.sub.textContent = "Allow the microphone when your browser asks.";
  setPill(ui.conn, "busy", "Connecting");
  const started = performance.now();
  try {
    conn.micStream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
  } catch (err) {
    failCall(`The microphone is not available (${err.name}). Allow it in the address bar and try again.`);
    return;
  }
  const pc = (conn.pc = new RTCPeerConnection({ iceServers: [] }));
  conn.micStream.getTracks().forEach((track) => pc.addTrack(track, conn.micStream));
  pc.ontrack = (event) => {
    const stream = event.streams[0] || new MediaStream([event.track]);
    ui.audio.srcObject = stream; // Chrome only runs WebAudio on a remote stream attached to an element
    ui.audio.play().catch(() => {});
    conn.meters.push(meterTheo(stream));
  };
  pc.onconnectionstatechange = () => {
    if (conn.pc !== pc) return; // an earlier call, closing
    const state = pc.connectionState;
    if (state === "connected") {
      record("connect", performance.now() - started, ui.latConnect);
      setPill(ui.conn, "on", "Connected");
    } else if (state === "failed" || state === "disconnected") {
      setPill(ui.conn, "bad", state === "failed" ? "Connection failed" : "Reconnecting…");
      if (state === "failed") endCall("The connection to Theo failed.");
    }
  };
  const channel = (conn.channel = pc.createDataChannel("oai-events"));
  channel.onopen = () => onChannelOpen();
  channel.onmessage = (message) => {
    try {
      onEvent(JSON.parse(message.data));
    } catch (err) {
      console.error("bad event", message.data, err);
    }
  };
  channel.onclose = () => { if (demo.state === "live" && conn.channel === channel) endCall("Theo ended the session."); };
  conn.meters.push(meterMic(conn.micStream));

  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringDone(pc, 2000); // send our candidates in the offer: one round trip, no trickle
    const params = new URLSearchParams();
    const language = ui.language.value;
    if (language !== "auto") params.set("language", language);
    const model = modelFor(language);
    if (model) params.set("model", model);
    const headers = { "Content-Type": "application/sdp" };
    const secret = await clientSecret();
    if (secret) headers.Authorization = `Bearer ${secret}`;
    const response = await fetch(`/v1/realtime/calls?${params}`, {
      method: "POST", body: pc.localDescription.sdp, headers,
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
