"""Bad and unusual input on the command line: every mistake a user can make ends in one line,
``petground <command>: error: ...``, exit status 2 and no traceback; ``--debug`` shows the traceback.

Cases that need real file permissions run the command in a child process as an unprivileged user (root,
whom file modes do not stop, drops to ``nobody`` with setpriv), so the operating system refuses for real.
"""

from __future__ import annotations

import builtins
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from napari_petground.cli import main
from napari_petground.errors import PetGroundError, PhantomError

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534
SENTENCE = "Left axillary lymph node, SUVmax 6.1."


def error_line(text: str, command: str) -> str:
    """The one line a user sees; fails on a traceback, several lines or another prefix."""
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith(f"petground {command}: error: "), text
    return lines[0]


def user_error(capsys, argv: list[str], command: str) -> str:
    code = main(argv)
    line = error_line(capsys.readouterr().err, command)
    assert code == 2, line
    return line


# --- arguments ----------------------------------------------------------------------------------------------

def test_phantom_with_a_seed_that_is_not_a_number(capsys):
    line = user_error(capsys, ["ground", "phantom:abc", SENTENCE], "ground")
    assert "phantom:abc" in line and "phantom:7" in line


def test_wrong_arguments_are_one_line_with_exit_status_2(capsys):
    line = user_error(capsys, ["ground", "phantom:1"], "ground")
    assert "sentence" in line and "--help" in line
    line = user_error(capsys, ["ground", "phantom:1", SENTENCE, "--device", "gpu"], "ground")
    assert "'gpu'" in line
    line = user_error(capsys, ["train", "--phantoms", "2", "--features", "8,x", "--out", "run"], "train")
    assert "--features" in line
    line = user_error(capsys, ["train", "--phantoms", "2", "--suv-window", "30", "--out", "run"], "train")
    assert "--suv-window" in line and "LOW,HIGH" in line
    line = user_error(capsys, ["review", "status"], "review status")
    assert "dataset" in line
    line = user_error(capsys, ["describe-train", "--forest-trees", "-5"], "describe-train")
    assert "--forest-trees" in line and "-5" in line
    line = user_error(capsys, ["describe-train", "--steps", "2"], "describe-train")  # before any phantom is made
    assert "--steps" in line and "at least 3" in line


def test_describe_and_coarse_train_name_the_sample_file_they_cannot_use(tmp_path, capsys):
    """A kept-samples file that is not one, a missing name among several (which would silently train on fewer
    lesions), a missing file with nothing to make it from and files of two feature layouts: one line each,
    naming the file."""
    import numpy as np

    from napari_petground.model.describe_samples import LesionSample, save_samples

    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not samples")
    kept = tmp_path / "kept.npz"
    save_samples(kept, [LesionSample(np.zeros(4, np.float32), "liver", "", 0, "case-1")])
    out = str(tmp_path / "head")
    common = ["describe-train", "--phantoms", "0", "--val-phantoms", "0", "--out", out, "--steps", "10"]
    line = user_error(capsys, [*common, "--samples", str(garbage)], "describe-train")
    assert "garbage.npz" in line and "cannot read lesion samples" in line
    line = user_error(capsys, [*common, "--samples", f"{kept},{tmp_path / 'typo.npz'}"], "describe-train")
    assert "typo.npz" in line and "not found" in line
    line = user_error(capsys, [*common, "--samples", str(tmp_path / "new.npz")], "describe-train")
    assert "new.npz does not exist" in line and "--phantoms" in line
    native = tmp_path / "native.npz"  # extracted with the CT at the PET grid's resolution: another layout
    save_samples(native, [LesionSample(np.zeros(22, np.float32), "liver", "", 0, "case-2", native_tissue=18)])
    line = user_error(capsys, [*common, "--samples", f"{kept},{native}"], "describe-train")
    assert "with and without the CT" in line and "native.npz" in line
    line = user_error(capsys, ["coarse-train", "--samples", str(garbage), "--out", out], "coarse-train")
    assert "garbage.npz" in line and "cannot read window samples" in line


def test_train_refuses_zero_spacing_and_patch_before_any_work(tmp_path, capsys):
    line = user_error(capsys, ["train", "--phantoms", "2", "--spacing", "0", "--patch", "0,48,64",
                               "--out", str(tmp_path / "run")], "train")
    assert "--spacing" in line and "--patch" in line
    assert not (tmp_path / "run").exists()


def test_an_empty_sentence_is_refused_before_the_model_loads(capsys):
    line = user_error(capsys, ["ground", "phantom:1", "  "], "ground")
    assert "empty" in line


def test_a_sentence_holding_a_lone_surrogate(capsys):
    """What Python makes of bytes that are not UTF-8 on the command line (surrogateescape)."""
    line = user_error(capsys, ["ground", "phantom:1", "Left axillary node \udcff SUVmax 6.1"], "ground")
    assert "not text" in line and "UTF-8" in line


def test_a_user_error_is_exit_status_2_for_every_command(tmp_path, capsys):
    user_error(capsys, ["phantom", "--n", "0", "--out", str(tmp_path)], "phantom")
    user_error(capsys, ["info", str(tmp_path / "missing")], "info")
    user_error(capsys, ["view"], "view")
    user_error(capsys, ["review", "status", str(tmp_path / "missing")], "review status")


def test_numbers_out_of_range_are_refused_before_any_work(tmp_path, capsys):
    for option, value in (("--seed", "-1"), ("--pet-resolution", "0"), ("--variants", "-1")):
        line = user_error(capsys, ["phantom", option, value, "--out", str(tmp_path / "p")], "phantom")
        assert option in line
    assert "--cases" in user_error(capsys, ["review", "demo", str(tmp_path / "d"), "--cases", "0"], "review demo")
    assert "--phantoms" in user_error(capsys, ["train", "--out", str(tmp_path / "t")], "train")
    assert sorted(tmp_path.iterdir()) == []


def test_ground_as_dicom_seg_needs_a_dicom_study(tmp_path, capsys):
    line = user_error(capsys, ["ground", "phantom:1", SENTENCE, "--out", str(tmp_path / "m.dcm")], "ground")
    assert "DICOM" in line and ".nii.gz" in line


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(PhantomError):
        main(["--debug", "ground", "phantom:abc", SENTENCE])
    with pytest.raises(PetGroundError):
        main(["ground", "phantom:abc", SENTENCE, "--debug"])
    with pytest.raises(PetGroundError):
        main(["review", "status", "nowhere", "--debug"])


# --- --out ----------------------------------------------------------------------------------------------------

def test_ground_out_below_a_file(tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    line = user_error(capsys, ["ground", "phantom:1", SENTENCE, "--out", str(blocker / "mask.nii.gz")], "ground")
    assert str(blocker) in line and "not a folder" in line
    line = user_error(capsys, ["ground", "phantom:1", SENTENCE, "--out", str(blocker / "a" / "mask.nii.gz")],
                      "ground")
    assert "not a folder" in line
    assert blocker.read_text() == "a file, not a folder"


def test_ground_out_that_is_a_folder_or_not_a_mask_name(tmp_path, capsys):
    (tmp_path / "m.nii.gz").mkdir()
    assert "is a folder" in user_error(capsys, ["ground", "phantom:1", SENTENCE, "--out", str(tmp_path / "m.nii.gz")],
                                       "ground")
    assert ".nii.gz" in user_error(capsys, ["ground", "phantom:1", SENTENCE, "--out", str(tmp_path / "m.txt")],
                                   "ground")


def test_an_os_error_from_a_user_path_is_one_line(tmp_path, capsys, monkeypatch):
    """Whatever the commands do with a path the user named, a refusal of the system is shown as one line."""
    from napari_petground.study import cli as study_cli

    def refuse(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "exam"))

    monkeypatch.setattr(study_cli, "_info", refuse)
    line = user_error(capsys, ["info", str(tmp_path)], "info")
    assert line == f"petground info: error: cannot use {tmp_path / 'exam'}: Permission denied"


# --- real permissions, in a child process as an unprivileged user ------------------------------------------

@pytest.fixture
def shared_tmp():
    """A folder an unprivileged user can reach (pytest's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="petground-cli-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    shutil.rmtree(folder, ignore_errors=True)


def run_unprivileged(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``petground argv`` through cli.main in a child process that file modes apply to."""
    command = [sys.executable, "-c", "import sys; from napari_petground.cli import main; sys.exit(main(sys.argv[1:]))",
               *argv]
    if IS_ROOT:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root needs setpriv to run a command that file modes apply to")
        command = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    env = {**os.environ, "HOME": str(cwd), "PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": str(cwd / ".mpl")}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def check_unprivileged() -> None:
    if IS_ROOT and shutil.which("setpriv") is None:
        pytest.skip("root needs setpriv to run a command that file modes apply to")
    if os.name != "posix":
        pytest.skip("file modes are POSIX")


def test_ground_out_into_a_read_only_folder(shared_tmp):
    check_unprivileged()
    folder = shared_tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    done = run_unprivileged(["ground", "phantom:1", SENTENCE, "--out", str(folder / "mask.nii.gz")], shared_tmp)
    line = error_line(done.stderr, "ground")
    assert done.returncode == 2, done.stderr
    assert str(folder) in line and "write" in line
    assert list(folder.iterdir()) == []


def test_phantom_out_into_a_read_only_folder(shared_tmp):
    check_unprivileged()
    folder = shared_tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    done = run_unprivileged(["phantom", "--out", str(folder / "p"), "--resolution", "12", "--no-progress"],
                            shared_tmp)
    line = error_line(done.stderr, "phantom")
    assert done.returncode == 2 and str(folder) in line


def test_an_unreadable_input_folder(shared_tmp):
    check_unprivileged()
    exam = shared_tmp / "exam"
    exam.mkdir()
    (exam / "pet.nii.gz").write_bytes(b"")
    exam.chmod(0)
    for argv, command in ((["info", str(exam)], "info"), (["ground", str(exam), SENTENCE], "ground")):
        done = run_unprivileged(argv, shared_tmp)
        line = error_line(done.stderr, command)
        assert done.returncode == 2 and str(exam) in line, done.stderr


def test_an_unreadable_input_folder_in_process(tmp_path, capsys, monkeypatch):
    """The same refusal simulated inside this process (every way of listing or opening a path below it)."""
    exam = tmp_path / "exam"
    exam.mkdir()
    (exam / "pet.nii.gz").write_bytes(b"")
    root = os.path.abspath(exam)

    def check(path) -> None:
        if not isinstance(path, int) and os.path.abspath(os.fsdecode(path)).startswith(root):
            raise PermissionError(13, "Permission denied", os.fsdecode(path))

    def guarded(real):
        def call(path=".", *args, **kwargs):
            check(path)
            return real(path, *args, **kwargs)
        return call

    for module, name in ((builtins, "open"), (os, "scandir"), (os, "listdir"), (os, "open")):
        monkeypatch.setattr(module, name, guarded(getattr(module, name)))
    line = user_error(capsys, ["info", str(exam)], "info")
    assert str(exam) in line


def test_review_on_a_read_only_database(shared_tmp):
    """A dataset another user made: its review database cannot be written by this one."""
    check_unprivileged()
    dataset = shared_tmp / "dataset"
    assert main(["review", "demo", str(dataset), "--cases", "1"]) == 0
    assert main(["review", "import", str(dataset)]) == 0
    for path in [dataset, *dataset.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o444)
    for action in ("import", "status"):
        done = run_unprivileged(["review", action, str(dataset)], shared_tmp)
        line = error_line(done.stderr, f"review {action}")
        assert done.returncode == 2 and "review.sqlite" in line, done.stderr


def test_review_export_into_a_read_only_folder(shared_tmp):
    check_unprivileged()
    dataset = shared_tmp / "dataset"
    assert main(["review", "demo", str(dataset), "--cases", "1"]) == 0
    assert main(["review", "import", str(dataset)]) == 0
    folder = shared_tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    dataset.chmod(0o777)
    for path in dataset.rglob("*"):
        path.chmod(0o777 if path.is_dir() else 0o666)
    done = run_unprivileged(["review", "export", str(dataset), "--out", str(folder / "out")], shared_tmp)
    line = error_line(done.stderr, "review export")
    assert done.returncode == 2 and str(folder) in line, done.stderr


def test_ground_out_writes_the_mask_on_the_study_grid_creating_its_folder(tmp_path, capsys):
    """The good path the checks above guard: missing folders are made, the mask reopens on the PET grid."""
    from napari_petground.phantom import make_phantom
    from napari_petground.study.writers import load_labels

    out = tmp_path / "new" / "folder" / "mask.nii.gz"
    assert main(["ground", "phantom:1", SENTENCE, "--out", str(out)]) == 0
    assert "error" not in capsys.readouterr().err
    study = make_phantom(1).study
    assert load_labels(out, study).shape == study.pet.shape
