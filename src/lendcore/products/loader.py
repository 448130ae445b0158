"""Loading product files from ``policies/products``: schema validation and a version hash."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError as SchemaError

from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.products.model import Product
from lendcore.products.quote import validate_product_pricing


def policies_dir() -> Path:
    """``$LENDCORE_POLICIES_DIR``, else ``./policies``, else the one shipped beside the source."""
    configured = os.environ.get("LENDCORE_POLICIES_DIR")
    if configured:
        return Path(configured)
    local = Path.cwd() / "policies"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[3] / "policies"


@dataclass(frozen=True)
class LoadedProduct:
    product: Product
    path: Path
    version_hash: str  # sha256 of the file's bytes: what a decision or loan records
    # The bytes hashed, so the version store keeps exactly what was priced with (empty only for
    # a LoadedProduct built by hand: the store then re-reads the path and checks the hash).
    raw: bytes = field(default=b"", repr=False, compare=False)


def load_product_file(path: Path) -> LoadedProduct:
    return load_product_bytes(path.read_bytes(), path)


def load_product_bytes(raw: bytes, path: Path) -> LoadedProduct:
    """Validate ``raw`` as a product file (``path`` names it in errors and in the result)."""
    try:
        data = yaml.safe_load(raw)
        product = Product.model_validate(data)
    except (yaml.YAMLError, SchemaError) as exc:
        raise ValidationError(
            ErrorCode.INVALID_PRODUCT, f"{path.name}: {_first_line(exc)}", {"file": str(path)}
        ) from None
    try:
        validate_product_pricing(product)
    except LendcoreError as exc:
        raise ValidationError(
            ErrorCode.INVALID_PRODUCT,
            f"{path.name}: {exc.message}",
            {"file": str(path), "cause": str(exc.code)},
        ) from None
    return LoadedProduct(product, path, hashlib.sha256(raw).hexdigest(), raw)


def load_products(directory: Path | None = None) -> dict[str, LoadedProduct]:
    directory = directory or policies_dir() / "products"
    products: dict[str, LoadedProduct] = {}
    for path in sorted(directory.glob("*.yaml")):
        loaded = load_product_file(path)
        if loaded.product.code in products:
            raise ValidationError(
                ErrorCode.INVALID_PRODUCT, f"duplicate product code {loaded.product.code}"
            )
        products[loaded.product.code] = loaded
    return products


def get_product(code: str, directory: Path | None = None) -> LoadedProduct:
    products = load_products(directory)
    if code not in products:
        raise ValidationError(
            ErrorCode.UNKNOWN_PRODUCT, f"no product {code!r}", {"known": sorted(products)}
        )
    return products[code]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in text[:3])
