"""Structured output on a real model: how many ``json_schema`` replies parse and validate.

Method. A fresh ``ponder serve`` (bench/_server.py) on the model asked for (default: the 0.5B embedded
model). The official ``openai`` client sends ``response_format`` ``json_schema`` (strict) for 12 schemas:
flat objects, nested objects, arrays of objects, enums, nullable and optional fields, ``anyOf``, string
patterns and lengths, array lengths, and integer bounds (which the grammar does not hold: the turn checks
them). Each schema gets its own tasks, one request each (``--per-schema``, default 9: 108 replies). A reply
counts when its content parses as JSON and validates against the schema (``jsonschema``); an error
response counts as a failure, with its message. Prints per schema and overall, and the decode speed; appends
to bench/results/structured_output.jsonl.

    python bench/structured_output.py                          # 0.5B, Instant
    python bench/structured_output.py --mode thinking --per-schema 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import serve

RESULTS = Path(__file__).resolve().parent / "results" / "structured_output.jsonl"

_STR = {"type": "string"}
_INT = {"type": "integer"}
SCHEMAS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "person": (
        {
            "type": "object",
            "properties": {"name": _STR, "age": _INT, "city": _STR},
            "required": ["name", "age", "city"],
            "additionalProperties": False,
        },
        [
            "Maria is 34 and lives in Lisbon.",
            "Tom, aged 61, retired to Dundee.",
            "Our new intern Aiko (19) commutes from Osaka.",
            "Pedro turned 45 last week in Bogotá.",
            "Grandma Ruth is 88; she still lives in Leeds.",
            "Samir, 27, Cairo.",
            "The winner was Lena Fischer, 52, of Munich.",
            "Born 30 years ago, Kwame has always lived in Accra.",
            "Olga from Tallinn celebrated her 40th birthday.",
        ],
    ),
    "sentiment": (
        {
            "type": "object",
            "properties": {
                "sentiment": {"enum": ["positive", "negative", "neutral"]},
                "confidence": {"enum": ["low", "medium", "high"]},
            },
            "required": ["sentiment", "confidence"],
            "additionalProperties": False,
        },
        [
            "Review: The battery died after two days. Awful.",
            "Review: Works exactly as described, very happy.",
            "Review: It arrived on Tuesday.",
            "Review: Not bad, not great.",
            "Review: Best purchase I've made this year!",
            "Review: The lid cracked, but support replaced it quickly.",
            "Review: Meh.",
            "Review: Would not recommend to anyone.",
            "Review: Fine for the price.",
        ],
    ),
    "recipe": (
        {
            "type": "object",
            "properties": {
                "dish": _STR,
                "ingredients": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"item": _STR, "grams": _INT},
                        "required": ["item", "grams"],
                        "additionalProperties": False,
                    },
                    "minItems": 1,
                },
            },
            "required": ["dish", "ingredients"],
            "additionalProperties": False,
        },
        [
            "Pancakes: 200 g flour, 300 g milk, 50 g egg.",
            "A simple tomato sauce needs 400 g tomatoes and 30 g olive oil.",
            "Guacamole: two avocados (about 300 g) and 20 g lime juice.",
            "Porridge is 50 g oats with 250 g water.",
            "For pesto, blend 60 g basil, 40 g pine nuts and 50 g parmesan.",
            "Rice pudding: 100 g rice, 800 g milk, 60 g sugar.",
            "Hummus uses 250 g chickpeas and 60 g tahini.",
            "Shortbread: 150 g flour, 100 g butter, 50 g sugar.",
            "A vinaigrette is 90 g oil and 30 g vinegar.",
        ],
    ),
    "address": (
        {
            "type": "object",
            "properties": {
                "recipient": _STR,
                "address": {
                    "type": "object",
                    "properties": {"street": _STR, "city": _STR, "postcode": _STR, "country": _STR},
                    "required": ["street", "city", "postcode", "country"],
                    "additionalProperties": False,
                },
            },
            "required": ["recipient", "address"],
            "additionalProperties": False,
        },
        [
            "Send it to Jane Doe, 12 High Street, Oxford OX1 4AB, UK.",
            "Ship to: Marco Rossi, Via Roma 5, 00184 Rome, Italy",
            "Deliver to Anna Berg at Storgatan 3, 111 22 Stockholm, Sweden.",
            "Paul Martin — 8 rue de la Paix, 75002 Paris, France",
            "Address: Li Wei, 88 Nanjing Road, Shanghai 200001, China",
            "for Sean Murphy, 4 Quay St, Galway H91 E2X4, Ireland",
            "Recipient Eva Novak, Národní 10, 110 00 Prague, Czechia.",
            "Mail to Carlos Ruiz, Calle Mayor 1, 28013 Madrid, Spain",
            "It goes to Hana Sato, 2-1 Ginza, Tokyo 104-0061, Japan.",
        ],
    ),
    "tags": (
        {
            "type": "object",
            "properties": {"tags": {"type": "array", "items": _STR, "minItems": 1, "maxItems": 4}},
            "required": ["tags"],
            "additionalProperties": False,
        },
        [
            "Tag this post: 'Ten quick vegan dinners for busy weeknights'.",
            "Tag: 'How to fix a flat bicycle tyre'.",
            "Tag: 'A beginner's guide to investing in index funds'.",
            "Tag: 'Photos from our hike up Ben Nevis'.",
            "Tag: 'Why Rust's borrow checker helps'.",
            "Tag: 'Repotting a monstera without killing it'.",
            "Tag: 'The history of the printing press'.",
            "Tag: 'Training a puppy to sit'.",
            "Tag: 'Best budget headphones of the year'.",
        ],
    ),
    "event": (
        {
            "type": "object",
            "properties": {
                "title": _STR,
                "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                "online": {"type": "boolean"},
            },
            "required": ["title", "date", "online"],
            "additionalProperties": False,
        },
        [
            "Team offsite on 14 March 2027 at the lake house.",
            "Webinar: 'Intro to SQL', 2 February 2027, on Zoom.",
            "Book club meets in the library on 2027-05-09.",
            "Our wedding is on the 21st of August 2027 in Porto.",
            "Online yoga class, January 5th 2027.",
            "Product launch livestream, 30 June 2027.",
            "Dentist appointment 2027-01-18 at 9am.",
            "Quarterly review call (remote) on 1 October 2027.",
            "Marathon in Berlin on 26 September 2027.",
        ],
    ),
    "contact": (
        {
            "type": "object",
            "properties": {
                "name": _STR,
                "email": {"type": ["string", "null"]},
                "phone": {"type": ["string", "null"]},
            },
            "required": ["name", "email", "phone"],
            "additionalProperties": False,
        },
        [
            "Reach Priya at priya@example.com.",
            "Call Jonas on +49 30 1234567.",
            "Contact: Mei Chen, mei.chen@example.org, 555-0199",
            "Ask for Dave at the front desk.",
            "Email omar@example.net if anything breaks.",
            "Lucia: 020 7946 0958",
            "Write to info@example.com, attention Ben.",
            "Kim's number is 010-1234-5678.",
            "Ahmed (no phone) — ahmed@example.com",
        ],
    ),
    "order": (
        {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "product": _STR,
                            "quantity": {"type": "integer", "minimum": 1, "maximum": 20},
                        },
                        "required": ["product", "quantity"],
                        "additionalProperties": False,
                    },
                    "minItems": 1,
                },
                "gift_wrap": {"type": "boolean"},
            },
            "required": ["items", "gift_wrap"],
            "additionalProperties": False,
        },
        [
            "I'd like two mugs and a teapot, gift wrapped please.",
            "3 notebooks and 10 pencils, no wrapping.",
            "One umbrella.",
            "Four pairs of socks and a scarf; it's a present, so wrap it.",
            "Please send 12 candles.",
            "A kettle and two cups.",
            "Five postcards and one frame, wrapped.",
            "Just a single bike light.",
            "Six eggs cups, two spoons, no gift wrap.",
        ],
    ),
    "classification": (
        {
            "type": "object",
            "properties": {
                "category": {"enum": ["billing", "shipping", "technical", "other"]},
                "urgent": {"type": "boolean"},
                "summary": {"type": "string", "maxLength": 80},
            },
            "required": ["category", "urgent", "summary"],
            "additionalProperties": False,
        },
        [
            "Ticket: I was charged twice for my subscription!",
            "Ticket: Where is my parcel? It's been two weeks.",
            "Ticket: The app crashes when I open settings.",
            "Ticket: Do you have a store in Lyon?",
            "Ticket: URGENT the checkout page shows a 500 error for all customers.",
            "Ticket: Can I change the delivery address of order 55?",
            "Ticket: My invoice has the wrong VAT number.",
            "Ticket: Password reset email never arrives.",
            "Ticket: Just wanted to say thanks!",
        ],
    ),
    "measurement": (
        {
            "type": "object",
            "properties": {
                "value": {"type": "number"},
                "unit": {"anyOf": [{"enum": ["kg", "g", "lb"]}, {"enum": ["m", "cm", "ft"]}]},
            },
            "required": ["value", "unit"],
            "additionalProperties": False,
        },
        [
            "The parcel weighs 2.5 kilograms.",
            "The shelf is 180 centimetres wide.",
            "It's about 12 pounds.",
            "The rope is 30 metres long.",
            "Add 250 grams of sugar.",
            "The ceiling is 9 feet high.",
            "The suitcase weighs 23 kg.",
            "Cut 45 cm of ribbon.",
            "The dog weighs 70 lb.",
        ],
    ),
    "steps": (
        {
            "type": "object",
            "properties": {
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"n": _INT, "action": {"type": "string", "minLength": 3}},
                        "required": ["n", "action"],
                        "additionalProperties": False,
                    },
                    "minItems": 2,
                    "maxItems": 6,
                }
            },
            "required": ["steps"],
            "additionalProperties": False,
        },
        [
            "How do I boil an egg?",
            "How do I make tea?",
            "How do I change a light bulb?",
            "How do I plant a tomato seedling?",
            "How do I reset a router?",
            "How do I wash a wool sweater?",
            "How do I back up a phone?",
            "How do I fold a paper plane?",
            "How do I clean a cast iron pan?",
        ],
    ),
    "answer": (
        {
            "type": "object",
            "properties": {"reasoning": {"type": "string", "maxLength": 300}, "answer": _INT},
            "required": ["reasoning", "answer"],
            "additionalProperties": False,
        },
        [
            "A pen costs 3 dollars. How much do 7 pens cost?",
            "What is 15 + 27?",
            "A train travels 60 km per hour for 3 hours. How far does it go?",
            "How many legs do 4 spiders have?",
            "If I have 20 apples and give away 8, how many are left?",
            "What is 9 times 6?",
            "A box holds 12 eggs. How many eggs are in 5 boxes?",
            "What is 100 divided by 4?",
            "Sam is 12, and his sister is 5 years older. How old is she?",
        ],
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--model", default="embedded:qwen2.5-coder-0.5b")
    parser.add_argument("--mode", default="instant", help="instant, thinking or contemplating")
    parser.add_argument("--per-schema", type=int, default=9)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args(argv)
    rows = []
    with serve(args.model) as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=served.key, max_retries=0, timeout=600)
        for name, (schema, tasks) in SCHEMAS.items():
            for task in tasks[: args.per_schema]:
                rows.append(_one(client, args, name, schema, task))
                ok = "ok  " if rows[-1]["valid"] else "FAIL"
                print(
                    f"{ok} {name:15s} {rows[-1]['seconds']:5.1f}s  {rows[-1]['content'][:90]!r}", flush=True
                )
    report(rows, args)
    return 0


def _one(
    client: openai.OpenAI, args: argparse.Namespace, name: str, schema: dict[str, Any], task: str
) -> dict[str, Any]:
    started = time.perf_counter()
    row: dict[str, Any] = {"schema": name, "task": task, "valid": False, "content": "", "error": ""}
    try:
        reply = client.chat.completions.create(
            model=f"ponder-{args.mode}",
            messages=[{"role": "user", "content": task}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            },
            max_tokens=args.max_tokens,
            temperature=0,
        )
        row["content"] = reply.choices[0].message.content or ""
        row["completion_tokens"] = reply.usage.completion_tokens if reply.usage else 0
        jsonschema.validate(json.loads(row["content"]), schema)
        row["valid"] = True
    except (openai.APIError, json.JSONDecodeError, jsonschema.ValidationError) as error:
        row["error"] = str(error)[:300]
    row["seconds"] = time.perf_counter() - started
    return row


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.model}, mode {args.mode}: json_schema replies that parse and validate")
    for name in SCHEMAS:
        mine = [r for r in rows if r["schema"] == name]
        print(f"  {name:15s} {sum(r['valid'] for r in mine)}/{len(mine)}")
    valid = sum(r["valid"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    tokens = sum(r.get("completion_tokens", 0) for r in rows)
    print(f"overall: {valid}/{len(rows)} over {len(SCHEMAS)} schemas; {seconds / len(rows):.1f} s a reply")
    print(f"completion tokens/s (whole requests): {tokens / seconds:.1f}")
    for r in rows:
        if not r["valid"]:
            print(f"  failed {r['schema']}: {r['error'] or r['content'][:200]}")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        summary = {
            "model": args.model,
            "mode": args.mode,
            "valid": valid,
            "total": len(rows),
            "at": time.time(),
        }
        f.write(json.dumps({**summary, "failures": [r for r in rows if not r["valid"]]}) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
