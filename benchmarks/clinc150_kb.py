"""Convert CLINC150 (../shared/clinc150/data_full.json) into a knowledge directory.

Each intent becomes an entry whose questions are its 100 training phrasings: a plain
folder with one YAML file holding a list of entries, as DESIGN.md says `--kb` must load.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parents[2] / "shared" / "clinc150" / "data_full.json"


def load_splits(path: Path = DATA) -> dict[str, list[tuple[str, str]]]:
    return {name: [(text, intent) for text, intent in rows] for name, rows in json.loads(path.read_text()).items()}


def write_kb(directory: Path, path: Path = DATA) -> Path:
    phrasings: dict[str, list[str]] = defaultdict(list)
    for text, intent in load_splits(path)["train"]:
        phrasings[intent].append(text)
    entries = [{"id": intent.replace("_", "-"), "title": intent.replace("_", " "), "questions": texts,
                "answer": f"(CLINC150 intent {intent})"} for intent, texts in sorted(phrasings.items())]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "clinc150.yaml").write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return directory


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    print(write_kb(parser.parse_args().directory))
