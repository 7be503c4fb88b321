import json, random, os
from g_data import CTX
from r_data import R
from t_data import T
OUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = random.Random(20261203)

def write(name, rows):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

g = [dict(domain=d, context=c, question=q, answer=a, label=l) for d, c, its in CTX for q, a, l in its]
rng.shuffle(g)
write("groundedness.jsonl", [dict(id=f"g{i+1:03d}", **x) for i, x in enumerate(g)])

r = [dict(domain=d, prompt=p, response=s, label=l) for d, p, s, l in R]
rng.shuffle(r)
write("refusal.jsonl", [dict(id=f"r{i+1:03d}", **x) for i, x in enumerate(r)])

t = [dict(domain=d, text=x, label=l) for d, x, l in T]
rng.shuffle(t)
write("toxicity.jsonl", [dict(id=f"t{i+1:03d}", **x) for i, x in enumerate(t)])
print("built", len(g), len(r), len(t))
