#!/usr/bin/env python3
"""Writes a testkit Llama model directory (config.json + model.safetensors, BF16 or F32) as GGUF,
or a PEFT LoRA adapter of it as a GGUF LoRA adapter.

Usage: PYTHONPATH=<llama.cpp>/gguf-py llamacpp_gguf.py MODEL_DIR OUT.gguf f16|bf16
       PYTHONPATH=<llama.cpp>/gguf-py llamacpp_gguf.py --lora ADAPTER_DIR MODEL_DIR OUT.gguf f16|f32

The tensors are the checkpoint's, renamed and laid out as llama.cpp's convert_hf_to_gguf.py writes
a LlamaForCausalLM (q/k rows permuted from the HF rotary halves to llama.cpp's interleaved pairs;
norms in F32; every matrix in the requested 16-bit type), with numpy alone: this machine has no
torch or safetensors package. The vocabulary is a stand-in of the model's size: 256 byte tokens
(<0x00> ..), then <s> and </s> at the config's bos/eos ids, then plain tokens, as a SentencePiece
("llama") vocabulary; llama-bench and llama-batched-bench time random token ids and never read
text, so the stand-in changes no timing.

The adapter (adapter_config.json + adapter_model.safetensors) is written as convert_lora_to_gguf.py
writes one: general.type "adapter", adapter.type "lora", adapter.lora.alpha the PEFT lora_alpha
(llama.cpp scales by alpha / rank, rank read from lora_b, as PEFT does without rslora), and per
target blk.N.<proj>.weight.lora_a = lora_A [rank, in] and .lora_b = lora_B [out, rank] as stored
(numpy's row-major shape is ggml's ne reversed: ne = [in, rank] and [rank, out], the orientation
llama-adapter.cpp checks), with the q/k lora_B rows permuted as the base q/k rows are.
"""
import json
import re
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


PER_LAYER = {
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


def llama_config(model_dir):
    cfg = json.loads((model_dir / "config.json").read_text())
    if cfg.get("architectures") != ["LlamaForCausalLM"]:
        sys.exit(f"{model_dir}: only LlamaForCausalLM is converted, not {cfg.get('architectures')}")
    return cfg


def write_lora(adapter_dir, model_dir, out, kind):
    cfg = llama_config(model_dir)
    acfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    if acfg.get("peft_type") != "LORA" or acfg.get("use_rslora") or acfg.get("use_dora"):
        sys.exit(f"{adapter_dir}: only plain PEFT LoRA is converted (no rslora, no DoRA)")
    if acfg.get("alpha_pattern") or acfg.get("rank_pattern") or acfg.get("fan_in_fan_out"):
        sys.exit(f"{adapter_dir}: alpha_pattern, rank_pattern and fan_in_fan_out are not converted")
    rank, alpha = int(acfg["r"]), float(acfg["lora_alpha"])
    tensors = read_safetensors(adapter_dir / "adapter_model.safetensors")
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]

    w = gguf.GGUFWriter(out, "llama")
    w.add_type(gguf.GGUFType.ADAPTER)
    w.add_name(adapter_dir.name)
    w.add_string(gguf.Keys.Adapter.TYPE, "lora")
    w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if kind == "f16" else gguf.LlamaFileType.ALL_F32)
    prefix = "base_model.model.model.layers."
    for name in sorted(tensors):
        m = re.fullmatch(re.escape(prefix) + r"(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight", name)
        if not m or f"{m[2]}.weight" not in PER_LAYER or int(m[1]) >= cfg["num_hidden_layers"]:
            sys.exit(f"{adapter_dir}: tensor {name} is not a lora_A/lora_B of a layer projection")
        dtype, a = tensors[name]
        a = to_f32(dtype, a)
        if a.ndim != 2 or a.shape[1 if m[3] == "B" else 0] != rank:
            sys.exit(f"{adapter_dir}: tensor {name} has shape {list(a.shape)}, not of rank {rank}")
        if m[3] == "B" and m[2] == "self_attn.q_proj":
            a = permute(a, n_head)
        elif m[3] == "B" and m[2] == "self_attn.k_proj":
            a = permute(a, n_kv)
        gg = f"blk.{m[1]}.{PER_LAYER[m[2] + '.weight']}.lora_{m[3].lower()}"
        w.add_tensor(gg, np.ascontiguousarray(a.astype(np.float16 if kind == "f16" else np.float32)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--lora" and sys.argv[5] in ("f16", "f32"):
        write_lora(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    if len(sys.argv) != 4 or sys.argv[3] not in ("f16", "bf16"):
        sys.exit(__doc__)
    model_dir, out, kind = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    cfg = llama_config(model_dir)
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
    for i in range(cfg["num_hidden_layers"]):
        for hf, gg in PER_LAYER.items():
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
