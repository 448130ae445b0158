"""The product version store: a kept version loads by hash after the file changed, a stored file
that does not match its hash is refused, an unknown version or a version of another product is
UNKNOWN_PRODUCT, and a product that changed since it was loaded is not kept under the old hash."""

import shutil

import pytest

from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.products.loader import load_product_file, policies_dir
from lendcore.products.versions import ProductVersionStore

SHIPPED = policies_dir() / "products" / "consumer_instalment.yaml"


@pytest.fixture
def product(tmp_path):
    path = tmp_path / "consumer_instalment.yaml"
    shutil.copy(SHIPPED, path)
    return path


def _edit(path):
    path.write_text(path.read_text("utf-8").replace('min: "0.0720"', 'min: "0.1100"'), "utf-8")


def test_a_kept_version_loads_by_hash_after_the_file_changed(tmp_path, product):
    original = load_product_file(product)
    ProductVersionStore(tmp_path / "versions").keep(original)
    _edit(product)
    assert load_product_file(product).version_hash != original.version_hash
    fresh = ProductVersionStore(tmp_path / "versions")  # another process: from disk
    loaded = fresh.version("consumer_instalment", original.version_hash)
    assert loaded.version_hash == original.version_hash
    assert loaded.product == original.product


def test_a_stored_version_that_does_not_match_its_hash_is_refused(tmp_path, product):
    original = load_product_file(product)
    ProductVersionStore(tmp_path / "versions").keep(original)
    _edit(tmp_path / "versions" / f"{original.version_hash}.yaml")
    with pytest.raises(LendcoreError) as caught:
        ProductVersionStore(tmp_path / "versions").version(
            "consumer_instalment", original.version_hash
        )
    assert caught.value.code is ErrorCode.INVALID_PRODUCT


@pytest.mark.parametrize("code", ["consumer_instalment", "small_short_term"])
def test_an_unknown_version_or_another_products_version_is_unknown_product(tmp_path, product, code):
    original = load_product_file(product)
    store = ProductVersionStore(tmp_path / "versions")
    store.keep(original)
    digest = original.version_hash if code != "consumer_instalment" else "0" * 64
    with pytest.raises(LendcoreError) as caught:
        store.version(code, digest)
    assert caught.value.code is ErrorCode.UNKNOWN_PRODUCT


def test_a_product_that_changed_since_it_was_loaded_is_not_kept(tmp_path, product):
    loaded = load_product_file(product)
    stale = type(loaded)(loaded.product, loaded.path, loaded.version_hash)  # no bytes: re-read
    _edit(product)
    with pytest.raises(LendcoreError) as caught:
        ProductVersionStore(tmp_path / "versions").keep(stale)
    assert caught.value.code is ErrorCode.INVALID_PRODUCT
    assert not (tmp_path / "versions" / f"{loaded.version_hash}.yaml").exists()
