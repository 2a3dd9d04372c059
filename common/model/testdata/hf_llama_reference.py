"""An independent PyTorch implementation of Hugging Face's Llama forward pass, used to check
Plumb's C++ model. It reads a model folder as Hugging Face would (config.json, model.safetensors
parsed by hand here, since Debian has no `safetensors` package) and writes the logits.

usage: hf_llama_reference.py MODEL_DIR INPUTS_JSON OUTPUT_BIN
  INPUTS_JSON: {"input_ids": [[...]], "attention_mask": [[...]]}  (right padding)
  OUTPUT_BIN:  float32 logits [B, T, V], little-endian, row-major
"""
import json
import math
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16,
          "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        dtype = DTYPES[info["dtype"]]
        if raw:
            tensors[name] = torch.frombuffer(raw, dtype=dtype).reshape(info["shape"])
        else:
            tensors[name] = torch.zeros(info["shape"], dtype=dtype)
    return tensors


def rms_norm(x, weight, eps):
    x32 = x.to(torch.float32)
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x32.to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(cfg, w, input_ids, attention_mask):
    batch, length = input_ids.shape
    hidden_size = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    head_dim = hidden_size // heads
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_theta", 10000.0)

    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    positions = torch.arange(length, dtype=torch.float32)  # HF's default position_ids
    freqs = torch.outer(positions, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]

    # 4D additive mask: causal and padding, with the dtype's minimum as HF does.
    minimum = torch.finfo(torch.float32).min
    causal = torch.tril(torch.ones(length, length, dtype=torch.bool))
    allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
    mask = torch.zeros(batch, 1, length, length).masked_fill(~allowed, minimum)

    x = w["model.embed_tokens.weight"][input_ids]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).view(batch, length, heads, head_dim).transpose(1, 2)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).view(batch, length, kv_heads, head_dim).transpose(1, 2)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).view(batch, length, kv_heads, head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        repeat = heads // kv_heads  # repeat_kv: each kv head serves `repeat` consecutive q heads
        k = k[:, :, None].expand(batch, kv_heads, repeat, length, head_dim).reshape(batch, heads, length, head_dim)
        v = v[:, :, None].expand(batch, kv_heads, repeat, length, head_dim).reshape(batch, heads, length, head_dim)
        scores = q @ k.transpose(2, 3) / math.sqrt(head_dim) + mask
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        attended = (probs @ v).transpose(1, 2).reshape(batch, length, heads * head_dim)
        x = x + attended @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T)
        x = x + (gate * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def main():
    model_dir, inputs_path, output_path = sys.argv[1:4]
    with open(f"{model_dir}/config.json") as f:
        cfg = json.load(f)
    weights = {k: v.to(torch.float32) for k, v in read_safetensors(f"{model_dir}/model.safetensors").items()}
    with open(inputs_path) as f:
        inputs = json.load(f)
    ids = torch.tensor(inputs["input_ids"], dtype=torch.int64)
    mask = torch.tensor(inputs["attention_mask"], dtype=torch.int64)
    with torch.no_grad():
        logits = forward(cfg, weights, ids, mask).to(torch.float32).contiguous()
    with open(output_path, "wb") as f:
        f.write(logits.numpy().tobytes())


if __name__ == "__main__":
    main()
