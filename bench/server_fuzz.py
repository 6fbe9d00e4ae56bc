"""schemathesis against a running ``ponder serve``'s /openapi.json: N cases per endpoint (1,000 by default),
counting server errors (5xx) and responses that do not match the document.

    python bench/server_fuzz.py [--cases 1000]
"""

from __future__ import annotations

import argparse
import re
import subprocess

import httpx

from _common import emit
from _server import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()
    with serve("scripted:The answer is 42.", log_level="warning") as server:
        command = [
            "schemathesis",
            "run",
            server.url + "/openapi.json",
            "--max-examples",
            str(args.cases),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance,response_headers_conformance",
            "--header",
            f"Authorization: Bearer {server.key}",
            "--no-color",
            "--suppress-health-check",
            "all",
            "--workers",
            "1",
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        metrics = httpx.get(server.url + "/metrics").text
    per_path: dict[str, int] = {}
    for path, status, count in re.findall(
        r'ponder_http_requests_total\{path="([^"]+)",status="(\d+)"\} (\S+)', metrics
    ):
        per_path[path] = per_path.get(path, 0) + int(float(count))
        if status.startswith("5"):
            per_path["5xx"] = per_path.get("5xx", 0) + int(float(count))
    out = done.stdout + done.stderr
    print(out[-4000:])
    print("requests the server answered, by path (5xx: server errors):", per_path)
    emit(
        "server_fuzz",
        {
            "cases_per_endpoint_max": args.cases,
            "exit_code": done.returncode,
            "requests_by_path": per_path,
            "summary": out[-1500:],
        },
    )
    raise SystemExit(done.returncode)


if __name__ == "__main__":
    main()
