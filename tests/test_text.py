"""Tests for core.text: the encoder interface, the disk cache, the StackGAN release loader."""
from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data.base import DatasetError
from core.text import (
    CachedTextEncoder,
    HashEncoder,
    MiniLMEncoder,
    ReleaseEmbeddings,
    TextEncoder,
    TextEncoderError,
    available_text_encoders,
    get_text_encoder,
    load_release_embeddings,
)

ROOT = Path(__file__).resolve().parents[1]


class CountingEncoder(TextEncoder):
    """A fake encoder that records every sentence it is asked to encode."""

    name = "counting"
    dim = 8

    def __init__(self):
        self.calls: list[list[str]] = []

    def _encode_chunk(self, texts, batch_size):
        self.calls.append(list(texts))
        return torch.stack([torch.full((self.dim,), float(len(t))) + torch.arange(self.dim) for t in texts])

    @property
    def sentences(self) -> int:
        return sum(len(c) for c in self.calls)


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a, b, dim=0).item()


# --------------------------------------------------------------------------- hash encoder
def test_hash_shape_dtype_norm_and_determinism():
    enc = HashEncoder()
    texts = ["a small red bird", "", "a yellow flower with five petals", "!!!"]
    a = enc.encode(texts)
    assert a.shape == (4, 64) and a.dtype == torch.float32 and a.device.type == "cpu"
    torch.testing.assert_close(a.norm(dim=1), torch.ones(4), atol=1e-6, rtol=0)
    torch.testing.assert_close(HashEncoder().encode(texts), a, atol=0, rtol=0)
    # the order of the input is preserved (encode sorts by length internally)
    torch.testing.assert_close(enc.encode(texts[::-1]), a.flip(0), atol=0, rtol=0)


def test_hash_shared_words_raise_similarity():
    v = HashEncoder(dim=256).encode(["a small red bird", "a small red bird sitting", "green leaves of a tree"])
    assert cos(v[0], v[1]) > cos(v[0], v[2])


def test_encode_refuses_a_bare_string_and_non_strings():
    with pytest.raises(TypeError, match="wrap it in a list"):
        HashEncoder().encode("a red bird")
    with pytest.raises(TypeError, match="item 1"):
        HashEncoder().encode(["ok", 3])


def test_empty_input_gives_empty_tensor():
    assert HashEncoder().encode([]).shape == (0, 64)
    assert CachedTextEncoder(HashEncoder()).encode([]).shape == (0, 64)


# --------------------------------------------------------------------------- cache
def test_cache_hit_does_not_call_the_encoder(tmp_path):
    texts = ["a red bird", "a blue bird", "a red bird", ""]
    inner = CountingEncoder()
    first = CachedTextEncoder(inner, cache_dir=tmp_path).encode(texts)
    assert inner.sentences == 3  # the duplicate is encoded once
    assert len(list(tmp_path.glob("*.npy"))) == 1 and not list(tmp_path.glob("*.tmp"))

    fresh = CountingEncoder()  # a new process: empty memo, same disk cache
    again = CachedTextEncoder(fresh, cache_dir=tmp_path).encode(texts)
    assert fresh.calls == []
    torch.testing.assert_close(again, first, atol=0, rtol=0)
    torch.testing.assert_close(first, inner.encode(texts), atol=0, rtol=0)


def test_cache_is_keyed_by_content(tmp_path):
    inner = CountingEncoder()
    cached = CachedTextEncoder(inner, cache_dir=tmp_path, memo_size=0)
    cached.encode(["a red bird", "a blue bird"])
    cached.encode(["a blue bird", "a red bird"])  # same sentences, other order: another entry
    cached.encode(["a red bird", "a blue birds"])
    assert inner.sentences == 6
    assert len(list(tmp_path.glob("*.npy"))) == 3
    assert cached.key(["ab", "c"]) != cached.key(["a", "bc"])
    other_dim = CachedTextEncoder(HashEncoder(dim=32), cache_dir=tmp_path)
    assert other_dim.key(["a"]) != CachedTextEncoder(HashEncoder(dim=64), cache_dir=tmp_path).key(["a"])


def test_memo_serves_known_sentences_without_disk_or_encoder(tmp_path):
    inner = CountingEncoder()
    cached = CachedTextEncoder(inner, cache_dir=tmp_path)
    full = cached.encode(["a", "bb", "ccc"])
    assert inner.sentences == 3
    part = cached.encode(["ccc", "a"])  # a new combination, but every sentence is memoised
    assert inner.sentences == 3
    torch.testing.assert_close(part, full[[2, 0]], atol=0, rtol=0)
    cached.encode(["a", "dddd"])  # only the unknown sentence reaches the encoder
    assert inner.calls[-1] == ["dddd"]


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    inner = CountingEncoder()
    texts = ["a red bird"]
    good = CachedTextEncoder(inner, cache_dir=tmp_path).encode(texts)
    path = CachedTextEncoder(inner, cache_dir=tmp_path).path_for(texts)
    path.write_bytes(b"\x93NUMPY garbage")
    again = CachedTextEncoder(inner, cache_dir=tmp_path).encode(texts)
    assert inner.sentences == 2
    torch.testing.assert_close(again, good, atol=0, rtol=0)
    assert np.load(path).shape == (1, 8)


def test_default_cache_dir_follows_stackgan_cache(_cache_dir):
    cached = get_text_encoder("hash")
    cached.encode(["under the project cache"])
    assert cached.cache_dir == _cache_dir / "text" / "hash"
    assert len(list(cached.cache_dir.glob("*.npy"))) >= 1


# --------------------------------------------------------------------------- factory and caption lists
def test_factory_names_and_unknown_name():
    assert isinstance(get_text_encoder("hash"), CachedTextEncoder)
    assert isinstance(get_text_encoder("hash", cached=False), HashEncoder)
    assert get_text_encoder("hash", dim=16).dim == 16
    with pytest.raises(TextEncoderError, match=r"unknown text encoder 'bert'.*'hash'.*'minilm'"):
        get_text_encoder("bert")
    with pytest.raises(TextEncoderError, match="path="):
        get_text_encoder("char-cnn-rnn")
    with pytest.raises(TextEncoderError, match="bad options"):
        get_text_encoder("hash", colour="red")
    assert available_text_encoders() == ["char-cnn-rnn", "hash", "minilm"]


def test_import_is_light_and_hash_is_stable_across_processes():
    """A fresh process: building 'minilm' imports no transformers, and 'hash' gives the same vector."""
    code = (
        "import sys; from core.text import get_text_encoder; e = get_text_encoder('minilm'); "
        "assert e.dim == 384 and not e.encoder.loaded; "
        "assert 'transformers' not in sys.modules and 'sentence_transformers' not in sys.modules; "
        "print(get_text_encoder('hash', cached=False).encode(['a red bird'])[0, :8].tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    here = HashEncoder().encode(["a red bird"])[0, :8]
    torch.testing.assert_close(torch.tensor(json.loads(out.stdout)), here, atol=1e-7, rtol=0)


def test_progress_bar_only_for_large_calls(capsys):
    CountingEncoder().encode(["x"] * 1000)
    assert "encoding text" not in capsys.readouterr().err
    CountingEncoder().encode(["x"] * 1001)
    assert "encoding text (counting)" in capsys.readouterr().err


# --------------------------------------------------------------------------- StackGAN release
def py2_pickle(arrays: list[np.ndarray]) -> bytes:
    """The bytes Python 2 + numpy 1.x write for ``pickle.dump(list_of_float32_arrays, f, 2)``.

    The array data is a Python 2 ``str`` (BINSTRING opcode), which Python 3 can read only with
    ``encoding='latin1'``: exactly the release's ``UnicodeDecodeError`` trap (TF StackGAN #42).
    """
    out = [b"\x80\x02]q\x00("]  # PROTO 2, EMPTY_LIST, MARK
    for a in arrays:
        a = np.ascontiguousarray(a, dtype="<f4")
        out.append(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01(")
        out.append(b"".join(b"J" + struct.pack("<i", d) for d in a.shape) + b"t")
        out.append(b"cnumpy\ndtype\nU\x02f4K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
        data = a.tobytes()
        out.append(b"\x89T" + struct.pack("<I", len(data)) + data + b"tb")
    out.append(b"e.")  # APPENDS, STOP
    return b"".join(out)


@pytest.fixture
def release(tmp_path):
    """A split directory with a Python-2 style pickle: 5 images × 10 captions × 1024."""
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(10, 1024)).astype(np.float32) for _ in range(5)]
    path = tmp_path / "train" / "char-CNN-RNN-embeddings.pickle"
    path.parent.mkdir()
    path.write_bytes(py2_pickle(arrays))
    return path, np.stack(arrays)


def test_release_fixture_is_python2_style(release):
    path, _ = release
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(path.read_bytes())  # what a plain Python 3 load of the release does


def test_load_release_embeddings_list_of_arrays(release):
    path, expected = release
    arr = load_release_embeddings(path)
    assert arr.shape == (5, 10, 1024) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, expected)
    np.testing.assert_array_equal(load_release_embeddings(path.parent), expected)  # the split directory


def test_load_release_embeddings_array_protocol2(tmp_path):
    arr = np.arange(2 * 3 * 1024, dtype=np.float32).reshape(2, 3, 1024)
    path = tmp_path / "emb.pickle"
    path.write_bytes(pickle.dumps(arr, protocol=2))
    np.testing.assert_array_equal(load_release_embeddings(path), arr)


def test_release_embeddings_lookup_and_no_free_text(release):
    path, expected = release
    emb = get_text_encoder("char-cnn-rnn", path=path)
    assert isinstance(emb, ReleaseEmbeddings)
    assert (len(emb), emb.num_captions, emb.dim) == (5, 10, 1024)
    torch.testing.assert_close(emb[3], torch.from_numpy(expected[3]), atol=0, rtol=0)
    torch.testing.assert_close(emb.get(4, 7), torch.from_numpy(expected[4, 7]), atol=0, rtol=0)
    emb[0].zero_()  # lookups are copies
    assert emb[0].abs().sum() > 0
    with pytest.raises(TextEncoderError, match=r"cannot encode new text.*Lua.*CUDA.*minilm"):
        emb.encode(["a small red bird"])


def test_release_missing_file_error(tmp_path):
    with pytest.raises(DatasetError, match=r"(?s)missing .*char-CNN-RNN-embeddings.pickle.*Expected layout.*1024"):
        load_release_embeddings(tmp_path)


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"\x80\x02]q\x00(K\x01", "truncated or corrupt"),  # cut off mid-stream
        (b"not a pickle at all", "truncated or corrupt"),
        (pickle.dumps(np.zeros((2, 3, 512), np.float32), protocol=2), "512-d vectors, expected 1024-d"),
        (pickle.dumps({"a": 1}, protocol=2), "holds a dict"),
        (pickle.dumps([np.zeros((10, 1024)), np.zeros((5, 1024))], protocol=2), "differ in shape"),
    ],
)
def test_release_corrupt_or_wrong_file_errors(tmp_path, payload, match):
    path = tmp_path / "char-CNN-RNN-embeddings.pickle"
    path.write_bytes(payload)
    with pytest.raises(DatasetError, match=match) as err:
        load_release_embeddings(path)
    assert "Expected layout" in str(err.value)


def test_release_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "char-CNN-RNN-embeddings.pickle"
    path.write_bytes(b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.")
    with pytest.raises(DatasetError, match="refusing to load os.system"):
        load_release_embeddings(path)


def test_bench_cache_hit_1000_captions(tmp_path, benchmark):
    captions = [f"a bird number {i}" for i in range(1000)]
    inner = CountingEncoder()
    CachedTextEncoder(inner, cache_dir=tmp_path).encode(captions)
    out = benchmark(lambda: CachedTextEncoder(inner, cache_dir=tmp_path).encode(captions))  # disk hit, cold memo
    assert out.shape == (1000, 8) and inner.sentences == 1000  # the first call only


# --------------------------------------------------------------------------- MiniLM (real model)
# Loading the model takes 3-7 s on 2 shared cores (importing transformers): one real-model test runs by
# default, the others with `-m slow`.
@pytest.fixture(scope="module")
def minilm():
    """One real model load for the whole module."""
    return MiniLMEncoder()


def test_minilm_shape_norm_and_similarity(minilm):
    texts = ["a small red bird", "a tiny red bird", "a yellow flower"]
    v = minilm.encode(texts)
    assert v.shape == (3, 384) and v.dtype == torch.float32 and v.device.type == "cpu"
    torch.testing.assert_close(v.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    assert cos(v[0], v[1]) > cos(v[0], v[2]) + 0.2
    torch.testing.assert_close(minilm.encode(texts), v, atol=1e-6, rtol=0)  # deterministic


@pytest.mark.slow
def test_minilm_empty_and_long_text(minilm):
    long_a = "the bird has a red crown and black wings " * 100  # ~900 words, far past 256 word pieces
    long_b = long_a + "but its belly is bright yellow and its beak is long " * 50
    v = minilm.encode(["", long_a, long_b])
    assert torch.isfinite(v).all()
    assert minilm.max_seq_length == 256
    torch.testing.assert_close(v[1], v[2], atol=1e-5, rtol=0)  # the added tail is truncated away


@pytest.mark.slow
def test_minilm_loaded_once_per_process(minilm):
    minilm.encode(["warm"])
    assert MiniLMEncoder().model is minilm.model


@pytest.mark.slow
def test_bench_minilm_1000_captions(minilm, benchmark):
    captions = [f"a {c} bird with {w} wings and a short beak number {i}"
                for i, (c, w) in enumerate(zip(["red", "blue", "small"] * 334, ["black", "white"] * 500))]
    out = benchmark.pedantic(minilm.encode, args=(captions, 64), rounds=3, iterations=1)
    assert out.shape == (1000, 384)
