"""Minimal GGUF v3 writer for the trainer (F32 tensors, llama metadata)."""
import struct

import numpy as np

T_U32, T_I32, T_F32, T_BOOL, T_STRING, T_ARRAY = 4, 5, 6, 7, 8, 9
GGML_F32 = 0
ALIGN = 32


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(t, v):
    if t == T_U32:
        return struct.pack("<I", v)
    if t == T_I32:
        return struct.pack("<i", v)
    if t == T_F32:
        return struct.pack("<f", v)
    if t == T_BOOL:
        return struct.pack("<B", 1 if v else 0)
    if t == T_STRING:
        return _str(v)
    raise ValueError(t)


def write_gguf(path, kv, tensors):
    """kv: list of (key, type, value) where arrays are (T_ARRAY, (elem_type, list)).
    tensors: list of (name, np.float32 array in PyTorch layout [out, in])."""
    out = bytearray()
    out += struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kv))
    for key, t, v in kv:
        out += _str(key) + struct.pack("<I", t)
        if t == T_ARRAY:
            et, items = v
            out += struct.pack("<IQ", et, len(items))
            for x in items:
                out += _value(et, x)
        else:
            out += _value(t, v)
    offset = 0
    blobs = []
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        dims = list(reversed(arr.shape))  # GGUF lists the contiguous dimension first
        out += _str(name) + struct.pack("<I", len(dims))
        for d in dims:
            out += struct.pack("<Q", d)
        out += struct.pack("<IQ", GGML_F32, offset)
        blob = arr.tobytes()
        blobs.append(blob)
        offset += (len(blob) + ALIGN - 1) // ALIGN * ALIGN
    out += b"\0" * ((-len(out)) % ALIGN)
    for blob in blobs:
        out += blob
        out += b"\0" * ((-len(out)) % ALIGN)
    with open(path, "wb") as f:
        f.write(out)
