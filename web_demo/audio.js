// Audio levels (WebAudio): the microphone and Theo's voice, metered; Theo's first audible audio timed.

import { demo, record, setPill, timing, ui } from "./ui.js";

let audioContext = null;

export function meter(stream, bar, onLevel) {
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

export function meterMic(stream) {
  return meter(stream, ui.meterMic, (rms) => ui.ring.style.setProperty("--level", 1 + Math.min(rms * 4, 0.35)));
}

export function meterTheo(stream) {
  return meter(stream, ui.meterTheo, (rms) => {
    demo.remoteMaxRms = Math.max(demo.remoteMaxRms, rms);
    theoSpeaking(rms);
  });
}

let quietSince = 0;
function theoSpeaking(rms) {
  const now = performance.now();
  if (rms > 0.01) {
    if (timing.ttsRequestedAt != null) {
      record("tts", now - timing.ttsRequestedAt, ui.latTts);
      timing.ttsRequestedAt = null;
    }
    quietSince = now;
    setPill(ui.theo, "on", "Theo speaking");
  } else if (now - quietSince > 400 && ui.theo.dataset.state === "on") {
    setPill(ui.theo, "off", "Theo quiet");
  }
}
