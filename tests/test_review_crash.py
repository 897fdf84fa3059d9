"""Several processes and hard kills: no item handed out twice, nothing half-saved, no decision lost."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from napari_petground.dataset import DatasetItem, DatasetWriter
from napari_petground.dataset.layout import read_nifti
from napari_petground.review import ReviewQueue
from napari_petground.review.masks import check_mask, stale_temporaries
from napari_petground.study.volume import Volume

N_CASES, N_ITEMS = 4, 25


def _tiny_dataset(root: Path) -> Path:
    """Cases of 8x8x8 voxels with one single-voxel weak mask per item: cheap, and many items to fight over."""
    writer = DatasetWriter(root)
    for c in range(N_CASES):
        pet = Volume(np.ones((8, 8, 8), np.float32), (4.0, 4.0, 4.0), (0.0, 0.0, 0.0))
        labels = np.zeros(pet.shape, np.uint16)
        items = []
        for k in range(N_ITEMS):
            labels.flat[k * 7] = k + 1
            items.append(DatasetItem(f"c{c}", k, f"Lesion {k}, SUVmax 5.0, image 3.", status="matched",
                                     label=k + 1, tracer="FDG"))
        writer.write_case(f"c{c}", None, pet, labels, items)
    writer.finalize()
    with ReviewQueue(root) as q:
        q.import_dataset()
    return root


def _worker(root: str, annotator: str, start, out) -> None:
    claimed = []
    try:
        with ReviewQueue(root) as q:
            start.wait(timeout=120)  # everybody opened the queue: go at once
            while (lease := q.claim(annotator)) is not None:
                claimed.append(lease.item_id)
                again = q.claim(annotator)  # asking again hands back the same item and lease
                assert (again.item_id, again.token) == (lease.item_id, lease.token)
                time.sleep(0.002)  # looking at it
                q.accept(lease)
    finally:
        out.put((annotator, claimed))


def test_processes_claiming_at_once_never_share_an_item(tmp_path):
    root = _tiny_dataset(tmp_path / "ds")
    ctx = multiprocessing.get_context("spawn")
    names = [f"annotator{k}" for k in range(4)]
    start, out = ctx.Barrier(len(names) + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(root), name, start, out)) for name in names]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    claimed = [item for items in results.values() for item in items]
    assert len(claimed) == len(set(claimed)) == N_CASES * N_ITEMS  # every item once, by exactly one process
    assert sum(1 for items in results.values() if items) >= 2  # they really competed
    with ReviewQueue(root) as q:
        for item in q.items():
            history = q.history(item.item_id)
            assert len(history) == 1 and item.item_id in results[history[0].annotator]


SAVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from napari_petground.review import ReviewQueue
    import napari_petground.review.masks as masks
    import napari_petground.review.queue as queue_module

    root, mode, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])

    def hang(where):
        marker.write_text(where)
        while True:
            time.sleep(1)

    q = ReviewQueue(root)
    item = q.item("c0:3")
    weak = q.weak_mask(item)
    if mode == "before_commit":  # the mask file is complete, the decision row not yet written
        original = queue_module.ReviewQueue._decide
        def decide(self, lease, action, **fields):
            if action == "fix":
                hang("mask written")
            return original(self, lease, action, **fields)
        queue_module.ReviewQueue._decide = decide
    if mode == "before_rename":  # the temporary file is written, not yet renamed
        real_replace = masks.os.replace
        def replace(src, dst):
            if str(dst).endswith(".nii.gz"):
                hang("temporary written")
            return real_replace(src, dst)
        masks.os.replace = replace
    n = 0
    while True:
        n += 1
        mask = weak.copy()
        mask.flat[(n * 37) % mask.size] = True
        lease = q.claim_item("c0:3", "anna")
        d = q.fix(lease, mask, note=str(n))
        with open(marker, "a") as f:
            f.write(f"{d.id}\\n")
""")


def _start_saver(root: Path, mode: str, marker: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", SAVER, str(root), mode, str(marker)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(marker: Path, proc: subprocess.Popen, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.is_file() and predicate(marker.read_text()):
            return
        if proc.poll() is not None:
            raise AssertionError(f"saver died: {proc.stderr.read().decode()}")
        time.sleep(0.01)
    raise AssertionError("saver made no progress")


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()


def _assert_consistent(root: Path) -> list:
    """Every fix in the history points at a complete mask; leftovers are unreferenced or temporary."""
    with ReviewQueue(root) as q:
        history = q.history("c0:3")
        for d in (d for d in history if d.action == "fix"):
            check_mask(root, d.mask_path, d.mask_sha256)
            assert read_nifti(root / d.mask_path).data.sum() == d.mask_voxels
        assert q.check_masks() == []
        referenced = {d.mask_path for d in history if d.mask_path}
    for path in (root / "review_masks").iterdir():
        rel = str(path.relative_to(root))
        if rel not in referenced:  # an orphan from the killed save: complete, or a dot-named temporary
            assert path.name.startswith(".") or read_nifti(path).data.shape == (8, 8, 8)
    return history


@pytest.mark.slow
def test_sigkill_at_random_moments_of_saving_loses_no_committed_fix(tmp_path):
    root = _tiny_dataset(tmp_path / "ds")
    rng = np.random.default_rng(7)
    committed: list[int] = []
    for round_ in range(4):
        marker = tmp_path / f"progress{round_}"
        proc = _start_saver(root, "loop", marker)
        _wait_for(marker, proc, lambda text: text.count("\n") >= 2)
        time.sleep(float(rng.uniform(0.0, 0.3)))
        _kill(proc)
        done = [int(x) for x in marker.read_text().split()]
        history = _assert_consistent(root)
        ids = [d.id for d in history]
        assert ids == sorted(ids) and set(committed + done) <= set(ids)
        committed = ids
    assert len(committed) >= 8


def test_sigkill_between_mask_write_and_commit_keeps_the_previous_decision(tmp_path):
    root = _tiny_dataset(tmp_path / "ds")
    with ReviewQueue(root) as q:
        item = q.item("c0:3")
        previous = q.fix(q.claim_item(item.item_id, "anna"), q.weak_mask(item) | np.roll(q.weak_mask(item), 1))
    marker = tmp_path / "marker"
    proc = _start_saver(root, "before_commit", marker)
    _wait_for(marker, proc, lambda text: text == "mask written")
    _kill(proc)
    history = _assert_consistent(root)
    assert history == [previous]
    files = sorted(p.name for p in (root / "review_masks").iterdir())
    assert len(files) == 2 and not any(f.startswith(".") for f in files)  # the new mask: whole, unreferenced
    with ReviewQueue(root) as q:
        assert q.item("c0:3").decision == previous
        assert np.array_equal(q.fixed_mask(previous), q.weak_mask(q.item("c0:3")) | np.roll(q.weak_mask(item), 1))


def test_sigkill_before_the_rename_leaves_only_a_temporary_file(tmp_path):
    root = _tiny_dataset(tmp_path / "ds")
    with ReviewQueue(root) as q:
        previous = q.accept(q.claim_item("c0:3", "anna"))
    marker = tmp_path / "marker"
    proc = _start_saver(root, "before_rename", marker)
    _wait_for(marker, proc, lambda text: text == "temporary written")
    _kill(proc)
    assert _assert_consistent(root) == [previous]
    files = list((root / "review_masks").iterdir())
    assert len(files) == 1 and files[0].name.startswith(".") and files[0].name.endswith(".tmp.nii.gz")
    assert stale_temporaries(root, older_than_s=0) == files
    with ReviewQueue(root) as q:
        assert q.item("c0:3").state == "accepted"
