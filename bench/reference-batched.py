"""faster-whisper's batched pipeline (BatchedInferencePipeline: its own Silero VAD cuts the file
into chunks of up to 30 s, decoded `--batch` at a time) on one long file, the comparison issue 21
asks for long-form. Prints one JSON line: audio_s, proc_s (file decoding and VAD included, model
load not), rtf, text, peak_rss_mb (this process, model load included).
usage: python reference-batched.py FILE MODEL_DIR --lang ko [--beam 5] [--batch 8] [--threads 2]"""
import argparse, json, resource, time
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

ap = argparse.ArgumentParser()
ap.add_argument("file"); ap.add_argument("model"); ap.add_argument("--lang", required=True)
ap.add_argument("--beam", type=int, default=5); ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
model = WhisperModel(a.model, device="cpu", compute_type="int8", cpu_threads=a.threads)
pipeline = BatchedInferencePipeline(model=model)
t0 = time.perf_counter()
audio = decode_audio(a.file)
segments, info = pipeline.transcribe(audio, language=a.lang, beam_size=a.beam, batch_size=a.batch)
text = " ".join(s.text.strip() for s in segments)
proc = time.perf_counter() - t0
print(json.dumps({"audio_s": info.duration, "proc_s": proc, "rtf": proc / info.duration, "text": text,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, ensure_ascii=False))
