"""Build-time generator: kernels/activation_table.py → _activations.h (C inline functions).

setup.py runs it before cythonizing, so the Cython kernels compute every activation with the
table's own formulas; ``render()`` is also what the tests compare a build against (the header's
fingerprint is compiled into the extension). Loaded by file path: it needs neither fastmlp nor
NumPy, only the table module, which imports nothing but ``math``.

Each row becomes C functions f, df (and df_out) of one double, on _vecmath.h's vectorisable exp,
expm1, log1p, tanh and erf, inlined into loops of its own (forward, forward with bias, backward
from the input or the output; float and double; AVX2 and baseline copies) that the kernels pick
by the row's code once per call.

The translation covers the subset the table's docstring allows and refuses anything else with
the offending line, so a row that C cannot run fails the build, not a kernel.
"""

import ast
import hashlib
import importlib.util
import inspect
import os
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_PATH = os.path.join(HERE, os.pardir, "activation_table.py")
HEADER = os.path.join(HERE, "_activations.h")
# what a row's math.<fn> becomes: _vecmath.h's vectorisable functions (one libm call would keep a
# row's loop scalar); sqrt is an instruction already
VECTOR = {
    "exp": "fm_vexp_d",
    "expm1": "fm_vexpm1_d",
    "log1p": "fm_vlog1p_d",
    "tanh": "fm_vtanh_d",
    "erf": "fm_verf_d",
    "sqrt": "sqrt",
}
BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def load_table():
    """The activation table module, imported from its file (no package needed)."""
    spec = importlib.util.spec_from_file_location("_fastmlp_activation_table", TABLE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look the module up while defining
    spec.loader.exec_module(module)
    return module


def _calls_in(*nodes):
    """Whether any of the expressions calls a function."""
    return any(isinstance(sub, ast.Call) for node in nodes for sub in ast.walk(node))


class _Translator:
    """Python scalar function → C expression text, for the table's subset."""

    def __init__(self, table, fn):
        self.table, self.fn = table, fn

    def fail(self, node, why):
        line = getattr(node, "lineno", 0) + self.fn.__code__.co_firstlineno - 1
        raise ValueError(f"{TABLE_PATH}:{line}: {self.fn.__name__}: {why} (not in the table's C subset)")

    def expr(self, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return repr(float(node.value))
        if isinstance(node, ast.Name):
            value = getattr(self.table, node.id, None)
            if isinstance(value, float):
                return repr(value)
            return node.id
        if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
            return f"({self.expr(node.left)} {BINOPS[type(node.op)]} {self.expr(node.right)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"(-{self.expr(node.operand)})"
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in CMPOPS:
            return f"({self.expr(node.left)} {CMPOPS[type(node.ops[0])]} {self.expr(node.comparators[0])})"
        if isinstance(node, ast.IfExp):
            test, body, orelse = self.expr(node.test), self.expr(node.body), self.expr(node.orelse)
            if _calls_in(node.body, node.orelse):
                return f"fm_select_d({test}, {body}, {orelse})"  # both arms computed: _vecmath.h says why
            # arithmetic arms: gcc if-converts these itself (and shares their common terms)
            return f"({test} ? {body} : {orelse})"
        if isinstance(node, ast.Call) and not node.keywords:
            return f"{self.callee(node.func)}({', '.join(self.expr(a) for a in node.args)})"
        return self.fail(node, f"{type(node).__name__} expression")

    def callee(self, func):
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "math"
            and func.attr in VECTOR
        ):
            return VECTOR[func.attr]
        if isinstance(func, ast.Name):
            if func.id == "abs":
                return "fabs"
            if func.id.startswith("_") and func.id in self.table.helpers():
                return "fm_h" + func.id
        return self.fail(func, f"call of {ast.unparse(func)}")

    def body(self):
        tree = ast.parse(textwrap.dedent(inspect.getsource(self.fn)))
        lines = []
        for stmt in tree.body[0].body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # docstring
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                lines.append(f"double {stmt.targets[0].id} = {self.expr(stmt.value)};")
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                lines.append(f"return {self.expr(stmt.value)};")
            else:
                self.fail(stmt, f"{type(stmt).__name__} statement")
        return lines


def _function(table, c_name, fn):
    names = list(inspect.signature(fn).parameters)
    # every row takes (z, alpha) and many ignore one: (void) keeps -Wunused-parameter quiet
    lines = [f"(void){a};" for a in names] + _Translator(table, fn).body()
    body = "\n".join("    " + line for line in lines)
    return f"static FM_ALWAYS_INLINE double {c_name}({', '.join('double ' + a for a in names)}) {{\n{body}\n}}\n"


# Each row's loops, float and double, with AVX2 and baseline copies (_simd.h): the row's functions
# inline into loops of their own, so an element costs the row's arithmetic and nothing else (no
# switch on the code, no calls), and gcc vectorises the loop. The AVX2 copies may contract into
# FMA, as the exp loops of _vecmath.h do (the polynomials are most of the work). alpha arrives
# already rounded to T where the reference rounds it; every formula runs in double and rounds
# once on the store.
LOOPS = r"""
/* fwd: out <- f(x); fwd_bias: z <- f(z + b) in place, the sum in T (the dense layer's epilogue);
 * bwd: out <- dy f'(x), x the forward input */
#define FM_ACT_LOOPS(R, T, S)                                                                  \
    static FM_ALWAYS_INLINE void fm_act_##R##_fwd_##S##_body(const T *restrict x, T *restrict out, \
                                                            double alpha, size_t n) {         \
        for (size_t j = 0; j < n; j++) out[j] = (T)fm_act_##R##_f((double)x[j], alpha);       \
    }                                                                                          \
    FM_MULTIVERSION_FMA(fm_act_##R##_fwd_##S, (const T *restrict x, T *restrict out, double alpha, size_t n), \
                    (x, out, alpha, n))                                                        \
    static FM_ALWAYS_INLINE void fm_act_##R##_fwd_bias_##S##_body(T *z, const T *restrict b,   \
                                                                 double alpha, size_t n) {    \
        for (size_t j = 0; j < n; j++) {                                                       \
            T v = z[j] + b[j];                                                                 \
            z[j] = (T)fm_act_##R##_f((double)v, alpha);                                        \
        }                                                                                      \
    }                                                                                          \
    FM_MULTIVERSION_FMA(fm_act_##R##_fwd_bias_##S, (T *z, const T *restrict b, double alpha, size_t n), \
                    (z, b, alpha, n))                                                          \
    static FM_ALWAYS_INLINE void fm_act_##R##_bwd_##S##_body(const T *restrict dy, const T *restrict x, \
                                                            T *restrict out, double alpha, size_t n) { \
        for (size_t j = 0; j < n; j++)                                                         \
            out[j] = (T)((double)dy[j] * fm_act_##R##_df((double)x[j], alpha));                \
    }                                                                                          \
    FM_MULTIVERSION_FMA(fm_act_##R##_bwd_##S, (const T *restrict dy, const T *restrict x, T *restrict out, \
                                           double alpha, size_t n), (dy, x, out, alpha, n))

/* bwd_out: out <- dy f'(a) from the output a = f(z) (rows with df_out) */
#define FM_ACT_OUT_LOOPS(R, T, S)                                                              \
    static FM_ALWAYS_INLINE void fm_act_##R##_bwd_out_##S##_body(const T *restrict dy, const T *restrict a, \
                                                                T *restrict out, double alpha, size_t n) { \
        for (size_t j = 0; j < n; j++)                                                         \
            out[j] = (T)((double)dy[j] * fm_act_##R##_dfo((double)a[j], alpha));               \
    }                                                                                          \
    FM_MULTIVERSION_FMA(fm_act_##R##_bwd_out_##S, (const T *restrict dy, const T *restrict a, T *restrict out, \
                                               double alpha, size_t n), (dy, a, out, alpha, n))
"""
# loop kind -> (parameters, arguments), T standing for the float type
LOOP_KINDS = {
    "fwd": ("const T *restrict x, T *restrict out", "x, out"),
    "fwd_bias": ("T *z, const T *restrict b", "z, b"),
    "bwd": ("const T *restrict dy, const T *restrict x, T *restrict out", "dy, x, out"),
    "bwd_out": ("const T *restrict dy, const T *restrict a, T *restrict out", "dy, a, out"),
}
FLOAT_TYPES = (("float", "f"), ("double", "d"))


def _loop_dispatch(kind, c_type, suffix, rows):
    """fm_act_<kind>_<S>(code, ...): the row's loop, chosen once per call. Callers check the code
    (kernels built from an older table refuse newer codes), so an unknown one writes nothing."""
    params, args = (text.replace("T ", c_type + " ") for text in LOOP_KINDS[kind])
    name = f"fm_act_{kind}_{suffix}"
    cases = "".join(
        f"    case {row.code}: fm_act_{row.name}_{kind}_{suffix}({args}, alpha, n); break;\n" for row in rows
    )
    return (
        f"static inline void {name}(int code, {params}, double alpha, size_t n) {{\n"
        f"    switch (code) {{\n{cases}    default: break;\n    }}\n}}\n"
    )


def _row_functions(table, row):
    """The row's f, df (and df_out) in C."""
    fns = [("f", row.f), ("df", row.df)] + ([("dfo", row.df_out)] if row.from_output else [])
    return [_function(table, f"fm_act_{row.name}_{s}", fn) for s, fn in fns]


def _helpers(table):
    """The helpers rows call (fm_h_*)."""
    return [_function(table, "fm_h" + name, fn) for name, fn in table.helpers().items()]


def _loops(rows):
    """Each row's loops and the dispatch over them, per float type."""
    parts = [LOOPS]
    for c_type, suffix in FLOAT_TYPES:
        for row in rows:
            parts.append(f"FM_ACT_LOOPS({row.name}, {c_type}, {suffix})\n")
            if row.from_output:
                parts.append(f"FM_ACT_OUT_LOOPS({row.name}, {c_type}, {suffix})\n")
        for kind in LOOP_KINDS:
            with_kind = [r for r in rows if r.from_output] if kind == "bwd_out" else rows
            parts.append(_loop_dispatch(kind, c_type, suffix, with_kind))
    return parts


def render():
    """The header text for the current table."""
    table = load_table()
    rows = table.ACTIVATIONS
    parts = _helpers(table)
    for row in rows:
        parts += _row_functions(table, row)
    parts += _loops(rows)
    body = "\n".join(parts)
    enum = ", ".join(f"FM_ACT_{row.name.upper()} = {row.code}" for row in rows)
    flags = ", ".join("1" if row.from_output else "0" for row in rows)
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return (
        "/* Generated from kernels/activation_table.py by kernels/cython/_ctable.py: do not edit. */\n"
        '#ifndef FM_ACTIVATIONS_H\n#define FM_ACTIVATIONS_H\n#include <math.h>\n\n#include "_vecmath.h"\n\n'
        f'#define FM_ACT_FINGERPRINT "{digest}"\n'
        f"#define FM_ACT_COUNT {len(rows)}\n"
        f"enum {{ {enum} }};\n"
        f"static const char FM_ACT_FROM_OUTPUT[{len(rows)}] = {{{flags}}};\n\n"
        f"{body}\n#endif\n"
    )


def fingerprint(text=None):
    """The fingerprint a header (default: the current table's) carries."""
    text = render() if text is None else text
    return text.split('#define FM_ACT_FINGERPRINT "', 1)[1].split('"', 1)[0]


def write(path=HEADER):
    """Write the header if its content changed (keeps mtimes, so builds stay incremental)."""
    text = render()
    if os.path.exists(path):
        with open(path) as fh:
            if fh.read() == text:
                return path
    with open(path, "w") as fh:
        fh.write(text)
    return path


if __name__ == "__main__":
    print(write())
