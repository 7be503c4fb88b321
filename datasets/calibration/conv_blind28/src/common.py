import json
D = "/work/main/datasets/contoso/"
C = {c["customer_id"]: c for c in json.load(open(D + "customers.json"))}
O = {o["order_id"]: o for o in json.load(open(D + "orders.json"))}

def U(t):
    return [{"role": "user", "content": t}]

def A(t, *calls):
    m = {"role": "assistant", "content": t}
    out = [m]
    if calls:
        m["tool_calls"] = [{"name": n, "arguments": a} for n, a, r in calls]
        for n, a, r in calls:
            out.append({"role": "tool", "name": n, "content": json.dumps(r)})
    return out

def cl(cid):
    return ("customer_lookup", {"customer_id": cid}, C.get(cid.upper(), {"error": "customer not found"}))

def os_(oid):
    return ("order_status", {"order_id": oid}, O.get(oid.upper(), {"error": "order not found"}))

def ps(q, src, text):
    return ("product_search", {"query": q}, {"results": [{"source": src, "text": text}]})

def T(name, args, result):
    return (name, args, result)

def call(t):
    return {"name": t[0], "arguments": t[1]}

def conv(*parts):
    out = []
    for p in parts:
        out.extend(p)
    return out
