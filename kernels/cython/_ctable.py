"""Build-time generator: kernels/activation_table.py → _activations.h (C inline functions).

setup.py runs it before cythonizing, so the Cython kernels compute every activation with the
table's own formulas; ``render()`` is also what the tests compare a build against (the header's
fingerprint is compiled into the extension). Loaded by file path: it needs neither fastmlp nor
NumPy, only the table module, which imports nothing but ``math``.

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
MATH = {"exp": "exp", "expm1": "expm1", "log1p": "log1p", "tanh": "tanh", "erf": "erf", "sqrt": "sqrt"}
BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def load_table():
    """The activation table module, imported from its file (no package needed)."""
    spec = importlib.util.spec_from_file_location("_fastmlp_activation_table", TABLE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look the module up while defining
    spec.loader.exec_module(module)
    return module


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
            return f"({self.expr(node.test)} ? {self.expr(node.body)} : {self.expr(node.orelse)})"
        if isinstance(node, ast.Call) and not node.keywords:
            return f"{self.callee(node.func)}({', '.join(self.expr(a) for a in node.args)})"
        return self.fail(node, f"{type(node).__name__} expression")

    def callee(self, func):
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "math"
            and func.attr in MATH
        ):
            return MATH[func.attr]
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
    return f"static inline double {c_name}({', '.join('double ' + a for a in names)}) {{\n{body}\n}}\n"


def _dispatch(table, name, suffix, arg, rows):
    cases = "".join(f"    case {row.code}: return fm_act_{row.name}_{suffix}({arg}, alpha);\n" for row in rows)
    return (
        f"static inline double fm_act_{name}(int code, double {arg}, double alpha) {{\n"
        f"    switch (code) {{\n{cases}    default: return {arg};\n    }}\n}}\n"
    )


def render():
    """The header text for the current table."""
    table = load_table()
    parts = []
    for hname, fn in table.helpers().items():
        parts.append(_function(table, "fm_h" + hname, fn))
    for row in table.ACTIVATIONS:
        parts.append(_function(table, f"fm_act_{row.name}_f", row.f))
        parts.append(_function(table, f"fm_act_{row.name}_df", row.df))
        if row.from_output:
            parts.append(_function(table, f"fm_act_{row.name}_dfo", row.df_out))
    rows = table.ACTIVATIONS
    parts.append(_dispatch(table, "f", "f", "z", rows))
    parts.append(_dispatch(table, "df", "df", "z", rows))
    parts.append(_dispatch(table, "df_out", "dfo", "a", [r for r in rows if r.from_output]))
    body = "\n".join(parts)
    enum = ", ".join(f"FM_ACT_{row.name.upper()} = {row.code}" for row in rows)
    flags = ", ".join("1" if row.from_output else "0" for row in rows)
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return (
        "/* Generated from kernels/activation_table.py by kernels/cython/_ctable.py: do not edit. */\n"
        "#ifndef FM_ACTIVATIONS_H\n#define FM_ACTIVATIONS_H\n#include <math.h>\n\n"
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
