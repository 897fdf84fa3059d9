"""The physical limit of grounding: multiply-accumulates of one network window, part by part.

Counts the multiply-accumulates (MACs; 1 MAC = 2 floating-point operations) of one forward pass of the
grounding network over one window — the encoder, each decoder stage (up-sampling, text gate, convolutions),
and the output (output gate, segmentation layer, location prior) — with torch's FlopCounterMode on the meta
device (nothing is computed). Two architectures: the demo's widths (8, 16, 32, 64, 128; patch 64×48×64) and
the paper's nnU-Net 3d_fullres widths (32, 64, 128, 256, 320, 320; six stages, so a patch divisible by 32:
64×64×64 here; MACs grow with the patch's voxels).

With ``--time`` it also measures, on this machine's CPU, the demo network's encoder and decoder over one
window and a large float32 matrix product (the practical peak), and prints the achieved share of that peak.
Run it only on a quiet machine.

    .venv/bin/python benchmarks/bench_flops.py [--time] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

DEMO = {"features": (8, 16, 32, 64, 128), "strides": (1, 2, 2, 2, 2), "patch": (64, 48, 64)}
PAPER = {"features": (32, 64, 128, 256, 320, 320), "strides": (1, 2, 2, 2, 2, 2), "patch": (64, 64, 64)}
TOKENS = 64  # the text encoder's max_tokens: the gates attend over this many token states


def build(spec: dict, device: str = "meta"):
    import torch

    from napari_petground.model.config import ModelConfig, NetworkConfig
    from napari_petground.model.network import build_network

    n = len(spec["features"])
    cfg = ModelConfig(network=NetworkConfig(features=spec["features"], strides=spec["strides"],
                                            gated_stages=(0, 1, 2) if n > 3 else (0, 1)))
    cfg.preprocess.patch_size = spec["patch"]
    with torch.device(device):
        return build_network(cfg).eval(), cfg


def _part(name: str, n_decoder: int) -> str | None:
    """Which part of the network a module (FlopCounterMode's dotted name) belongs to."""
    parts = name.split(".")
    if len(parts) < 2:
        return None
    if parts[1] == "encoder":
        return "encoder"
    if parts[1] == "decoder" and len(parts) > 3 and parts[2] in ("transpconvs", "stages"):
        return f"decoder stage {parts[3]}"
    if parts[1] == "gates" and len(parts) > 2:
        return f"decoder stage {parts[2]}"
    if parts[1] in ("output_gate", "location") or (parts[1] == "decoder" and len(parts) > 2 and parts[2] == "seg_layers"):
        return "output"
    return None


def count(spec: dict) -> dict:
    """MACs of one window, by part, plus the per-stage output resolution and width."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    net, cfg = build(spec)
    patch = spec["patch"]
    image = torch.zeros((1, cfg.preprocess.in_channels, *patch), device="meta")
    tokens = torch.zeros((1, TOKENS, cfg.network.text_dim), device="meta")
    mask = torch.ones((1, TOKENS), dtype=torch.bool, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(image, tokens, mask)
    by_module = counter.get_flop_counts()
    n_decoder = len(net.decoder.stages)
    parts: dict[str, int] = {}
    for name, ops in by_module.items():
        part = _part(name, n_decoder)
        if part is None or name.count(".") != _depth(name):
            continue
        parts[part] = parts.get(part, 0) + sum(ops.values())
    total = sum(by_module.get("Global", {}).values())
    widths = net.encoder.output_channels
    voxels = patch[0] * patch[1] * patch[2]
    stage_info = []
    for s in range(n_decoder):
        stride = 1
        for v in spec["strides"][: n_decoder - s]:
            stride *= v
        stage_info.append({"stage": s, "width": widths[-(s + 2)], "voxel_stride": stride,
                           "gmac": round(parts.get(f"decoder stage {s}", 0) / 2e9, 4)})
    return {"features": list(spec["features"]), "patch": list(patch), "total_gmac": round(total / 2e9, 3),
            "encoder_gmac": round(parts.get("encoder", 0) / 2e9, 3),
            "decoder_gmac": round(sum(v for k, v in parts.items() if k.startswith("decoder")) / 2e9, 3),
            "output_gmac": round(parts.get("output", 0) / 2e9, 3), "stages": stage_info,
            "mac_per_voxel": round(total / 2 / voxels)}


def _depth(name: str) -> int:
    """Module depth at which a part is counted once (FlopCounterMode also lists every parent)."""
    parts = name.split(".")
    if parts[1] == "encoder":
        return 1
    if parts[1] == "decoder":
        return 3 if parts[2] in ("transpconvs", "stages") and len(parts) > 3 else 2
    if parts[1] == "gates":
        return 2
    return 1


def measure(threads: int, repeat: int = 5) -> dict:
    """Seconds of the demo network's encoder and decoder over one window (CPU, float32, median of
    ``repeat``) and the practical float32 peak (a 4096² matrix product)."""
    import statistics

    import torch

    torch.set_num_threads(threads)
    net, cfg = build(DEMO, "cpu")
    image = torch.randn((1, cfg.preprocess.in_channels, *DEMO["patch"]))
    tokens = torch.randn((1, TOKENS, cfg.network.text_dim))
    mask = torch.ones((1, TOKENS), dtype=torch.bool)

    def best(fn) -> float:
        fn()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    with torch.inference_mode():
        skips = net.encode(image)
        encoder_s = best(lambda: net.encode(image))
        decoder_s = best(lambda: net.decode(skips, tokens, mask))
        a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
        matmul_s = best(lambda: a @ b)
    return {"threads": threads, "encoder_s": round(encoder_s, 4), "decoder_s": round(decoder_s, 4),
            "matmul_gflops": round(2 * 4096 ** 3 / matmul_s / 1e9, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", action="store_true", help="also measure the demo network and the CPU's peak")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    out = {"demo": count(DEMO), "paper": count(PAPER)}
    for name in ("demo", "paper"):
        r = out[name]
        print(f"{name}: widths {r['features']}, patch {'×'.join(map(str, r['patch']))}: {r['total_gmac']} GMAC "
              f"(encoder {r['encoder_gmac']}, decoder {r['decoder_gmac']}, output {r['output_gmac']}; "
              f"{r['mac_per_voxel']} MAC per input voxel)")
        for s in r["stages"]:
            print(f"    decoder stage {s['stage']}: width {s['width']}, 1/{s['voxel_stride']} resolution, "
                  f"{s['gmac']} GMAC")
    if args.time:
        m = measure(args.threads)
        demo = out["demo"]
        enc = demo["encoder_gmac"] * 2 / m["encoder_s"]
        dec = (demo["decoder_gmac"] + demo["output_gmac"]) * 2 / m["decoder_s"]
        m.update({"encoder_gflops": round(enc, 1), "decoder_gflops": round(dec, 1),
                  "encoder_share_of_peak": round(enc / m["matmul_gflops"], 3),
                  "decoder_share_of_peak": round(dec / m["matmul_gflops"], 3)})
        out["measured"] = m
        print(f"measured ({m['threads']} threads): encoder {m['encoder_s']} s/window = {m['encoder_gflops']} GFLOP/s, "
              f"decoder {m['decoder_s']} s/window = {m['decoder_gflops']} GFLOP/s; float32 matmul peak "
              f"{m['matmul_gflops']} GFLOP/s (encoder {m['encoder_share_of_peak']:.0%}, decoder "
              f"{m['decoder_share_of_peak']:.0%} of it)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
