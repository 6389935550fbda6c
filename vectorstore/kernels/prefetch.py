"""A software prefetch hint for numba kernels (the `_mm_prefetch` of hnswlib's search loop).

Graph traversal jumps between rows in no order the hardware prefetcher can guess; asking
for a row's first cache lines before its distance is computed overlaps those misses.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LINE = 64


@intrinsic
def prefetch_row(typingctx, array, row, lines):
    """Hint a read of the first `lines` cache lines of `array[row]`, where `array` is a
    2-D array; it never faults, so any row of the array is safe."""

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        i64, i32 = ir.IntType(64), ir.IntType(32)
        stride = builder.extract_value(ary.strides, 0)
        start = builder.add(builder.ptrtoint(ary.data, i64), builder.mul(stride, args[1]))
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        with cgutils.for_range(builder, args[2]) as loop:
            addr = builder.add(start, builder.mul(loop.index, i64(LINE)))
            ptr = builder.inttoptr(addr, ir.IntType(8).as_pointer())
            builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, types.intp, types.intp), codegen
