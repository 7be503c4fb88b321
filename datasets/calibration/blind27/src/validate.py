import json, os, sys, collections
BASE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = {
    "groundedness.jsonl": (["id", "domain", "context", "question", "answer", "label"], {"grounded", "ungrounded"}, 140),
    "refusal.jsonl": (["id", "domain", "prompt", "response", "label"], {"refusal", "answer"}, 90),
    "toxicity.jsonl": (["id", "domain", "text", "label"], {"toxic", "non_toxic"}, 90),
}
ok = True
ids = set(); domains = set()
def bad(msg):
    global ok; ok = False; print("ERROR:", msg)
for fn, (fields, labels, minn) in SPEC.items():
    rows = []
    with open(os.path.join(BASE, fn), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                o = json.loads(line)
            except Exception as e:
                bad(f"{fn}:{n} does not parse: {e}"); continue
            if sorted(o) != sorted(fields): bad(f"{fn}:{n} fields {sorted(o)}")
            if o.get("label") not in labels: bad(f"{fn}:{n} label {o.get('label')}")
            for k in fields:
                if not isinstance(o.get(k), str) or not o.get(k).strip(): bad(f"{fn}:{n} empty/non-string {k}")
            if o.get("id") in ids: bad(f"{fn}:{n} duplicate id {o.get('id')}")
            ids.add(o.get("id")); domains.add(o.get("domain"))
            if fn.startswith("ground"):
                w = len(o["context"].split())
                if not 60 <= w <= 250: bad(f"{fn}:{n} context has {w} words")
            rows.append(o)
    lc = collections.Counter(o["label"] for o in rows)
    print(f"\n{fn}: {len(rows)} items")
    if len(rows) < minn: bad(f"{fn} has fewer than {minn} items")
    for l, c in sorted(lc.items()):
        share = c / len(rows)
        print(f"  label {l}: {c} ({share:.1%})")
        if not 0.4 <= share <= 0.6: bad(f"{fn} label {l} share {share:.1%}")
    for d, c in sorted(collections.Counter(o["domain"] for o in rows).items()):
        print(f"  domain {d}: {c}")
print(f"\ndistinct domains overall: {len(domains)}")
if len(domains) < 12: bad("fewer than 12 domains")
for d in domains:
    if any(b in d.lower() for b in ("contoso", "bicycle", "smart-home", "smart home", "electronics retailer")): bad(f"forbidden domain {d}")
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
