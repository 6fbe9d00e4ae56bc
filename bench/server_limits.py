"""Rate limits on a real ``ponder serve``: a burst of twice the limit accepts exactly the limit, and every
429 carries Retry-After (and the remaining/reset headers).

    python bench/server_limits.py [--limit 100]
"""

from __future__ import annotations

import argparse
import asyncio

import httpx

from _common import emit
from _server import serve

BODY = {"model": "ponder-instant", "messages": [{"role": "user", "content": "hi"}]}


async def burst(url: str, key: str, count: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=16)) as client:
        return await asyncio.gather(*(client.post(url, json=BODY, headers=headers) for _ in range(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=100, help="requests per minute of the key's tier")
    args = parser.parse_args()
    # At 100 a minute, one request comes back every 0.6 s: the burst must finish well within that.
    with serve("scripted:ok", per_minute=args.limit) as server:
        responses = asyncio.run(burst(server.url + "/v1/chat/completions", server.key, 2 * args.limit))
    ok = sum(r.status_code == 200 for r in responses)
    limited = [r for r in responses if r.status_code == 429]
    with_retry = sum("retry-after" in r.headers and int(r.headers["retry-after"]) >= 1 for r in limited)
    other = len(responses) - ok - len(limited)
    print(
        f"burst of {2 * args.limit} at {args.limit}/min: {ok} accepted, {len(limited)} refused (429), "
        f"{other} other; 429s with Retry-After: {with_retry}/{len(limited)}"
    )
    emit(
        "server_limits",
        {
            "limit": args.limit,
            "burst": 2 * args.limit,
            "accepted": ok,
            "refused": len(limited),
            "other": other,
            "refused_with_retry_after": with_retry,
        },
    )


if __name__ == "__main__":
    main()
