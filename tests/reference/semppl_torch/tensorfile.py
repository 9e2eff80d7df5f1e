"""Reader/writer of the SemPPL tensor file format (graphgen/SemPPL.GraphGen/Artifacts/TensorFile.cs).

offset 0: magic b"SPPLTNS1"; offset 8: int64 LE header length H; offset 16: UTF-8 JSON header;
zero padding to D = next multiple of 64; tensors at D + offset (offsets multiples of 64).
Header: {"tensors": [{name, dtype, shape, offset, length, crc32}], "metadata": {...}, "metadata_crc32": n}.
"""
import json
import struct
import zlib

import numpy as np
import torch

MAGIC = b"SPPLTNS1"
ALIGN = 64
_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32, "bool": np.bool_}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def _align(x):
    return (x + ALIGN - 1) // ALIGN * ALIGN


def read(path):
    """Returns (dict name -> torch tensor in file order, metadata dict). Verifies every CRC."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != MAGIC:
        raise ValueError(f"{path}: not a SemPPL tensor file")
    (hlen,) = struct.unpack("<q", raw[8:16])
    header = json.loads(raw[16:16 + hlen].decode("utf-8"))
    data = _align(16 + hlen)
    tensors = {}
    for e in header["tensors"]:
        start = data + e["offset"]
        buf = raw[start:start + e["length"]]
        if zlib.crc32(buf) != e["crc32"]:
            raise ValueError(f"{path}: tensor {e['name']} fails its CRC-32")
        a = np.frombuffer(buf, dtype=_DTYPES[e["dtype"]]).reshape(e["shape"]).copy()
        tensors[e["name"]] = torch.from_numpy(a)
    return tensors, dict(header.get("metadata", {}))


def _metadata_json(meta):
    # System.Text.Json default: no whitespace, keys sorted by the writer; ASCII-safe values assumed.
    return json.dumps({k: meta[k] for k in sorted(meta)}, separators=(",", ":"), ensure_ascii=False)


def write(path, tensors, metadata=None):
    """tensors: iterable of (name, tensor or ndarray). Written so TensorFile.Read accepts it (CRCs included)."""
    metadata = {k: str(v) for k, v in (metadata or {}).items()}
    entries, blobs, offset = [], [], 0
    for name, t in tensors:
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        a = np.ascontiguousarray(a).reshape(a.shape)  # ascontiguousarray turns 0-d into 1-d
        if a.dtype not in _NAMES:
            raise ValueError(f"tensor {name}: unsupported dtype {a.dtype}")
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        entries.append({"name": name, "dtype": _NAMES[a.dtype], "shape": list(a.shape), "offset": offset,
                        "length": len(b), "crc32": zlib.crc32(b)})
        blobs.append((offset, b))
        offset = _align(offset + len(b))
    header = {"tensors": entries, "metadata": {k: metadata[k] for k in sorted(metadata)},
              "metadata_crc32": zlib.crc32(_metadata_json(metadata).encode("utf-8"))}
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    data = _align(16 + len(hb))
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<q", len(hb)) + hb)
        f.write(b"\0" * (data - 16 - len(hb)))
        pos = data
        for off, b in blobs:
            f.write(b"\0" * (data + off - pos))
            f.write(b)
            pos = data + off + len(b)
