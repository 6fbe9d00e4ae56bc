"""Tool calls from the embedded model: do they parse, do they match the schema, is the right tool called?

Twelve tools with varied schemas (enums, numbers, integers with bounds, arrays, nested objects, optional
fields) and 52 requests that each call for one of them. Each request gets one model pass with every tool
offered (Instant's first pass); nothing is executed. For every call the model makes, the arguments are
checked against the tool's JSON schema with jsonschema, independently of the grammar that produced them.

Printed: calls made / requests, calls that parse and validate / calls made (the figure the grammar must
hold at 100%), right tool / requests, and the median latency per request. Results: bench/results/
tool_calls.jsonl (one line per run, with every call).

    python bench/tool_calls.py                                   # the default model
    python bench/tool_calls.py --model embedded:qwen2.5-coder-0.5b --n 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Literal

import jsonschema
import pydantic

from ponder.config import DEFAULT_MODEL, load_settings
from ponder.messages import Message
from ponder.models.base import ModelSettings
from ponder.models.registry import resolve_model
from ponder.modes.base import with_system
from ponder.prompts import load_prompt
from ponder.tools import Tool, tool, tool_of


class Attendee(pydantic.BaseModel):
    name: str
    email: str


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather for a city.

    Args:
        city: the city name
        unit: temperature unit
    """
    return ""


@tool
def convert_currency(amount: float, source: str, target: str) -> str:
    """Convert an amount of money between currencies.

    Args:
        amount: how much money
        source: ISO code of the currency to convert from, e.g. USD
        target: ISO code of the currency to convert to, e.g. EUR
    """
    return ""


@tool
def search_flights(origin: str, destination: str, date: str, passengers: int = 1) -> str:
    """Search flights between two cities on a date.

    Args:
        origin: departure city or airport code
        destination: arrival city or airport code
        date: travel date as YYYY-MM-DD
        passengers: number of travellers, 1 to 9
    """
    return ""


@tool
def set_reminder(text: str, minutes_from_now: int) -> str:
    """Set a reminder.

    Args:
        text: what to be reminded of
        minutes_from_now: when, in minutes from now
    """
    return ""


@tool
def create_event(title: str, start: str, duration_minutes: int, attendees: list[Attendee]) -> str:
    """Create a calendar event and invite people.

    Args:
        title: the event title
        start: start time, ISO 8601 (YYYY-MM-DDTHH:MM)
        duration_minutes: length of the event in minutes
        attendees: people to invite, each with a name and an email
    """
    return ""


@tool
def get_stock_price(symbol: str) -> str:
    """Latest price of a stock.

    Args:
        symbol: the ticker symbol, e.g. AAPL
    """
    return ""


@tool
def translate(text: str, target_language: Literal["en", "fr", "de", "es", "it", "ja", "zh"]) -> str:
    """Translate text into another language.

    Args:
        text: the text to translate
        target_language: language code of the translation
    """
    return ""


@tool
def send_email(to: list[str], subject: str, body: str) -> str:
    """Send an email.

    Args:
        to: recipient email addresses
        subject: the subject line
        body: the message
    """
    return ""


@tool
def lookup_order(order_id: str) -> str:
    """Status of a customer's order.

    Args:
        order_id: the order number, e.g. A-10234
    """
    return ""


@tool
def python(code: str) -> str:
    """Run a Python program and return what it prints.

    Args:
        code: the complete program
    """
    return ""


@tool
def search_products(query: str, max_price: float | None = None, in_stock_only: bool = False) -> str:
    """Search the shop's catalog.

    Args:
        query: what to look for
        max_price: highest price in dollars, if any
        in_stock_only: only products that can ship now
    """
    return ""


@tool
def book_table(restaurant: str, people: int, time: str) -> str:
    """Book a table at a restaurant.

    Args:
        restaurant: the restaurant's name
        people: party size
        time: time of the booking, HH:MM
    """
    return ""


RESULTS = Path(__file__).parent / "results" / "tool_calls.jsonl"

TOOLS: list[Tool] = [
    tool_of(f)
    for f in (
        get_weather,
        convert_currency,
        search_flights,
        set_reminder,
        create_event,
        get_stock_price,
        translate,
        send_email,
        lookup_order,
        python,
        search_products,
        book_table,
    )
]

# (request, the tool it calls for)
REQUESTS: list[tuple[str, str]] = [
    ("What's the weather in Paris right now?", "get_weather"),
    ("Is it raining in Tokyo? Give me Fahrenheit.", "get_weather"),
    ("How cold is it in Oslo today?", "get_weather"),
    ("Weather forecast for Buenos Aires please", "get_weather"),
    ("Do I need an umbrella in London today?", "get_weather"),
    ("Convert 250 US dollars to euros.", "convert_currency"),
    ("How many yen is 1000 GBP?", "convert_currency"),
    ("What is 75.5 CHF in USD?", "convert_currency"),
    ("Change 12000 INR into EUR for me.", "convert_currency"),
    ("Find flights from Boston to Denver on 2026-12-03.", "search_flights"),
    ("I need 3 seats from LHR to JFK on 2027-01-15.", "search_flights"),
    ("Any flights Madrid to Rome on 2026-12-20 for two people?", "search_flights"),
    ("Search flights SFO to Seattle, 2026-11-30.", "search_flights"),
    ("Remind me to call mom in 30 minutes.", "set_reminder"),
    ("Set a reminder to take the cake out in 45 minutes.", "set_reminder"),
    ("In two hours, remind me to stretch.", "set_reminder"),
    ("Remind me about the standup in 10 minutes", "set_reminder"),
    (
        "Schedule 'Design review' on 2026-12-01T14:00 for 60 minutes with Ana (ana@example.com).",
        "create_event",
    ),
    (
        "Create a 30 minute event 'Lunch' at 2026-11-25T12:30 and invite Bo (bo@example.com) and "
        "Cy (cy@example.com).",
        "create_event",
    ),
    ("Book a 90-minute 'Planning' meeting on 2026-12-02T09:00 with Dee, dee@corp.io.", "create_event"),
    ("What's Apple's stock price?", "get_stock_price"),
    ("Current price of MSFT?", "get_stock_price"),
    ("How is NVDA trading right now?", "get_stock_price"),
    ("Check the TSLA share price.", "get_stock_price"),
    ("Translate 'good morning, my friend' into French.", "translate"),
    ("How do you say 'where is the station' in Japanese?", "translate"),
    ("Translate to German: The meeting is postponed.", "translate"),
    ("Put 'thank you very much' into Spanish.", "translate"),
    ("Translate 'I love this city' into Italian.", "translate"),
    (
        "Email bob@example.com with subject 'Invoice' and tell him the invoice is attached.",
        "send_email",
    ),
    ("Send an email to ana@x.org and li@y.org titled 'Lunch' saying: noon at the cafe?", "send_email"),
    ("Write to hr@corp.io, subject 'Leave', body: I'll be off on Friday.", "send_email"),
    ("Where is my order A-10234?", "lookup_order"),
    ("Check the status of order B-77 please.", "lookup_order"),
    ("Has order Z-5512 shipped yet?", "lookup_order"),
    ("Track my order number C-9001.", "lookup_order"),
    ("Run a program that prints the first 10 square numbers.", "python"),
    ("Use Python to compute 2**100.", "python"),
    ("Execute code that sorts [5, 3, 9, 1] and prints it.", "python"),
    ("Write and run Python that prints the sum of 1 to 1000.", "python"),
    ("Compute the mean of 3, 8, 13 and 21 with a Python program.", "python"),
    ("Find running shoes under $80.", "search_products"),
    ("Search the catalog for a waterproof jacket that's in stock.", "search_products"),
    ("Do you sell mechanical keyboards?", "search_products"),
    ("Look for a coffee grinder, max $50, must ship now.", "search_products"),
    ("Show me wireless earbuds in the shop.", "search_products"),
    ("Book a table for 4 at Luigi's at 19:30.", "book_table"),
    ("Reserve a table at Sakura for two at 20:00.", "book_table"),
    ("Get me a table for 6 people at The Oak, 18:45.", "book_table"),
    ("Table at Chez Marie for 3 at 12:15 please.", "book_table"),
    ("What's the temperature in Cairo in celsius?", "get_weather"),
    ("Convert 99 EUR to Canadian dollars.", "convert_currency"),
]


async def run(args: argparse.Namespace) -> None:
    settings = load_settings(context_length=args.context_length)
    model = resolve_model(args.model, settings)
    schemas = {t.name: t.parameters for t in TOOLS}
    definitions = tuple(t.definition() for t in TOOLS)
    system = f"{load_prompt('instant')}\n\n{load_prompt('tools')}"
    chosen = REQUESTS[: args.n]
    records = []
    try:
        for i, (request, expected) in enumerate(chosen, 1):
            conversation = with_system([Message.user(request)], system)
            started = time.perf_counter()
            response = await model.request(
                conversation, ModelSettings(max_tokens=args.max_tokens, temperature=0.0, tools=definitions)
            )
            latency = time.perf_counter() - started
            calls = []
            for call in response.message.tool_calls:
                schema = schemas.get(call.name)
                errors = (
                    [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(call.arguments)]
                    if schema is not None
                    else [f"unknown tool {call.name}"]
                )
                calls.append({"name": call.name, "arguments": call.arguments, "errors": errors})
            records.append(
                {
                    "request": request,
                    "expected": expected,
                    "calls": calls,
                    "text": response.message.text[:200],
                    "latency_s": round(latency, 3),
                }
            )
            mark = (
                ", ".join(f"{c['name']}{'' if not c['errors'] else ' INVALID'}" for c in calls) or "no call"
            )
            print(f"[{i}/{len(chosen)}] {expected:<17} -> {mark} ({latency:.1f} s)", flush=True)
    finally:
        await model.aclose()
    made = [c for r in records for c in r["calls"]]
    valid = [c for c in made if not c["errors"]]
    called = sum(1 for r in records if r["calls"])
    right = sum(1 for r in records if any(c["name"] == r["expected"] for c in r["calls"]))
    summary = {
        "model": args.model,
        "requests": len(records),
        "requests_with_a_call": called,
        "calls": len(made),
        "calls_valid": len(valid),
        "valid_rate": round(len(valid) / len(made), 4) if made else None,
        "right_tool": right,
        "median_latency_s": round(statistics.median(r["latency_s"] for r in records), 2),
    }
    print(
        f"\n{args.model}: {called}/{len(records)} requests made a call; "
        f"{len(valid)}/{len(made)} calls parse and validate against the schema; "
        f"right tool in {right}/{len(records)}; median {summary['median_latency_s']} s per request"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps({"bench": "tool_calls", **summary, "records": records}) + "\n")
    print(f"saved: {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--n", type=int, default=len(REQUESTS), help=f"requests (at most {len(REQUESTS)})")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--context-length", type=int, default=4096)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
