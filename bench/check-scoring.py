"""Re-scores .bench/eval-latest.json's hypotheses with reference.py's own normalisation,
distance and better-of-two rule (copied verbatim from ../shared/bench/reference.py, which cannot
be imported: it loads a model at import), and checks that bench/lib/score.ts gave the same
(errors, length) per clip and per language.
usage: ~/.cache/sori-reference/venv/bin/python bench/check-scoring.py [.bench/eval-latest.json] [MANIFEST]"""
import json, os, re, sys, unicodedata
import opencc

here = os.path.dirname(os.path.abspath(__file__))
ev_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", ".bench", "eval-latest.json")
testdata = os.environ.get("SORI_TESTDATA_DIR", os.path.join(here, "..", "..", "shared", "testdata"))
manifest = sys.argv[2] if len(sys.argv) > 2 else os.path.join(testdata, "manifest.jsonl")
to_simplified = opencc.OpenCC("t2s")

def norm(lang, t):
    t = unicodedata.normalize("NFKC", t or "")
    t = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in t)
    return t.lower().split() if lang == "en" else list(re.sub(r"\s+", "", t))

def dist(x, y):
    prev = list(range(len(y) + 1))
    for i in range(1, len(x) + 1):
        cur = [i] + [0] * len(y)
        for j in range(1, len(y) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] != y[j - 1]))
        prev = cur
    return prev[-1]

entries = {}
for line in open(manifest):
    if line.strip():
        r = json.loads(line); entries[r["file"]] = r
ev = json.load(open(ev_path))
per, bad = {}, 0
for c in ev["perClip"]:
    r = entries[c["file"]]; hyp = c["text"]
    if r["lang"] == "zh":
        hyp = to_simplified.convert(hyp)
    best = None
    for ref in [x for x in (r["reference"], r.get("reference_spelled")) if x]:
        rr = norm(r["lang"], ref); e = (dist(rr, norm(r["lang"], hyp)), len(rr))
        best = e if best is None or e[0] / e[1] < best[0] / best[1] else best
    if best != (c["errors"], c["length"]):
        bad += 1; print(f"DIFF {c['file']}: python {best}, score.ts {(c['errors'], c['length'])}")
    p = per.setdefault(r["lang"], [0, 0]); p[0] += best[0]; p[1] += best[1]
ts = {l["lang"]: [l["errors"], l["length"]] for l in ev["languages"]}
if per != ts:
    bad += 1; print(f"DIFF totals: python {per}, score.ts {ts}")
print(f"{len(ev['perClip'])} clips, languages {sorted(per)}: " + ("scoring identical to reference.py" if bad == 0 else f"{bad} differences"))
sys.exit(1 if bad else 0)
