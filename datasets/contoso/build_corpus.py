"""Writes the Contoso Outdoor corpus (manuals/*.md), its question set (qa.jsonl) and a harder question set
(hard.jsonl: paraphrased, multi-hop, comparison, unanswerable and near-duplicate questions) from the product
tables below. Every fact is invented, so a model cannot know it without retrieval or fine-tuning.
Deterministic: re-running rewrites byte-identical files.

    python datasets/contoso/build_corpus.py
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "manuals"

TENTS = [  # name, people, kg, packed cm, fly, hh mm, poles, seasons, price, warranty yrs
    ("TrailLite 2", 2, 1.62, "46 x 15", "20D silnylon", 3000, "DAC aluminium", 3, 289, 10),
    ("Basecamp 6", 6, 8.4, "70 x 30", "150D polyester", 4000, "steel and fibreglass", 3, 449, 5),
    ("Ridgeline 3", 3, 2.35, "52 x 18", "30D ripstop nylon", 3500, "DAC aluminium", 3, 379, 10),
    ("Aurora 1", 1, 0.98, "40 x 12", "15D silnylon", 2500, "carbon fibre", 3, 349, 5),
    ("Nomad 4", 4, 4.1, "60 x 22", "68D polyester", 3000, "aluminium 7001", 3, 399, 5),
    ("Cirrus 2 UL", 2, 0.89, "38 x 11", "10D Dyneema composite", 10000, "trekking poles (not included)", 3, 699, 3),
    ("Tundra 2 4S", 2, 3.2, "55 x 20", "40D siliconised nylon", 5000, "DAC aluminium", 4, 629, 10),
    ("Meadow 5", 5, 6.7, "66 x 26", "75D polyester", 2000, "fibreglass", 2, 259, 2),
]
PACKS = [  # name, litres, kg, torso cm, fabric, rain cover, hipbelt pockets, price, warranty
    ("Summit 45", 45, 1.2, "41-51", "210D ripstop nylon", True, 2, 199, 25),
    ("Summit 65", 65, 1.75, "43-56", "210D ripstop nylon", True, 2, 259, 25),
    ("Daytrip 22", 22, 0.62, "38-48", "100D recycled polyester", False, 0, 89, 5),
    ("Voyager 80", 80, 2.3, "45-58", "420D nylon", True, 2, 319, 25),
    ("Swift 30", 30, 0.78, "40-50", "Robic 100D nylon", False, 1, 139, 5),
    ("Alpine 38", 38, 1.05, "42-52", "Dyneema-reinforced nylon", False, 0, 229, 10),
    ("Urban Trek 18", 18, 0.55, "one size", "600D polyester", False, 0, 69, 2),
]
STOVES = [  # name, fuel, boil min (1 L), grams, watts, piezo, price
    ("Blaze", "isobutane-propane canister", 3.5, 85, 2600, True, 59),
    ("Blaze Max", "isobutane-propane canister", 2.8, 190, 3500, True, 89),
    ("Ember Twig", "wood and twigs", 6.0, 410, 0, False, 74),
    ("Polar Liquid", "white gas or kerosene", 3.9, 345, 2800, False, 149),
    ("Jetline", "isobutane-propane canister (integrated 1 L pot)", 2.2, 370, 1800, True, 129),
    ("Spirit", "denatured alcohol", 7.5, 70, 0, False, 29),
]
JACKETS = [  # name, insulation, rating C, grams, shell, waterproof mm, price
    ("Glacier Down", "800-fill-power responsibly sourced goose down", -20, 620, "20D nylon ripstop with DWR", 0, 329),
    ("Stormshell", "none (hardshell)", 5, 390, "3-layer ePTFE membrane", 28000, 279),
    ("Ember Synthetic", "100 g/m2 PrimaFill synthetic insulation", -8, 480, "30D recycled polyester", 0, 179),
    ("Featherlite Vest", "850-fill-power duck down", -2, 210, "10D nylon", 0, 149),
    ("Tempest 3L", "none (hardshell)", 5, 450, "3-layer polyurethane membrane", 20000, 229),
    ("Polar Expedition Parka", "900-fill-power goose down", -40, 1350, "40D Pertex shell", 10000, 649),
    ("Trail Softshell", "light fleece backing", 0, 520, "stretch woven polyamide", 5000, 159),
]
BOOTS = [  # name, membrane, sole, kg/pair, sizes, drop mm, price, warranty yrs
    ("Ridge GTX", "Gore-Tex", "Vibram Megagrip", 1.1, "36-48", 12, 219, 2),
    ("Summit Pro", "eVent", "Vibram Alpine", 1.65, "38-48", 14, 329, 2),
    ("Trailrunner 5", "none (mesh)", "Contoso TrailGrip", 0.58, "36-47", 6, 139, 1),
    ("Canyon Mid", "ContosoDry", "Contoso TrailGrip", 0.96, "37-47", 10, 169, 2),
    ("Glacier Winter", "Gore-Tex Insulated", "Vibram Arctic Grip", 1.9, "39-48", 12, 289, 2),
    ("Approach Low", "none (suede)", "Vibram Megagrip Approach", 0.88, "36-47", 8, 149, 1),
]
BAGS = [  # name, fill, comfort C, limit C, kg, shape, price
    ("Drift -5", "650-fill duck down", -5, -11, 0.98, "mummy", 249),
    ("Drift 5", "650-fill duck down", 5, -1, 0.72, "mummy", 199),
    ("Cocoon Synthetic 0", "Hollow-fibre synthetic", 0, -6, 1.45, "rectangular", 99),
    ("Arctic -25", "850-fill goose down", -25, -32, 1.9, "mummy", 599),
]


def slug(cat: str, name: str) -> str:
    name = re.sub(r"(^|\s)-(\d)", r"\1minus \2", name)  # "Drift -5" and "Drift 5" must differ
    return f"{cat}-" + re.sub(r"-+", "-", "".join(c.lower() if c.isalnum() else "-" for c in name)).strip("-")


def yesno(b: bool) -> str:
    return "yes" if b else "no"


DOCS: dict[str, str] = {}
QA: list[dict] = []


def doc(doc_id: str, text: str) -> None:
    DOCS[doc_id] = text.strip() + "\n"


def qa(question: str, reference: str, gold: list[str], kind: str) -> None:
    QA.append({"question": question, "reference": reference, "gold_doc_ids": gold, "kind": kind})


for i, (n, ppl, kg, packed, fly, hh, poles, seasons, price, wy) in enumerate(TENTS):
    d = slug("tent", n)
    doc(d, f"""
# {n} Tent

Product ID: CT-TENT-{i + 1:03d} · Category: Tents

## Overview
The {n} is a {ppl}-person, {seasons}-season tent from Contoso Outdoor.

## Specifications
- Capacity: {ppl} people
- Minimum trail weight: {kg} kg
- Packed size: {packed} cm
- Fly fabric: {fly}, {hh} mm hydrostatic head
- Poles: {poles}
- Seasons: {seasons}
- Price: {price} USD

## Pitching
Pitch the inner first, then clip the fly to the pole hubs. Stake out all guylines in wind above 30 km/h.

## Care and storage
Dry the {n} fully before storing it loosely in a cool place. Never machine wash the fly.

## Warranty
The {n} is covered by a {wy}-year warranty against manufacturing defects.
""")
    qa(f"How much does the {n} tent weigh?", f"{kg} kg", [d], "single")
    qa(f"How many people does the {n} tent sleep?", f"{ppl} people", [d], "single")
    qa(f"What is the price of the {n} tent?", f"{price} USD", [d], "single")
    qa(f"What is the hydrostatic head of the {n} fly?", f"{hh} mm", [d], "single")
    qa(f"How long is the warranty on the {n} tent?", f"{wy} years", [d], "single")

for i, (n, L, kg, torso, fab, cover, pockets, price, wy) in enumerate(PACKS):
    d = slug("pack", n)
    doc(d, f"""
# {n} Backpack

Product ID: CT-PACK-{i + 1:03d} · Category: Backpacks

## Overview
The {n} is a {L}-litre pack for {'multi-day' if L >= 40 else 'day'} trips.

## Specifications
- Volume: {L} litres
- Weight: {kg} kg
- Torso range: {torso} cm
- Main fabric: {fab}
- Integrated rain cover: {yesno(cover)}
- Hip-belt pockets: {pockets}
- Price: {price} USD

## Fitting
Loosen all straps, load 8 kg, then tighten the hip belt first so it sits on the iliac crest.

## Warranty
The {n} carries a {wy}-year warranty.
""")
    qa(f"What is the volume of the {n} backpack?", f"{L} litres", [d], "single")
    qa(f"How much does the {n} backpack weigh?", f"{kg} kg", [d], "single")
    qa(f"Does the {n} backpack have an integrated rain cover?", yesno(cover), [d], "single")
    qa(f"What is the torso range of the {n}?", f"{torso} cm", [d], "single")
    qa(f"What fabric is the {n} backpack made of?", fab, [d], "single")

for i, (n, fuel, boil, g, w, piezo, price) in enumerate(STOVES):
    d = slug("stove", n)
    doc(d, f"""
# {n} Stove

Product ID: CT-STOVE-{i + 1:03d} · Category: Stoves

## Specifications
- Fuel: {fuel}
- Boil time (1 litre of water, 20 °C, no wind): {boil} minutes
- Weight: {g} g
- Heat output: {w if w else 'not rated'}{' W' if w else ''}
- Piezo igniter: {yesno(piezo)}
- Price: {price} USD

## Safety
Use the {n} outdoors only, on a stable surface, at least 1 m from the tent. Never use it inside a tent or vestibule.
""")
    qa(f"What fuel does the {n} stove use?", fuel, [d], "single")
    qa(f"How long does the {n} stove take to boil one litre of water?", f"{boil} minutes", [d], "single")
    qa(f"How much does the {n} stove weigh?", f"{g} g", [d], "single")
    qa(f"Does the {n} stove have a piezo igniter?", yesno(piezo), [d], "single")

for i, (n, ins, rating, g, shell, wp, price) in enumerate(JACKETS):
    d = slug("jacket", n)
    care = ("Wash on a gentle cycle at 30 °C with down-specific detergent and tumble dry low with dryer balls."
            if "down" in ins else "Wash at 30 °C with technical wash; reactivate the DWR with low tumble drying.")
    doc(d, f"""
# {n} Jacket

Product ID: CT-JKT-{i + 1:03d} · Category: Jackets

## Specifications
- Insulation: {ins}
- Temperature rating: {rating} °C
- Weight (size M): {g} g
- Shell: {shell}
- Waterproof rating: {str(wp) + ' mm' if wp else 'not waterproof'}
- Price: {price} USD

## Care
{care}
""")
    qa(f"What is the temperature rating of the {n} jacket?", f"{rating} °C", [d], "single")
    qa(f"How much does the {n} jacket weigh?", f"{g} g", [d], "single")
    qa(f"What insulation does the {n} jacket use?", ins, [d], "single")
    qa(f"What does the {n} jacket cost?", f"{price} USD", [d], "single")

for i, (n, mem, sole, kg, sizes, drop, price, wy) in enumerate(BOOTS):
    d = slug("boot", n)
    doc(d, f"""
# {n} Boots

Product ID: CT-BOOT-{i + 1:03d} · Category: Footwear

## Specifications
- Membrane: {mem}
- Outsole: {sole}
- Weight: {kg} kg per pair (size 42)
- Sizes: EU {sizes}
- Heel-to-toe drop: {drop} mm
- Price: {price} USD

## Break-in and care
Wear the {n} on short walks for a week. Clean with a soft brush and water; never dry next to a fire.

## Warranty
{wy}-year warranty against sole delamination and stitching failure.
""")
    qa(f"What membrane do the {n} boots use?", mem, [d], "single")
    qa(f"Which outsole do the {n} boots have?", sole, [d], "single")
    qa(f"In which sizes are the {n} boots available?", f"EU {sizes}", [d], "single")
    qa(f"What is the heel-to-toe drop of the {n} boots?", f"{drop} mm", [d], "single")

for i, (n, fill, comfort, limit, kg, shape, price) in enumerate(BAGS):
    d = slug("bag", n)
    doc(d, f"""
# {n} Sleeping Bag

Product ID: CT-BAG-{i + 1:03d} · Category: Sleeping bags

## Specifications
- Fill: {fill}
- Comfort temperature: {comfort} °C
- Limit temperature: {limit} °C
- Weight: {kg} kg
- Shape: {shape}
- Price: {price} USD

## Storage
Store the {n} uncompressed in the cotton storage sack supplied.
""")
    qa(f"What is the comfort temperature of the {n} sleeping bag?", f"{comfort} °C", [d], "single")
    qa(f"What is the limit temperature of the {n} sleeping bag?", f"{limit} °C", [d], "single")
    qa(f"How much does the {n} sleeping bag weigh?", f"{kg} kg", [d], "single")

POLICIES = {
    "policy-returns": ("Returns Policy", """
## Return window
Unused items can be returned within 45 days of delivery with the original receipt.

## Refunds
Refunds go to the original payment method within 7 business days after the return is received.

## Exceptions
Sale items marked "final" and opened fuel canisters cannot be returned. Used tents can be returned only under warranty.
""", [("How many days do I have to return an unused item?", "45 days"),
      ("How long does a refund take after the return is received?", "7 business days"),
      ("Can opened fuel canisters be returned?", "no")]),
    "policy-shipping": ("Shipping Policy", """
## Delivery times
Standard shipping takes 3 to 5 business days. Express shipping takes 1 to 2 business days and costs 14.95 USD.

## Free shipping
Orders over 99 USD ship free with standard shipping.

## Restrictions
Fuel canisters ship by ground only and never internationally.
""", [("How long does standard shipping take?", "3 to 5 business days"),
      ("What does express shipping cost?", "14.95 USD"),
      ("Above what order value is shipping free?", "99 USD")]),
    "policy-warranty": ("Warranty Policy", """
## Coverage
Contoso Outdoor warranties cover manufacturing defects in materials and workmanship for the period stated in each product manual.

## Claims
Start a claim at the service desk with proof of purchase. Claims are assessed within 10 business days.

## Not covered
Normal wear, UV damage, accidents, and modifications are not covered.
""", [("How long does Contoso take to assess a warranty claim?", "10 business days"),
      ("Is UV damage covered by the warranty?", "no")]),
    "policy-care": ("General Gear Care", """
## Waterproof fabrics
Re-proof waterproof shells once a season with a wash-in DWR treatment.

## Zips
Lubricate zips with a zip wax stick twice a year.

## Storage
Store all gear clean and dry, out of direct sunlight.
""", [("How often should waterproof shells be re-proofed?", "once a season"),
      ("How often should zips be lubricated?", "twice a year")]),
    "policy-repairs": ("Repair Service", """
## Repair service
The Contoso repair centre fixes zips, seams and tent poles. A pole section replacement costs 12 USD; a zip replacement costs 35 USD.

## Turnaround
Repairs take about 3 weeks.
""", [("How much does a tent pole section replacement cost?", "12 USD"),
      ("How long do repairs take?", "about 3 weeks")]),
    "policy-price-match": ("Price Match", """
## Price match
Contoso Outdoor matches the price of an identical item sold by an authorised retailer within 14 days of purchase.

## Members
Members of the Contoso Trail Club get 10% off full-price items.
""", [("Within how many days of purchase does Contoso match prices?", "14 days"),
      ("What discount do Contoso Trail Club members get?", "10% off full-price items")]),
}
for d, (title, body, qs) in POLICIES.items():
    doc(d, f"# {title}\n\nDocument ID: {d.upper()} · Category: Policies\n{body}")
    for q, ref in qs:
        qa(q, ref, [d], "single")

# multi-hop: two documents
def lighter(a, b, unit):
    return a[0] if a[2] < b[2] else b[0]


pairs = [(TENTS[0], TENTS[3]), (TENTS[2], TENTS[5]), (TENTS[1], TENTS[7]), (TENTS[4], TENTS[6])]
for a, b in pairs:
    qa(f"Which is lighter, the {a[0]} tent or the {b[0]} tent?", lighter(a, b, "kg"),
       [slug("tent", a[0]), slug("tent", b[0])], "multi")
    qa(f"What is the combined price of the {a[0]} and {b[0]} tents?", f"{a[8] + b[8]} USD",
       [slug("tent", a[0]), slug("tent", b[0])], "multi")
for a, b in [(PACKS[0], PACKS[1]), (PACKS[2], PACKS[4]), (PACKS[3], PACKS[5])]:
    qa(f"How many more litres does the {b[0]} hold than the {a[0]}?", f"{abs(b[1] - a[1])} litres",
       [slug("pack", a[0]), slug("pack", b[0])], "multi")
    qa(f"Which backpack is lighter, the {a[0]} or the {b[0]}?", lighter(a, b, "kg"),
       [slug("pack", a[0]), slug("pack", b[0])], "multi")
for a, b in [(STOVES[0], STOVES[1]), (STOVES[2], STOVES[5]), (STOVES[3], STOVES[4])]:
    faster = a[0] if a[2] < b[2] else b[0]
    qa(f"Which stove boils a litre of water faster, the {a[0]} or the {b[0]}?", faster,
       [slug("stove", a[0]), slug("stove", b[0])], "multi")
for a, b in [(JACKETS[0], JACKETS[2]), (JACKETS[3], JACKETS[5])]:
    warmer = a[0] if a[2] < b[2] else b[0]
    qa(f"Which jacket is rated to a lower temperature, the {a[0]} or the {b[0]}?", warmer,
       [slug("jacket", a[0]), slug("jacket", b[0])], "multi")
qa(f"If I buy the {TENTS[0][0]} tent for {TENTS[0][8]} USD, do I get free standard shipping?", "yes",
   [slug("tent", TENTS[0][0]), "policy-shipping"], "multi")
qa(f"If I buy the {PACKS[6][0]} backpack alone, do I get free standard shipping?", "no",
   [slug("pack", PACKS[6][0]), "policy-shipping"], "multi")
qa(f"Is UV damage to the {TENTS[2][0]} fly covered during its {TENTS[2][9]}-year warranty?", "no",
   [slug("tent", TENTS[2][0]), "policy-warranty"], "multi")

# unanswerable: the manuals do not say
NOT_SAID = "The manuals do not say."
for q in [
    f"What colours is the {TENTS[0][0]} tent available in?", f"Where is the {TENTS[1][0]} tent manufactured?",
    f"How many stakes come with the {TENTS[3][0]} tent?", f"What is the floor area of the {TENTS[4][0]} tent?",
    f"What colours does the {PACKS[0][0]} backpack come in?", f"Is the {PACKS[2][0]} backpack carry-on compliant?",
    f"What is the frame material of the {PACKS[3][0]} backpack?", f"How many litres of fuel does the {STOVES[3][0]} bottle hold?",
    f"What is the burn time of a canister in the {STOVES[0][0]} stove?", f"Does the {STOVES[4][0]} work above 4000 m?",
    f"What sizes does the {JACKETS[0][0]} jacket come in?", f"Does the {JACKETS[1][0]} jacket have pit zips?",
    f"What is the fill weight of the {JACKETS[5][0]} parka?", f"Are the {BOOTS[0][0]} boots vegan?",
    f"What is the ankle height of the {BOOTS[3][0]} boots?", f"Do the {BOOTS[2][0]} shoes come in wide fit?",
    f"What is the zip side of the {BAGS[0][0]} sleeping bag?", f"Can two {BAGS[2][0]} bags be zipped together?",
    "Does Contoso Outdoor ship to Antarctica?", "Who is the CEO of Contoso Outdoor?",
    "What is Contoso Outdoor's customer service phone number?", "Does Contoso Outdoor rent tents?",
    "When was Contoso Outdoor founded?", "Do gift cards expire at Contoso Outdoor?",
]:
    qa(q, NOT_SAID, [], "unanswerable")


# ---------------------------------------------------------------- the hard set (hard.jsonl)
# Questions a retriever has to work for: the product is described instead of named (paraphrase), the answer
# needs a product manual and a policy or several manuals (multi_hop), two named products are compared
# (comparison), the product or the fact does not exist (unanswerable: the right answer is an abstention), and
# products with a sibling of a similar name are asked about without their category word (near_duplicate).
# Every reference is computed from the tables above; every description is checked to fit exactly one product.
import random  # noqa: E402

FIELDS = {
    "tent": ("name people kg packed fly hh poles seasons price warranty", TENTS),
    "pack": ("name litres kg torso fabric cover pockets price warranty", PACKS),
    "stove": ("name fuel boil grams watts piezo price", STOVES),
    "jacket": ("name insulation rating grams shell waterproof price", JACKETS),
    "boot": ("name membrane sole kg sizes drop price warranty", BOOTS),
    "bag": ("name fill comfort limit kg shape price", BAGS),
}
NOUN = {"tent": "tent", "pack": "backpack", "stove": "stove", "jacket": "jacket", "boot": "boots",
        "bag": "sleeping bag"}
CATALOG = {cat: [dict(zip(f.split(), row), cat=cat, doc=slug(cat, row[0])) for row in rows]
           for cat, (f, rows) in FIELDS.items()}
PRODUCTS = [p for items in CATALOG.values() for p in items]

# descriptions that may identify a product: (field, phrase); used only where the value is unique in its category
DESCRIBE = {
    "tent": [("fly", "the tent with the {} fly"), ("poles", "the tent whose poles are {}"),
             ("people", "the {}-person tent"), ("seasons", "the {}-season tent")],
    "pack": [("fabric", "the pack made of {}"), ("litres", "the {}-litre pack"), ("torso", "the pack for a {} cm torso")],
    "stove": [("fuel", "the stove that burns {}"), ("watts", "the stove with a {} W burner")],
    "jacket": [("insulation", "the jacket insulated with {}"), ("shell", "the jacket with a {} shell")],
    "boot": [("sole", "the boots with the {} outsole"), ("membrane", "the boots with a {} membrane"),
             ("drop", "the boots with a {} mm heel-to-toe drop")],
    "bag": [("fill", "the sleeping bag filled with {}"), ("comfort", "the sleeping bag comfortable down to {} °C")],
}
# what is asked: (field, question with {} for the product, reference)
ASK = {
    "tent": [("kg", "How heavy is {}?", "{kg} kg"), ("price", "What does {} cost?", "{price} USD"),
             ("warranty", "How many years of warranty come with {}?", "{warranty} years"),
             ("hh", "What hydrostatic head does the fly of {} have?", "{hh} mm"),
             ("packed", "How small does {} pack down?", "{packed} cm"),
             ("people", "How many people fit in {}?", "{people} people")],
    "pack": [("kg", "How much does {} weigh empty?", "{kg} kg"), ("price", "What is the price of {}?", "{price} USD"),
             ("litres", "How many litres does {} hold?", "{litres} litres"),
             ("torso", "Which torso lengths does {} fit?", "{torso} cm"),
             ("warranty", "How long is {} under warranty?", "{warranty} years"),
             ("cover", "Does {} come with a built-in rain cover?", "{cover_yn}")],
    "stove": [("boil", "How quickly does {} bring a litre of water to the boil?", "{boil} minutes"),
              ("grams", "How heavy is {}?", "{grams} g"), ("price", "How much does {} cost?", "{price} USD"),
              ("piezo", "Does {} light itself with a push-button igniter?", "{piezo_yn}")],
    "jacket": [("rating", "Down to what temperature is {} rated?", "{rating} °C"),
               ("grams", "How much does {} weigh in size M?", "{grams} g"),
               ("price", "What is the price of {}?", "{price} USD")],
    "boot": [("kg", "How heavy is a pair of {}?", "{kg} kg per pair"), ("price", "What do {} cost?", "{price} USD"),
             ("drop", "What is the heel-to-toe drop of {}?", "{drop} mm"),
             ("sizes", "In which sizes can I get {}?", "EU {sizes}"),
             ("warranty", "How long is the warranty on {}?", "{warranty} years")],
    "bag": [("comfort", "What is the comfort temperature of {}?", "{comfort} °C"),
            ("limit", "What is the lowest temperature {} is rated for (limit)?", "{limit} °C"),
            ("kg", "How much does {} weigh?", "{kg} kg"), ("price", "How much is {}?", "{price} USD")],
}
HARD: list[dict] = []


def hq(question: str, reference: str, gold: list[str], kind: str) -> None:
    HARD.append({"question": question, "reference": reference, "gold_doc_ids": gold, "kind": kind})


def ref(template: str, p: dict) -> str:
    return template.format(**p, cover_yn=yesno(bool(p.get("cover"))), piezo_yn=yesno(bool(p.get("piezo"))))


def descriptions(p: dict) -> list[str]:
    """Phrases that fit ``p`` and no other product of its category (checked), never containing its name."""
    out = []
    for fld, phrase in DESCRIBE[p["cat"]]:
        v = p[fld]
        if not v or sum(q[fld] == v for q in CATALOG[p["cat"]]) != 1:
            continue
        text = phrase.format(v)
        assert p["name"].lower() not in text.lower()
        out.append((fld, text))
    return out


# paraphrase: two questions per product that has a unique description, each about another field
for k, p in enumerate(PRODUCTS):
    descs = descriptions(p)
    asks = ASK[p["cat"]]
    for j, (fld, d) in enumerate(descs[:2]):
        fld_ask, q, r = next(a for a in asks[(k + j) % len(asks):] + asks if a[0] != fld)
        question = q.format(d)
        hq(question[0].upper() + question[1:], ref(r, p), [p["doc"]], "paraphrase")

# multi-hop: a product fact and a policy (free shipping over 99 USD, express 14.95 USD, members 10% off)
for k, p in enumerate(PRODUCTS):
    descs = descriptions(p)
    who = descs[-1][1] if descs and k % 2 else f"the {p['name']} {NOUN[p['cat']]}"
    form = k % 3
    if form == 0:
        hq(f"If I order {who} and nothing else, is standard shipping free?",
           yesno(p["price"] > 99), [p["doc"], "policy-shipping"], "multi_hop")
    elif form == 1:
        hq(f"What would {who} cost in total with express shipping?", f"{p['price'] + 14.95:.2f} USD",
           [p["doc"], "policy-shipping"], "multi_hop")
    else:
        hq(f"What would a Contoso Trail Club member pay for {who} at full price?",
           f"{p['price'] * 0.9:.2f} USD", [p["doc"], "policy-price-match"], "multi_hop")
# multi-hop over a group: the answer needs every manual of the group
for cat, fld, value, measure, better, question, answer in [
    ("tent", "people", 2, "kg", min, "What does the lightest two-person tent cost?", "{price} USD"),
    ("stove", "fuel", "isobutane-propane canister", "boil", min,
     "Among the stoves that use a plain isobutane-propane canister, how much does the fastest one weigh?", "{grams} g"),
    ("pack", "cover", True, "kg", min, "How many litres does the lightest pack with an integrated rain cover hold?",
     "{litres} litres"),
    ("bag", "shape", "mummy", "comfort", min, "What does the mummy sleeping bag with the lowest comfort temperature cost?",
     "{price} USD"),
]:
    group = [p for p in CATALOG[cat] if p[fld] == value]
    hq(question, answer.format(**better(group, key=lambda p: p[measure])), [p["doc"] for p in group], "multi_hop")

# comparison: two named products (near siblings first), the winner is the reference
COMPARE = {
    "tent": [("kg", "lighter", min), ("price", "cheaper", min), ("warranty", "covered by the longer warranty", max),
             ("hh", "more waterproof (higher hydrostatic head)", max)],
    "pack": [("litres", "bigger", max), ("kg", "lighter", min), ("price", "cheaper", min)],
    "stove": [("boil", "faster to boil a litre", min), ("grams", "lighter", min), ("price", "cheaper", min)],
    "jacket": [("rating", "rated to the lower temperature", min), ("grams", "lighter", min), ("price", "cheaper", min)],
    "boot": [("kg", "lighter", min), ("drop", "lower in heel-to-toe drop", min), ("price", "cheaper", min)],
    "bag": [("comfort", "warmer (lower comfort temperature)", min), ("kg", "lighter", min), ("price", "cheaper", min)],
}
N_COMPARE = {"tent": 8, "pack": 8, "stove": 6, "jacket": 7, "boot": 6, "bag": 5}
rng = random.Random(22)
for cat, items in CATALOG.items():
    pairs = [(a, b) for i, a in enumerate(items) for b in items[i + 1:]]
    near = [pr for pr in pairs if pr[0]["name"].split()[0] == pr[1]["name"].split()[0]]
    rest = [pr for pr in pairs if pr not in near]
    rng.shuffle(rest)
    n = 0
    for a, b in near + rest:
        if n == N_COMPARE[cat]:
            break
        fld, word, better = COMPARE[cat][n % len(COMPARE[cat])]
        if a[fld] == b[fld]:
            continue
        win = better((a, b), key=lambda p: p[fld])
        x, y = (a, b) if n % 2 else (b, a)
        hq(f"Which {NOUN[cat]} is {word}: the {x['name']} or the {y['name']}?", win["name"], [a["doc"], b["doc"]],
           "comparison")
        n += 1

# unanswerable: products that do not exist (a sibling does), facts no manual gives, shop questions no policy covers
NOT_SAID = "The manuals do not say."
GHOSTS = [("tent", "TrailLite 3", "kg"), ("tent", "Aurora 2", "price"), ("tent", "Nomad 6", "people"),
          ("tent", "Basecamp 8", "warranty"), ("pack", "Summit 55", "litres"), ("pack", "Daytrip 28", "price"),
          ("pack", "Voyager 100", "kg"), ("stove", "Blaze Mini", "boil"), ("stove", "Jetline Pro", "grams"),
          ("jacket", "Stormshell Pro", "price"), ("jacket", "Glacier Down Hoody", "rating"),
          ("boot", "Ridge GTX Mid", "kg"), ("boot", "Trailrunner 6", "drop"), ("bag", "Drift 0", "comfort"),
          ("bag", "Arctic -40", "limit"), ("bag", "Cocoon Down 0", "kg")]
for cat, name, fld in GHOSTS:
    assert all(p["name"] != name for p in PRODUCTS)
    q = next(q for f, q, _ in ASK[cat] if f == fld)
    hq(q.format(f"the {name} {NOUN[cat]}"), NOT_SAID, [], "unanswerable")
MISSING = ["What colours does {} come in?", "Where is {} manufactured?", "Is {} made with vegan materials?",
           "How loud is {} in use?", "Is {} sold with a stuff sack?"]
for k, p in enumerate(PRODUCTS[::4]):
    descs = descriptions(p)
    if descs:
        q = MISSING[k % len(MISSING)].format(descs[0][1])
        hq(q[0].upper() + q[1:], NOT_SAID, [], "unanswerable")
for q in ["Does Contoso Outdoor offer a student discount?", "Can I pay for my order with PayPal?",
          "What are the opening hours of the Contoso Outdoor store?", "How much does international shipping cost?",
          "Can I exchange a tent for a different size instead of returning it?", "Do Contoso gift cards expire?"]:
    hq(q, NOT_SAID, [], "unanswerable")

# near-duplicate: named without the category word, next to a sibling with a similar name
FAMILIES = ["Summit 45", "Summit 65", "Summit Pro", "Drift -5", "Drift 5", "Blaze", "Blaze Max", "Glacier Down",
            "Glacier Winter", "Ember Twig", "Ember Synthetic", "Polar Liquid", "Polar Expedition Parka",
            "TrailLite 2", "Trailrunner 5", "Trail Softshell"]
for k, name in enumerate(FAMILIES):
    p = next(p for p in PRODUCTS if p["name"] == name)
    for j in range(2):
        fld, q, r = ASK[p["cat"]][(k + j) % len(ASK[p["cat"]])]
        hq(q.format(f"the {name}"), ref(r, p), [p["doc"]], "near_duplicate")


def write_questions(questions: list[dict], prefix: str, path: Path) -> list[dict]:
    """Rows with ids ``<prefix>-0001``..., a stable dev/test split by a hash of the question, written as JSONL."""
    rows = []
    for i, q in enumerate(questions):
        # stable split: half dev, half test, by a hash of the question
        split = "dev" if int(hashlib.sha256(q["question"].encode()).hexdigest(), 16) % 2 == 0 else "test"
        rows.append({"id": f"{prefix}-{i + 1:04d}", "question": q["question"], "reference": q["reference"],
                     "gold_doc_ids": q["gold_doc_ids"], "split": split,
                     "tags": {"kind": q["kind"], "answerable": q["kind"] != "unanswerable"}})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return rows


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.md"):
        old.unlink()
    for d, text in DOCS.items():
        (OUT / f"{d}.md").write_text(text, encoding="utf-8")
    rows = write_questions(QA, "cq", HERE / "qa.jsonl")
    kinds = {k: sum(r["tags"]["kind"] == k for r in rows) for k in ("single", "multi", "unanswerable")}
    splits = {s: sum(r["split"] == s for r in rows) for s in ("dev", "test")}
    print(f"{len(DOCS)} documents, {len(rows)} questions {kinds} {splits}")
    hard = write_questions(HARD, "hq", HERE / "hard.jsonl")
    kinds = {k: sum(r["tags"]["kind"] == k for r in hard) for k in dict.fromkeys(q["kind"] for q in HARD)}
    splits = {s: sum(r["split"] == s for r in hard) for s in ("dev", "test")}
    print(f"hard set: {len(hard)} questions {kinds} {splits}")


if __name__ == "__main__":
    main()
