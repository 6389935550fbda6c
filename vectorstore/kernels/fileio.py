"""File reads callable from numba kernels: libc's `preadv2` and `posix_fadvise`.

A kernel that walks a structure on disk (the DiskANN node file) reads its blocks itself,
so a search pays one system call per block and no Python per hop. `read_at` can ask for
the read only when the bytes are already in the page cache (RWF_NOWAIT: the call fails
at once instead of waiting for the device), which lets a caller tell warm blocks from
cold ones without a residency check of its own; `will_need` starts the device read of
a cold block without waiting, so the cold blocks of a hop are in flight together.
Both are LLVM calls to the libc symbols (resolved in the running process), so the
kernels using them stay cacheable.
"""

import os

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

RWF_NOWAIT = os.RWF_NOWAIT
POSIX_FADV_WILLNEED = os.POSIX_FADV_WILLNEED


@intrinsic
def read_at(typingctx, fd, buffer, start, nbytes, offset, flags):
    """preadv2(fd, {buffer + start bytes, nbytes}, offset, flags) for a 1-D array
    `buffer`: the bytes read, or -1 (errno unread: with RWF_NOWAIT in flags, a block not
    in the page cache; otherwise an I/O error)."""
    sig = types.int64(types.int64, buffer, types.int64, types.int64, types.int64,
                      types.int64)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[1])(context, builder, args[1])
        i64, i32, i8p = ir.IntType(64), ir.IntType(32), ir.IntType(8).as_pointer()
        address = builder.add(builder.ptrtoint(ary.data, i64), args[2])
        iov_type = ir.LiteralStructType([i8p, i64])
        iov = cgutils.alloca_once(builder, iov_type)
        builder.store(builder.inttoptr(address, i8p), cgutils.gep_inbounds(builder, iov, 0, 0))
        builder.store(args[3], cgutils.gep_inbounds(builder, iov, 0, 1))
        fnty = ir.FunctionType(i64, [i32, iov_type.as_pointer(), i32, i64, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "preadv2")
        return builder.call(fn, [builder.trunc(args[0], i32), iov, i32(1), args[4],
                                 builder.trunc(args[5], i32)])

    return sig, codegen


@intrinsic
def will_need(typingctx, fd, offset, nbytes):
    """posix_fadvise(fd, offset, nbytes, POSIX_FADV_WILLNEED): start reading those bytes
    into the page cache without waiting. Returns 0 or an error number."""
    sig = types.int64(types.int64, types.int64, types.int64)

    def codegen(context, builder, sig, args):
        i64, i32 = ir.IntType(64), ir.IntType(32)
        fnty = ir.FunctionType(i32, [i32, i64, i64, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "posix_fadvise")
        result = builder.call(fn, [builder.trunc(args[0], i32), args[1], args[2],
                                   i32(POSIX_FADV_WILLNEED)])
        return builder.sext(result, i64)

    return sig, codegen
