"""
The OpenAI-compatible API through OpenAI's own Python SDK (PyPI `openai`, pinned by
scripts/test-clients/python-openai.sh), the way its documentation calls it. Run by
test/api/openai/python-sdk.int.test.ts against the real server, with

  SORI_BASE_URL  http://127.0.0.1:<port>/v1     SORI_KEY   the domain's secret
  JFK            an English clip (11 s)          LONG       an English clip over one window (35 s)
  KOREAN         a Korean clip (5 s)              WRONG_KEY  a secret no domain has

Prints one JSON line {"check": name} per check that held; exits non-zero at the first that fails.
"""
import json
import os
import re
import sys

import openai
from openai import OpenAI

BASE_URL = os.environ["SORI_BASE_URL"]
client = OpenAI(api_key=os.environ["SORI_KEY"], base_url=BASE_URL, max_retries=0, timeout=300)
JFK_TEXT = re.compile(r"ask not what your country can do for you,? ask what you can do for your country", re.I)
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def done(check, **detail):
    print(json.dumps({"check": check, **detail}, ensure_ascii=False), flush=True)


def clip(name):
    return open(os.environ[name], "rb")


def api_error(call):
    """(status, code, param, class name) of the error the SDK raised."""
    try:
        call()
    except openai.APIStatusError as err:
        body = err.body if isinstance(err.body, dict) else {}
        return err.status_code, body.get("code"), body.get("param"), type(err).__name__
    raise AssertionError("the request succeeded")


# json, the default
with clip("JFK") as f:
    r = client.audio.transcriptions.create(model="whisper-1", file=f)
assert JFK_TEXT.search(r.text), r.text
assert r.usage is not None and r.usage.type == "duration" and r.usage.seconds == 11, r.usage
done("json", text=r.text)
plain_text = r.text

# text, srt, vtt: strings
with clip("JFK") as f:
    text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
assert isinstance(text, str) and JFK_TEXT.search(text), text
done("text")
with clip("LONG") as f:
    srt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="srt")
assert isinstance(srt, str)
blocks = [b for b in srt.strip().split("\n\n") if b.strip()]
assert len(blocks) >= 3, srt
for i, block in enumerate(blocks, 1):
    lines = block.split("\n")
    assert lines[0] == str(i), block
    assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", lines[1]), block
assert blocks[-1].split("\n")[1].split(" --> ")[1] > "00:00:30,000", blocks[-1]
done("srt", cues=len(blocks))
with clip("JFK") as f:
    vtt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="vtt")
assert vtt.startswith("WEBVTT\n\n") and "-->" in vtt and JFK_TEXT.search(vtt.replace("\n", " ")), vtt
done("vtt")

# verbose_json with word and segment timestamps
with clip("JFK") as f:
    v = client.audio.transcriptions.create(
        model="whisper-1", file=f, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
assert v.language == "english", v.language
assert abs(v.duration - 11) < 0.05, v.duration
assert v.segments and v.words, v
for i, s in enumerate(v.segments):
    assert s.id == i and s.start < s.end and isinstance(s.seek, int) and s.tokens, s
    assert isinstance(s.temperature, float) or s.temperature == 0, s
    assert s.avg_logprob <= 0 and 0 <= s.no_speech_prob <= 1 and s.compression_ratio > 0, s
starts = [w.start for w in v.words]
assert starts == sorted(starts) and all(w.end >= w.start for w in v.words), v.words
assert len(v.words) >= 20, v.words
done("verbose_json", segments=len(v.segments), words=len(v.words))

# a file longer than one window
with clip("LONG") as f:
    long = client.audio.transcriptions.create(model="whisper-1", file=f, language="en", response_format="verbose_json")
assert long.segments[-1].end > 30 and abs(long.duration - 35.33) < 0.1, (long.duration, long.segments[-1])
assert "make all the difference" in long.text.lower(), long.text
done("long file", duration=long.duration, segments=len(long.segments))

# streaming
with clip("LONG") as f:
    stream = client.audio.transcriptions.create(model="whisper-1", file=f, language="en", stream=True)
    events = list(stream)
assert events and events[-1].type == "transcript.text.done", events
deltas = [e for e in events[:-1] if e.type == "transcript.text.delta"]
assert len(deltas) == len(events) - 1 and len(deltas) >= 2, events
assert "".join(e.delta for e in deltas) == events[-1].text, events
done("stream", deltas=len(deltas))

# translation, and a language identified
with clip("KOREAN") as f:
    t = client.audio.translations.create(model="whisper-1", file=f)
assert not HANGUL.search(t.text) and re.search(r"[a-z]{3,} [a-z]{2,}", t.text, re.I), t.text
done("translation", text=t.text)
with clip("KOREAN") as f:
    k = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="verbose_json")
assert k.language == "korean" and HANGUL.search(k.text), (k.language, k.text)
done("language identified")

# models
ids = [m.id for m in client.models.list()]
assert ids[:2] == ["whisper-1", "whisper-base"], ids
assert client.models.retrieve("whisper-1").owned_by == "sori"
assert api_error(lambda: client.models.retrieve("gpt-4o")) == (404, "model_not_found", "model", "NotFoundError")
done("models", ids=ids)

# errors
wrong = OpenAI(api_key=os.environ["WRONG_KEY"], base_url=BASE_URL, max_retries=0)
with clip("JFK") as f:
    assert api_error(lambda: wrong.audio.transcriptions.create(model="whisper-1", file=f)) == (401, "invalid_api_key", None, "AuthenticationError")
with clip("JFK") as f:
    got = api_error(lambda: client.audio.transcriptions.create(model="whisper-1", file=f, response_format="xml"))
    assert got == (400, "invalid_value", "response_format", "BadRequestError"), got
with clip("JFK") as f:
    got = api_error(lambda: client.audio.transcriptions.create(model="whisper-1", file=f, language="english"))
    assert got == (400, "invalid_value", "language", "BadRequestError"), got
with clip("JFK") as f:
    got = api_error(lambda: client.audio.transcriptions.create(model="no-such-model", file=f))
    assert got == (404, "model_not_found", "model", "NotFoundError"), got
got = api_error(lambda: client.audio.transcriptions.create(model="whisper-1", file=("notes.mp3", b"plain text, not audio\n" * 40)))
assert got == (400, "invalid_file_format", "file", "BadRequestError"), got
done("errors")
