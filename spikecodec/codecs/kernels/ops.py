"""Low-level numba helpers shared by the kernels: unsigned indices, a fused multiply-add, a
value hidden from the optimiser, a branch-free select, a cache prefetch hint, and unaligned
loads and stores of eight bytes as one word."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

U = np.uint64  # unsigned array indices: numba then skips its negative-index handling


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: one instruction where the CPU has FMA)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@intrinsic
def opaque(typingctx, x):
    """``x`` unchanged, but hidden from the optimiser (an empty asm statement). Used on the
    decoder's bit mask so that LLVM keeps the branch-free selects as written: otherwise it turns
    them into branches on the decoded bit (mispredicted) or moves work shared by both candidates
    after the select, back onto the serial chain."""
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        return builder.asm(fnty, "", "=r,0", list(args), side_effect=False)

    return sig, codegen


@njit(inline="always", cache=True)
def pick(m, a, b):
    """``a`` if mask ``m`` is 0, ``b`` if it is -1 (all ones), without a branch."""
    return a ^ ((a ^ b) & m)


@intrinsic
def prefetch(typingctx, arr, idx):
    """Ask the CPU to bring the cache line of ``arr[idx]`` in (llvm.prefetch: a read, kept in
    every cache level). A hint only: it changes no value and cannot fault, whatever ``idx``."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, [args[1]], wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


def _byte_pointer_u64(context, builder, array_type, array_value, idx):
    """An i64 pointer to byte ``idx`` of a uint8 array (no alignment assumed)."""
    array = context.make_array(array_type)(context, builder, array_value)
    pointer = cgutils.get_item_pointer(context, builder, array_type, array, [idx], wraparound=False)
    return builder.bitcast(pointer, ir.IntType(64).as_pointer())


@intrinsic
def load8(typingctx, arr, idx):
    """Bytes ``arr[idx] .. arr[idx + 7]`` of a uint8 array as one uint64 (byte ``idx + i`` in
    bits 8 i .. 8 i + 7 on a little-endian machine; :func:`store8` writes them back in the same
    order on any). An unaligned load: the caller keeps ``idx + 7`` inside the array."""
    sig = types.uint64(arr, idx)

    def codegen(context, builder, signature, args):
        pointer = _byte_pointer_u64(context, builder, signature.args[0], args[0], args[1])
        return builder.load(pointer, align=1)

    return sig, codegen


@intrinsic
def store8(typingctx, arr, idx, value):
    """Write the uint64 ``value`` to bytes ``arr[idx] .. arr[idx + 7]`` of a uint8 array, in
    :func:`load8`'s order. The caller keeps ``idx + 7`` inside the array."""
    sig = types.void(arr, idx, types.uint64)

    def codegen(context, builder, signature, args):
        pointer = _byte_pointer_u64(context, builder, signature.args[0], args[0], args[1])
        builder.store(args[2], pointer, align=1)
        return context.get_dummy_value()

    return sig, codegen
