#!/usr/bin/env python3
"""The PyTorch peer of `pnpm bench -- --suite pytorch` (apps/bench/src/suites/pytorch.ts).

Runs Hugging Face's own `LSHSelfAttention` (transformers' `models/reformer/modeling_reformer.py`, loaded
unmodified from the file given by --modeling-reformer) and answers the bench over stdin/stdout, one
JSON object per line each way:

    → {"cmd": "prepare", "length": L, "dir": D}
      builds the layer for length L (a fresh config, so HF's automatic bucket count is chosen for L),
      runs one forward and one forward + backward, and writes little-endian files into D: float32
      hidden, query_key, value, rotations (the ones HF draws), output, grad_hidden, grad_query_key,
      grad_value, and int32 buckets (what the layer returns: [batch, heads, num_hashes, L] with the
      round offsets)
    ← {"ok": true, "length": L, "numBuckets": 32 | [16, 32], "files": {name: {"file": path, "shape": [...]}}}
    → {"cmd": "time", "pass": "forward" | "backward", "runs": n}
      n calls on the prepared case (backward = forward + backward of sum(output))
    ← {"ok": true, "wallMs": [...], "cpuMs": [...]}
    → {"cmd": "quit"}

The first line written is {"ok": true, "ready": true, ...} describing torch, its BLAS and the HF file.
Failures are answered {"ok": false, "error": "..."}; anything else goes to stderr.

Only the module file's imports that are not torch/numpy are replaced, by stand-ins that the LSH layer
never calls (the model classes, docstring decorators, outputs), and `nn.Buffer` is provided on a torch
that predates it (< 2.5) as the plain tensor it wraps: the layer keeps its four mask constants in it.
"""

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import re
import sys
import time
import types
from pathlib import Path


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modeling-reformer", required=True, help="path of transformers' models/reformer/modeling_reformer.py")
    p.add_argument("--threads", type=int, required=True, help="torch intra-op threads (and its OpenMP and BLAS pools)")
    p.add_argument("--seed", type=int, required=True, help="seed of the inputs, the weights and the rotations (hash_seed)")
    p.add_argument("--n-hashes", type=int, required=True, help="hash rounds (num_hashes)")
    p.add_argument("--chunk", type=int, required=True, help="lsh_attn_chunk_length")
    p.add_argument("--dhead", type=int, required=True, help="hidden size = the one head's size")
    return p.parse_args(argv)


ARGS = parse_args(sys.argv[1:])
# Before torch is imported: its OpenMP and BLAS pools read these.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402
from torch import nn  # noqa: E402

OUT = sys.stdout
sys.stdout = sys.stderr  # only reply() writes to the protocol stream


def reply(obj):
    OUT.write(json.dumps(obj) + "\n")
    OUT.flush()


class _Unused:
    """Stand-in for what the modeling file imports but the LSH layer never uses."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("hf_lsh_attention.py stand-in: only LSHSelfAttention is loaded")


def _auto_docstring(obj=None, **_kwargs):
    return obj if obj is not None else (lambda o: o)


def load_lsh_self_attention(path):
    """HF's LSHSelfAttention class from `path`, with stand-ins for the file's package imports."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass a transformers source tree to --hf-transformers")
    if not hasattr(nn, "Buffer"):
        nn.Buffer = lambda data=None, persistent=True: data
    log = logging.getLogger("transformers.models.reformer")
    log.setLevel(logging.ERROR)  # "config.num_buckets is not set": the bench reports the count itself

    def module(name, package=False, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        if package:
            m.__path__ = []
        sys.modules[name] = m
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, m)
        return m

    module("transformers", package=True)
    module("transformers.models", package=True)
    module("transformers.models.reformer", package=True)
    module("transformers.initialization")
    module("transformers.activations", ACT2FN={})
    module("transformers.generation", GenerationMixin=type("GenerationMixin", (), {}))
    module("transformers.modeling_outputs", **{n: _Unused for n in ("CausalLMOutput", "MaskedLMOutput", "QuestionAnsweringModelOutput", "SequenceClassifierOutput")})
    module("transformers.modeling_utils", PreTrainedModel=type("PreTrainedModel", (nn.Module,), {"__init__": _Unused.__init__}))
    module("transformers.pytorch_utils", apply_chunking_to_forward=_Unused)
    module(
        "transformers.utils",
        DUMMY_INPUTS=[],
        DUMMY_MASK=[],
        ModelOutput=type("ModelOutput", (), {}),
        auto_docstring=_auto_docstring,
        logging=types.SimpleNamespace(get_logger=lambda name=None: log),
        torch_compilable_check=lambda *a, **k: None,
    )
    module("transformers.models.reformer.configuration_reformer", ReformerConfig=_Unused)
    name = "transformers.models.reformer.modeling_reformer"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod.LSHSelfAttention


def hf_version(path):
    init = Path(path).resolve().parents[2] / "__init__.py"
    try:
        m = re.search(r'__version__\s*=\s*"([^"]+)"', init.read_text())
        return m.group(1) if m else None
    except OSError:
        return None


def blas_libraries():
    """The BLAS/LAPACK shared objects mapped into this process (after a matmul has loaded them)."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if re.search(r"blas|lapack|mkl", os.path.basename(p), re.I):
                    libs.add(p)
    except OSError:
        pass
    return sorted(libs)


def config(length):
    """The layer's configuration: one head of dhead, causal, HF's automatic bucket count (num_buckets None)."""
    return types.SimpleNamespace(
        lsh_attn_chunk_length=ARGS.chunk,
        num_hashes=ARGS.n_hashes,
        num_buckets=None,
        lsh_num_chunks_before=1,
        lsh_num_chunks_after=0,
        hash_seed=ARGS.seed,
        is_decoder=True,
        max_position_embeddings=4096,
        lsh_attention_probs_dropout_prob=0.0,
        num_attention_heads=1,
        attention_head_size=ARGS.dhead,
        hidden_size=ARGS.dhead,
    )


class Case:
    def __init__(self, cls, length, out_dir):
        torch.manual_seed(ARGS.seed)
        self.layer = cls(config(length)).eval()
        self.hidden = torch.randn(1, length, ARGS.dhead)
        out, buckets = self.forward_backward()
        nb = self.layer.num_buckets
        rotation_size = nb if isinstance(nb, int) else sum(nb)
        # What _hash_vectors draws: torch.manual_seed(hash_seed), then one randn of this shape.
        torch.manual_seed(ARGS.seed)
        rotations = torch.randn(1, ARGS.dhead, ARGS.n_hashes, rotation_size // 2)
        tensors = {
            "hidden": self.hidden,
            "query_key": self.layer.query_key.weight,
            "value": self.layer.value.weight,
            "rotations": rotations,
            "output": out,
            "grad_hidden": self.hidden.grad,
            "grad_query_key": self.layer.query_key.weight.grad,
            "grad_value": self.layer.value.weight.grad,
            "buckets": buckets,
        }
        os.makedirs(out_dir, exist_ok=True)
        self.files = {}
        for name, t in tensors.items():
            f = os.path.join(out_dir, f"{name}.f32")
            t.detach().contiguous().numpy().astype("<i4" if name == "buckets" else "<f4").tofile(f)
            self.files[name] = {"file": f, "shape": list(t.shape)}
        self.num_buckets = nb if isinstance(nb, int) else list(nb)

    def forward(self):
        with torch.no_grad():
            return self.layer(self.hidden).hidden_states

    def forward_backward(self):
        self.layer.zero_grad(set_to_none=True)
        self.hidden.grad = None
        self.hidden.requires_grad_(True)
        result = self.layer(self.hidden)
        result.hidden_states.sum().backward()
        self.hidden.requires_grad_(False)
        return result.hidden_states.detach(), result.buckets

    def time(self, which, runs):
        wall, cpu = [], []
        for _ in range(runs):
            if which == "backward":
                self.layer.zero_grad(set_to_none=True)
                self.hidden.grad = None
                self.hidden.requires_grad_(True)
            w0, c0 = time.perf_counter(), time.process_time()
            if which == "forward":
                self.forward()
            else:
                self.layer(self.hidden).hidden_states.sum().backward()
            cpu.append((time.process_time() - c0) * 1e3)
            wall.append((time.perf_counter() - w0) * 1e3)
            self.hidden.requires_grad_(False)
        return wall, cpu


def main():
    torch.set_num_threads(ARGS.threads)
    try:
        cls = load_lsh_self_attention(ARGS.modeling_reformer)
    except Exception as e:  # noqa: BLE001 - reported to the bench, which names the file
        reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
        return 1
    source = Path(ARGS.modeling_reformer).read_bytes()
    reply(
        {
            "ok": True,
            "ready": True,
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "blas": blas_libraries(),
            "hfFile": str(Path(ARGS.modeling_reformer).resolve()),
            "hfVersion": hf_version(ARGS.modeling_reformer),
            "hfSha256": hashlib.sha256(source).hexdigest(),
        }
    )
    case = None
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
            cmd = msg.get("cmd")
            if cmd == "quit":
                break
            if cmd == "prepare":
                case = None
                case = Case(cls, int(msg["length"]), msg["dir"])
                reply({"ok": True, "length": int(msg["length"]), "numBuckets": case.num_buckets, "files": case.files})
            elif cmd == "time":
                if case is None:
                    raise RuntimeError("'time' before a successful 'prepare'")
                if msg.get("pass") not in ("forward", "backward"):
                    raise ValueError(f"pass must be 'forward' or 'backward', got {msg.get('pass')!r}")
                wall, cpu = case.time(msg["pass"], int(msg.get("runs", 1)))
                reply({"ok": True, "wallMs": wall, "cpuMs": cpu})
            else:
                raise ValueError(f"unknown command {cmd!r}")
        except Exception as e:  # noqa: BLE001 - every failure is answered, the bench decides
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
