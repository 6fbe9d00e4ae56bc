"""tau2-bench's own retail environment, replaying each task's ground-truth actions: the oracle that
bench/tau2_replay.py compares Ponder with. Run by that bench inside tau2's own virtualenv (tau2 is not on
PyPI; its checkout's ``src`` goes on the path), never imported by Ponder:

    VENV/bin/python bench/_tau2_oracle.py --tau2 CHECKOUT [--tasks 0,5,7] > oracle.jsonl

One JSON line per task: its id, and for each ground-truth action (in order) its name and arguments,
whether tau2 accepted it (``ok``), its error or its result, and the final database in canonical form
(``canonical``: money in integer cents, nulls dropped, keys sorted). Every task starts from a fresh load
of ``db.json``, as tau2's evaluation does.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

MONEY_KEYS = ("price", "amount", "balance", "exchange_price_difference")


def cents(value: float) -> int:
    """Float dollars as integer cents, from the float's shortest decimal form, half-even (Ponder's rule)."""
    return int((Decimal(repr(value)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def canonical(value: Any, key: str = "") -> Any:
    """``value`` with money in cents and nulls dropped, for comparing states written by different systems."""
    if isinstance(value, dict):
        return {k: canonical(v, k) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, list):
        return [canonical(v, key) for v in value]
    if key in MONEY_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return cents(float(value))
    return value


def replay(tau2: Path, task: dict[str, Any]) -> dict[str, Any]:
    from tau2.domains.retail.data_model import RetailDB  # type: ignore[import-not-found]
    from tau2.domains.retail.tools import RetailTools  # type: ignore[import-not-found]

    db = RetailDB.load(str(tau2 / "data/tau2/domains/retail/db.json"))
    tools = RetailTools(db)
    steps = []
    for action in task["evaluation_criteria"]["actions"] or []:
        name, arguments = action["name"], action["arguments"]
        step: dict[str, Any] = {"name": name, "arguments": arguments}
        try:
            result = getattr(tools, name)(**arguments)
        except Exception as error:  # tau2 refuses with ValueError; anything else is refused too
            step |= {"ok": False, "error": str(error)}
        else:
            dumped = result.model_dump() if hasattr(result, "model_dump") else result
            step |= {"ok": True, "result": canonical(dumped)}
        steps.append(step)
    return {"task": task["id"], "steps": steps, "final": canonical(db.model_dump())}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tau2", type=Path, required=True, help="a sierra-research/tau2-bench checkout")
    parser.add_argument("--tasks", default="", help="task ids, comma-separated (default: all)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tau2 / "src"))
    tasks = json.loads((args.tau2 / "data/tau2/domains/retail/tasks.json").read_text())
    wanted = {t for t in args.tasks.split(",") if t}
    for task in tasks:
        if not wanted or task["id"] in wanted:
            print(json.dumps(replay(args.tau2, task), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
