"""theon.io.safetensors: round trips, interop with the reference package, hostile files."""

import copy
import json
import struct

import numpy as np
import pytest

from theon.errors import TheonError
from theon.io import CheckpointError, load, load_file, read_metadata, save, save_file

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
          np.uint64, np.float16, np.float32, np.float64]
SHAPES = [(), (0,), (3, 0, 2), (5,), (2, 3), (2, 3, 4)]


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.asarray(rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True))
    return np.asarray(rng.standard_normal(shape), dtype=dtype)


def craft(header: dict, data: bytes = b"", header_len=None) -> bytes:
    """A file from a header dict and a data section, no validation."""
    text = json.dumps(header).encode()
    n = len(text) if header_len is None else header_len
    return struct.pack("<Q", n) + text + data


def raw(text: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(text)) + text + data


def write(tmp_path, blob: bytes):
    p = tmp_path / "f.safetensors"
    p.write_bytes(blob)
    return p


def test_error_class():
    assert issubclass(CheckpointError, TheonError) and issubclass(CheckpointError, ValueError)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_every_dtype_and_shape(tmp_path, dtype):
    tensors = {f"t{i}": sample(dtype, s, i) for i, s in enumerate(SHAPES)}
    save_file(tensors, tmp_path / "x.safetensors")
    back = load_file(tmp_path / "x.safetensors")
    assert list(sorted(back)) == sorted(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == np.dtype(dtype) and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)
        assert back[k].flags.writeable and back[k].flags.c_contiguous


def test_mixed_dtypes_alignment_and_bytes_api():
    tensors = {n: sample(d, (3, 5), i) for i, (n, d) in enumerate(
        [("a", np.int8), ("b", np.float64), ("c", np.float16), ("d", np.bool_), ("e", np.int32)])}
    blob = save(tensors, {"k": "v"})
    n = struct.unpack("<Q", blob[:8])[0]
    assert n % 8 == 0  # header padded so the data starts 8-aligned
    header = json.loads(blob[8:8 + n])
    for name, info in header.items():
        if name != "__metadata__":
            assert info["data_offsets"][0] % np.dtype(tensors[name].dtype).itemsize == 0
    back = load(blob)
    for k in tensors:
        np.testing.assert_array_equal(back[k], tensors[k])


def test_non_contiguous_fortran_and_big_endian_inputs(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    tensors = {
        "strided": base[::2, 1::2],
        "fortran": np.asfortranarray(base),
        "big": base.astype(">f4"),
        "bigint": np.arange(5, dtype=">i8"),
        "scalar": np.float32(1.5),  # NumPy scalar -> 0-d
        "list": [1, 2, 3],
    }
    save_file(tensors, tmp_path / "x.safetensors")
    back = load_file(tmp_path / "x.safetensors")
    for k, v in tensors.items():
        v = np.asarray(v)
        assert back[k].shape == v.shape and back[k].dtype == v.dtype.newbyteorder("=")
        np.testing.assert_array_equal(back[k], v)


def test_metadata(tmp_path):
    p = tmp_path / "x.safetensors"
    save_file({"a": np.ones(2)}, p, metadata={"format": "np", "ünï": "cödé"})
    assert read_metadata(p) == {"format": "np", "ünï": "cödé"}
    save_file({"a": np.ones(2)}, p)
    assert read_metadata(p) == {}
    save_file({}, p)
    assert load_file(p) == {} and read_metadata(p) == {}


@pytest.mark.parametrize("tensors, metadata, match", [
    ({1: np.ones(1)}, None, "names must be str"),
    ({"__metadata__": np.ones(1)}, None, "reserved"),
    ({"c": np.ones(2, np.complex64)}, None, "cannot save tensor 'c'.*complex64"),
    ({"o": np.array([object()])}, None, "cannot save tensor 'o'"),
    ({"s": np.array(["x"])}, None, "cannot save tensor 's'"),
    ({"a": np.ones(1)}, {"k": 1}, "metadata must be a dict of str -> str"),
    ([np.ones(1)], None, "must be a dict"),
])
def test_write_rejects(tmp_path, tensors, metadata, match):
    p = tmp_path / "x.safetensors"
    with pytest.raises(CheckpointError, match=match):
        save_file(tensors, p, metadata)
    assert not p.exists()  # nothing written on bad input


# ---------------------------------------------------------------- the reference package

st = pytest.importorskip("safetensors")
import safetensors.numpy as stn  # noqa: E402


def _all_dtypes():
    return {f"{np.dtype(d).name}_{i}": sample(d, s, i) for d in DTYPES for i, s in enumerate(SHAPES)}


def test_reference_writes_we_read(tmp_path):
    tensors = _all_dtypes()
    stn.save_file(tensors, tmp_path / "ref.safetensors", metadata={"who": "reference"})
    back = load_file(tmp_path / "ref.safetensors")
    assert read_metadata(tmp_path / "ref.safetensors") == {"who": "reference"}
    assert back.keys() == tensors.keys()
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)


def test_we_write_reference_reads(tmp_path):
    tensors = _all_dtypes()
    save_file(tensors, tmp_path / "ours.safetensors", metadata={"who": "theon"})
    back = stn.load_file(tmp_path / "ours.safetensors")
    assert back.keys() == tensors.keys()
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k], v)
    with st.safe_open(tmp_path / "ours.safetensors", framework="numpy") as f:
        assert f.metadata() == {"who": "theon"}
    assert stn.load(save(tensors)).keys() == tensors.keys()


def test_reference_bf16_reads_as_float32(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch as stt

    x = torch.randn(3, 4).to(torch.bfloat16)
    stt.save_file({"x": x, "s": torch.tensor(2.0, dtype=torch.bfloat16)}, tmp_path / "bf.safetensors")
    back = load_file(tmp_path / "bf.safetensors")
    assert back["x"].dtype == np.float32 and back["s"].shape == ()
    np.testing.assert_array_equal(back["x"], x.float().numpy())
    assert back["s"] == 2.0


# ---------------------------------------------------------------- hostile files

F32x2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


HOSTILE = [
    (b"\x01\x02", "too short"),
    (struct.pack("<Q", 1 << 40) + b"{}", "exceeds"),
    (craft({"a": F32x2}, bytes(8), header_len=10_000), "runs past the end"),
    (struct.pack("<Q", 4) + b"nope", "not valid UTF-8 JSON"),
    (struct.pack("<Q", 4) + b"\xff{}\xfe", "not valid UTF-8 JSON"),
    (struct.pack("<Q", 2000) + b"[" * 1000 + b"]" * 1000, "not valid UTF-8 JSON|JSON object"),
    (craft([1, 2]), "must be a JSON object"),
    (raw(b'{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},'), "not valid"),
    (raw(b'{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},'
         b'"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}', b"\x00"), "duplicate key 'a'"),
    (craft({"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "unsupported dtype 'F8_E4M3'"),
    (craft({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)), "invalid shape"),
    (craft({"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, bytes(4)), "invalid shape"),
    (craft({"a": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}}, bytes(8)), "invalid shape"),
    (craft({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, bytes(8)), "invalid data_offsets"),
    (craft({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8.0]}}, bytes(8)), "invalid data_offsets"),
    (craft({"a": {"dtype": "F32", "shape": [2]}}, bytes(8)), "needs 'dtype', 'shape' and 'data_offsets'"),
    (craft({"a": [1]}, bytes(8)), "needs 'dtype'"),
    (craft({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}, bytes(8)), "end before they begin"),
    (craft({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)), r"needs 12 bytes.*hold 8"),
    (craft({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, bytes(8)), "run past the 8-byte data section"),
    (craft({"a": F32x2, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)), "overlaps 'a'"),
    (craft({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)), "hole"),
    (craft({"a": F32x2}, bytes(12)), "trailing bytes"),
    (craft({"a": F32x2}, bytes(5)), "run past"),
    (craft({"__metadata__": {"k": 1}, "a": F32x2}, bytes(8)), "__metadata__ must map str to str"),
    (craft({"__metadata__": [], "a": F32x2}, bytes(8)), "__metadata__ must map str to str"),
    (craft({"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02"), "BOOL"),
    # shapes no array can have: empty, but with a dimension past NumPy's limits; 70 dims
    (craft({"a": {"dtype": "F32", "shape": [0, 10**30], "data_offsets": [0, 0]}}), "too large for any array"),
    (craft({"a": {"dtype": "F32", "shape": [0, 2**62, 4], "data_offsets": [0, 0]}}), "too large for any array"),
    (craft({"a": {"dtype": "U8", "shape": [1] * 70, "data_offsets": [0, 1]}}, b"\0"), "70 dimensions"),
    (craft({"a": {"dtype": "U8", "shape": [10**30], "data_offsets": [0, 10**30]}}, b"\0"), "too large"),
    (craft({"a": {"dtype": "U8", "shape": [2**40], "data_offsets": [0, 2**40]}}, b"\0"), "run past the 1-byte"),
    # dtype names that are not names of a dtype
    (craft({"a": {"dtype": "f32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)), "unsupported dtype 'f32'"),
    (craft({"a": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, bytes(4)), r"unsupported dtype \['F32'\]"),
    (craft({"a": {"dtype": {"F32": 1}, "shape": [1], "data_offsets": [0, 4]}}, bytes(4)), "unsupported dtype"),
    (craft({"a": {"dtype": 32, "shape": [1], "data_offsets": [0, 4]}}, bytes(4)), "unsupported dtype 32"),
    (craft({"a": {"dtype": None, "shape": [1], "data_offsets": [0, 4]}}, bytes(4)), "unsupported dtype None"),
    # offsets outside the file, and a value too long to print whole
    (craft({"a": {"dtype": "U8", "shape": [3], "data_offsets": [2**64, 2**64 + 3]}}, bytes(3)), "run past"),
    (craft({"a": {"dtype": "Z" * 10**5, "shape": [1], "data_offsets": [0, 1]}}, b"\0"), r"unsupported dtype 'ZZZ+\.\.\."),
]


@pytest.mark.parametrize("blob, match", HOSTILE, ids=[m for _, m in HOSTILE])
def test_hostile_files_rejected(tmp_path, blob, match):
    p = write(tmp_path, blob)
    with pytest.raises(CheckpointError, match=match) as info:
        load_file(p)
    assert str(p) in str(info.value)
    with pytest.raises(CheckpointError):
        load(blob)


def test_errors_name_the_tensor_and_stay_short_for_huge_values(tmp_path):
    p = write(tmp_path, craft({"layer.weight": {"dtype": "F32", "shape": [0, 10**30], "data_offsets": [0, 0]}}))
    with pytest.raises(CheckpointError, match=r"f\.safetensors: tensor 'layer\.weight' has shape \[0, 1000"):
        load_file(p)
    p = write(tmp_path, craft({"n" * 10**6: {"dtype": "F32", "shape": [1], "data_offsets": [0, 5]}}, bytes(5)))
    with pytest.raises(CheckpointError, match="needs 4 bytes") as info:
        load_file(p)
    assert len(str(info.value)) < 300 + len(str(p))


def test_header_checks_apply_to_read_metadata(tmp_path):
    p = write(tmp_path, craft({"a": F32x2}, bytes(12)))
    with pytest.raises(CheckpointError, match="trailing bytes"):
        read_metadata(p)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read"):
        load_file(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_metadata(tmp_path / "nope.safetensors")


def test_every_truncation_is_rejected():
    blob = save({"a": np.arange(7, dtype=np.int16), "b": np.ones((2, 2)), "z": np.zeros(0)}, {"m": "x"})
    for cut in range(len(blob)):
        with pytest.raises(CheckpointError):
            load(blob[:cut])


def test_byte_flips_never_escape_as_other_errors():
    """A flipped header byte either still parses or gives CheckpointError; never a crash."""
    blob = save({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array(3, np.int64)}, {"m": "x"})
    n = 8 + struct.unpack("<Q", blob[:8])[0]
    for i in range(n):
        for bit in (0, 3, 7):
            bad = bytearray(blob)
            bad[i] ^= 1 << bit
            try:
                load(bytes(bad))
            except CheckpointError:
                pass


def fuzz_source() -> bytes:
    """A valid file with several dtypes and ranks, an empty and a 0-d tensor, metadata."""
    return save({"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([True, False]),
                 "i": np.arange(-3, 3, dtype=np.int64), "s": np.array(7, np.uint16),
                 "e": np.zeros((2, 0), np.float64)}, {"epoch": "3"})


def outcome(blob: bytes):
    """'read' with every tensor matching its header, or 'refused'; any other error escapes."""
    try:
        tensors = load(blob)
    except CheckpointError:
        return "refused"
    header = json.loads(blob[8:8 + struct.unpack("<Q", blob[:8])[0]])
    for name, arr in tensors.items():
        assert arr.shape == tuple(header[name]["shape"]) and arr.flags.writeable
    return "read"


def test_fuzzed_bytes_give_tensors_or_a_checkpoint_error():
    """Flipped bits, replaced, inserted and deleted bytes anywhere in a valid file, alone
    or with a truncation."""
    blob = fuzz_source()
    rng = np.random.default_rng(13)
    seen = {"read": 0, "refused": 0}
    for _ in range(1500):
        bad = bytearray(blob)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(bad)))
            kind = rng.integers(0, 4)
            if kind == 0:
                bad[i] ^= 1 << int(rng.integers(0, 8))
            elif kind == 1:
                bad[i] = int(rng.integers(0, 256))
            elif kind == 2:
                bad[i:i] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
            else:
                del bad[i:i + int(rng.integers(1, 9))]
        if rng.random() < 0.3:
            bad = bad[:int(rng.integers(0, len(bad) + 1))]
        seen[outcome(bytes(bad))] += 1
    assert seen["refused"] > 500 and seen["read"] > 20, seen


HOSTILE_VALUES = [None, True, -1, 0, 1, 3, 2**31, 2**63, 2**64 + 1, 10**30, 1.5, float("inf"), "",
                  "F32", "BF16", "x" * 300, [], [0], [-1], [0, 10**30], [2**62, 4], [1] * 70,
                  [[1]], [0, 0], [4, 2], {}, {"a": 1}]


def test_fuzzed_header_fields_give_tensors_or_a_checkpoint_error():
    """Each field of each tensor's entry set to hostile JSON values, or dropped, one to three
    at a time: the header still parses, so every check behind the parser is exercised."""
    blob = fuzz_source()
    n = struct.unpack("<Q", blob[:8])[0]
    header, data = json.loads(blob[8:8 + n]), blob[8 + n:]
    names = [k for k in header if k != "__metadata__"]
    rng = np.random.default_rng(5)

    def hostile():
        return copy.deepcopy(HOSTILE_VALUES[int(rng.integers(0, len(HOSTILE_VALUES)))])

    seen = {"read": 0, "refused": 0}
    for _ in range(1500):
        bad = json.loads(json.dumps(header))
        for _ in range(int(rng.integers(1, 4))):
            entry = bad[names[int(rng.integers(0, len(names)))]]
            field = ("dtype", "shape", "data_offsets")[int(rng.integers(0, 3))]
            if rng.random() < 0.1:
                entry.pop(field, None)
            elif field != "dtype" and rng.random() < 0.5 and isinstance(entry.get(field), list) and entry[field]:
                entry[field][int(rng.integers(0, len(entry[field])))] = hostile()
            else:
                entry[field] = hostile()
        seen[outcome(craft(bad, data))] += 1
    assert seen["refused"] > 1000 and seen["read"] > 0, seen
