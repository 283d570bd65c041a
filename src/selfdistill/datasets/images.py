"""The files of an image folder: every file under it is read or refused by name.

:func:`image_arrays` walks the whole tree of an image folder (the ImageFolder layout
``DIR/<class>/<image>``, or ``DIR/train/<class>/<image>`` with optional ``val/`` and ``test/``),
checks every file before decoding any (a file that is not an image, an image outside a class
folder or nested below one, an empty class folder, a 16-bit or float image that 8 bits would clip,
an animation, a size cap and the memory the decoded set needs), then decodes each image with
Pillow as the user sees it (the EXIF orientation applied) and returns uint8 ``(N, C, H, W)``
arrays with each image's class folder name. Hidden files and folders (a leading ``.``) and the
thumbnails operating systems leave (``Thumbs.db``, ``desktop.ini``) are not data: they are left
out with a warning naming them.

Channels follow what the images hold, so nothing is lost: greyscale stays one channel; a folder
with any colour image is read as RGB (grey images repeated on three channels); an alpha channel
that is anywhere not fully opaque is kept as a fourth channel (RGBA; opaque alpha carries nothing
and is dropped).

NumPy at import; Pillow on first use (the ``images`` extra).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._util.validation import check_int

__all__ = ["IMAGE_SIZE_MAX", "IMAGE_SUFFIXES", "image_arrays", "image_files", "memory_available"]

#: image files of an image folder (case-insensitive); every format here is decoded by Pillow
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm")  # fmt: skip
#: the largest side length ``image_size`` may resize to
IMAGE_SIZE_MAX = 4096
#: bytes per decoded uint8 value the splits need in memory (the uint8 stack, its float32 copy
#: and the standardised float32 tensors)
BYTES_PER_VALUE = 10
SPLITS = ("train", "val", "test")
_ORIENTATION = 0x0112  # the EXIF tag
_GREY = frozenset({"1", "L", "LA", "La"})
_JUNK = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
#: Pillow modes that are 8 bits per channel (kept exactly)
_EIGHT_BIT = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK",
                        "YCbCr", "LAB", "HSV"})  # fmt: skip


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "reading an image folder needs Pillow: pip install 'selfdistill[images]'"
        ) from None
    return Image


def _skipped(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower() in _JUNK


def _class_files(root: Path, folder: Path, skipped: list[Path]) -> list[tuple[Path, str]]:
    """``(file, class)`` of ``folder/<class>/<image>``, sorted; anything else refused by name."""
    out = []
    for entry in sorted(folder.iterdir()):
        if _skipped(entry):
            skipped.append(entry)
        elif not entry.is_dir():
            raise ValueError(
                f"{root}: {entry.relative_to(root)} is not inside a class folder; the layout "
                f"is {folder.relative_to(root.parent)}/<class>/<image>"
            )
        else:
            files = []
            for f in sorted(entry.iterdir()):
                if _skipped(f):
                    skipped.append(f)
                elif f.is_dir():
                    raise ValueError(
                        f"{root}: {f.relative_to(root)}/ is a folder nested inside class "
                        f"folder {entry.name!r}; images must lie directly in their class folder"
                    )
                elif f.suffix.lower() not in IMAGE_SUFFIXES:
                    raise ValueError(
                        f"{root}: {f.relative_to(root)} is not an image file (allowed: "
                        f"{', '.join(IMAGE_SUFFIXES)}); move it out of the folder"
                    )
                else:
                    files.append((f, entry.name))
            if not files:
                raise ValueError(f"{root}: class folder {entry.relative_to(root)}/ has no images")
            out += files
    return out


def _layout(root: Path, skipped: list[Path]) -> dict[str, Path]:
    """``split -> folder``: ``root/train`` (+ ``val``, ``test``) when present, else ``root``."""
    splits = {s: root / s for s in SPLITS if (root / s).is_dir()}
    if not splits:
        return {"train": root}
    if "train" not in splits:
        raise ValueError(f"{root}: has {'/, '.join(splits)}/ but no train/ folder")
    others = [p.name for p in sorted(root.iterdir()) if p.name not in splits and not _skipped(p)]
    skipped += [p for p in sorted(root.iterdir()) if _skipped(p)]
    if others:
        raise ValueError(
            f"{root}: holds {', '.join(others)} besides the split folders "
            f"{', '.join(splits)}; with the train/val/test layout nothing else may lie there"
        )
    return splits


@dataclass(frozen=True)
class _Header:
    """What an image's header says, read before anything is decoded."""

    size: tuple[int, int]
    mode: str
    alpha: bool


def _header(image_module: Any, path: Path, root: Path) -> _Header:
    try:
        with image_module.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            mode, size = im.mode, im.size
            if im.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8):  # turned a quarter
                size = (size[1], size[0])
            alpha = "A" in mode or "a" in mode or bool(im.info.get("transparency") is not None)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"{path}: cannot read the image ({exc})") from None
    if frames > 1:
        raise ValueError(f"{path}: an animation of {frames} frames, not one image")
    if mode not in _EIGHT_BIT:
        raise ValueError(
            f"{path}: {mode!r} images (16-bit, 32-bit or floating point) would be clipped to 8 "
            "bits; save the folder's images with 8 bits per channel"
        )
    return _Header(size, mode, alpha)


def memory_available() -> int | None:
    """Bytes of memory available to this process now (``/proc/meminfo``), else physical memory,
    else ``None`` when the platform says neither."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(root: Path, count: int, channels: int, size: tuple[int, int]) -> None:
    need = count * channels * size[0] * size[1] * BYTES_PER_VALUE
    available = memory_available()
    if available is not None and need > available:
        raise ValueError(
            f"{root}: {count} images of {channels}x{size[1]}x{size[0]} need about "
            f"{need / 2**30:.1f} GiB of memory, more than the {available / 2**30:.1f} GiB "
            "available; pass a smaller --image-size / image_size"
        )


def _decode(image_module: Any, path: Path, size: int | None, mode: str) -> np.ndarray:
    """One image as the user sees it (EXIF orientation applied), in ``mode``, resized."""
    from PIL import ImageOps

    try:
        with image_module.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode == "P" or im.mode == "PA":
                im = im.convert("RGBA")
            im = im.convert(mode)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"{path}: cannot read the image ({exc})") from None
    if size is not None and im.size != (size, size):
        im = im.resize((size, size), image_module.Resampling.BILINEAR)
    return np.asarray(im)


def _opaque(image_module: Any, path: Path) -> bool:
    """Whether the alpha channel of an image with one is 255 everywhere."""
    with image_module.open(path) as im:
        alpha = np.asarray(im.convert("RGBA"))[..., 3]
    return bool((alpha == 255).all())


def _mode(image_module: Any, headers: dict[Path, _Header]) -> str:
    """The one Pillow mode every image is read in: L, LA, RGB or RGBA (see the module)."""
    colour = any(h.mode not in _GREY for h in headers.values())
    alpha = any(h.alpha and not _opaque(image_module, p) for p, h in headers.items())
    if alpha:
        return "RGBA" if colour else "LA"
    return "RGB" if colour else "L"


def image_files(root: str | Path) -> dict[str, list[tuple[Path, str]]]:
    """``split -> [(file, class folder name), ...]`` of an image folder, in the order
    :func:`image_arrays` reads them (``train`` first, then ``val`` and ``test`` when the folder
    has them; files sorted per class folder). Checks the layout and every file name as
    :func:`image_arrays` does (ValueError naming the file), warns about hidden and system files
    left out, and decodes nothing."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data: no such folder: {root}")
    skipped: list[Path] = []
    layout = _layout(root, skipped)
    files = {split: _class_files(root, folder, skipped) for split, folder in layout.items()}
    if skipped:
        names = ", ".join(str(p.relative_to(root)) for p in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            f"{root}: left out {len(skipped)} hidden or system file(s): {names}{more}",
            UserWarning,
            stacklevel=3,
        )
    if not files["train"]:
        raise ValueError(
            f"{layout['train']}: no images ({', '.join(IMAGE_SUFFIXES)}) in class sub-folders "
            f"{layout['train']}/<class>/"
        )
    return files


def image_arrays(root: str | Path, *, image_size: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of an image folder: ``{"x", "y"}`` and, in the split layout, ``x_val``,
    ``y_val``, ``x_test``, ``y_test`` (uint8 ``(N, C, H, W)``, class folder names).

    ValueError naming the file for every file that is not read (see the module), images of
    different sizes without ``image_size``, an ``image_size`` above :data:`IMAGE_SIZE_MAX`, and a
    decoded set larger than the memory available; FileNotFoundError for a missing folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data: no such folder: {root}")
    if image_size is not None:
        image_size = check_int("image_size", image_size, low=1, high=IMAGE_SIZE_MAX)
    files = image_files(root)
    image_module = _pillow()
    headers = {f: _header(image_module, f, root) for fs in files.values() for f, _ in fs}
    sizes = {h.size for h in headers.values()}
    if image_size is None and len(sizes) > 1:
        (fa, a), (fb, b) = (
            next(iter(headers.items())),
            next((f, h) for f, h in headers.items() if h.size != next(iter(headers.values())).size),
        )
        raise ValueError(
            f"{root}: images of different sizes ({fa.relative_to(root)} {a.size[0]}x{a.size[1]}, "
            f"{fb.relative_to(root)} {b.size[0]}x{b.size[1]}); pass --image-size / image_size "
            "to resize them"
        )
    mode = _mode(image_module, headers)
    size = (image_size, image_size) if image_size is not None else sizes.pop()
    _check_memory(root, len(headers), len(mode), size)
    arrays: dict[str, np.ndarray] = {}
    for split, fs in files.items():
        if not fs:
            continue
        stack = np.stack([_decode(image_module, f, image_size, mode) for f, _ in fs])
        x = stack[:, None] if stack.ndim == 3 else stack.transpose(0, 3, 1, 2)
        kx, ky = ("x", "y") if split == "train" else (f"x_{split}", f"y_{split}")
        arrays[kx], arrays[ky] = np.ascontiguousarray(x), np.array([c for _, c in fs])
    return arrays
