"""Every .keras file is checked as an archive before Keras reads it: random
bytes, a bomb, or a config naming a file to read are refused by name, fast."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from core.keras_files import MiB, check_keras_file
from core.resources import bundled_models_dir


class Refused(Exception):
    pass


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _with_card(weights: Path, card_name: str, weights_key: str) -> Path:
    """A copy of a bundled card that vouches for `weights` (its checksum):
    the file then reaches the loader, as a tampered pair would."""
    card = json.loads((bundled_models_dir() / f"{card_name}.json").read_text())
    card[weights_key] = weights.name
    card["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    card_file = weights.with_suffix(".json")
    card_file.write_text(json.dumps(card))
    return card_file


def test_random_bytes_are_not_a_keras_model_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.keras"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(Refused, match=r"junk\.keras: not a Keras model file \(not a zip archive\)"):
        check_keras_file(path, Refused)


def test_a_zip_without_a_config_is_not_a_keras_model_file(tmp_path: Path) -> None:
    path = _zip(tmp_path / "other.keras", {"readme.txt": b"hello"})
    with pytest.raises(Refused, match=r"other\.keras: not a Keras model file \(no config\.json inside\)"):
        check_keras_file(path, Refused)


def test_a_config_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "bad.keras", {"config.json": b"\xff{not json"})
    with pytest.raises(Refused, match=r"bad\.keras: not a Keras model file \(config\.json is not valid JSON"):
        check_keras_file(path, Refused)


def test_a_config_that_inflates_past_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    """A 2 MB file whose config inflated to 2 GB took 23 s and 4.8 GB: now
    its declared size refuses it at once (11 MB here, to stay small)."""
    path = _zip(tmp_path / "bomb.keras", {"metadata.json": b"{}", "config.json": b" " * (11 * MiB)})
    assert path.stat().st_size < 100_000
    started = time.monotonic()
    with pytest.raises(Refused, match=r"bomb\.keras: config\.json inside unpacks to 11 MB"):
        check_keras_file(path, Refused)
    assert time.monotonic() - started < 1.0


def test_an_absurd_compression_ratio_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "dense.keras", {"config.json": b"{}", "model.weights.h5": b"\0" * (3 * MiB)})
    with pytest.raises(Refused, match=r"dense\.keras: model\.weights\.h5 inside is packed \d+:1"):
        check_keras_file(path, Refused)


def test_a_total_past_the_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.keras_files

    monkeypatch.setattr(core.keras_files, "MAX_TOTAL_BYTES", 1000)
    path = _zip(tmp_path / "big.keras", {"config.json": b"{}", "a.h5": bytes(range(256)) * 3,
                                         "b.h5": bytes(range(256)) * 3}, zipfile.ZIP_STORED)
    with pytest.raises(Refused, match=r"big\.keras: unpacks to 1538 bytes"):
        check_keras_file(path, Refused)


@pytest.mark.parametrize("layer", ["StringLookup", "IntegerLookup", "TextVectorization"])
def test_a_lookup_layer_naming_a_vocabulary_file_is_refused(tmp_path: Path, layer: str) -> None:
    """Keras before 3.12 read a local file named as a StringLookup's
    vocabulary even with safe_mode on: refused whatever the Keras."""
    secret = tmp_path / "secret.txt"
    secret.write_text("password\n")
    config = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 1], "dtype": "string", "name": "in"}},
        {"class_name": layer, "config": {"name": "lookup", "vocabulary": str(secret)}},
    ]}}
    path = _zip(tmp_path / "lookup.keras", {"metadata.json": b"{}", "config.json": json.dumps(config).encode()})
    with pytest.raises(Refused, match=rf"lookup\.keras: the model's {layer} layer names a file to read"):
        check_keras_file(path, Refused)


def test_a_lookup_layer_with_its_vocabulary_inline_is_not_refused(tmp_path: Path) -> None:
    config = {"class_name": "StringLookup", "config": {"name": "lookup", "vocabulary": ["a", "b"]}}
    path = _zip(tmp_path / "inline.keras", {"config.json": json.dumps(config).encode()})
    check_keras_file(path, Refused)


def test_the_bundled_models_pass_the_check() -> None:
    for name in ("hemalabel-wbc", "cell-detector"):
        check_keras_file(bundled_models_dir() / f"{name}.keras", Refused)


def test_the_classifier_loader_refuses_random_bytes_by_what_they_are(tmp_path: Path) -> None:
    from core.classifier import load_classifier
    from core.models.files import ModelCardError

    weights = tmp_path / "junk.keras"
    weights.write_bytes(b"\x89random bytes, not a model" * 100)
    _with_card(weights, "hemalabel-wbc", "weights_file")
    with pytest.raises(ModelCardError, match=r"junk\.keras: not a Keras model file") as refused:
        load_classifier(weights)
    assert "File not found" not in str(refused.value)


def test_the_detector_loader_refuses_a_bomb(tmp_path: Path) -> None:
    from core.detection.detector import KerasCellDetector
    from core.models.files import ModelCardError

    weights = _zip(tmp_path / "bomb.keras", {"config.json": b" " * (11 * MiB)})
    card = _with_card(weights, "cell-detector", "weights")
    with pytest.raises(ModelCardError, match=r"bomb\.keras: config\.json inside unpacks to 11 MB"):
        KerasCellDetector.load(str(card))


def test_a_copied_bundled_model_still_loads(tmp_path: Path) -> None:
    from core.classifier import load_classifier

    for suffix in (".keras", ".json"):
        shutil.copy(bundled_models_dir() / f"hemalabel-wbc{suffix}", tmp_path / f"hemalabel-wbc{suffix}")
    assert load_classifier(tmp_path / "hemalabel-wbc.keras").classes


def test_every_card_reader_refuses_alike_and_says_where_the_card_goes(tmp_path: Path) -> None:
    """One door reads model cards: a missing file, a file that is not text
    or not JSON, and another kind's card get the same words from each."""
    from core.models.classifier_card import read_card
    from core.models.detector_card import DetectorCard
    from core.models.files import ModelCardError
    from core.models.screen_card import read_screen_card

    readers = (read_card, DetectorCard.load, read_screen_card)
    for body, words in ((None, "model card not found"), (b"\xff\xfe{", "model card is not UTF-8 text"),
                        (b"{", "model card is not valid JSON"), (b"[1]", "model card must be a JSON object")):
        card = tmp_path / "card.json"
        card.unlink(missing_ok=True)
        if body is not None:
            card.write_bytes(body)
        for read in readers:
            with pytest.raises(ModelCardError, match=rf"card\.json: {words}"):
                read(card)
    detector = tmp_path / "detector.json"
    detector.write_text('{"format": "hemalabel-detector-card/1"}', encoding="utf-8")
    for read in (read_card, read_screen_card):
        with pytest.raises(ModelCardError, match=r"the card of a cell detector, not of .*hemalabel detect --model"):
            read(detector)
