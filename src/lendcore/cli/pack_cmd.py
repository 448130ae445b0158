"""``lendcore collections pack show`` (a pack's text, current or any kept past version) and
``lendcore collections pack bounds`` (the statutory bounds fixed in code per jurisdiction)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

import typer

from lendcore.cli.collections_cmd import collections_app
from lendcore.cli.common import console, print_json
from lendcore.collections.legal_bounds import BOUNDS
from lendcore.collections.loader import get_pack, pack_version_text
from lendcore.collections.model import DEFAULT_PACK
from lendcore.kernel.errors import ErrorCode, ValidationError

pack_app = typer.Typer(help="合规规则包 / Compliance packs: versions and legal bounds")
collections_app.add_typer(pack_app, name="pack")


@pack_app.command("show")
def show(
    code: str = typer.Argument(DEFAULT_PACK, help="the pack (ignored with --version cn@HASH)"),
    version: str | None = typer.Option(
        None,
        "--version",
        help="a past version, as an audit record names it (cn@<sha256>) or the bare sha256",
    ),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """规则包原文 / The exact text of a pack: current, or the version a past gate check used."""
    if version is None:
        compiled = get_pack(code)
        kept_code, raw = pack_version_text(compiled.version)
    else:
        kept_code, raw = pack_version_text(version)
    digest = version.rpartition("@")[2] if version else compiled.version_hash
    if json_out:
        print_json(
            {
                "code": kept_code,
                "version_hash": digest,
                "pack_version": f"{kept_code}@{digest}",
                "yaml": raw.decode("utf-8"),
            }
        )
        return
    sys.stdout.write(raw.decode("utf-8"))


def _bound_rows(jurisdiction: str) -> dict[str, Any]:
    law = BOUNDS.get(jurisdiction.upper())
    if law is None:
        raise ValidationError(
            ErrorCode.UNKNOWN_JURISDICTION,
            f"no statutory bounds for {jurisdiction!r}",
            {"known": sorted(BOUNDS)},
        )
    quiet = asdict(law.quiet)
    quiet.update(start=f"{law.quiet.start:%H:%M}", end=f"{law.quiet.end:%H:%M}")
    return {
        "jurisdiction": law.code,
        "quiet_hours": quiet,
        "caps": [asdict(c) for c in law.caps],
        "minimums": [asdict(m) for m in law.minimums],
    }


@pack_app.command("bounds")
def bounds(
    jurisdiction: str = typer.Argument("CN", help="CN or US"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """法定界限 / The statutory bounds every pack of a jurisdiction is checked against (code)."""
    document = _bound_rows(jurisdiction)
    if json_out:
        print_json(document)
        return
    quiet = document["quiet_hours"]
    console.print(f"[bold]{document['jurisdiction']}[/]", highlight=False)
    console.print(
        f"  quiet_hours ⊇ {quiet['start']}-{quiet['end']}  ({quiet['source']})", highlight=False
    )
    for cap in document["caps"]:
        days = f", days >= {cap['min_days']}" if cap["min_days"] else ""
        console.print(
            f"  {cap['rule']}: max <= {cap['max']}{days}  ({cap['source']})", highlight=False
        )
    for minimum in document["minimums"]:
        console.print(
            f"  {minimum['rule']}.{minimum['field']} >= {minimum['minimum']}  ({minimum['source']})",
            highlight=False,
        )
