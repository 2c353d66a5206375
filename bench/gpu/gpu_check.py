#!/usr/bin/env python3
"""The GPU checks of bench/gpu/run.sh: correctness against transformers + PEFT and speed against
the limits measured in the same run. Every check that cannot run (a mode the engine does not have
yet, a failure, the time budget) leaves its JSON keys null with the reason, and the rest go on.

Needs: an NVIDIA GPU, torch, transformers, peft, safetensors, numpy; the carried build's
gpu_check executable. No network, no JDK. Writes a report to --out whose last line is one JSON
object.
"""
import argparse
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import time

T0 = time.time()
# The engine device the checks run on (cpu: the model modes without a GPU, to try the plumbing).
DEVICE = os.environ.get("FLOTILLA_GPU_CHECK_DEVICE", "cuda:0")
RESULT = {}
REASONS = {}
LINES = []


def log(msg):
    line = f"[{time.time() - T0:6.1f}s] {msg}"
    print(line, flush=True)
    LINES.append(line)


def missing(key, reason):
    RESULT[key] = None
    REASONS[key] = str(reason)[:300]
    log(f"{key}: null ({REASONS[key]})")


def left(budget):
    return budget - (time.time() - T0)


def engine(check, *args, timeout=300, sanitizer=None):
    """Runs gpu_check and returns its JSON lines; raises with its output on failure."""
    cmd = ([sanitizer, "--tool", "memcheck", "--error-exitcode", "3"] if sanitizer else []) + [check, *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    for l in p.stderr.splitlines()[-20:]:
        if l.strip():
            LINES.append("    " + l)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} exited {p.returncode}: {p.stdout[-400:]} {p.stderr[-400:]}")
    return out


# --- models ---------------------------------------------------------------------------------

SHAPES = {
    # Llama-3.2-1B and Llama-3.1-8B shapes, random weights
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, head_dim=64, tie_word_embeddings=True),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, head_dim=128, tie_word_embeddings=False),
    "tiny": dict(hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=8,
                 num_key_value_heads=2, head_dim=32, tie_word_embeddings=False),
}
PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_model(torch, name, root):
    from transformers import LlamaConfig, LlamaForCausalLM
    d = os.path.join(root, name)
    if os.path.exists(os.path.join(d, "config.json")):
        return d
    cfg = LlamaConfig(vocab_size=128256 if name != "tiny" else 1024, max_position_embeddings=8192,
                      rope_theta=500000.0, rms_norm_eps=1e-5,
                      rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                      **SHAPES[name])
    torch.manual_seed(0)
    with torch.device("cuda"):
        m = LlamaForCausalLM(cfg).to(torch.bfloat16)
    with torch.no_grad():  # norms away from 1, so a wrong norm weight shows
        for n, p in m.named_parameters():
            if "norm" in n:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    m.save_pretrained(d, safe_serialization=True, max_shard_size="5GB")
    classic_rope_keys(os.path.join(d, "config.json"))
    del m
    torch.cuda.empty_cache()
    return d


def classic_rope_keys(path):
    """Newer transformers write RoPE settings as rope_parameters; checkpoints on the Hub (and the
    engine) use rope_theta and rope_scaling. Write both, so both readers see the same RoPE."""
    cfg = json.load(open(path))
    rp = cfg.get("rope_parameters")
    if isinstance(rp, dict):
        cfg.setdefault("rope_theta", rp.get("rope_theta", 10000.0))
        if rp.get("rope_type", "default") != "default" and not cfg.get("rope_scaling"):
            cfg["rope_scaling"] = {k: v for k, v in rp.items() if k != "rope_theta"}
        json.dump(cfg, open(path, "w"), indent=2)
        log(f"{path}: rope_parameters also written as rope_theta / rope_scaling")


def make_adapters(torch, model_dir, root, count, rank=16):
    """PEFT LoRA adapters (rank 16, all seven projections) with nonzero lora_B, written directly."""
    from safetensors.torch import save_file
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    H, I, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    hd = cfg.get("head_dim") or H // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    dims = {"q_proj": (H, q), "k_proj": (H, kv), "v_proj": (H, kv), "o_proj": (q, H), "gate_proj": (H, I),
            "up_proj": (H, I), "down_proj": (I, H)}
    dirs = []
    g = torch.Generator(device="cuda")
    for a in range(count):
        d = os.path.join(root, f"lora{a}")
        dirs.append(d)
        if os.path.exists(os.path.join(d, "adapter_config.json")):
            continue
        g.manual_seed(1000 + a)
        t = {}
        for l in range(L):
            for p in PROJ:
                i, o = dims[p]
                mod = "self_attn" if p in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
                pre = f"base_model.model.model.layers.{l}.{mod}.{p}"
                t[pre + ".lora_A.weight"] = (torch.randn(rank, i, generator=g, device="cuda") / math.sqrt(i)).to(
                    torch.bfloat16).cpu()
                t[pre + ".lora_B.weight"] = (0.02 * torch.randn(o, rank, generator=g, device="cuda")).to(
                    torch.bfloat16).cpu()
        os.makedirs(d, exist_ok=True)
        save_file(t, os.path.join(d, "adapter_model.safetensors"))
        json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 2 * rank,
                   "lora_dropout": 0.0, "bias": "none", "target_modules": PROJ, "base_model_name_or_path": model_dir,
                   "fan_in_fan_out": False, "use_rslora": False},
                  open(os.path.join(d, "adapter_config.json"), "w"))
    return dirs


# --- limits ---------------------------------------------------------------------------------

def limits(torch):
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    torch.cuda.synchronize()
    t = time.time()
    for _ in range(20):
        y.copy_(x)
    torch.cuda.synchronize()
    RESULT["d2d_copy_gb_s"] = round(2 * 20 * x.numel() / (time.time() - t) / 1e9, 1)  # read + write
    del x, y
    rates = {}
    for m, k, n in [(2048, 4096, 4096), (2048, 4096, 14336), (2048, 14336, 4096)]:
        a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
        for _ in range(3):
            a @ b
        torch.cuda.synchronize()
        t = time.time()
        for _ in range(20):
            a @ b
        torch.cuda.synchronize()
        rates[f"{m}x{k}x{n}"] = 2 * m * k * n * 20 / (time.time() - t)
    RESULT["torch_bf16_matmul_tflops"] = round(min(rates.values()) / 1e12, 1)
    log(f"limits: d2d copy {RESULT['d2d_copy_gb_s']} GB/s (read+write), torch bf16 matmul "
        f"{RESULT['torch_bf16_matmul_tflops']} TFLOP/s (slowest of the 8B prefill shapes)")


# --- correctness ----------------------------------------------------------------------------

def reference_logits(torch, model_dir, adapter_dir, tokens):
    from transformers import LlamaForCausalLM
    key = model_dir
    if REF.get("dir") != key:
        REF.clear()
        torch.cuda.empty_cache()
        REF["dir"] = key
        REF["model"] = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32).cuda().eval()
        REF["peft"] = None
    torch.backends.cuda.matmul.allow_tf32 = False
    m = REF["model"]
    ids = torch.tensor([tokens], device="cuda")
    with torch.no_grad():
        if adapter_dir is None:
            if REF["peft"] is not None:
                with REF["peft"].disable_adapter():
                    return REF["peft"](ids).logits[0, -1].float().cpu().numpy()
            return m(ids).logits[0, -1].float().cpu().numpy()
        from peft import PeftModel
        if REF["peft"] is None:
            REF["peft"] = PeftModel.from_pretrained(m, adapter_dir).eval()
        return REF["peft"](ids).logits[0, -1].float().cpu().numpy()


REF = {}


def correctness(torch, np, check, work, models, budget):
    try:
        logits_cases(torch, np, check, work, models, budget)
    finally:  # the float32 reference (32 GB for 8B) leaves the GPU for the steps after
        REF.clear()
        torch.cuda.empty_cache()


def logits_cases(torch, np, check, work, models, budget):
    worst = 0.0
    rows = []
    for name, model_dir, adapter in models:
        for n in (1, 37, 1000):
            for with_adapter in (False, True):
                if left(budget) < 60:
                    log(f"logits: stopped after {len(rows)} of 12 cases (time budget)")
                    return
                rng = np.random.default_rng(n)
                toks = rng.integers(0, 128256 if name != "tiny" else 1024, size=n).astype(np.int32)
                tf = os.path.join(work, "tokens.bin")
                toks.tofile(tf)
                out = os.path.join(work, "logits.bin")
                args = ["logits", DEVICE, model_dir, out, tf] + ([adapter] if with_adapter else [])
                r = engine(check, *args)[0]
                got = np.fromfile(out, dtype=np.float32)
                want = reference_logits(torch, model_dir, adapter if with_adapter else None, toks.tolist())
                rel = float(np.linalg.norm(got - want) / np.linalg.norm(want))
                worst = max(worst, rel)
                rows.append(rel)
                RESULT["max_rel_l2_vs_transformers"] = worst  # so far: a stop keeps what ran
                RESULT["logits_cases"] = len(rows)
                log(f"logits {name} prompt={n} adapter={with_adapter}: rel L2 {rel:.2e} "
                    f"(engine load {r['load_seconds']:.1f} s)")
                if name == "8b":
                    RESULT["load_gb_s"] = max(RESULT.get("load_gb_s") or 0, round(r["load_gb_s"], 2))


# --- main -----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True, help="the carried gpu_check executable")
    ap.add_argument("--work", required=True, help="scratch directory for the generated models")
    ap.add_argument("--out", required=True, help="report file")
    ap.add_argument("--budget", type=float, default=450, help="seconds for everything")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    check = os.path.abspath(a.check)
    try:
        import numpy as np
        import torch
    except Exception as e:  # without torch nothing below runs
        missing("gpu", f"python: {e}")
        return finish(a.out)

    # devices
    try:
        dev = engine(check, "devices")
        RESULT["gpu"] = dev[1]["name"] if len(dev) > 1 else None
        if RESULT["gpu"] is None:
            REASONS["gpu"] = dev[0].get("reason")
        log(f"engine devices: {json.dumps(dev)}")
    except Exception as e:
        missing("gpu", e)
    RESULT["torch_gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    log(f"torch {torch.__version__} sees {RESULT['torch_gpu']}")

    steps = [
        ("limits", lambda: limits(torch)),
        ("kernels", lambda: kernels(check)),
    ]
    for name, fn in steps:
        try:
            fn()
        except Exception as e:
            missing(name, e)

    # models
    try:
        tiny = make_model(torch, "tiny", a.work)
        tiny_ad = make_adapters(torch, tiny, os.path.join(a.work, "tiny-lora"), 2)
        one = make_model(torch, "1b", a.work)
        one_ad = make_adapters(torch, one, os.path.join(a.work, "1b-lora"), 64)
        eight = make_model(torch, "8b", a.work)
        eight_ad = make_adapters(torch, eight, os.path.join(a.work, "8b-lora"), 64)
        log("models: tiny, 1B and 8B Llama shapes (random BF16 weights), 64 rank-16 adapters each for 1B and 8B")
    except Exception as e:
        missing("models", e)
        return finish(a.out)

    try:
        san = shutil.which("compute-sanitizer") or "/usr/local/cuda/bin/compute-sanitizer"
        tf = os.path.join(a.work, "san-tokens.bin")
        np.arange(37, dtype=np.int32).tofile(tf)
        engine(check, "logits", DEVICE, tiny, os.path.join(a.work, "san.bin"), tf, tiny_ad[0], sanitizer=san,
               timeout=240)
        RESULT["compute_sanitizer_errors"] = 0
        log("compute-sanitizer memcheck: no errors (tiny model, 37 tokens, adapter)")
    except Exception as e:
        missing("compute_sanitizer_errors", e)

    try:  # the device step against the CPU engine on the same files: no transformers in between
        worst = 0.0
        for name, model, ad, n in [("tiny", tiny, tiny_ad[0], 300), ("1b", one, one_ad[0], 200)]:
            tf = os.path.join(a.work, "cmp-tokens.bin")
            np.random.default_rng(7).integers(0, 1024 if name == "tiny" else 128256, size=n).astype(np.int32).tofile(tf)
            for args in ([model, tf], [model, tf, ad]):
                r = engine(check, "compare", *args, timeout=240)[0]
                worst = max(worst, r["max_rel_l2_vs_cpu"])
                log(f"cuda:0 vs CPU engine, {name}, {n} tokens in chunks of 64, adapter={len(args) > 2}: "
                    f"rel L2 {r['max_rel_l2_vs_cpu']:.2e}, argmax equal {r['argmax_same']}/{r['steps']}")
        RESULT["max_rel_l2_vs_cpu_engine"] = worst
    except Exception as e:
        missing("max_rel_l2_vs_cpu_engine", e)

    try:
        correctness(torch, np, check, a.work, [("1b", one, one_ad[0]), ("8b", eight, eight_ad[0])], a.budget)
    except Exception as e:
        missing("max_rel_l2_vs_transformers", e)

    try:
        r = engine(check, "mixed", DEVICE, one, os.path.dirname(one_ad[0]), 64, 8)[0]
        RESULT["b64_rows_matching_solo"] = r["rows_matching_solo"]
        log(f"64 rows with 64 adapters: {r['rows_matching_solo']} of 64 give their solo tokens (8 steps)")
    except Exception as e:
        missing("b64_rows_matching_solo", e)

    eight_dir = os.path.dirname(eight_ad[0])
    key_speed(check, eight, eight_dir, a.budget)
    try:
        if left(a.budget) < 90:
            raise TimeoutError("time budget")
        peft_peer(torch, eight, eight_ad)
    except Exception as e:
        missing("b64_mixed_vs_peft", e)
    if left(a.budget) > 120:
        speed(check, eight, eight_dir, a.budget, OTHER_CASES)
    else:
        for c in OTHER_CASES:
            b, m = c.split(":")
            missing(f"decode_b{b}_{m}_tok_s", "time budget")
    return finish(a.out)


def kernels(check):
    out = engine(check, "kernels", timeout=180)
    for r in out:
        log(f"kernel: {json.dumps(r)}")
    RESULT["kernel_failures"] = out[-1].get("failures")


def engine_stream(check, args, seconds):
    """Runs gpu_check and keeps the JSON lines it printed before `seconds` ran out."""
    p = subprocess.Popen([check, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=max(seconds, 1))
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err += f"\n(stopped after {seconds:.0f} s: time budget)"
    for l in err.splitlines()[-20:]:
        if l.strip():
            LINES.append("    " + l)
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")], p.returncode, err


# The cases the JSON keys need first, then the rest of the grid.
KEY_CASES = ["1:none", "64:none", "64:distinct"]
OTHER_CASES = ["1:shared", "1:distinct", "16:none", "16:shared", "16:distinct", "64:shared", "256:none",
               "256:shared", "256:distinct"]


def speed(check, model, adapters, budget, cases):
    rows, rc, err = engine_stream(check, ["decode", DEVICE, model, adapters, 20, 128, *cases],
                                  left(budget) - 100)
    rates = {}
    for r in rows:
        rates[(r["batch"], r["adapters"])] = r
        RESULT[f"decode_b{r['batch']}_{r['adapters']}_tok_s"] = r["tokens_per_s"]
        log(f"decode 8B batch {r['batch']} adapters {r['adapters']}: {r['tokens_per_s']:.0f} tok/s, "
            f"{r['step_ms']:.2f} ms/step (context 128, 64 adapters over the rows when distinct)")
    for c in cases:
        b, m = c.split(":")
        if (int(b), m) not in rates:
            missing(f"decode_b{b}_{m}_tok_s", f"gpu_check exited {rc}: {err.strip()[-200:]}")
    return rates


def key_speed(check, model, adapters, budget):
    rates = speed(check, model, adapters, budget, KEY_CASES)
    bw = RESULT.get("d2d_copy_gb_s")
    if (1, "none") in rates and bw:
        r = rates[(1, "none")]
        # bw counts the copy's reads and writes, as the memory system's rate; a decode step at batch 1
        # reads the weights once: the roofline time is weight_bytes / bw
        RESULT["decode_b1_roofline"] = round(r["weight_bytes"] / (bw * 1e9) / (r["step_ms"] / 1e3), 3)
    else:
        missing("decode_b1_roofline", "no batch-1 decode or copy bandwidth")
    if (64, "none") in rates and (64, "distinct") in rates:
        RESULT["decode_b64_distinct_vs_none"] = round(
            rates[(64, "distinct")]["tokens_per_s"] / rates[(64, "none")]["tokens_per_s"], 3)
    else:
        missing("decode_b64_distinct_vs_none", "a batch-64 decode did not run")
    try:
        r = engine(check, "prefill", DEVICE, model, 2048, timeout=max(left(budget) - 60, 30))[0]
        tf = RESULT.get("torch_bf16_matmul_tflops")
        RESULT["prefill2048_tok_s"] = r["tokens_per_s"]
        RESULT["prefill2048_vs_matmul"] = round(r["gemm_flops"] / r["seconds"] / (tf * 1e12), 3) if tf else None
        log(f"prefill 2048 tokens on 8B: {r['seconds'] * 1e3:.0f} ms, {r['tokens_per_s']:.0f} tok/s "
            f"(projection FLOPs over the torch bf16 matmul rate: {RESULT['prefill2048_vs_matmul']})")
    except Exception as e:
        missing("prefill2048_vs_matmul", e)


def peft_peer(torch, model_dir, adapters, batch=64, steps=16):
    """transformers + PEFT with a mixed batch (adapter_names), BF16, greedy decode: tokens/s."""
    from peft import PeftModel
    from transformers import LlamaForCausalLM
    m = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).cuda().eval()
    names = [f"a{i}" for i in range(batch)]
    pm = PeftModel.from_pretrained(m, adapters[0], adapter_name=names[0])
    for i in range(1, batch):
        pm.load_adapter(adapters[i % len(adapters)], adapter_name=names[i])
    ids = torch.randint(0, 128256, (batch, 128), device="cuda")
    with torch.no_grad():
        pm.generate(input_ids=ids, max_new_tokens=2, do_sample=False, adapter_names=names)
        torch.cuda.synchronize()
        t = time.time()
        pm.generate(input_ids=ids, max_new_tokens=steps, min_new_tokens=steps, do_sample=False, adapter_names=names)
        torch.cuda.synchronize()
    rate = batch * steps / (time.time() - t)
    RESULT["peft_b64_mixed_tok_s"] = round(rate, 1)
    ours = RESULT.get("decode_b64_distinct_tok_s")
    if ours:
        RESULT["b64_mixed_vs_peft"] = round(ours / rate, 2)
    else:
        missing("b64_mixed_vs_peft", "the engine's batch-64 distinct decode did not run")
    log(f"transformers + PEFT, 64 rows with 64 adapters: {rate:.0f} tok/s (includes a 128-token prefill)")
    del pm, m
    torch.cuda.empty_cache()


def finish(out):
    keys = ["gpu", "decode_b1_roofline", "decode_b64_distinct_vs_none", "prefill2048_vs_matmul",
            "b64_mixed_vs_peft", "load_gb_s", "max_rel_l2_vs_transformers"]
    for k in keys:
        if k not in RESULT:
            missing(k, REASONS.get(k, "not measured (an earlier step failed)"))
    RESULT["null_reasons"] = REASONS
    RESULT["seconds"] = round(time.time() - T0, 1)
    RESULT["date"] = datetime.date.today().isoformat()
    with open(out, "w") as f:
        f.write("\n".join(LINES) + "\n")
        f.write(json.dumps(RESULT) + "\n")
    print(json.dumps(RESULT))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # whatever broke, the report still gets written
        missing("script", f"{type(e).__name__}: {e}")
        out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else "gpu-report.txt"
        finish(out)
        sys.exit(1)
