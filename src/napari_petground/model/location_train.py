"""Teaching the location prior where each sentence points, directly from the lesion positions.

Through the segmentation loss the prior only learns from the voxels of one crop per sentence and from a
handful of sentences per step; it stays vague for hundreds of steps and the decoder meanwhile learns to
ignore it. Here the prior alone is trained on every sentence of every training exam: a cross-entropy over
the exam's body coordinates (a sparse sample of all voxels plus every lesion voxel) whose target is the
described lesion's voxels — the same "where" term as the segmentation loss, without the U-Net. It costs
milliseconds per sentence, so it runs as a warm-up before the network trains (``location_warmup`` steps)
and as an auxiliary term of every training step (``location_weight``), which keeps the prior sharp while
the decoder learns the finer choice between neighbouring sites.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Exam

BACKGROUND_STRIDE = 3  # every 3rd voxel along each axis (~1/27 of the body) stands for "elsewhere"


@dataclass
class LocationExample:
    text: str
    points: np.ndarray  # (N, 3) x, y, z body coordinates: background sample, then every lesion voxel
    target: np.ndarray  # (N,) bool: the described lesion's voxels


def location_examples(exams: list[Exam], axes: tuple[int | None, int | None, int | None]) -> list[LocationExample]:
    """One example per sentence of the exams; ``axes`` are the coordinate channels' indices (x, y, z) among
    the image's position channels (channel 2 onwards), as in ``LocationPrior``."""
    out = []
    for exam in exams:
        positions = exam.image[2:]
        coords = [positions[a] if a is not None else np.zeros(positions.shape[1:], np.float32) for a in axes]
        s = BACKGROUND_STRIDE
        background = np.stack([c[::s, ::s, ::s].ravel() for c in coords], 1)
        lesions = [np.stack([c[t > 0] for c in coords], 1) for t in exam.targets]
        points = np.concatenate([background, *lesions]).astype(np.float32)
        starts = np.cumsum([len(background)] + [len(p) for p in lesions])
        for sentence in exam.sentences:
            target = np.zeros(len(points), bool)
            target[starts[sentence.target]: starts[sentence.target] + len(lesions[sentence.target])] = True
            if target.any():
                out.append(LocationExample(sentence.text, points, target))
    return out


def location_loss(prior, encoder, examples: list[LocationExample], device: str):
    """Mean "where" cross-entropy of the prior over the examples' points (a scalar tensor with gradient)."""
    import torch

    tokens, mask = encoder.encode_batch([e.text for e in examples])
    grids = prior.grid_logits(torch.from_numpy(tokens).to(device), torch.from_numpy(mask).to(device)).float()
    total = grids.new_zeros(())
    for grid, example in zip(grids, examples, strict=True):
        points = torch.from_numpy(example.points).to(device)
        logits = prior.read(grid[None], points[None, :, 0], points[None, :, 1], points[None, :, 2])[0]
        target = torch.from_numpy(example.target).to(device)
        total = total + torch.logsumexp(logits, 0) - torch.logsumexp(logits[target], 0)
    return total / len(examples)


def warm_up_location(prior, encoder, examples: list[LocationExample], steps: int, lr: float, device: str,
                     rng: np.random.Generator, batch: int = 32) -> float:
    """Train the prior alone for ``steps`` steps of ``batch`` sentences; returns the last loss."""
    import torch

    optimizer = torch.optim.AdamW(prior.parameters(), lr=lr, weight_decay=1e-4)
    value = float("nan")
    for _ in range(steps):
        chosen = [examples[int(i)] for i in rng.integers(0, len(examples), min(batch, len(examples)))]
        loss = location_loss(prior, encoder, chosen, device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
    return value


def location_rank1(prior, encoder, exams: list[Exam], device: str) -> float:
    """How often the prior alone ranks the described lesion first among its exam's lesions (exams with
    two or more lesions): a quick check that the prior learned sites and sides."""
    import torch

    hits = n = 0
    with torch.no_grad():
        for exam in exams:
            if len(exam.targets) < 2 or not exam.sentences:
                continue
            tokens, mask = encoder.encode_batch([s.text for s in exam.sentences])
            grids = prior.grid_logits(torch.from_numpy(tokens).to(device), torch.from_numpy(mask).to(device))
            coords = prior.coordinates(torch.from_numpy(exam.image[None, 2:]).to(device))
            maps = prior.read(grids.float(), *(c.expand(len(exam.sentences), *c.shape[1:]) for c in coords))[:, 0]
            for sentence, score in zip(exam.sentences, maps, strict=True):
                means = [float(score[torch.from_numpy(t > 0).to(device)].mean()) for t in exam.targets]
                hits += int(int(np.argmax(means)) == sentence.target)
                n += 1
    return hits / n if n else float("nan")
