"""Write (or check) openapi/: each service's OpenAPI, the gateway's merged one, asyncapi.yaml."""

import argparse
import importlib
import json
import sys
from pathlib import Path

import yaml

from api_gateway.main import create_app as create_gateway
from api_gateway.openapi_merge import merged_openapi
from services.contracts.events import asyncapi_document
from services.kit.settings import SERVICES


def documents() -> dict[str, str]:
    """Return file name → content of everything under openapi/."""
    out: dict[str, str] = {}
    services = {}
    for name in SERVICES:
        # Built in-process (deploy may import the services), so the files never depend on what runs.
        services[name] = importlib.import_module(f"services.{name}.main").create_app().openapi()
        out[f"{name}.json"] = _json(services[name])
    # The running gateway fetches the same documents over HTTP and merges them the same way.
    out["gateway.json"] = _json(merged_openapi(create_gateway(), services))
    out["asyncapi.yaml"] = yaml.safe_dump(
        asyncapi_document(), allow_unicode=True, sort_keys=False, width=100
    )
    return out


def _json(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if the folder is stale")
    args = parser.parse_args()
    docs = documents()
    if args.check:
        stale = [
            name
            for name, text in docs.items()
            if not (args.folder / name).exists() or (args.folder / name).read_text() != text
        ]
        extra = {p.name for p in args.folder.glob("*") if p.is_file()} - set(docs) - {"README.md"}
        if stale or extra:
            print(
                f"openapi/ is stale: {', '.join(sorted(stale + list(extra)))}; run `make openapi`",
                file=sys.stderr,
            )
            return 1
        print("openapi/ is up to date")
        return 0
    args.folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (args.folder / name).write_text(text)
    print(f"wrote {len(docs)} files to {args.folder}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
