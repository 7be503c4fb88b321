import sys
sys.path.insert(0, "/work/blind28/src")
from common import *
rows = []
def B(domain, msgs, ref, exp, labels, notes, refusal=False):
    g, r, t, u = labels
    rows.append({"domain": domain, "messages": msgs, "reference": ref,
                 "expected_tool_calls": [call(c) for c in exp], "expect_refusal": refusal,
                 "labels": {"goal_completed": g, "retention_ok": r, "tool_calls_correct": t, "unnecessary_calls": u},
                 "notes": notes})
