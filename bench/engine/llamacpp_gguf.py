#!/usr/bin/env python3
"""Writes a testkit Llama model directory (config.json + model.safetensors, BF16 or F32) as GGUF.

Usage: PYTHONPATH=<llama.cpp>/gguf-py llamacpp_gguf.py MODEL_DIR OUT.gguf f16|bf16

The tensors are the checkpoint's, renamed and laid out as llama.cpp's convert_hf_to_gguf.py writes
a LlamaForCausalLM (q/k rows permuted from the HF rotary halves to llama.cpp's interleaved pairs;
norms in F32; every matrix in the requested 16-bit type), with numpy alone: this machine has no
torch or safetensors package. The vocabulary is a stand-in of the model's size: 256 byte tokens
(<0x00> ..), then <s> and </s> at the config's bos/eos ids, then plain tokens, as a SentencePiece
("llama") vocabulary; llama-bench and llama-batched-bench time random token ids and never read
text, so the stand-in changes no timing.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np

try:
    import sentencepiece  # noqa: F401  (gguf-py imports it; no vocabulary here needs it)
except ImportError:
    import types

    sys.modules["sentencepiece"] = types.SimpleNamespace(SentencePieceProcessor=None)
import gguf  # noqa: E402


def read_safetensors(path):
    """{name: ndarray} of a .safetensors file (8-byte little-endian header length, JSON header,
    raw little-endian data); BF16 arrives as uint16 bit patterns."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    (n,) = struct.unpack("<Q", bytes(raw[:8]))
    header = json.loads(bytes(raw[8 : 8 + n]))
    base = 8 + n
    kinds = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in kinds:
            sys.exit(f"{path}: tensor {name} has dtype {info['dtype']}: only BF16, F16, F32 are converted")
        a, b = info["data_offsets"]
        out[name] = (info["dtype"], raw[base + a : base + b].view(kinds[info["dtype"]]).reshape(info["shape"]))
    return out


def to_f32(dtype, a):
    if dtype == "BF16":
        return (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float32)


def permute(w, n_head):
    """HF rotary halves -> llama.cpp's interleaved pairs (convert_hf_to_gguf.py LlamaModel.permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("f16", "bf16"):
        sys.exit(__doc__)
    model_dir, out, kind = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    cfg = json.loads((model_dir / "config.json").read_text())
    if cfg.get("architectures") != ["LlamaForCausalLM"]:
        sys.exit(f"{model_dir}: only LlamaForCausalLM is converted, not {cfg.get('architectures')}")
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", cfg["hidden_size"] // n_head)
    vocab = cfg["vocab_size"]
    tensors = read_safetensors(model_dir / "model.safetensors")

    w = gguf.GGUFWriter(out, "llama")
    w.add_name(model_dir.name)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(float(cfg.get("rope_theta", 10000.0)))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    w.add_vocab_size(vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if kind == "f16" else gguf.LlamaFileType.MOSTLY_BF16)

    bos, eos = cfg.get("bos_token_id", 256), cfg.get("eos_token_id", 257)
    toks, types = [], []
    for i in range(vocab):
        if i < 256:
            toks.append(f"<0x{i:02X}>")
            types.append(gguf.TokenType.BYTE)
        elif i == bos:
            toks.append("<s>")
            types.append(gguf.TokenType.CONTROL)
        elif i == eos:
            toks.append("</s>")
            types.append(gguf.TokenType.CONTROL)
        else:
            toks.append(f"\u2581t{i}")
            types.append(gguf.TokenType.NORMAL)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_scores([-float(i) for i in range(vocab)])
    w.add_token_types(types)
    w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    per_layer = {
        "input_layernorm.weight": "attn_norm.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight",
        "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight",
        "self_attn.o_proj.weight": "attn_output.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight",
        "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }
    for i in range(cfg["num_hidden_layers"]):
        for hf, gg in per_layer.items():
            names[f"model.layers.{i}.{hf}"] = f"blk.{i}.{gg}"
    if cfg.get("tie_word_embeddings"):
        names.pop("lm_head.weight")
    missing = sorted(set(names) - set(tensors))
    extra = sorted(set(tensors) - set(names))
    if missing or extra:
        sys.exit(f"{model_dir}: tensors missing {missing[:5]}, not converted {extra[:5]}")

    for hf, gg in names.items():
        dtype, a = tensors[hf]
        if a.ndim == 1:
            w.add_tensor(gg, to_f32(dtype, a))
            continue
        if hf.endswith("q_proj.weight"):
            a = permute(a, n_head)
        elif hf.endswith("k_proj.weight"):
            a = permute(a, n_kv)
        if kind == "f16":
            w.add_tensor(gg, to_f32(dtype, a).astype(np.float16))
        elif dtype == "BF16":
            w.add_tensor(gg, np.ascontiguousarray(a), raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:  # F32/F16 -> BF16, round to nearest even
            u = to_f32(dtype, a).view(np.uint32)
            b = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
            w.add_tensor(gg, b, raw_dtype=gguf.GGMLQuantizationType.BF16)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
