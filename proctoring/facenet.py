"""face_recognition's identity model, run on numpy's BLAS instead of dlib's own loops.

dlib-bin is built without BLAS, so its ResNet costs 55–85 ms a face here and is most of a
verified frame. This module reads the very same weights
(``dlib_face_recognition_resnet_model_v1.dat`` from face_recognition_models) and runs the
same network — dlib's published ``anet_type``: a 7×7 stem, 14 residual blocks, global
average pooling and a 128-wide linear layer — as matrix products on numpy's OpenBLAS.
The descriptors equal dlib's to about 1e-5 (``tests/proctoring/test_facenet.py``), so the
calibrated thresholds hold unchanged. dlib still finds the face, its landmarks and the
aligned 150×150 chip (``dlib.get_face_chip``, as ``compute_face_descriptor`` does).

    net = load(face_recognition_models.face_recognition_model_location())
    net.embed(chips)   # (N, 150, 150, 3) uint8 RGB -> (N, 128) float64

The reader is strict: a file that is not this network is refused with ``ModelError``
rather than read into something else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

CHIP_SIZE = 150
CHIP_PADDING = 0.25  # dlib's default for compute_face_descriptor


class ModelError(ValueError):
    """The model file is not the network this module runs."""


# --- reading dlib's serialisation -------------------------------------------------------


class _Reader:
    """dlib's stream format: integers as a control byte (length, sign) and little-endian
    bytes; strings as length and bytes; floats as mantissa and exponent integers;
    tensors as version 2, four dimensions and raw little-endian float32 values."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ModelError(f"model file ends early at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def integer(self) -> int:
        control = self._take(1)[0]
        value = int.from_bytes(self._take(control & 0x0F), "little")
        return -value if control & 0x80 else value

    def text(self) -> str:
        size = self.integer()
        if not 0 < size <= 64:
            raise ModelError(f"expected a layer name at byte {self.pos}")
        return self._take(size).decode("ascii", errors="replace")

    def real(self) -> float:
        mantissa = self.integer()
        return float(mantissa * 2.0 ** self.integer())

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise ModelError(f"tensor version {version} at byte {self.pos}")
        shape = tuple(self.integer() for _ in range(4))
        if min(shape) < 0:
            raise ModelError(f"negative tensor size at byte {self.pos}")
        count = int(np.prod(shape))
        return np.frombuffer(self._take(4 * count), dtype="<f4").reshape(shape)

    def ints(self, count: int) -> list[int]:
        return [self.integer() for _ in range(count)]

    def reals(self, count: int) -> list[float]:
        return [self.real() for _ in range(count)]

    def skip(self, size: int) -> None:
        self._take(size)

    def peek_text(self) -> str | None:
        saved = self.pos
        try:
            return self.text()
        except (ModelError, IndexError):
            return None
        finally:
            self.pos = saved


@dataclass(frozen=True)
class _Record:
    name: str
    params: np.ndarray | None = None
    ints: tuple[int, ...] = ()


def _records(data: bytes) -> tuple[np.ndarray, list[_Record]]:
    """The input layer's mean colour and the layers' records in forward order."""
    reader = _Reader(data)
    reader.integer()  # the loss layer's version
    if reader.text() != "loss_metric_2":
        raise ModelError("not a dlib metric-learning network (loss_metric_2)")
    reader.reals(2)  # margin, distance threshold: training only
    while reader.peek_text() != "input_rgb_image_sized":  # the nested layers' versions
        if reader.integer() not in (1, 2, 3):
            raise ModelError(f"unexpected layer version at byte {reader.pos}")
    reader.text()
    mean = np.array([reader.real() for _ in range(3)], dtype=np.float32)
    if reader.ints(2) != [CHIP_SIZE, CHIP_SIZE]:
        raise ModelError(f"the network's input is not {CHIP_SIZE}×{CHIP_SIZE}")
    records: list[_Record] = []
    while not records or records[-1].name != "fc_2":  # the last layer
        name = reader.text()
        if name == "con_4":
            params = reader.tensor()
            shape = tuple(reader.ints(7))  # filters, rows, cols, strides, paddings
            reader.ints(10)  # the filter and bias aliases
            reader.reals(4)  # learning-rate and weight-decay multipliers
            records.append(_Record(name, params, shape))
        elif name == "affine_":
            params = reader.tensor()
            reader.ints(10)  # the gamma and beta aliases
            records.append(_Record(name, params, (reader.integer(),)))
        elif name in ("max_pool_2", "avg_pool_2"):
            records.append(_Record(name, None, tuple(reader.ints(6))))
        elif name in ("relu_", "add_prev_"):
            records.append(_Record(name))
        elif name == "fc_2":
            outputs, inputs = reader.ints(2)
            params = reader.tensor()
            reader.ints(10)  # the weight and bias aliases
            bias_mode = reader.integer()
            reader.reals(4)
            records.append(_Record(name, params, (outputs, inputs, bias_mode)))
        else:
            raise ModelError(f"unknown layer {name!r} at byte {reader.pos}")
        reader.skip(3)  # the layer's three state flags
        for _ in range(3):
            reader.tensor()  # gradients and cached outputs: empty in a saved network
        if len(records) == 1 and reader.integer() != 1:  # the input layer's wrapper (version 3)
            raise ModelError("the input layer's sample expansion factor is not 1")
    if len(reader.data) - reader.pos > 1:  # the published file has one byte more
        raise ModelError(f"unexpected data after the last layer at byte {reader.pos}")
    return mean, records


# --- the network --------------------------------------------------------------------------


@dataclass(frozen=True)
class Conv:
    """A convolution with its affine (batch-norm) layer folded in."""

    weights: np.ndarray  # (rows * cols * channels, filters), float32
    bias: np.ndarray  # (filters,)
    size: int
    stride: int
    padding: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x: (N, H, W, C) -> (N, H', W', filters)."""
        p, s, k = self.padding, self.stride, self.size
        if p:  # zeros around x (np.pad does the same at several times the overhead)
            n, height, width, channels = x.shape
            padded = np.zeros((n, height + 2 * p, width + 2 * p, channels), x.dtype)
            padded[:, p:-p, p:-p] = x
            x = padded
        windows = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]
        n, rows, cols = windows.shape[:3]
        columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * rows * cols, -1)
        out = columns @ self.weights
        out += self.bias
        return out.reshape(n, rows, cols, -1)


@dataclass(frozen=True)
class Block:
    """conv → relu → conv, plus the shortcut (average-pooled when the block halves the
    size; the shortcut's missing channels and rows count as zeros, as dlib's add_prev)."""

    first: Conv
    second: Conv
    down: bool

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.second(_relu(self.first(x)))
        shortcut = _pool(x, 2, 2, np.mean) if self.down else x
        return _relu(_add(y, shortcut))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _pool(x: np.ndarray, size: int, stride: int, reduce: Callable[..., Any]) -> np.ndarray:
    windows = sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    return np.asarray(reduce(windows, axis=(4, 5)))


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape == b.shape:
        return a + b
    out = np.zeros(tuple(max(i, j) for i, j in zip(a.shape, b.shape, strict=True)), a.dtype)
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


@dataclass(frozen=True)
class FaceNet:
    mean: np.ndarray  # the input layer's mean red, green, blue
    stem: Conv
    pool: tuple[int, int]  # max pool size, stride
    blocks: tuple[Block, ...]
    fc: np.ndarray  # (256, 128)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """Aligned RGB chips (N, 150, 150, 3) uint8 -> descriptors (N, 128) float64."""
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"chips must be (N, {CHIP_SIZE}, {CHIP_SIZE}, 3)")
        x = (chips.astype(np.float32) - self.mean) / np.float32(256)
        x = _pool(_relu(self.stem(x)), *self.pool, np.max)
        for block in self.blocks:
            x = block(x)
        features = x.mean(axis=(1, 2))
        return np.asarray(features @ self.fc, dtype=np.float64)


# Forward order of dlib's anet_type (dnn_face_recognition_ex.cpp): filters and whether
# the block halves the size, level 4 (32) up to level 0 (256).
ARCHITECTURE: tuple[tuple[int, bool], ...] = (
    *[(32, False)] * 3,
    (64, True),
    *[(64, False)] * 3,
    (128, True),
    *[(128, False)] * 2,
    (256, True),
    *[(256, False)] * 2,
    (256, True),
)


def _expected_names() -> list[str]:
    names = ["con_4", "affine_", "relu_", "max_pool_2"]
    for _, down in ARCHITECTURE:
        names += ["con_4", "affine_", "relu_", "con_4", "affine_"]
        names += (["avg_pool_2"] if down else []) + ["add_prev_", "relu_"]
    return [*names, "avg_pool_2", "fc_2"]


def _conv(con: _Record, affine: _Record, channels: int) -> Conv:
    filters, rows, cols, stride_y, stride_x, pad_y, pad_x = con.ints
    if rows != cols or stride_y != stride_x or pad_y != pad_x:
        raise ModelError("only square filters, strides and paddings are supported")
    assert con.params is not None and affine.params is not None
    size = filters * channels * rows * cols
    kernel = con.params.reshape(-1)[:size].reshape(filters, channels, rows, cols)
    bias = con.params.reshape(-1)[size : size + filters]
    gamma, beta = affine.params.reshape(2, filters)
    weights = kernel.transpose(2, 3, 1, 0).reshape(-1, filters) * gamma
    return Conv(
        np.ascontiguousarray(weights, dtype=np.float32),
        (bias * gamma + beta).astype(np.float32),
        rows,
        stride_y,
        pad_y,
    )


def parse(data: bytes) -> FaceNet:
    mean, records = _records(data)
    names = [r.name for r in records]
    if names != _expected_names():
        raise ModelError("the layers are not those of dlib_face_recognition_resnet_model_v1")
    convs = [r for r in records if r.name == "con_4"]
    affines = [r for r in records if r.name == "affine_"]
    pools = [r for r in records if r.name.endswith("pool_2")]
    if any(a.ints != (0,) for a in affines):  # 0: per channel (after a convolution)
        raise ModelError("an affine layer is not per channel")
    if any(p.ints != (2, 2, 2, 2, 0, 0) for p in pools[1:-1]) or pools[-1].ints[:2] != (0, 0):
        raise ModelError("unexpected pooling")
    stem = _conv(convs[0], affines[0], 3)
    blocks: list[Block] = []
    channels = stem.bias.size
    for i, (filters, down) in enumerate(ARCHITECTURE):
        first = _conv(convs[1 + 2 * i], affines[1 + 2 * i], channels)
        second = _conv(convs[2 + 2 * i], affines[2 + 2 * i], filters)
        if (first.stride == 2) != down:
            raise ModelError(f"block {i}: stride does not match the architecture")
        blocks.append(Block(first, second, down))
        channels = filters
    fc = records[-1]
    outputs, inputs, bias_mode = fc.ints
    if bias_mode != 1 or inputs != channels or fc.params is None:
        raise ModelError("the last layer is not a 256→128 linear layer without bias")
    size, stride = pools[0].ints[0], pools[0].ints[2]
    return FaceNet(
        mean,
        stem,
        (size, stride),
        tuple(blocks),
        np.ascontiguousarray(fc.params.reshape(inputs, outputs), dtype=np.float32),
    )


def load(path: str | Path) -> FaceNet:
    return parse(Path(path).read_bytes())
