// The microphone as 16 kHz mono 16-bit PCM: what the streaming API and the short API take.

export const SAMPLE_RATE = 16000;

/**
 * Starts capturing; `onChunk` gets ~100 ms of PCM at a time. The browser resamples the
 * microphone to the context's 16 kHz; an AudioWorklet (a file served by Sori: no inline code
 * under the CSP) taps the samples off the audio thread.
 * @param {(pcm: Int16Array) => void} onChunk
 * @returns {Promise<{ stop: () => Promise<void> }>}
 */
export async function startMicrophone(onChunk) {
  // Raw voice: Whisper copes with noise, and the browser's processing smears word onsets.
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const ctx = new AudioContext({ sampleRate: SAMPLE_RATE });
  await ctx.audioWorklet.addModule('/js/pcm-worklet.js');
  const source = ctx.createMediaStreamSource(stream);
  const tap = new AudioWorkletNode(ctx, 'pcm-tap');
  const chunk = new Int16Array(SAMPLE_RATE / 10);
  let filled = 0;
  tap.port.onmessage = (/** @type {MessageEvent<Float32Array>} */ e) => {
    for (const x of e.data) {
      chunk[filled++] = Math.max(-32768, Math.min(32767, Math.round(x * 32767)));
      if (filled === chunk.length) {
        onChunk(chunk.slice());
        filled = 0;
      }
    }
  };
  source.connect(tap);
  // Pulled by the destination so it runs; its output is silence.
  tap.connect(ctx.destination);
  return {
    async stop() {
      for (const t of stream.getTracks()) t.stop();
      if (filled > 0) onChunk(chunk.slice(0, filled));
      filled = 0;
      tap.port.onmessage = null;
      await ctx.close();
    },
  };
}
