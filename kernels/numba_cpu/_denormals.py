"""Flush-to-zero for a compiled training run: subnormal floats (below ~1.2e-38 in float32) are
read and written as zero while it runs, on the calling thread, and the caller's mode is restored
after.

Why: late in training many values pass through the subnormal range (Adam's first moment of a
dead unit decays by β1 every step for ~150 steps there; softmax gradients of confident rows), and
x86 cores take a microcode assist per subnormal operand or result, ~100 cycles. On the digits
net that doubled the cost of an epoch after ~20 epochs (benches/NOTES.md, "Compiled steps"). A
subnormal's whole contribution to a parameter is below 1e-30: flushing it changes no parameter
by a visible amount, which is why TensorFlow's CPU kernels run with the same mode.

x86-64 only (the MXCSR register's FTZ and DAZ bits); elsewhere, and with the JIT disabled, these
calls do nothing.
"""

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

FTZ_DAZ = 0x8040  # MXCSR bit 15: results that would be subnormal are 0; bit 6: subnormal inputs read as 0
_X86 = platform.machine().lower() in ("x86_64", "amd64")


def flush_denormals():  # pragma: no cover - Python stand-in (JIT disabled): the mode is left as is
    """Sets flush-to-zero on this thread; returns the previous mode for :func:`restore_mode`."""
    return 0


def restore_mode(saved):  # pragma: no cover - Python stand-in
    """Restores the mode :func:`flush_denormals` returned."""
    return None


def _mxcsr_call(builder, name, pointer):  # pragma: no cover - code generation at compile time only
    fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    builder.call(fn, [builder.bitcast(pointer, ir.IntType(8).as_pointer())])


@intrinsic
def _swap_mxcsr(typingctx, bits):  # pragma: no cover - code generation runs at compile time only
    """Reads MXCSR, ORs ``bits`` into it; returns the value read."""

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        slot = cgutils.alloca_once(builder, i32)
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        old = builder.load(slot)
        builder.store(builder.or_(old, builder.trunc(args[0], i32)), slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return builder.zext(old, ir.IntType(64))

    return types.int64(types.int64), codegen


@intrinsic
def _set_mxcsr(typingctx, value):  # pragma: no cover - code generation runs at compile time only
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.none(types.int64), codegen


@overload(flush_denormals)
def _ov_flush():  # pragma: no cover - typing runs at compile time only
    if _X86:
        return lambda: _swap_mxcsr(FTZ_DAZ)
    return lambda: 0


@overload(restore_mode)
def _ov_restore(saved):  # pragma: no cover - typing runs at compile time only
    if _X86:
        return lambda saved: _set_mxcsr(saved)
    return lambda saved: None
