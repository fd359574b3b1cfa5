"""Which store holds a checkpoint folder, from ``state.checkpoints.dir`` and Flink's s3.*
keys; what is refused before any I/O. (The object store itself is tested against
SeaweedFS in tests/integration/test_s3_checkpoints.py.)"""

from pathlib import Path

import pytest

from runtime.checkpoint.coordinator import CheckpointConfig
from runtime.checkpoint.store import LocalStore, ObjectStore, StoreError, open_store


def test_a_folder_or_a_file_url_is_a_local_store(tmp_path: Path) -> None:
    config = CheckpointConfig.from_config({"state.checkpoints.dir": f"file://{tmp_path}"})
    assert config.directory == str(tmp_path) and not config.remote
    assert isinstance(config.store, LocalStore)
    storage = config.storage("orders")
    storage.complete(storage.prepare(1), _metadata())
    assert storage.latest() == str(tmp_path / "orders" / "chk-1")


def test_an_s3_url_is_an_object_store_with_flinks_keys() -> None:
    config = CheckpointConfig.from_config(
        {
            "state.checkpoints.dir": "s3://bucket/checkpoints",
            "s3.endpoint": "http://127.0.0.1:9",
            "s3.access-key": "a",
            "s3.secret-key": "s",
            "s3.path.style.access": "true",
            "parallelism.default": "2",
        }
    )
    assert config.remote and dict(config.store_options) == {
        "s3.endpoint": "http://127.0.0.1:9",
        "s3.access-key": "a",
        "s3.secret-key": "s",
        "s3.path.style.access": "true",
    }
    store = config.store
    assert isinstance(store, ObjectStore) and store.remote
    assert store.join("s3://bucket/checkpoints", "job", "chk-1") == "s3://bucket/checkpoints/job/chk-1"


def test_another_scheme_is_refused_by_name() -> None:
    with pytest.raises(StoreError, match=r"not to gs://") as e:
        open_store("gs://bucket/checkpoints", {})
    assert "s3://bucket/path" in e.value.message


def test_an_access_key_without_its_secret_is_refused() -> None:
    with pytest.raises(StoreError, match=r"'s3\.access-key' and 's3\.secret-key' go together"):
        open_store("s3://bucket/x", {"s3.access-key": "a"})


def _metadata():  # type: ignore[no-untyped-def]
    from runtime.checkpoint.storage import CheckpointMetadata

    return CheckpointMetadata(checkpoint_id=1, job_name="orders", plan_fingerprint="p", timestamp_ms=0)
