import json, sys
sys.path.insert(0, "/work/blind28/src")
import part_b_retail, part_b_other
from rowb import rows
with open("/work/blind28/labelled_transcripts.jsonl", "w") as f:
    for i, r in enumerate(rows, 1):
        out = {"id": "lt-%03d" % i}
        out.update(r)
        f.write(json.dumps(out, ensure_ascii=False) + "\n")
print(len(rows))
