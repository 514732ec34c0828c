#!/usr/bin/env python3
"""Resource bombs for bench/bombs.sh (issue #18, deliverable 5): small files that claim huge sizes.

    python bench/make_bombs.py OUT_DIR

Writes each bomb into OUT_DIR and OUT_DIR/bombs.json: [{name, file, args, expect, what}], where
args is the zoo command line ({file} and {out} substituted by bombs.sh) and expect is "refused"
(a typed error) or "ok" (a legitimate file at a limit, which must succeed within bounded memory).
Needs numpy, h5py and onnx (bench/requirements-bombs.txt). Nothing here is a fixture: the files
are regenerated on every run and never committed.
"""
import json
import struct
import sys
import zlib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GiB = 1 << 30


# ---- deflate streams of N zero bytes, made without deflating N bytes -------------------------

def zeros_deflate(total: int) -> bytes:
    """A raw deflate stream of `total` zero bytes. zlib's block for 1 MiB of zeros, once the window
    holds zeros, only copies from distance 1, so the same bytes repeated decode to more zeros:
    10 GiB is about 10 MB of stream, built in milliseconds."""
    mib = 1 << 20
    assert total % mib == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(bytes(mib)) + c.flush(zlib.Z_SYNC_FLUSH)
    steady = c.compress(bytes(mib)) + c.flush(zlib.Z_SYNC_FLUSH)
    again = c.compress(bytes(mib)) + c.flush(zlib.Z_SYNC_FLUSH)
    assert steady == again, "zlib's steady-state block is not periodic"
    stream = first + steady * (total // mib - 1) + c.flush(zlib.Z_FINISH)
    # Check the construction on a small total (the full stream is checked by zoo itself).
    if total == 4 * mib:
        assert zlib.decompress(stream, -15) == bytes(total)
    return stream


def zeros_crc(total: int) -> int:
    crc, mib = 0, bytes(1 << 20)
    for _ in range(total >> 20):
        crc = zlib.crc32(mib, crc)
    return crc


def write_zip(path: Path, members):
    """A zip with ZIP64 extra fields, written by hand so a member can declare any size.
    members: [(name, deflated_bytes, crc, declared_uncompressed_size)]"""
    out, central = bytearray(), bytearray()
    for name, data, crc, usize in members:
        n = name.encode()
        offset = len(out)
        zip64 = usize >= 0xFFFFFFFF or len(data) >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, usize, len(data)) if zip64 else b""
        cs, us = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (len(data), usize)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, crc, cs, us, len(n), len(extra)) + n + extra + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, crc, cs, us, len(n), len(extra), 0, 0, 0,
                               0o100644 << 16, offset) + n + extra
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd_offset, 0)
    path.write_bytes(bytes(out))


def deflated(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


# ---- the bombs -----------------------------------------------------------------------------

def main(out: Path):
    # Imported here: fixtures/generator/make_zip_bombs.py uses the zip writer above with the standard library only.
    import h5py
    import numpy as np
    from onnx import TensorProto, helper

    out.mkdir(parents=True, exist_ok=True)
    bombs = []

    def add(name, file, args, expect, what):
        bombs.append({"name": name, "file": file, "args": args, "expect": expect, "what": what})

    ten = 10 * GiB
    zeros10 = zeros_deflate(ten)
    crc10 = zeros_crc(ten)
    assert len(zeros_deflate(4 << 20)) > 0

    # .keras: config and metadata of a real Keras 3 fixture, weights that are a bomb.
    with zipfile.ZipFile(ROOT / "fixtures/keras/vgg_block.keras") as z:
        config, metadata, weights = z.read("config.json"), z.read("metadata.json"), z.read("model.weights.h5")
    real = [("metadata.json", deflated(metadata), zlib.crc32(metadata), len(metadata)),
            ("config.json", deflated(config), zlib.crc32(config), len(config))]
    small = deflated(bytes(1024))
    write_zip(out / "keras_declared_10g.keras", real + [("model.weights.h5", small, crc10, ten)])
    add("keras_declared_10g", "keras_declared_10g.keras", ["convert", "{file}", "-o", "{out}"], "refused",
        ".keras whose model.weights.h5 declares 10 GiB (1 KB of deflate data)")
    write_zip(out / "keras_lying_10g.keras", real + [("model.weights.h5", zeros10, crc10, 1024)])
    add("keras_lying_10g", "keras_lying_10g.keras", ["convert", "{file}", "-o", "{out}"], "refused",
        ".keras whose model.weights.h5 declares 1 KiB and inflates to 10 GiB")
    write_zip(out / "keras_config_10g.keras", [real[0], ("config.json", zeros10, crc10, 4096),
                                                ("model.weights.h5", small, zlib.crc32(bytes(1024)), 1024)])
    add("keras_config_10g", "keras_config_10g.keras", ["convert", "{file}", "-o", "{out}"], "refused",
        ".keras whose config.json declares 4 KiB and inflates to 10 GiB")

    # GloVe .zip: one member, declared honestly and lying.
    write_zip(out / "glove_declared_10g.zip", [("glove.6B.300d.txt", zeros10, crc10, ten)])
    add("glove_declared_10g", "glove_declared_10g.zip", ["convert", "{file}", "-o", "{out}"], "refused",
        "GloVe .zip, one member of 10 GiB of zeros, declared")
    write_zip(out / "glove_lying_10g.zip", [("glove.6B.300d.txt", zeros10, crc10, 1024)])
    add("glove_lying_10g", "glove_lying_10g.zip", ["convert", "{file}", "-o", "{out}"], "refused",
        "GloVe .zip, member declares 1 KiB and inflates to 10 GiB of zeros")

    # gzip: 10 GiB of zeros; and a valid header followed by 10 GiB of zeros.
    def gz(payload_prefix: bytes, zeros: bytes, total: int, crc: int) -> bytes:
        head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        if payload_prefix:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            prefix = c.compress(payload_prefix) + c.flush(zlib.Z_SYNC_FLUSH)
            # A separate stored/deflate block sequence: the zero stream's first block has literals,
            # so it does not depend on the prefix's window.
            body = prefix + zeros
            crc = zlib.crc32(payload_prefix)
            for _ in range(total >> 20):
                crc = zlib.crc32(bytes(1 << 20), crc)
            size = len(payload_prefix) + total
        else:
            body, size = zeros, total
        return head + body + struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)
    (out / "w2v_zeros_10g.txt.gz").write_bytes(gz(b"", zeros10, ten, crc10))
    add("gzip_zeros_10g", "w2v_zeros_10g.txt.gz", ["convert", "{file}", "-o", "{out}"], "refused",
        "word2vec .txt.gz inflating to 10 GiB of zeros (no newline)")
    (out / "w2v_header_10g.txt.gz").write_bytes(gz(b"3000000 300\n", zeros10, ten, crc10))
    add("gzip_header_10g", "w2v_header_10g.txt.gz", ["convert", "{file}", "-o", "{out}"], "refused",
        "word2vec .txt.gz: a 3M×300 header, then 10 GiB of zeros")

    # .npy and .npz declaring 10^15 float32 elements (4 PB) with no data.
    def npy_header(shape) -> bytes:
        d = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (repr(tuple(shape)),)
        pad = 64 - (10 + len(d) + 1) % 64
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d) + pad + 1) + d.encode() + b" " * pad + b"\n"
    (out / "npy_1e15.npy").write_bytes(npy_header((10 ** 15,)))
    tiny = str(ROOT / "fixtures/zoo/tiny-mlp.zoo")
    add("npy_1e15", "npy_1e15.npy", ["run", tiny, "--input", "{file}", "-o", "{out}.npy"], "refused",
        ".npy header declaring 10^15 float32 (4 PB), 128 bytes of file")
    with zipfile.ZipFile(out / "npz_1e15.npz", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", npy_header((10 ** 5, 10 ** 5, 10 ** 5)))
    add("npz_1e15", "npz_1e15.npz", ["run", tiny, "--input", "{file}", "-o", "{out}.npy"], "refused",
        ".npz member whose header declares 10^15 float32")

    # .zoo headers: exactly at the 64 MiB cap (valid: whitespace inside the JSON), and one byte over.
    src = (ROOT / "fixtures/zoo/tiny-mlp.zoo").read_bytes()
    hl = struct.unpack_from("<Q", src, 16)[0]
    header = src[128:128 + hl]
    d_old = -(-(128 + hl + 1) // 4096) * 4096
    data = src[d_old:]
    cap = 64 << 20

    def zoo_with_header(h: bytes) -> bytes:
        import hashlib
        pre = bytearray(src[:128])
        struct.pack_into("<Q", pre, 16, len(h))
        pre[24:56] = hashlib.sha256(h).digest()
        d = -(-(128 + len(h) + 1) // 4096) * 4096
        return bytes(pre) + h + bytes(d - 128 - len(h)) + data
    at_cap = b"{" + b" " * (cap - len(header)) + header[1:]
    assert len(at_cap) == cap
    (out / "zoo_header_at_cap.zoo").write_bytes(zoo_with_header(at_cap))
    add("zoo_header_at_cap", "zoo_header_at_cap.zoo", ["verify", "{file}"], "ok",
        ".zoo whose header is exactly the 64 MiB cap (valid JSON, whitespace-padded)")
    (out / "zoo_header_over_cap.zoo").write_bytes(zoo_with_header(b"{ " + at_cap[1:]))
    add("zoo_header_over_cap", "zoo_header_over_cap.zoo", ["verify", "{file}"], "refused",
        ".zoo whose header is 64 MiB + 1 byte")
    deep = b"[" * 10_000 + b"]" * 10_000
    (out / "zoo_header_deep.zoo").write_bytes(zoo_with_header(b'{"nest": ' + deep + b", " + header[1:]))
    add("zoo_header_deep", "zoo_header_deep.zoo", ["verify", "{file}"], "refused", ".zoo header nesting JSON 10,000 deep")

    # 10,000-deep JSON: a Keras architecture, a .keras config.json and a catalog.
    (out / "deep_arch.json").write_bytes(b'{"class_name": "Sequential", "config": {"layers": ' + deep + b"}}")
    add("deep_keras_arch", "deep_arch.json",
        ["convert", str(ROOT / "fixtures/keras/vgg_block.k2.weights.h5"), "--arch", "{file}", "-o", "{out}"], "refused",
        "Keras --arch JSON nested 10,000 deep")
    dc = b'{"class_name": "Functional", "config": {"layers": ' + deep + b"}}"
    write_zip(out / "deep_config.keras", [real[0], ("config.json", deflated(dc), zlib.crc32(dc), len(dc)),
                                          ("model.weights.h5", deflated(weights), zlib.crc32(weights), len(weights))])
    add("deep_keras_config", "deep_config.keras", ["convert", "{file}", "-o", "{out}"], "refused",
        ".keras config.json nested 10,000 deep")
    (out / "deep_catalog.json").write_bytes(b'{"models": ' + deep + b"}")
    add("deep_catalog", "deep_catalog.json", ["catalog", "--catalog", "{file}"], "refused", "zoo.json catalog nested 10,000 deep")

    # ONNX: a chain of 10^6 Relu nodes (35 MB), more than a .zoo header can describe.
    n = 1_000_000
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"r{i}") for i in range(n)]
    g = helper.make_graph(nodes, "million", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="zoo-bombs")
    (out / "onnx_1e6_nodes.onnx").write_bytes(m.SerializeToString())
    add("onnx_1e6_nodes", "onnx_1e6_nodes.onnx", ["convert", "{file}", "-o", "{out}"], "refused",
        "ONNX graph of 10^6 Relu nodes (35 MB)")

    # HDF5: a Keras 2 model whose Dense kernel is a chunked dataset declaring 10^6 × 2.5·10^6 float32
    # (10 TB); HDF5 stores no chunk, so the file is a few KB.
    cfg = {"class_name": "Sequential", "config": {"name": "bomb", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 1000000], "dtype": "float32", "sparse": False,
                                                 "ragged": False, "name": "input"}},
        {"class_name": "Dense", "config": {"name": "huge", "trainable": True, "dtype": "float32", "units": 2500000,
                                           "activation": "linear", "use_bias": True}}]},
        "keras_version": "2.15.0", "backend": "tensorflow"}
    with h5py.File(out / "hdf5_10tb.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"input", b"huge"])
        mw.attrs["keras_version"] = "2.15.0"
        mw.attrs["backend"] = "tensorflow"
        mw.create_group("input").attrs["weight_names"] = np.array([], dtype="S1")
        h = mw.create_group("huge")
        h.attrs["weight_names"] = np.array([b"huge/kernel:0", b"huge/bias:0"])
        h.create_dataset("huge/kernel:0", shape=(1000000, 2500000), dtype="f4", chunks=(1000, 1000))
        h.create_dataset("huge/bias:0", shape=(2500000,), dtype="f4", chunks=(100000,))
    add("hdf5_10tb", "hdf5_10tb.h5", ["convert", "{file}", "-o", "{out}"], "refused",
        "Keras .h5 whose Dense kernel declares 10^6 × 2.5·10^6 float32 (10 TB), no chunk stored")

    (out / "bombs.json").write_text(json.dumps(bombs, indent=1))
    for b in bombs:
        print(f"{b['name']}: {(out / b['file']).stat().st_size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
