import ort from 'onnxruntime-node';
const s = await ort.InferenceSession.create('/work/shared/models/whisper-base/onnx/encoder_model_quantized.onnx', { intraOpNumThreads: 2 });
for (const n of [3000, 1000]) {
  try { const t = performance.now(); const o = await s.run({ input_features: new ort.Tensor('float32', new Float32Array(80 * n), [1, 80, n]) }); console.log(n, o.last_hidden_state.dims, performance.now() - t); }
  catch (e) { console.log(n, String(e).slice(0, 300)); }
}
