import json, sys
from collections import Counter
BASE = "/work/blind28/"
errs = []

def check_msgs(rid, msgs, last_role):
    if not msgs or msgs[0].get("role") != "user":
        errs.append(f"{rid}: must start with user")
    prev = None      # last user/assistant role
    pending = []     # tool names still expected
    n_ua = 0
    for i, m in enumerate(msgs):
        role = m.get("role")
        if role not in ("user", "assistant", "tool"):
            errs.append(f"{rid}: bad role {role} at {i}")
            continue
        if not isinstance(m.get("content"), str):
            errs.append(f"{rid}: content not str at {i}")
        if role == "tool":
            if not pending:
                errs.append(f"{rid}: tool message without pending call at {i}")
            else:
                exp = pending.pop(0)
                if m.get("name") != exp:
                    errs.append(f"{rid}: tool name {m.get('name')} != {exp} at {i}")
            try:
                json.loads(m["content"])
            except Exception:
                errs.append(f"{rid}: tool content not JSON at {i}")
            continue
        if pending:
            errs.append(f"{rid}: missing tool messages before {i}")
            pending = []
        if prev == role:
            errs.append(f"{rid}: roles do not alternate at {i}")
        prev = role
        n_ua += 1
        if role == "assistant" and "tool_calls" in m:
            tc = m["tool_calls"]
            if not tc or any(set(c) != {"name", "arguments"} or not isinstance(c["arguments"], dict) for c in tc):
                errs.append(f"{rid}: bad tool_calls at {i}")
            pending = [c["name"] for c in tc]
        if role == "user" and "tool_calls" in m:
            errs.append(f"{rid}: user with tool_calls")
    if pending:
        errs.append(f"{rid}: trailing tool calls without results")
    if prev != last_role:
        errs.append(f"{rid}: last user/assistant message is {prev}, want {last_role}")
    if msgs and msgs[-1]["role"] == "tool" and last_role == "user":
        errs.append(f"{rid}: ends with tool")
    return n_ua

def check_calls(rid, calls):
    for c in calls:
        if set(c) != {"name", "arguments"}:
            errs.append(f"{rid}: bad expected call {c}")

# Part A
A = [json.loads(l) for l in open(BASE + "heldout_conversations.jsonl")]
keysA = {"id", "messages", "reference", "expected_tool_calls", "expect_refusal", "split", "tags"}
kinds, turns = Counter(), Counter()
for i, r in enumerate(A, 1):
    rid = r.get("id")
    if set(r) != keysA: errs.append(f"{rid}: keys {set(r) ^ keysA}")
    if rid != "ho-%03d" % i: errs.append(f"{rid}: id order")
    n = check_msgs(rid, r["messages"], "user")
    if r["tags"]["turns"] != n + 1: errs.append(f"{rid}: turns tag {r['tags']['turns']} != {n+1}")
    if r["tags"]["turns"] not in (2, 4, 6): errs.append(f"{rid}: turns not 2/4/6")
    if r["split"] != "test": errs.append(f"{rid}: split")
    if r["expect_refusal"] != (r["tags"]["kind"] == "refuse"): errs.append(f"{rid}: refusal/kind mismatch")
    if r["expect_refusal"] and r["reference"] != "": errs.append(f"{rid}: refusal ref not empty")
    if not r["expect_refusal"] and not r["reference"]: errs.append(f"{rid}: empty ref")
    check_calls(rid, r["expected_tool_calls"])
    kinds[r["tags"]["kind"]] += 1; turns[r["tags"]["turns"]] += 1
print("Part A rows:", len(A), "kinds:", dict(kinds), "turns:", dict(sorted(turns.items())))

# Part B
Bs = [json.loads(l) for l in open(BASE + "labelled_transcripts.jsonl")]
keysB = {"id", "domain", "messages", "reference", "expected_tool_calls", "expect_refusal", "labels", "notes"}
g = Counter(); rr = Counter(); tt = Counter(); uu = Counter(); dom = Counter(); ref = Counter()
for i, r in enumerate(Bs, 1):
    rid = r.get("id")
    if set(r) != keysB: errs.append(f"{rid}: keys {set(r) ^ keysB}")
    if rid != "lt-%03d" % i: errs.append(f"{rid}: id order")
    n = check_msgs(rid, r["messages"], "assistant")
    # the final assistant turn may be followed only by its own tool-result messages
    tail = r["messages"]
    k = len(tail) - 1
    while k >= 0 and tail[k]["role"] == "tool": k -= 1
    if tail[k]["role"] != "assistant": errs.append(f"{rid}: does not end with assistant turn")
    if k < len(tail) - 1 and len(tail[k].get("tool_calls", [])) != len(tail) - 1 - k: errs.append(f"{rid}: trailing tool messages mismatch")
    if not 2 <= n <= 8: errs.append(f"{rid}: {n} user/assistant messages")
    L = r["labels"]
    if set(L) != {"goal_completed", "retention_ok", "tool_calls_correct", "unnecessary_calls"}: errs.append(f"{rid}: label keys")
    if L["goal_completed"] not in (0, 1): errs.append(f"{rid}: goal")
    if L["retention_ok"] not in (0, 1, None): errs.append(f"{rid}: retention")
    if L["tool_calls_correct"] not in (0, 1, None): errs.append(f"{rid}: tools")
    if (L["tool_calls_correct"] is None) != (r["expected_tool_calls"] == []): errs.append(f"{rid}: tools null iff no expected calls")
    if not isinstance(L["unnecessary_calls"], int) or L["unnecessary_calls"] < 0: errs.append(f"{rid}: unnecessary")
    final_calls = len(r["messages"][-1].get("tool_calls", [])) if r["messages"][-1]["role"] == "assistant" else 0
    # tool messages may follow the final assistant message; find the last assistant message
    last_a = [m for m in r["messages"] if m["role"] == "assistant"][-1]
    if L["unnecessary_calls"] > len(last_a.get("tool_calls", [])): errs.append(f"{rid}: more unnecessary than calls")
    if n == 2 and L["retention_ok"] is not None: errs.append(f"{rid}: single turn but retention not null")
    if r["expect_refusal"] and r["reference"] != "": errs.append(f"{rid}: refusal ref not empty")
    if not r["expect_refusal"] and not r["reference"]: errs.append(f"{rid}: empty ref")
    if not r["notes"]: errs.append(f"{rid}: notes")
    check_calls(rid, r["expected_tool_calls"])
    g[L["goal_completed"]] += 1; rr[L["retention_ok"]] += 1; tt[L["tool_calls_correct"]] += 1
    uu[L["unnecessary_calls"]] += 1; dom[r["domain"]] += 1; ref[r["expect_refusal"]] += 1
print("Part B rows:", len(Bs))
print("  domains:", dict(dom))
print("  goal_completed:", dict(g))
print("  retention_ok:", {str(k): v for k, v in rr.items()}, "non-null:", rr[0] + rr[1])
print("  tool_calls_correct:", {str(k): v for k, v in tt.items()}, "non-null:", tt[0] + tt[1])
print("  unnecessary_calls:", dict(sorted(uu.items())), "rows >0:", sum(v for k, v in uu.items() if k > 0))
print("  expect_refusal:", dict(ref))
if errs:
    print("ERRORS:"); [print(" ", e) for e in errs]; sys.exit(1)
print("OK")
