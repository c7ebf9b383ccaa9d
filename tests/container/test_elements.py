import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikecodec import FormatError
from spikecodec.elements import as_elements, pack, packed_nbytes, unpack


@given(bits=st.sampled_from([1, 2, 4, 8]), n=st.integers(0, 300), seed=st.integers(0, 2**32 - 1))
def test_pack_round_trip(bits, n, seed):
    values = np.random.default_rng(seed).integers(0, 1 << bits, n).astype(np.uint8)
    data = pack(values, bits)
    assert len(data) == packed_nbytes(n, bits)
    np.testing.assert_array_equal(unpack(data, n, bits), values)


def test_bit_order_is_msb_first_as_in_format_md():
    assert pack(np.array([1, 0, 1, 1, 0, 0, 0, 0, 1], np.uint8), 1) == b"\xb0\x80"
    assert pack(np.array([1, 2, 3], np.uint8), 2) == b"\x6c"
    assert pack(np.array([1, 15], np.uint8), 4) == b"\x1f"
    assert pack(np.array([7, 200], np.uint8), 8) == bytes([7, 200])
    # numpy's default order is the same MSB-first order
    v = np.random.default_rng(0).integers(0, 2, 37).astype(np.uint8)
    assert pack(v, 1) == np.packbits(v).tobytes()


@pytest.mark.parametrize("bits,n", [(1, 9), (2, 3), (4, 1)])
def test_nonzero_padding_is_rejected(bits, n):
    data = bytearray(pack(np.zeros(n, np.uint8), bits))
    data[-1] |= 1
    with pytest.raises(FormatError, match="padding"):
        unpack(bytes(data), n, bits)


def test_wrong_packed_length_is_rejected():
    with pytest.raises(FormatError, match="expected 2"):
        unpack(b"\x00", 9, 1)


def test_value_outside_element_type_names_first_index():
    a = np.zeros((2, 3, 4), np.int64)
    a[1, 2, 0] = 7
    a[1, 2, 3] = 9
    with pytest.raises(ValueError, match=r"value 7 at index \(1, 2, 0\) does not fit the 1-bit"):
        as_elements(a, 1)
    with pytest.raises(ValueError, match=r"-1 at index \(0,\)"):
        as_elements(np.array([-1, 0]))
    with pytest.raises(ValueError, match="256"):
        as_elements(np.array([256]))
    with pytest.raises(ValueError, match="whole number"):
        as_elements(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="whole number"):
        as_elements(np.array([np.nan]))
    with pytest.raises(ValueError, match="dtype"):
        as_elements(np.array(["a"]))


def test_element_type_inference_and_inputs():
    assert as_elements(np.array([0, 1]))[1] == 1
    assert as_elements(np.array([0, 3]))[1] == 2
    assert as_elements(np.array([0, 4]))[1] == 4
    assert as_elements(np.array([0, 16]))[1] == 8
    assert as_elements(np.array([True, False]))[1] == 1
    values, bits = as_elements(np.array([[1.0, 0.0]], np.float32))
    assert values.dtype == np.uint8 and bits == 1 and values.tolist() == [[1, 0]]
    with pytest.raises(ValueError, match="one of"):
        as_elements(np.array([0]), 3)


def test_bool_arrays_with_true_stored_as_any_byte_are_spikes():
    # numpy reads any non-zero byte of a bool array as True (np.frombuffer, views of other bytes);
    # encode() gave "a value above 1 does not fit the 1-bit element type" for such an array.
    import spikecodec

    x = np.frombuffer(b"\x00\x02\xff\x01\x00\x80", bool).reshape(2, 3)
    for codec in ("raw", "winmix", "context"):
        np.testing.assert_array_equal(spikecodec.decode(spikecodec.encode(x, codec=codec)), x.astype(np.uint8))
